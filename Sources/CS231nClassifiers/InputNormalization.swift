import CS231nData

/// What a linear model's inputs go through before x·W, fitted on the training split only:
/// subtract the training mean (the mean image, for raw pixels), optionally divide by the
/// training standard deviation (as the features notebook does), then append a column of ones
/// so that the last row of W is the bias (the bias trick). Saved with the model, so a loaded
/// model sees its inputs exactly as in training.
public struct InputNormalization<S: TensorScalar>: Sendable {
    /// Per-column training mean (D).
    public var mean: Tensor<S>
    /// Per-column training standard deviation (D), or nil to only centre.
    public var standardDeviation: Tensor<S>?

    public init(mean: Tensor<S>, standardDeviation: Tensor<S>? = nil) {
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// Columns in, before the bias column.
    public var dimension: Int { mean.count }

    /// Fits the mean (and standard deviation, population form as `np.std`) of N×D training rows,
    /// accumulating in Double.
    public static func fit(rows: Tensor<S>, scaleToUnitVariance: Bool) throws -> InputNormalization {
        guard rows.rank == 2, rows.shape[0] > 0 else {
            throw LinearClassifierError.shapeMismatch("normalisation: needs a non-empty N×D matrix, got \(describeShape(rows.shape))")
        }
        let (count, columns) = (rows.shape[0], rows.shape[1])
        var sums = [Double](repeating: 0, count: columns), squares = [Double](repeating: 0, count: columns)
        rows.withUnsafeBufferPointer { x in
            for i in 0..<count {
                for d in 0..<columns { sums[d] += Double(x[i * columns + d]) }
            }
            guard scaleToUnitVariance else { return }
            for i in 0..<count {
                for d in 0..<columns {
                    let centred = Double(x[i * columns + d]) - sums[d] / Double(count)
                    squares[d] += centred * centred
                }
            }
        }
        let mean = Tensor<S>(sums.map { S($0 / Double(count)) })
        // A constant column would divide by zero; leaving it unscaled keeps it at 0 after centring.
        let deviation = scaleToUnitVariance
            ? Tensor<S>(squares.map { S($0 > 0 ? ($0 / Double(count)).squareRoot() : 1) }) : nil
        return InputNormalization(mean: mean, standardDeviation: deviation)
    }

    /// The mean image of a training set: the normalisation of raw pixels.
    public static func meanImage(of images: LabeledImages) throws -> InputNormalization {
        guard images.count > 0 else { throw LinearClassifierError.shapeMismatch("mean image: the training set is empty") }
        let size = LabeledImages.imageSize
        var sums = [UInt64](repeating: 0, count: size)
        images.pixels.withUnsafeBufferPointer { pixels in
            for i in 0..<images.count {
                for d in 0..<size { sums[d] &+= UInt64(pixels[i * size + d]) }
            }
        }
        return InputNormalization(mean: Tensor(sums.map { S(Double($0) / Double(images.count)) }))
    }

    /// N×(D+1): normalised rows followed by a column of ones.
    public func apply(rows: Tensor<S>) throws -> Tensor<S> {
        guard rows.rank == 2, rows.shape[1] == dimension else {
            throw LinearClassifierError.shapeMismatch(
                "normalisation: rows \(describeShape(rows.shape)) do not have the \(dimension) columns it was fitted on")
        }
        return rows.withUnsafeBufferPointer { x in transform(x.baseAddress!, count: rows.shape[0]) { $0 } }
    }

    /// N×(D+1) straight from the image bytes (D = 3072), without an N×3072 intermediate.
    public func apply(images: LabeledImages) throws -> Tensor<S> {
        guard dimension == LabeledImages.imageSize else {
            throw LinearClassifierError.shapeMismatch(
                "normalisation: fitted on \(dimension) columns, but images have \(LabeledImages.imageSize) pixels")
        }
        return images.pixels.withUnsafeBufferPointer { pixels in
            transform(pixels.baseAddress!, count: images.count) { S($0) }
        }
    }

    /// Builds the output in parallel over rows from `count` row-major input rows.
    private func transform<Source>(_ source: UnsafePointer<Source>, count: Int,
                                   _ convert: @escaping @Sendable (Source) -> S) -> Tensor<S> {
        let columns = dimension, width = dimension + 1
        var result = Tensor<S>(uninitializedShape: [count, width])
        let input = SendableConstPointer(source)
        mean.withUnsafeBufferPointer { mean in
            let centre = SendableConstPointer(mean.baseAddress!)
            let scale = standardDeviation.map { $0.scalars.map { 1 / $0 } }
            withExtendedLifetime(scale) {
                let inverse = scale.map { UnsafeSendable($0) }
                result.withUnsafeMutableBufferPointer { out in
                    let target = SendablePointer(out.baseAddress!)
                    Parallel.forEachChunk(count, minimumChunk: 256) { range in
                        for i in range {
                            let row = target.base + i * width
                            for d in 0..<columns { row[d] = convert(input.base[i * columns + d]) - centre.base[d] }
                            if let inverse {
                                for d in 0..<columns { row[d] *= inverse.value[d] }
                            }
                            row[columns] = 1
                        }
                    }
                }
            }
        }
        return result
    }
}
