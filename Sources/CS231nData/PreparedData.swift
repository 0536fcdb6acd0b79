import CS231nTensor

/// How to turn splits into model input, as the CS231n notebooks do.
public struct Preprocessing: Sendable {
    public enum Layout: String, Sendable { case rows, images }

    /// (N, 3072) rows or (N, 3, 32, 32) images.
    public var layout: Layout
    /// Subtract the mean training image from every split.
    public var subtractMean: Bool
    /// Then divide each channel by its training standard deviation (after centring it).
    public var normalizeChannels: Bool
    /// Append a column of ones (rows only): the bias trick.
    public var appendBias: Bool

    public init(layout: Layout = .rows, subtractMean: Bool = true, normalizeChannels: Bool = false,
                appendBias: Bool = false) {
        self.layout = layout
        self.subtractMean = subtractMean
        self.normalizeChannels = normalizeChannels
        self.appendBias = appendBias
    }
}

/// Splits converted to Float or Double tensors, with every statistic fitted on the training split.
public struct PreparedData<S: TensorScalar>: Sendable {
    public var xTrain: Tensor<S>, yTrain: [Int]
    public var xVal: Tensor<S>, yVal: [Int]
    public var xTest: Tensor<S>?, yTest: [Int]?
    public var classNames: [String]
    /// The mean training image that was subtracted, when it was.
    public var meanImage: MeanImage<S>?
    public var channelNormalizer: ChannelNormalizer<S>?

    @inlinable
    public init(_ splits: DatasetSplits, preprocessing: Preprocessing = Preprocessing(),
                as _: S.Type = S.self) throws {
        if preprocessing.appendBias && preprocessing.layout == .images {
            throw TensorError.invalidArgument(operation: "PreparedData",
                detail: "the bias column applies to rows, not to (N, 3, 32, 32) images")
        }
        func convert(_ images: LabeledImages) -> Tensor<S> {
            preprocessing.layout == .rows ? images.rows(S.self) : images.images(S.self)
        }
        var train = convert(splits.train), val = convert(splits.val)
        var test = splits.test.map(convert)
        if preprocessing.subtractMean {
            let mean = try MeanImage(fitting: train)
            try mean.subtract(from: &train)
            try mean.subtract(from: &val)
            if test != nil { try mean.subtract(from: &test!) }
            meanImage = mean
        }
        if preprocessing.normalizeChannels {
            let normalizer = try ChannelNormalizer(fitting: train)
            try normalizer.apply(to: &train)
            try normalizer.apply(to: &val)
            if test != nil { try normalizer.apply(to: &test!) }
            channelNormalizer = normalizer
        }
        if preprocessing.appendBias {
            train = try appendingBiasColumn(train)
            val = try appendingBiasColumn(val)
            test = try test.map(appendingBiasColumn)
        }
        xTrain = train
        yTrain = splits.train.labels
        xVal = val
        yVal = splits.val.labels
        xTest = test
        yTest = splits.test?.labels
        classNames = splits.train.classNames
    }
}
