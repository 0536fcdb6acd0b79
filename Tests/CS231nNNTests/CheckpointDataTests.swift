import CS231nData
import CS231nNN
import CS231nCompression
import CS231nOptim
import Foundation
import Testing

/// The checkpoint's data contract: what a run records about its data, read back into the same
/// preprocessing, split and augmentation; and the checkpoints written before it had a type.
@Suite struct CheckpointDataTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/legacy-v1")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    static func file(_ record: CheckpointData) -> SafetensorsFile {
        var file = SafetensorsFile()
        for (name, tensor) in record.tensors { file.add("data." + name, tensor) }
        file.metadata = record.metadata
        return file
    }

    @Test func aRecordReadsBackIntoTheSameData() throws {
        let splits = try DataSpec(dataset: .builtin, seed: 3, numTrain: 60, numVal: 20).load()
        let data = try PreparedData<Float>(splits, fitting: .channelStandardization, inputShape: [3, 32, 32])
        let record = try CheckpointData(data, augmentation: Augmentation(.alternatingFlipTranslate))
        #expect(record.spec == DataSpec(dataset: .builtin, seed: 3, numTrain: 60, numVal: 20))
        #expect(record.metadata["data.preprocessing"]?.hasPrefix("channel-standardization:") == true)
        #expect(record.metadata["data.source"] == "generated" && record.metadata["train.augmentation"] == "alternating-flip-translate")
        let read = try CheckpointData(checkpoint: Self.file(record), path: "memory")
        #expect(read.spec == record.spec && read.classNames == record.classNames && read.augmentation == record.augmentation)
        #expect(read.preprocessor.kind == .channelStandardization)
        #expect(read.preprocessor.mean == record.preprocessor.mean.map { Double(Float($0)) })
        let again = try read.prepare(inputShape: [3, 32, 32])
        #expect(again.train.x == data.train.x && again.val.x == data.val.x && again.test?.x == data.test?.x)
        #expect(again.val.y == data.val.y && again.classNames == data.classNames)
        // Another dataset: its standard split with the recorded validation size, prepared alike.
        let other = try read.prepare(inputShape: [3072], dataset: .builtin, dataDirectory: nil)
        #expect(other.train.count == 60)
        let cifar = try CheckpointData(checkpoint: Self.file(CheckpointData(spec: DataSpec(dataset: .cifar10, directory: "/data/c10"),
            preprocessor: record.preprocessor, classNames: [])), path: "memory")
        #expect(cifar.spec == DataSpec(dataset: .cifar10, directory: "/data/c10") && cifar.augmentation == .none)
        #expect(throws: TensorError.self) {
            try CheckpointData(PreparedData<Float>(DatasetSplits(train: splits.train, val: splits.val, test: nil), fitting: .meanImage))
        }
    }

    @Test func theSolverSavesTheRecordAndAugmentsAsItSays() throws {
        let splits = try DataSpec(dataset: .builtin, seed: 1, numTrain: 20, numVal: 10).load()
        let data = try PreparedData<Float>(splits, fitting: .meanImage)
        let record = try CheckpointData(data, augmentation: Augmentation(.flipTranslate))
        var solver = try Solver(model: TwoLayerNet<Float>(inputSize: 3072, hiddenSize: 4, classes: 10, seed: 0),
                                train: data.train, val: data.val, optimizer: OptimizerSettings(rule: .sgd, learningRate: 1e-3))
        solver.record(record)
        let file = solver.checkpointFile()
        #expect(try CheckpointData(checkpoint: file, path: "memory").augmentation == record.augmentation)
        #expect(file.tensor("data.scale_image", as: Float.self)?.scalars.allSatisfy { $0 == 255 } == true)
        #expect(solver.augment != nil)
        solver.record(CheckpointData(spec: record.spec, preprocessor: record.preprocessor, classNames: [], augmentation: .none))
        #expect(solver.augment == nil)
    }

    @Test func badRecordsAreNamed() throws {
        let record = CheckpointData(spec: DataSpec(dataset: .builtin, numTrain: 5, numVal: 5),
                                    preprocessor: try Preprocessor(kind: .meanImage, mean: [1, 2], scale: [255, 255]), classNames: [])
        var file = Self.file(record)
        file.metadata["data.preprocessing"] = "whitened: something"
        #expect(throws: CheckpointError.self) { try CheckpointData(checkpoint: file, path: "p") }
        file = Self.file(record)
        file.metadata["train.augmentation_padding"] = "-1"
        #expect(throws: CheckpointError.self) { try CheckpointData(checkpoint: file, path: "p") }
        file = Self.file(record)
        file.add("data.scale_image", Tensor<Float>([255, 0]))
        #expect(throws: CheckpointError.corrupt(path: "p", detail: "tensor data.scale_image holds 0.0 at element 1: "
            + "scales must be positive and finite")) { try CheckpointData(checkpoint: file, path: "p") }
        file.add("data.scale_image", Tensor<Float>([255, 255, 255]))
        #expect(throws: CheckpointError.corrupt(path: "p", detail: "data.scale_image (3) does not match data.mean_image (2)")) {
            try CheckpointData(checkpoint: file, path: "p")
        }
        file = Self.file(record)
        file.add("data.mean_image", Tensor<Float>([1, .infinity]))
        #expect(throws: CheckpointError.corrupt(path: "p", detail: "tensor data.mean_image holds inf at element 1: "
            + "the mean image must be finite")) { try CheckpointData(checkpoint: file, path: "p") }
        file = Self.file(record)
        file.metadata["data.class_names"] = "[\"cat\", 3"
        #expect(throws: CheckpointError.corrupt(path: "p", detail: "metadata data.class_names is not a JSON array of strings: [\"cat\", 3")) {
            try CheckpointData(checkpoint: file, path: "p")
        }
        file.metadata["data.dataset"] = nil
        #expect(throws: CheckpointError.self) { try CheckpointData(checkpoint: file, path: "p") }
    }

    /// Tests/Fixtures/legacy-v1: each checkpoint records its built-in split and preprocessing,
    /// its inputs are (pixels − data.mean_image) / data.scale_image as before, and it scores the
    /// val accuracy `cs231n evaluate` reported when it was written.
    @Test(arguments: [("two-layer", 0.20, Preprocessor.Kind.meanImage, Augmentation.Kind.none),
                      ("fc-batchnorm-dropout", 0.08, .meanImage, .none),
                      ("three-layer-convnet", 0.16, .meanImage, .none),
                      ("cnn", 0.10, .channelStandardization, .alternatingFlipTranslate)])
    func legacyCheckpointsPrepareTheirDataAsBefore(name: String, accuracy: Double, kind: Preprocessor.Kind,
                                                   augmentation: Augmentation.Kind) throws {
        let path = Self.fixture(name + ".safetensors")
        let (model, file) = try Checkpoint.loadModel(path, as: Float.self)
        let record = try CheckpointData(checkpoint: file, path: path)
        #expect(record.spec.dataset == .builtin && record.spec.seed == 0 && record.spec.numVal == 50)
        #expect(record.preprocessor.kind == kind && record.augmentation == Augmentation(augmentation))
        #expect(record.classNames == BuiltinDataset.classNames)
        let data = try record.prepare(inputShape: model.configuration.inputShape)
        let mean = try #require(file.tensor("data.mean_image", as: Float.self)).scalars
        let scale = try #require(file.tensor("data.scale_image", as: Float.self)).scalars
        let images = try record.spec.load().val
        let first = (0..<3072).map { (Float(images.pixels[$0]) - mean[$0]) / scale[$0] }
        #expect(Array(data.val.x.scalars[0..<3072]) == first)
        #expect(try model.accuracy(data.val.x, data.val.y) == accuracy)
    }

    /// Checkpoints from before `data.scale_image` divided by 255.
    @Test func aCheckpointWithoutAScaleReadsAsDividedBy255() throws {
        let stored = try Checkpoint.read(Self.fixture("two-layer.safetensors"))
        var file = SafetensorsFile()
        for name in stored.names where name != "data.scale_image" { file.add(name, stored.tensor(name, as: Float.self)!) }
        file.metadata = stored.metadata
        file.metadata["data.preprocessing"] = nil
        let record = try CheckpointData(checkpoint: file, path: "old")
        let current = try CheckpointData(checkpoint: stored, path: "new")
        #expect(record.preprocessor == current.preprocessor)
    }

    @Test func aCompressedModelCarriesItsData() throws {
        let path = Self.fixture("two-layer.cs231nz")
        let compressed = try CompressedModel(contentsOf: path)
        let model = try compressed.expandedModel(path: path)
        let record = try CheckpointData(checkpoint: compressed.checkpointFile(path: path), path: path)
        let data = try record.prepare(inputShape: model.configuration.inputShape)
        #expect(try model.accuracy(data.val.x, data.val.y) == 0.18)
    }
}
