import CS231nTensor

/// Per-feature sums over the first axis, accumulated in Double in row order: each worker owns
/// a range of features, so the result does not depend on the thread count.
@inlinable
func featureMoments<S: TensorScalar>(_ x: Tensor<S>, squares: Bool) -> (sum: [Double], squaredSum: [Double]) {
    let rows = x.shape.first ?? 0, features = rows > 0 ? x.count / rows : 0
    var sums = [Double](repeating: 0, count: features)
    var squaredSums = [Double](repeating: 0, count: squares ? features : 0)
    guard features > 0 else { return (sums, squaredSums) }
    x.withUnsafeBufferPointer { input in
        sums.withUnsafeMutableBufferPointer { sumBuffer in
            squaredSums.withUnsafeMutableBufferPointer { squareBuffer in
                let source = SendableConstPointer(input.baseAddress!)
                let sum = SendablePointer(sumBuffer.baseAddress!)
                let square = SendablePointer(squares ? squareBuffer.baseAddress! : sumBuffer.baseAddress!)
                Parallel.forEachChunk(features, minimumChunk: 256) { range in
                    for row in 0..<rows {
                        let base = source.base + row * features
                        for j in range {
                            let value = Double(base[j])
                            sum.base[j] += value
                            if squares { square.base[j] += value * value }
                        }
                    }
                }
            }
        }
    }
    return (sums, squaredSums)
}

/// The mean training image, subtracted from every set (CS231n: `X -= np.mean(X_train, axis=0)`).
/// Fit it on the training split only, so that validation and test stay unseen.
public struct MeanImage<S: TensorScalar>: Sendable {
    /// The mean, shaped like one sample (e.g. (3072) for rows, (3, 32, 32) for images).
    public let mean: Tensor<S>

    @inlinable
    public init(fitting training: Tensor<S>) throws {
        guard training.rank >= 2, training.shape[0] > 0 else {
            throw TensorError.invalidArgument(operation: "MeanImage",
                detail: "needs a non-empty (N, …) batch, got \(describeShape(training.shape))")
        }
        let n = Double(training.shape[0])
        let sums = featureMoments(training, squares: false).sum
        mean = try Tensor(shape: Array(training.shape.dropFirst()), scalars: sums.map { S($0 / n) })
    }

    @inlinable
    public func subtract(from x: inout Tensor<S>) throws {
        guard Array(x.shape.dropFirst()) == mean.shape else {
            throw TensorError.shapeMismatch(operation: "MeanImage.subtract",
                detail: "samples of \(describeShape(x.shape)) against a mean of \(describeShape(mean.shape))")
        }
        let features = mean.count, rows = x.shape[0]
        mean.withUnsafeBufferPointer { meanBuffer in
            x.withUnsafeMutableBufferPointer { values in
                let average = SendableConstPointer(meanBuffer.baseAddress!)
                let target = SendablePointer(values.baseAddress!)
                Parallel.forEachChunk(rows, minimumChunk: 64) { range in
                    for row in range {
                        let base = target.base + row * features
                        for j in 0..<features { base[j] -= average.base[j] }
                    }
                }
            }
        }
    }
}

/// Per-channel mean and standard deviation of the training images, applied as
/// `(x - mean[c]) / std[c]`. Works on (N, C, H, W) images and on (N, C·H·W) rows in CHW order.
public struct ChannelNormalizer<S: TensorScalar>: Sendable {
    public let mean: [Double]
    public let standardDeviation: [Double]

    @inlinable
    public init(fitting training: Tensor<S>, channels: Int = LabeledImages.channels) throws {
        guard training.rank >= 2, training.shape[0] > 0, channels > 0,
              (training.count / training.shape[0]) % channels == 0 else {
            throw TensorError.invalidArgument(operation: "ChannelNormalizer",
                detail: "cannot split samples of \(describeShape(training.shape)) into \(channels) channels")
        }
        let (sums, squares) = featureMoments(training, squares: true)
        let plane = sums.count / channels
        let count = Double(training.shape[0] * plane)
        var means = [Double](), deviations = [Double]()
        for c in 0..<channels {
            let mean = sums[(c * plane)..<((c + 1) * plane)].reduce(0, +) / count
            let meanSquare = squares[(c * plane)..<((c + 1) * plane)].reduce(0, +) / count
            means.append(mean)
            deviations.append(max(meanSquare - mean * mean, 0).squareRoot() + 1e-8)
        }
        mean = means
        standardDeviation = deviations
    }

    @inlinable
    public func apply(to x: inout Tensor<S>) throws {
        let channels = mean.count
        guard x.rank >= 2, x.shape[0] > 0, (x.count / x.shape[0]) % channels == 0 else {
            throw TensorError.shapeMismatch(operation: "ChannelNormalizer.apply",
                detail: "samples of \(describeShape(x.shape)) do not split into \(channels) channels")
        }
        let rows = x.shape[0], features = x.count / rows, plane = features / channels
        let shift = mean.map { S($0) }, scale = standardDeviation.map { S(1 / $0) }
        x.withUnsafeMutableBufferPointer { values in
            let target = SendablePointer(values.baseAddress!)
            Parallel.forEachChunk(rows, minimumChunk: 64) { range in
                for row in range {
                    for c in 0..<channels {
                        let base = target.base + row * features + c * plane
                        for j in 0..<plane { base[j] = (base[j] - shift[c]) * scale[c] }
                    }
                }
            }
        }
    }
}

/// The bias trick: (N, D) rows become (N, D + 1) with a last column of ones, so that a linear
/// classifier's bias folds into its weights.
@inlinable
public func appendingBiasColumn<S: TensorScalar>(_ rows: Tensor<S>) throws -> Tensor<S> {
    guard rows.rank == 2 else {
        throw TensorError.invalidArgument(operation: "appendingBiasColumn",
            detail: "expected (N, D) rows, got \(describeShape(rows.shape))")
    }
    let n = rows.shape[0], d = rows.shape[1]
    var result = Tensor<S>(uninitializedShape: [n, d + 1])
    rows.withUnsafeBufferPointer { source in
        result.withUnsafeMutableBufferPointer { target in
            for row in 0..<n {
                (target.baseAddress! + row * (d + 1)).update(from: source.baseAddress! + row * d, count: d)
                target[row * (d + 1) + d] = 1
            }
        }
    }
    return result
}
