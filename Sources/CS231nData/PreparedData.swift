import CS231nTensor

/// A dataset's splits as model inputs: every split preprocessed with the same `Preprocessor`
/// (fitted on the training split only), each example shaped `inputShape`.
///
///     let splits = try Dataset.cifar10().split()
///     let data = try PreparedData<Float>(splits, fitting: .meanImage, inputShape: [3, 32, 32])
public struct PreparedData<S: TensorScalar>: Sendable {
    public var train: LabeledTensors<S>
    public var val: LabeledTensors<S>
    public var test: LabeledTensors<S>?
    public var classNames: [String]
    public var preprocessor: Preprocessor
    /// Where the splits came from, when known.
    public var origin: DataSpec?

    /// `splits` prepared with `preprocessor`; examples are rows of its D values unless
    /// `inputShape` (e.g. [3, 32, 32]) says otherwise.
    @inlinable
    public init(_ splits: DatasetSplits, preprocessor: Preprocessor, inputShape: [Int]? = nil) throws {
        let shape = inputShape ?? [preprocessor.dimension]
        guard shape.reduce(1, *) == preprocessor.dimension else {
            throw TensorError.shapeMismatch(operation: "PreparedData",
                detail: "inputs of \(describeShape(shape)) for a preprocessor of \(preprocessor.dimension) values")
        }
        func prepare(_ images: LabeledImages) throws -> LabeledTensors<S> {
            try LabeledTensors(x: preprocessor.rows(images, as: S.self).reshaped([images.count] + shape), y: images.labels)
        }
        train = try prepare(splits.train)
        val = try prepare(splits.val)
        test = try splits.test.map(prepare)
        classNames = splits.train.classNames
        self.preprocessor = preprocessor
        origin = splits.origin
    }

    /// `splits` prepared with `kind` fitted on the training split.
    @inlinable
    public init(_ splits: DatasetSplits, fitting kind: Preprocessor.Kind, inputShape: [Int]? = nil) throws {
        try self.init(splits, preprocessor: Preprocessor.fit(kind, on: splits.train), inputShape: inputShape)
    }
}
