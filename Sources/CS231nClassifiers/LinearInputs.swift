import CS231nData

/// The splits of a dataset turned into linear-classifier inputs the CS231n way: raw pixels
/// minus the training mean image (assignment 1: no scaling), or image features standardised
/// with the training statistics; either way with the bias column of ones appended.
public struct LinearInputs<S: TensorScalar>: Sendable {
    public var train: LabeledTensors<S>
    public var validation: LabeledTensors<S>
    public var test: LabeledTensors<S>?
    /// Fitted on the training split; the saved model carries it.
    public var preprocessor: Preprocessor
    /// Empty for raw pixels.
    public var features: [ImageFeature]
    public var classNames: [String]

    /// Prepares every split; features are extracted in parallel over the images.
    public init(splits: DatasetSplits, features: [ImageFeature] = []) throws {
        self.features = features
        classNames = splits.train.classNames
        if features.isEmpty {
            preprocessor = try .meanImage(of: splits.train, scale: 1)
            train = try LabeledTensors(x: Self.rows(splits.train, preprocessor: preprocessor, features: features), y: splits.train.labels)
        } else {
            let trainFeatures = FeatureExtractor(features).extract(splits.train, as: S.self)
            preprocessor = try .fit(.featureStandardization, on: trainFeatures)
            train = try LabeledTensors(x: preprocessor.applied(to: trainFeatures, appendingBias: true), y: splits.train.labels)
        }
        let prepare = { [preprocessor] (images: LabeledImages) in
            try LabeledTensors(x: Self.rows(images, preprocessor: preprocessor, features: features), y: images.labels)
        }
        validation = try prepare(splits.val)
        test = try splits.test.map(prepare)
    }

    /// Columns per input row, the bias included.
    public var dimension: Int { preprocessor.dimension + 1 }

    /// The N×(D+1) inputs of `images`: their pixels (or `features`) preprocessed, then a column
    /// of ones, so that the last row of W is the bias (the bias trick).
    public static func rows(_ images: LabeledImages, preprocessor: Preprocessor, features: [ImageFeature]) throws -> Tensor<S> {
        features.isEmpty
            ? try preprocessor.rows(images, appendingBias: true, as: S.self)
            : try preprocessor.applied(to: FeatureExtractor(features).extract(images, as: S.self), appendingBias: true)
    }
}
