import CS231nData

/// The splits of a dataset turned into linear-classifier inputs the CS231n way: raw pixels
/// minus the training mean image, or image features standardised with the training statistics;
/// either way with the bias column of ones appended.
public struct LinearInputs<S: TensorScalar>: Sendable {
    public var train: LabeledRows<S>
    public var validation: LabeledRows<S>
    public var test: LabeledRows<S>?
    /// Fitted on the training split; the saved model carries it.
    public var normalization: InputNormalization<S>
    /// Empty for raw pixels.
    public var features: [ImageFeature]
    public var classNames: [String]

    /// Prepares every split; features are extracted in parallel over the images.
    public init(splits: DatasetSplits, features: [ImageFeature] = []) throws {
        self.features = features
        classNames = splits.train.classNames
        if features.isEmpty {
            normalization = try .meanImage(of: splits.train)
            let prepare = { [normalization] (images: LabeledImages) in
                try LabeledRows(rows: normalization.apply(images: images), labels: images.labels)
            }
            train = try prepare(splits.train)
            validation = try prepare(splits.val)
            test = try splits.test.map(prepare)
        } else {
            let extractor = FeatureExtractor(features)
            let trainFeatures = extractor.extract(splits.train, as: S.self)
            normalization = try .fit(rows: trainFeatures, scaleToUnitVariance: true)
            let prepare = { [normalization] (images: LabeledImages) in
                try LabeledRows(rows: normalization.apply(rows: extractor.extract(images, as: S.self)), labels: images.labels)
            }
            train = try LabeledRows(rows: normalization.apply(rows: trainFeatures), labels: splits.train.labels)
            validation = try prepare(splits.val)
            test = try splits.test.map(prepare)
        }
    }

    /// Columns per input row, the bias included.
    public var dimension: Int { normalization.dimension + 1 }
}
