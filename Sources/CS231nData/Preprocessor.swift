import CS231nTensor

/// How raw values (pixels 0…255, or image features) become a model's inputs: x′ = (x − mean) /
/// scale, value by value, with the statistics fitted on the training split only. It is saved
/// with the model (checkpoints: `data.mean_image`, `data.scale_image`; linear models:
/// `input_mean`, `input_std`), so that whatever scores the model later sees its inputs exactly
/// as in training, and `inverse` turns inputs back into pixels for pictures.
///
/// The statistics are kept in Double, as they are accumulated, and rounded to the input's
/// precision when applied.
public struct Preprocessor: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// CS231n's: the mean training image, then one constant scale for every value (255 for
        /// the nets; 1, none, for the linear classifiers on raw pixels, as in assignment 1).
        case meanImage = "mean-image"
        /// airbench's: each colour channel's mean and standard deviation over the training pixels
        /// (from the mean square, plus 1e-8), so that every channel has unit variance. The cnn's
        /// whitening depends on this scale: its ε is sized for unit-variance inputs.
        case channelStandardization = "channel-standardization"
        /// The features notebook's: each feature's mean and population standard deviation (two
        /// passes, as `np.std`); a constant feature keeps scale 1. Applied as a product with
        /// 1/std, computed in the input's precision, as the linear classifiers always have.
        case featureStandardization = "feature-standardization"
    }

    public let kind: Kind
    /// What is subtracted from each input value (D values).
    public let mean: [Double]
    /// What each centred value is divided by (D values, positive and finite).
    public let scale: [Double]

    public init(kind: Kind, mean: [Double], scale: [Double]) throws {
        guard !mean.isEmpty, mean.count == scale.count else {
            throw TensorError.invalidArgument(operation: "Preprocessor",
                detail: "needs as many scales as means, at least one (got \(mean.count) and \(scale.count))")
        }
        if let bad = scale.firstIndex(where: { !($0 > 0 && $0.isFinite) }) ?? mean.firstIndex(where: { !$0.isFinite }) {
            throw TensorError.invalidArgument(operation: "Preprocessor",
                detail: "value \(bad): mean \(mean[bad]) must be finite and scale \(scale[bad]) positive and finite")
        }
        self.kind = kind
        self.mean = mean
        self.scale = scale
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(kind: c.decode(Kind.self, forKey: .kind), mean: c.decode([Double].self, forKey: .mean),
                      scale: c.decode([Double].self, forKey: .scale))
    }

    /// Values per example.
    public var dimension: Int { mean.count }

    // MARK: Fitting

    /// `kind` fitted on the training images' pixels, summed as integers (exact, so the result
    /// does not depend on the thread count). The mean image divides by 255.
    public static func fit(_ kind: Kind, on training: LabeledImages) throws -> Preprocessor {
        switch kind {
        case .meanImage: return try meanImage(of: training)
        case .channelStandardization:
            let (sums, squares) = pixelMoments(training)
            return try channelStandardization(sums: sums.map { Double($0) }, squares: squares.map { Double($0) },
                                              count: training.count, channels: LabeledImages.channels)
        case .featureStandardization: return try fit(kind, on: training.rows(Double.self))
        }
    }

    /// `kind` fitted on training samples (N, …), each of D values in row order (CHW for images).
    @inlinable
    public static func fit<S: TensorScalar>(_ kind: Kind, on training: Tensor<S>) throws -> Preprocessor {
        guard training.rank >= 2, training.shape[0] > 0, training.count > 0 else {
            throw TensorError.invalidArgument(operation: "Preprocessor.fit",
                detail: "needs a non-empty (N, …) batch, got \(describeShape(training.shape))")
        }
        let count = training.shape[0]
        switch kind {
        case .meanImage:
            let sums = featureMoments(training, squares: false).sums
            return try Preprocessor(kind: .meanImage, mean: sums.map { $0 / Double(count) },
                                    scale: Array(repeating: 255, count: sums.count))
        case .channelStandardization:
            let (sums, squares) = featureMoments(training, squares: true)
            return try channelStandardization(sums: sums, squares: squares, count: count, channels: LabeledImages.channels)
        case .featureStandardization:
            let (means, squares) = centredMoments(training)
            // A constant feature would divide by zero; scale 1 keeps it at 0 after centring.
            return try Preprocessor(kind: .featureStandardization, mean: means,
                                    scale: squares.map { $0 > 0 ? ($0 / Double(count)).squareRoot() : 1 })
        }
    }

    /// The mean training image, then ÷ `scale` (255 for the nets, 1 for the linear classifiers).
    public static func meanImage(of training: LabeledImages, scale: Double = 255) throws -> Preprocessor {
        guard training.count > 0 else {
            throw TensorError.invalidArgument(operation: "Preprocessor.fit", detail: "the training set is empty")
        }
        let sums = pixelMoments(training, squares: false).sums
        return try Preprocessor(kind: .meanImage, mean: sums.map { Double($0) / Double(training.count) },
                                scale: Array(repeating: scale, count: sums.count))
    }

    /// Per-channel mean and deviation from per-value sums and squared sums over `count` samples,
    /// each value spread over all of its channel's positions.
    @usableFromInline
    static func channelStandardization(sums: [Double], squares: [Double], count: Int, channels: Int) throws -> Preprocessor {
        guard channels > 0, sums.count % channels == 0, count > 0 else {
            throw TensorError.invalidArgument(operation: "Preprocessor.fit",
                detail: "cannot split samples of \(sums.count) values into \(channels) channels")
        }
        let plane = sums.count / channels, n = Double(count * plane)
        var mean: [Double] = [], scale: [Double] = []
        for c in 0..<channels {
            let values = (c * plane)..<((c + 1) * plane)
            let average = sums[values].reduce(0, +) / n, meanSquare = squares[values].reduce(0, +) / n
            mean += Array(repeating: average, count: plane)
            scale += Array(repeating: Swift.max(meanSquare - average * average, 0).squareRoot() + 1e-8, count: plane)
        }
        return try Preprocessor(kind: .channelStandardization, mean: mean, scale: scale)
    }
}

/// Per-value sums (and sums of squares) of the pixels over the images, as exact integers.
func pixelMoments(_ images: LabeledImages, squares: Bool = true) -> (sums: [UInt64], squares: [UInt64]) {
    images.pixels.withUnsafeBufferPointer { pixels in
        columnMoments(pixels, rows: images.count, columns: LabeledImages.imageSize, squares: squares) { UInt64($0) }
    }
}

/// Per-feature sums (and sums of squares) over the first axis, accumulated in Double.
@inlinable
func featureMoments<S: TensorScalar>(_ x: Tensor<S>, squares: Bool) -> (sums: [Double], squares: [Double]) {
    x.withUnsafeBufferPointer { values in
        columnMoments(values, rows: x.shape[0], columns: x.count / x.shape[0], squares: squares) { Double($0) }
    }
}

/// Column sums (and sums of squares) of `rows` × `columns` row-major values, each converted
/// first, accumulated in row order: each worker owns a range of columns, so the result does not
/// depend on the thread count.
@inlinable
func columnMoments<Element, Sum: Numeric & Sendable>(_ values: UnsafeBufferPointer<Element>, rows: Int, columns: Int, squares: Bool,
                                          _ convert: @escaping @Sendable (Element) -> Sum) -> (sums: [Sum], squares: [Sum]) {
    var sums = [Sum](repeating: 0, count: columns), squaredSums = [Sum](repeating: 0, count: squares ? columns : 0)
    guard rows > 0, columns > 0, let base = values.baseAddress else { return (sums, squaredSums) }
    sums.withUnsafeMutableBufferPointer { sumBuffer in
        squaredSums.withUnsafeMutableBufferPointer { squareBuffer in
            let source = SendableConstPointer(base), sum = SendablePointer(sumBuffer.baseAddress!)
            let square = squares ? SendablePointer(squareBuffer.baseAddress!) : sum
            Parallel.forEachChunk(columns, minimumChunk: 256) { range in
                for row in 0..<rows {
                    let line = source.base + row * columns
                    for j in range {
                        let value = convert(line[j])
                        sum.base[j] += value
                        if squares { square.base[j] += value * value }
                    }
                }
            }
        }
    }
    return (sums, squaredSums)
}

/// Per-feature means and sums of squared deviations from them (two passes), in Double in row
/// order, features in parallel.
@inlinable
func centredMoments<S: TensorScalar>(_ x: Tensor<S>) -> (means: [Double], squaredDeviations: [Double]) {
    let rows = x.shape[0], features = x.count / rows
    let sums = featureMoments(x, squares: false).sums
    var squares = [Double](repeating: 0, count: features)
    x.withUnsafeBufferPointer { input in
        sums.withUnsafeBufferPointer { sumBuffer in
            squares.withUnsafeMutableBufferPointer { squareBuffer in
                let source = SendableConstPointer(input.baseAddress!), sum = SendableConstPointer(sumBuffer.baseAddress!)
                let square = SendablePointer(squareBuffer.baseAddress!)
                Parallel.forEachChunk(features, minimumChunk: 256) { range in
                    for row in 0..<rows {
                        let base = source.base + row * features
                        for j in range {
                            let centred = Double(base[j]) - sum.base[j] / Double(rows)
                            square.base[j] += centred * centred
                        }
                    }
                }
            }
        }
    }
    return (sums.map { $0 / Double(rows) }, squares)
}
