import ArgumentParser
import CS231n
import Foundation

extension DatasetName: ExpressibleByArgument {}

/// What --dataset and --num-train mean when not given: the one table of what differs between
/// commands. Each built-in size keeps its command quick (CIFAR-10 always splits 49,000 / 1,000).
struct DatasetDefaults {
    var dataset: DatasetName = .cifar10
    /// Built-in training images without --num-train.
    var builtinTrain: Int

    static let train = DatasetDefaults(builtinTrain: Dataset.standardBuiltinTrainCount)
    static let linear = DatasetDefaults(builtinTrain: 4_000)
    static let knn = DatasetDefaults(builtinTrain: 4_000)
    static let data = DatasetDefaults(builtinTrain: 4_000)
    static let demo = DatasetDefaults(dataset: .builtin, builtinTrain: 5_000)
}

/// Where the images come from and how they split: --dataset, --data-dir, --num-train, --num-val.
struct DatasetOptions: ParsableArguments {
    @Option(help: "cifar10 (from --data-dir) or builtin (drawn offline, no files needed). Default: cifar10 (demo: builtin).")
    var dataset: DatasetName?

    @Option(help: "CIFAR-10 folder (cifar-10-batches-bin) or cifar-10-binary.tar.gz. Default: $CS231N_DATA_DIR or ~/.cache/cs231n/cifar-10-batches-bin.")
    var dataDir: String?

    @Option(help: """
        Training images (default: 49000 for cifar10; for builtin \(DatasetDefaults.train.builtinTrain) for train, \
        \(DatasetDefaults.demo.builtinTrain) for demo, \(DatasetDefaults.linear.builtinTrain) otherwise).
        """)
    var numTrain: Int?

    @Option(help: "Validation images, taken after the training ones.")
    var numVal = 1000

    func validate() throws {
        if let numTrain, numTrain < 1 { throw ValidationError("--num-train must be at least 1") }
        guard numVal >= 1 else { throw ValidationError("--num-val must be at least 1") }
        let limit = dataset == .cifar10 ? CIFAR10.trainingCount : Dataset.maximumBuiltinCount
        let (total, overflow) = (numTrain ?? 1).addingReportingOverflow(numVal)
        guard !overflow, total <= limit else {
            throw ValidationError("--num-train and --num-val take at most \(limit) images together"
                                  + (dataset == .cifar10 ? " (CIFAR-10's training batches)" : ""))
        }
    }

    /// The dataset chosen, under the command's `defaults`.
    func name(_ defaults: DatasetDefaults) -> DatasetName { dataset ?? defaults.dataset }

    /// The data the options name: the built-in set is drawn with the run's seed, as many images
    /// as the split takes.
    func spec(seed: UInt64, _ defaults: DatasetDefaults) -> DataSpec {
        switch name(defaults) {
        case .cifar10: return DataSpec(dataset: .cifar10, directory: dataDir ?? CIFAR10.defaultDirectory, seed: seed,
                                       numTrain: numTrain, numVal: numVal)
        case .builtin: return DataSpec(dataset: .builtin, seed: seed, numTrain: numTrain ?? defaults.builtinTrain, numVal: numVal)
        }
    }

    /// The images before splitting (the training file and the test set).
    func dataset(seed: UInt64, _ defaults: DatasetDefaults) throws -> Dataset { try Dataset.load(spec(seed: seed, defaults)) }

    /// The train / val / test splits.
    func splits(seed: UInt64, _ defaults: DatasetDefaults) throws -> DatasetSplits { try spec(seed: seed, defaults).load() }
}

/// A checkpoint to read (as the argument or --checkpoint) and where its data comes from now.
struct CheckpointOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The checkpoint (.safetensors) written by `cs231n train`.", valueName: "checkpoint"))
    var positionalCheckpoint: String?

    @Option(name: .customLong("checkpoint"), help: "The checkpoint, as an option instead of the argument.")
    var checkpointOption: String?

    @Flag(help: "Use the last epoch's weights instead of the best-val ones.")
    var latest = false

    @Flag(help: "Load weights and preprocessing even when they hold NaN or infinite values (to inspect a broken checkpoint).")
    var allowNonfinite = false

    @OptionGroup var dataSource: CheckpointDataOptions

    var path: String { checkpointOption ?? positionalCheckpoint ?? "" }

    func validate() throws {
        guard (checkpointOption == nil) != (positionalCheckpoint == nil) else {
            throw ValidationError("give the checkpoint once: as the argument or with --checkpoint")
        }
    }

    /// The checkpoint's model (best-val weights unless --latest) and its file.
    func model() throws -> (model: AnyModel<Float>, file: SafetensorsFile) {
        try Checkpoint.loadModel(path, as: Float.self, latest: latest, allowNonfinite: allowNonfinite)
    }

    /// What `file` (read from this checkpoint) records about its data, and that data prepared
    /// for `model` as in training, with as many classes as the model scores.
    func data(_ file: SafetensorsFile, for model: AnyModel<Float>) throws -> (record: CheckpointData, data: PreparedData<Float>) {
        let record = try CheckpointData(checkpoint: file, path: path)
        return (record, try record.prepare(inputShape: model.configuration.inputShape, classes: model.configuration.classes,
                                           dataset: dataSource.dataset, dataDirectory: dataSource.dataDir))
    }
}

/// Where a checkpoint's images come from now: the dataset and folder it was trained on, unless
/// these say otherwise.
struct CheckpointDataOptions: ParsableArguments {
    @Option(help: "Dataset the images come from: cifar10 or builtin (default: the checkpoint's).")
    var dataset: DatasetName?

    @Option(help: "CIFAR-10 folder (default: the one the checkpoint was trained on).")
    var dataDir: String?
}
