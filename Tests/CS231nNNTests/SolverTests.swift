import CS231nData
import CS231nNN
import CS231nOptim
import Foundation
import Testing

/// Gaussian clusters, one per class: learnable, small and fast.
func clusters(count: Int, features: Int = 12, classes: Int = 4, seed: UInt64) throws -> LabeledTensors<Float> {
    var g = RandomGenerator(seed: 100)
    let centres = Tensor<Float>.randn([classes, features], scale: 1.5, using: &g)
    var sample = RandomGenerator(seed: seed)
    let y = (0..<count).map { _ in sample.nextInt(below: classes) }
    var x = try centres.gather(y)
    try x += Tensor<Float>.randn([count, features], using: &sample)
    return try LabeledTensors(x: x, y: y)
}

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "cs231n-nn-tests-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct SolverTests {
    func makeSolver(epochs: Int, rule: UpdateRule = .adam, normalization: Normalization = .batchnorm,
                    keep: Double = 0.8) throws -> Solver<FullyConnectedNet<Float>> {
        let model = try FullyConnectedNet<Float>(inputShape: [12], hiddenSizes: [16, 16], classes: 4, normalization: normalization,
                                                 keepProbability: keep, regularization: 1e-3, weightScale: nil, seed: 3)
        return try Solver(model: model, train: clusters(count: 230, seed: 1), val: clusters(count: 60, seed: 2),
                          optimizer: OptimizerSettings(rule: rule, learningRate: 5e-3),
                          options: SolverOptions(epochs: epochs, batchSize: 25, learningRateDecay: 0.9,
                                                 trainAccuracySamples: 100, seed: 4))
    }

    @Test func trainsKeepsHistoriesAndRestoresTheBest() throws {
        var solver = try makeSolver(epochs: 4)
        var events = 0
        solver.onEvent = { _ in events += 1 }
        try solver.train()
        #expect(solver.stepsPerEpoch == 10, "230 examples in batches of 25, the last one short")
        #expect(solver.history.loss.count == 40 && solver.iteration == 40)
        #expect(solver.history.trainAccuracy.count == 4 && solver.history.valAccuracy.count == 4)
        #expect(events == 44)
        #expect(solver.history.loss.last! < solver.history.loss.first!)
        #expect(solver.bestValAccuracy == solver.history.valAccuracy.max())
        #expect(solver.bestValAccuracy > 0.8, "clusters are easy; best val \(solver.bestValAccuracy)")
        for (name, tensor) in solver.model.parameters { #expect(tensor == solver.bestParameters[name], "\(name) restored") }
        #expect(abs(solver.optimizer.settings.learningRate - 5e-3 * pow(0.9, 4)) < 1e-15)
    }

    @Test func nonFiniteLossStopsWithTheIterationAndTheLikelyCause() throws {
        var solver = try makeSolver(epochs: 3, rule: .sgd, normalization: .none, keep: 1)
        solver.optimizer.settings.learningRate = 1e9
        do {
            try solver.train()
            Issue.record("training with lr 1e9 should diverge")
        } catch let error as SolverError {
            guard case .nonFiniteLoss(let iteration, let epoch, _, _, _) = error else { throw error }
            #expect(iteration > 1 && epoch >= 1)
            let message = error.description
            #expect(message.contains("iteration \(iteration)") && message.contains("learning rate"), "\(message)")
            #expect(solver.iteration == iteration - 1, "nothing is updated after the bad loss")
        }
    }

    @Test func resumeContinuesBitIdentically() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var uninterrupted = try makeSolver(epochs: 4)
        uninterrupted.checkpointPath = folder + "/full.safetensors"
        try uninterrupted.train()

        var firstHalf = try makeSolver(epochs: 2)
        firstHalf.checkpointPath = folder + "/half.safetensors"
        try firstHalf.train()
        var resumed = try makeSolver(epochs: 4)
        try resumed.resume(from: folder + "/half.safetensors")
        #expect(resumed.epoch == 2 && resumed.iteration == 20)
        resumed.checkpointPath = folder + "/resumed.safetensors"
        try resumed.train()

        #expect(resumed.history == uninterrupted.history)
        #expect(resumed.model.trainingSteps == uninterrupted.model.trainingSteps)
        for (name, tensor) in uninterrupted.model.parameters { #expect(resumed.model.parameters[name] == tensor, "\(name)") }
        for (name, tensor) in uninterrupted.model.buffers { #expect(resumed.model.buffers[name] == tensor, "\(name)") }
        for (name, tensor) in uninterrupted.optimizer.state { #expect(resumed.optimizer.state[name] == tensor, "\(name)") }
        let a = try SafetensorsFile(contentsOf: folder + "/full.safetensors")
        let b = try SafetensorsFile(contentsOf: folder + "/resumed.safetensors")
        #expect(a == b, "the final checkpoints are the same file")
    }

    @Test func resumeRefusesAnotherModel() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var solver = try makeSolver(epochs: 1)
        solver.checkpointPath = folder + "/run.safetensors"
        try solver.train()
        var other = try makeSolver(epochs: 2, normalization: .layernorm)
        #expect(throws: CheckpointError.self) { try other.resume(from: folder + "/run.safetensors") }
    }
}

@Suite struct CheckpointTests {
    func trainedCheckpoint(_ folder: String) throws -> (Solver<FullyConnectedNet<Float>>, String) {
        var solver = try SolverTests().makeSolver(epochs: 1)
        solver.checkpointTensors["mean_image"] = Tensor<Float>([1, 2, 3])
        solver.checkpointMetadata["data.dataset"] = "clusters"
        let path = folder + "/model.safetensors"
        solver.checkpointPath = path
        try solver.train()
        return (solver, path)
    }

    @Test func writtenAndReadBackBitIdentically() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (solver, path) = try trainedCheckpoint(folder)
        let file = try Checkpoint.read(path)
        let expected = solver.checkpointFile()
        #expect(file == expected)
        #expect(file.names.contains("params.W1") && file.names.contains("optimizer.W1.m") && file.names.contains("best.buffers.running_var2"))
        #expect(file.tensor("data.mean_image", as: Float.self)?.scalars == [1, 2, 3])
        #expect(file.metadata["data.dataset"] == "clusters" && file.metadata["solver.epoch"] == "1")
        let reserialized = file.serialized()
        #expect(reserialized == [UInt8](FileManager.default.contents(atPath: path)!))
        let (model, _) = try Checkpoint.loadModel(path, as: Float.self)
        #expect(model.configuration == solver.model.configuration)
        for (name, tensor) in solver.bestParameters { #expect(model.parameters[name] == tensor, "\(name)") }
        #expect(Checkpoint.history(file) == solver.history)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains("tmp") }
        #expect(leftovers.isEmpty, "no temporary file is left behind")
    }

    @Test func tornAndCorruptedFilesAreNamedAndExplained() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (_, path) = try trainedCheckpoint(folder)
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        let damaged: [(String, [UInt8], String)] = [
            ("empty", [], "too short"),
            ("torn-header", Array(bytes[0..<(headerLength / 2)]), "runs past the end"),
            ("torn-data", Array(bytes[0..<(bytes.count - 100)]), "truncated"),
            ("flipped", { var b = bytes; b[b.count - 7] ^= 0x10; return b }(), "CRC-32"),
            ("garbage", { var b = bytes; for i in 8..<40 { b[i] = 0x41 }; return b }(), "not a JSON object"),
        ]
        for (name, content, clue) in damaged {
            let file = folder + "/\(name).safetensors"
            try Data(content).write(to: URL(fileURLWithPath: file))
            do {
                _ = try Checkpoint.read(file)
                Issue.record("\(name) was accepted")
            } catch let error as CheckpointError {
                #expect(error.description.contains(file) && error.description.contains(clue), "\(name): \(error)")
            }
        }
        #expect(throws: CheckpointError.unreadable(path: folder + "/absent", reason: "no such file")) {
            try Checkpoint.read(folder + "/absent")
        }
        var foreign = SafetensorsFile()
        foreign.add("x", Tensor<Float>([1]))
        try foreign.write(to: folder + "/foreign.safetensors")
        #expect(throws: CheckpointError.self) { try Checkpoint.read(folder + "/foreign.safetensors") }
    }

    /// The file is plain safetensors: Python reads it with nothing but json, struct and numpy.
    static let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
        ?? ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { "\($0)/python3" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: python != nil, "python3 is not installed, so the checkpoint cannot be read from Python"))
    func loadsInPythonWithNumpy() throws {
        let python = try #require(Self.python)
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (solver, path) = try trainedCheckpoint(folder)
        let script = """
        import json, struct, sys
        data = open(sys.argv[1], 'rb').read()
        (n,) = struct.unpack('<Q', data[:8])
        header = json.loads(data[8:8 + n])
        meta = header.pop('__metadata__')
        body = data[8 + n:]
        def values(name):
            info = header[name]
            begin, end = info['data_offsets']
            fmt = {'F32': 'f', 'F64': 'd'}[info['dtype']]
            return info['shape'], struct.unpack('<%d%s' % ((end - begin) // struct.calcsize(fmt), fmt), body[begin:end])
        shape, w1 = values('params.W1')
        try:
            import numpy as np
            info = header['params.W1']
            begin, end = info['data_offsets']
            array = np.frombuffer(body[begin:end], dtype='<f4').reshape(info['shape'])
            assert array.shape == tuple(shape) and float(array.sum()) == float(np.float32(array.sum()))
            reader = 'numpy'
        except ImportError:
            reader = 'struct'
        print(json.dumps({'shape': shape, 'sum': sum(w1), 'epoch': meta['solver.epoch'],
                          'kind': json.loads(meta['model.config'])['kind'], 'losses': len(values('history.loss')[1]),
                          'reader': reader}))
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let result = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        #expect(result["shape"] as? [Int] == [12, 16])
        #expect(result["epoch"] as? String == "1" && result["kind"] as? String == "fully-connected")
        #expect(result["losses"] as? Int == solver.history.loss.count)
        let sum = try #require(result["sum"] as? Double)
        let ours = solver.model.parameters["W1"]!.scalars.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - ours) < 1e-9, "Python's ΣW1 \(sum) vs ours \(ours)")
    }
}
