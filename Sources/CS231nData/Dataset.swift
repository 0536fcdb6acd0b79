import CS231nTensor

/// The datasets the toolkit reads.
public enum DatasetName: String, Codable, CaseIterable, Sendable {
    /// CIFAR-10's binary batches, from a folder or the `.tar.gz` archive.
    case cifar10
    /// The procedurally drawn set (`BuiltinDataset`), for working offline.
    case builtin
}

/// A dataset's images before splitting: its training file (the images train and val are cut
/// from) and its test set when it has one, with where they came from.
///
///     let splits = try Dataset.cifar10().split()                    // 49,000 / 1,000 / test batch
///     let splits = try Dataset.builtin(count: 10_000, seed: 0).split()   // 9,000 / 1,000 / 1,000
public struct Dataset: Sendable {
    public let name: DatasetName
    /// The images train and val are taken from, in file order.
    public let training: LabeledImages
    /// CIFAR-10's test batch when the folder has it; the built-in set's own test set.
    public let test: LabeledImages?
    /// The CIFAR-10 folder or archive read; nil for the built-in set.
    public let directory: String?
    /// The built-in set's generation seed; nil for CIFAR-10.
    public let seed: UInt64?

    /// The most images of the built-in set drawn at once (3 GiB of pixels).
    public static let maximumBuiltinCount = 1_000_000
    /// Test images drawn with the built-in set, from the seed + 1.
    public static let builtinTestCount = 1_000
    /// Training images of the built-in set's standard split (CIFAR-10's is 49,000).
    public static let standardBuiltinTrainCount = 9_000

    /// CIFAR-10's five training batches, and the test batch when the folder (or archive) has it.
    public static func cifar10(directory: String = CIFAR10.defaultDirectory) throws -> Dataset {
        let training = try CIFAR10.load(directory: directory, train: true)
        let test = CIFAR10.hasTestBatch(directory: directory) ? try CIFAR10.load(directory: directory, train: false) : nil
        return Dataset(name: .cifar10, training: training, test: test, directory: directory, seed: nil)
    }

    /// `count` images of the built-in set drawn from `seed` (train and val are cut from them),
    /// and `testCount` test images drawn from `seed + 1`. The images depend on the count: draw
    /// as many as the splits take.
    public static func builtin(count: Int, seed: UInt64, testCount: Int = builtinTestCount) throws -> Dataset {
        for (what, value) in [("count", count), ("testCount", testCount)]
        where !(0...maximumBuiltinCount).contains(value) {
            throw DatasetError.invalidSize("the built-in set draws 0...\(maximumBuiltinCount) images, \(what) is \(value)")
        }
        return Dataset(name: .builtin, training: BuiltinDataset.generate(count: count, seed: seed),
                       test: testCount > 0 ? BuiltinDataset.generate(count: testCount, seed: seed &+ 1) : nil,
                       directory: nil, seed: seed)
    }

    /// The dataset `spec` names, with as many built-in images as its split takes.
    public static func load(_ spec: DataSpec) throws -> Dataset {
        switch spec.dataset {
        case .cifar10: return try cifar10(directory: spec.directory ?? CIFAR10.defaultDirectory)
        case .builtin: return try builtin(count: try spec.builtinCount(), seed: spec.seed)
        }
    }

    /// The validation images of the standard split: 1,000, or a fifth of a smaller set.
    public var standardValCount: Int { Swift.min(1_000, training.count / 5) }

    /// The CS231n split: train = the first `numTrain` training images (default: all but the
    /// standard validation share, 49,000 for CIFAR-10), val = the `numVal` after them (default:
    /// that share), test = the test set.
    public func split(numTrain: Int? = nil, numVal: Int? = nil) throws -> DatasetSplits {
        let numTrain = numTrain ?? training.count - standardValCount, numVal = numVal ?? standardValCount
        var splits = try makeSplits(training: training, test: test, numTrain: numTrain, numVal: numVal)
        splits.origin = DataSpec(dataset: name, directory: directory, seed: seed ?? 0, numTrain: numTrain, numVal: numVal)
        return splits
    }
}

/// Which data a model sees, split how: enough to load the same splits again. Checkpoints store
/// it (`data.dataset`, `data.source`, `data.seed`, `data.num_train`, `data.num_val`).
public struct DataSpec: Codable, Equatable, Hashable, Sendable {
    public var dataset: DatasetName
    /// CIFAR-10's folder or archive (nil: `CIFAR10.defaultDirectory`).
    public var directory: String?
    /// The built-in set's generation seed (recorded, unused, for CIFAR-10).
    public var seed: UInt64
    /// Training images (nil: the standard split's, 49,000 for CIFAR-10 and 9,000 built-in).
    public var numTrain: Int?
    /// Validation images, after the training ones (nil: the standard split's, 1,000).
    public var numVal: Int?

    public init(dataset: DatasetName, directory: String? = nil, seed: UInt64 = 0, numTrain: Int? = nil, numVal: Int? = nil) {
        self.dataset = dataset
        self.directory = directory
        self.seed = seed
        self.numTrain = numTrain
        self.numVal = numVal
    }

    /// The splits this names; their origin is this spec with the sizes filled in.
    public func load() throws -> DatasetSplits {
        let data = try Dataset.load(self)
        var splits = dataset == .builtin ? try data.split(numTrain: builtinSizes.train, numVal: builtinSizes.val)
            : try data.split(numTrain: numTrain, numVal: numVal)
        splits.origin?.seed = seed
        return splits
    }

    /// The built-in split's sizes, the defaults filled in.
    var builtinSizes: (train: Int, val: Int) { (numTrain ?? Dataset.standardBuiltinTrainCount, numVal ?? 1_000) }

    /// The built-in images the split takes: numTrain + numVal, checked.
    func builtinCount() throws -> Int {
        let (train, val) = builtinSizes
        let (count, overflow) = train.addingReportingOverflow(val)
        guard train >= 1, val >= 0, !overflow, count <= Dataset.maximumBuiltinCount else {
            throw DatasetError.invalidSize("the built-in set takes 1 or more training and 0 or more validation images, "
                + "\(Dataset.maximumBuiltinCount) in all; asked for \(train) and \(val)")
        }
        return count
    }
}

/// Sizes a dataset cannot give.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    case invalidSize(String)

    public var description: String {
        switch self {
        case .invalidSize(let detail): return "dataset: \(detail)"
        }
    }
}
