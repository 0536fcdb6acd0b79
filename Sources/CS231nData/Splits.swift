import CS231nTensor

/// The training, validation and (when present) test sets of an experiment.
public struct DatasetSplits: Sendable {
    public var train: LabeledImages
    public var val: LabeledImages
    public var test: LabeledImages?
    /// Where the splits came from, when a `Dataset` cut them: what a checkpoint records.
    public var origin: DataSpec?

    public init(train: LabeledImages, val: LabeledImages, test: LabeledImages?, origin: DataSpec? = nil) {
        self.train = train
        self.val = val
        self.test = test
        self.origin = origin
    }

    /// CS231n's development set: `count` training images drawn without replacement, for quick
    /// experiments. The same seed gives the same images.
    public func dev(count: Int, seed: UInt64) throws -> LabeledImages {
        try train.randomSubset(count: count, seed: seed)
    }
}

/// The CS231n split of a training file at explicit sizes: train = the first `numTrain` images,
/// val = the next `numVal`; test = the first `numTest` of `test` (all of it when nil).
/// `Dataset.split` applies the standard sizes.
public func makeSplits(training: LabeledImages, test: LabeledImages?, numTrain: Int,
                       numVal: Int, numTest: Int? = nil) throws -> DatasetSplits {
    guard numTrain > 0, numVal >= 0 else {
        throw DatasetError.invalidSize("numTrain must be positive and numVal not negative (got \(numTrain) and \(numVal))")
    }
    guard numVal <= training.count, numTrain <= training.count - numVal else {
        throw DatasetError.invalidSize("numTrain \(numTrain) + numVal \(numVal) exceeds the \(training.count) training images")
    }
    var testSet = test
    if let test, let numTest { testSet = try test.subsampled(count: numTest) }
    return DatasetSplits(train: training.slice(0..<numTrain),
                         val: training.slice(numTrain..<(numTrain + numVal)),
                         test: testSet)
}

extension LabeledImages {
    /// The first `count` images, as CS231n subsamples (`mask = range(count)`).
    public func subsampled(count: Int) throws -> LabeledImages {
        guard count >= 0, count <= self.count else {
            throw TensorError.invalidArgument(operation: "subsampled",
                detail: "cannot take \(count) of \(self.count) images")
        }
        return slice(0..<count)
    }

    /// `count` images drawn without replacement, in draw order; the same seed gives the same ones.
    public func randomSubset(count: Int, seed: UInt64) throws -> LabeledImages {
        guard count >= 0, count <= self.count else {
            throw TensorError.invalidArgument(operation: "randomSubset",
                detail: "cannot draw \(count) of \(self.count) images")
        }
        var rng = RandomGenerator(seed: seed, stream: .dataset)
        return subset(rng.sampleWithoutReplacement(count: count, from: self.count))
    }

    /// `k` contiguous ranges covering 0..<count, in `np.array_split` order: the first
    /// `count % k` ranges hold one image more than the rest.
    public static func foldRanges(count: Int, k: Int) throws -> [Range<Int>] {
        guard k > 0, k <= count else {
            throw TensorError.invalidArgument(operation: "folds",
                detail: "cannot split \(count) images into \(k) folds")
        }
        return (0..<k).map { Parallel.chunkRange($0, of: k, count: count) }
    }

    /// The images cut into `k` contiguous folds (see `foldRanges`).
    public func folds(_ k: Int) throws -> [LabeledImages] {
        try LabeledImages.foldRanges(count: count, k: k).map { slice($0) }
    }

    /// Cross-validation round `heldOut` of `k`: that fold validates, the others (in order) train.
    public func crossValidationSplit(folds k: Int, heldOut: Int) throws
        -> (train: LabeledImages, val: LabeledImages) {
        let ranges = try LabeledImages.foldRanges(count: count, k: k)
        guard ranges.indices.contains(heldOut) else {
            throw TensorError.invalidArgument(operation: "crossValidationSplit",
                detail: "fold \(heldOut) is not one of 0..<\(k)")
        }
        let training = ranges.indices.filter { $0 != heldOut }.map { slice(ranges[$0]) }
        return (LabeledImages.concatenated(training), slice(ranges[heldOut]))
    }
}
