import CS231n
import Foundation
import Testing

/// A net family of one's own, written as a user writes it in their package: only the public
/// API of `import CS231n`, a kind of its own, and a few lines of `Sequential`.
struct TinyConvNet: ModelFamilyConfiguration, Equatable {
    static let kind = "tiny-conv-net"

    var filters: Int
    var hidden: Int
    var classes: Int
    var seed: UInt64

    func validate() throws {
        for (field, value) in [("filters", filters), ("hidden", hidden), ("classes", classes)] where !(1...256).contains(value) {
            throw TensorError.invalidArgument(operation: Self.kind, detail: "\(field) \(value) is not in 1...256")
        }
    }

    func makeSequential<S: TensorScalar>(as _: S.Type) throws -> Sequential<S> {
        try Sequential(inputShape: [3, 8, 8], layers: [
            ("conv1", Conv2DLayer<S>(filters: filters, kernel: 3, padding: 1, activation: .relu)),
            ("pool1", MaxPool2DLayer<S>()),
            ("fc2", AffineLayer<S>(outputs: hidden, activation: .relu)),
            ("scores", AffineLayer<S>(outputs: classes)),
        ], regularization: 1e-3, seed: seed)
    }
}

@Suite struct OwnSequentialNetTests {
    /// 8×8 colour images scattered around one template per class.
    static func images(count: Int, seed: UInt64) throws -> LabeledTensors<Float> {
        var templates = RandomGenerator(seed: 40)
        let centres = Tensor<Float>.randn([3, 3 * 8 * 8], using: &templates)
        var sample = RandomGenerator(seed: seed)
        let labels = (0..<count).map { _ in sample.nextInt(below: 3) }
        var x = try centres.gather(labels)
        try x += Tensor<Float>.randn([count, 3 * 8 * 8], scale: 0.8, using: &sample)
        return try LabeledTensors(x: x.reshaped([count, 3, 8, 8]), y: labels)
    }

    @Test func definesTrainsCheckpointsReloadsAndInspectsItsOwnNet() throws {
        try ModelRegistry.shared.register(TinyConvNet.self)
        let family = TinyConvNet(filters: 4, hidden: 12, classes: 3, seed: 5)
        let train = try Self.images(count: 60, seed: 1), val = try Self.images(count: 30, seed: 2)
        var solver = try Solver(model: try family.model(as: Float.self), train: train, val: val,
                                optimizer: OptimizerSettings(rule: .adam, learningRate: 1e-2),
                                options: SolverOptions(epochs: 4, batchSize: 20, trainAccuracySamples: 30, seed: 6))
        try solver.train()
        #expect(solver.history.loss.count == 12)
        #expect(try solver.model.accuracy(val.x, val.y) > 0.6)

        let folder = NSTemporaryDirectory() + "own-net-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/tiny.safetensors"
        try solver.saveCheckpoint(to: path)

        let (loaded, file) = try Checkpoint.loadRegisteredModel(path, as: Float.self)
        #expect(file.metadata["format_version"] == "2" && file.metadata["model.kind"] == TinyConvNet.kind)
        let stored = try JSONDecoder().decode(TinyConvNet.self, from: Data(try #require(file.metadata["model.configuration"]).utf8))
        #expect(stored == family)
        #expect(try loaded.scores(val.x).scalars == (try solver.model.scores(val.x)).scalars)
        #expect(loaded.parameters.names == ["conv1.weight", "conv1.bias", "fc2.weight", "fc2.bias", "scores.weight", "scores.bias"])

        let trace = try loaded.trace(try val.x.slice(0..<2))
        #expect(try trace.activations("conv1").shape == [2, 4, 8, 8])
        #expect(try trace.activations("pool1").shape == [2, 4, 4, 4])
        let upstream = try trace.activations("scores")
        #expect(try trace.inputGradient(upstream, at: "scores", rule: .guided).shape == [2, 3, 8, 8])
    }

    @Test func checkpointsThatDoNotFitTheirConfigurationAreRefused() throws {
        try ModelRegistry.shared.register(TinyConvNet.self)
        let family = TinyConvNet(filters: 4, hidden: 12, classes: 3, seed: 5)
        let train = try Self.images(count: 20, seed: 1)
        let solver = try Solver(model: try family.model(as: Float.self), train: train, val: train,
                                optimizer: OptimizerSettings(rule: .sgd), options: SolverOptions(epochs: 0, batchSize: 10))
        let good = solver.checkpointFile()
        func refusal(_ edit: (inout SafetensorsFile) throws -> Void, registry: ModelRegistry = .shared) throws -> String {
            var file = good
            try edit(&file)
            do { _ = try Checkpoint.loadRegisteredModel(from: file, path: "edited", as: Float.self, registry: registry) } catch {
                return "\(error)"
            }
            return "loaded"
        }
        #expect(try refusal { _ in } == "loaded")
        let wider = try TinyConvNet(filters: 8, hidden: 12, classes: 3, seed: 5).jsonString()
        #expect(try refusal { $0.metadata["model.configuration"] = wider }.contains("tensor \"best.params.conv1.bias\" is (4) F32 but its model.configuration implies (8)"))
        let huge = try TinyConvNet(filters: 1 << 62, hidden: 12, classes: 3, seed: 5).jsonString()
        #expect(try refusal { $0.metadata["model.configuration"] = huge }.contains("filters 4611686018427387904 is not in 1...256"))
        #expect(try refusal({ _ in }, registry: ModelRegistry()).contains("no model family \"tiny-conv-net\""))
    }

    /// A net written as a `SequentialConfiguration` in a program: its checkpoint is read by the
    /// tool as the built-in nets' are (evaluate, visualize), and refused where it cannot be used.
    @Test(.enabled(if: TestEnvironment.toolIsBuilt, "\(TestEnvironment.toolMissing)"))
    func theToolReadsTheCheckpointOfASequentialNetWrittenByAProgram() throws {
        let folder = NSTemporaryDirectory() + "sequential-net-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let data = try PreparedData<Float>(Dataset.builtin(count: 700, seed: 4).split(numTrain: 600, numVal: 100), fitting: .meanImage)
        var net = try SequentialConfiguration(inputShape: [LabeledImages.imageSize], layers: [
            .init("fc1", .affine(outputs: 24, activation: .relu)),
            .init("scores", .affine(outputs: data.classNames.count)),
        ], regularization: 1e-3, seed: 3).model(as: Float.self)
        var optimizer = Optimizer<Float>(OptimizerSettings(rule: .adam, learningRate: 1e-3))
        var batch = Tensor<Float>(uninitializedShape: [0])
        let order = BatchOrder(seed: 0, epoch: 1, count: data.train.count, batchSize: 100)
        for step in 0..<order.count {
            data.train.gather(order[step], into: &batch)
            let gradients = try net.loss(batch, order[step].map { data.train.y[$0] }).gradients
            try optimizer.update(&net.parameters, gradients: gradients)
        }
        let path = folder + "/model.safetensors"
        try Checkpoint.save(net, data: CheckpointData(data), to: path)
        #expect(try Checkpoint.readRegistered(path).metadata["model.kind"] == "sequential")

        let (status, output) = try VisualizeCommandTests.run(["evaluate", path, "--json", "-o", folder])
        #expect(status == 0, "\(output)")
        let line = try #require(output.split(separator: "\n").first { $0.contains("\"metric\":\"accuracy\"") }, "\(output)")
        let figure = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        #expect(figure?["value"] as? Double == (try net.accuracy(data.val.x, data.val.y)), "\(line)")
        let (drawn, report) = try VisualizeCommandTests.run(["visualize", "saliency", "--checkpoint", path, "--images", "0-3", "-o", folder])
        #expect(drawn == 0, "\(report)")
        let (compressed, refusal) = try VisualizeCommandTests.run(["compress", path, "-o", folder + "/model.cs231nz"])
        #expect(compressed != 0 && refusal.contains("not yet a sequential net"), "\(refusal)")

        var poisoned = try Checkpoint.readRegistered(path)
        var weight = try #require(poisoned.tensor("params.fc1.weight", as: Float.self))
        weight.withUnsafeMutableBufferPointer { $0[7] = .nan }
        poisoned.add("params.fc1.weight", weight)
        try poisoned.write(to: folder + "/nan.safetensors")
        let (refused, message) = try VisualizeCommandTests.run(["evaluate", folder + "/nan.safetensors", "-o", folder])
        #expect(refused != 0 && message.contains("tensor \"params.fc1.weight\" holds nan at element 7"), "\(message)")
    }

    /// A program's Solver run of a `SequentialConfiguration` net, stopped after one epoch, is
    /// continued by `cs231n train --resume` to the same weights as the program's whole run.
    @Test(.enabled(if: TestEnvironment.toolIsBuilt, "\(TestEnvironment.toolMissing)"))
    func theToolResumesAProgramsSolverRunOfASequentialNet() throws {
        let folder = NSTemporaryDirectory() + "sequential-resume-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let data = try PreparedData<Float>(Dataset.builtin(count: 500, seed: 2).split(numTrain: 400, numVal: 100), fitting: .meanImage)
        let configuration = SequentialConfiguration(inputShape: [LabeledImages.imageSize], layers: [
            .init("fc1", .affine(outputs: 16, activation: .relu)),
            .init("scores", .affine(outputs: data.classNames.count)),
        ], regularization: 1e-3, seed: 7)
        func solver(epochs: Int) throws -> Solver<Sequential<Float>> {
            var solver = try Solver(model: configuration.model(as: Float.self), train: data.train, val: data.val,
                                    optimizer: OptimizerSettings(rule: .adam, learningRate: 1e-3),
                                    options: SolverOptions(epochs: epochs, batchSize: 50, trainAccuracySamples: 100, seed: 3))
            solver.record(try CheckpointData(data))
            return solver
        }
        var whole = try solver(epochs: 2)
        try whole.train()
        var first = try solver(epochs: 1)
        first.checkpointPath = folder + "/model.safetensors"
        try first.train()

        let (status, output) = try VisualizeCommandTests.run(["train", "--resume", "--checkpoint", folder + "/model.safetensors",
                                                              "--epochs", "2", "-o", folder])
        #expect(status == 0, "\(output)")
        let resumed = try Checkpoint.read(folder + "/model.safetensors")
        #expect(resumed.metadata["solver.epoch"] == "2" && resumed.metadata["model.kind"] == "sequential")
        for (name, tensor) in whole.model.parameters {
            #expect(resumed.tensor("params." + name, as: Float.self)?.scalars == tensor.scalars, "\(name)")
        }
    }
}
