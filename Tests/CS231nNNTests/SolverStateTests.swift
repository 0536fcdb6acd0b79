import CS231nNN
import CS231nOptim
import Foundation
import Testing

/// Solver options, optimizer settings and saved solver state are range-checked, weights must be
/// finite, and a run that diverges stops without keeping or saving the diverged weights.
@Suite struct SolverStateTests {
    @Test func optionsAndSettingsOutOfRangeNameTheFieldAndTheRange() {
        let options: [(SolverOptions, String)] = [
            (SolverOptions(trainAccuracySamples: -5), "trainAccuracySamples is -5, outside the valid range 1...2147483647"),
            (SolverOptions(valAccuracySamples: 0), "valAccuracySamples is 0"),
            (SolverOptions(batchSize: .max), "batchSize is 9223372036854775807, outside the valid range 1...16777216"),
            (SolverOptions(epochs: -1), "epochs is -1, outside the valid range 0...1000000"),
            (SolverOptions(learningRateDecay: .nan), "learningRateDecay is nan"),
        ]
        for (option, message) in options {
            #expect(option.rangeViolation?.contains(message) == true, "\(option.rangeViolation ?? "accepted")")
        }
        #expect(SolverOptions().rangeViolation == nil)
        let settings: [(OptimizerSettings, String)] = [
            (OptimizerSettings(rule: .sgd, learningRate: -1), "learningRate is -1.0, it must be positive and finite"),
            (OptimizerSettings(rule: .sgd, learningRate: .nan), "learningRate is nan"),
            (OptimizerSettings(rule: .sgd, learningRate: .infinity), "learningRate is inf"),
            (OptimizerSettings(rule: .momentum, momentum: 1), "momentum is 1.0, outside the valid range [0, 1)"),
            (OptimizerSettings(rule: .adam, beta2: -0.1), "beta2 is -0.1"),
            (OptimizerSettings(rule: .adam, epsilon: 0), "epsilon is 0.0"),
            (OptimizerSettings(rule: .sgd, weightDecay: -1), "weightDecay is -1.0"),
        ]
        for (setting, message) in settings {
            #expect(setting.rangeViolation?.contains(message) == true, "\(setting.rangeViolation ?? "accepted")")
        }
        #expect(OptimizerSettings(rule: .adam).rangeViolation == nil)
    }

    @Test func theSolverRefusesSettingsOutOfRange() throws {
        let model = try FullyConnectedNet<Float>(inputShape: [12], hiddenSizes: [4], classes: 4, seed: 1)
        let (train, val) = (try clusters(count: 20, seed: 1), try clusters(count: 8, seed: 2))
        #expect(throws: SolverError.invalidOptions("optimizer: learningRate is nan, it must be positive and finite")) {
            try Solver(model: model, train: train, val: val, optimizer: OptimizerSettings(rule: .sgd, learningRate: .nan))
        }
        #expect(throws: SolverError.self) {
            try Solver(model: model, train: train, val: val, optimizer: OptimizerSettings(rule: .sgd),
                       options: SolverOptions(trainAccuracySamples: -1))
        }
    }

    /// Rewrites one metadata key of the checkpoint at `path`.
    func editing(_ path: String, _ key: String, _ change: (String) -> String) throws {
        var file = try Checkpoint.read(path)
        file.metadata[key] = change(file.metadata[key]!)
        try file.write(to: path)
    }

    @Test func resumeRangeChecksTheSavedState() throws {
        let edits: [(String, (String) -> String, String)] = [
            ("solver.options", { $0.replacingOccurrences(of: "\"trainAccuracySamples\":100", with: "\"trainAccuracySamples\":-5") },
             "metadata solver.options: trainAccuracySamples is -5, outside the valid range 1...2147483647"),
            ("optimizer.settings", { $0.replacingOccurrences(of: "\"learningRate\":", with: "\"learningRate\":-") },
             "metadata optimizer.settings: learningRate is -"),
            ("optimizer.settings", { $0.replacingOccurrences(of: "\"beta1\":0.9", with: "\"beta1\":1.5") },
             "metadata optimizer.settings: beta1 is 1.5, outside the valid range [0, 1)"),
            ("solver.epoch", { _ in "7" }, "metadata solver.epoch is 7, outside the valid range 0...1"),
            ("solver.iteration", { _ in "-3" }, "metadata solver.iteration is -3, outside the valid range 10...10"),
            ("solver.best_val_accuracy", { _ in "nan" }, "solver.best_val_accuracy is nan"),
            ("optimizer.step", { _ in "-1" }, "metadata optimizer.step is -1"),
            // Int.max used to load and wrap on the next step, writing a checkpoint the tool refused.
            ("optimizer.step", { _ in String(Int.max) }, "outside the valid range 0...\(Checkpoint.maximumSteps)"),
            ("model.training_steps", { _ in String(Int.max) }, "outside the valid range 0...\(Checkpoint.maximumSteps)"),
        ]
        for (key, change, message) in edits {
            let folder = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let (_, path) = try CheckpointTests().trainedCheckpoint(folder)
            try editing(path, key, change)
            var solver = try SolverTests().makeSolver(epochs: 2)
            do {
                try solver.resume(from: path)
                Issue.record("\(key) edited was accepted")
            } catch let error as CheckpointError {
                #expect(error.description.contains(message), "\(error)")
            }
        }
    }

    @Test func nonFiniteWeightsAreRefusedUnlessAllowed() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (_, path) = try CheckpointTests().trainedCheckpoint(folder)
        for (name, value) in [("best.params.W2", Float.nan), ("params.b1", .infinity), ("data.mean_image", -.infinity)] {
            var file = try Checkpoint.read(path)
            var tensor = try #require(file.tensor(name, as: Float.self))
            tensor.withUnsafeMutableBufferPointer { $0[$0.count - 1] = value }
            file.add(name, tensor)
            let edited = folder + "/edited.safetensors"
            try file.write(to: edited)
            let element = tensor.count - 1
            let expected = "tensor \"\(name)\" holds \(Double(value)) at element \(element) (byte \(4 * element) of its data)"
            var solver = try SolverTests().makeSolver(epochs: 2)
            do {
                try solver.resume(from: edited)
                Issue.record("\(name) holding \(value) was resumed")
            } catch let error as CheckpointError {
                #expect(error.description.contains(expected), "\(error)")
            }
            try solver.resume(from: edited, allowNonfinite: true)
            if name != "params.b1" {
                #expect(throws: CheckpointError.self) { try Checkpoint.loadModel(edited, as: Float.self) }
                _ = try Checkpoint.loadModel(edited, as: Float.self, allowNonfinite: true)
            } else {
                _ = try Checkpoint.loadModel(edited, as: Float.self)  // the best weights are finite
            }
        }
    }

    @Test func divergedWeightsAreNeitherKeptNorSaved() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let model = try FullyConnectedNet<Float>(inputShape: [12], hiddenSizes: [8], classes: 4, weightScale: nil, seed: 1)
        // One step per epoch at a rate finite in Double but infinite in Float: the step's loss is
        // finite, the weights after it are not.
        var solver = try Solver(model: model, train: clusters(count: 20, seed: 1), val: clusters(count: 8, seed: 2),
                                optimizer: OptimizerSettings(rule: .sgd, learningRate: 1e300),
                                options: SolverOptions(epochs: 2, batchSize: 20))
        solver.checkpointPath = folder + "/model.safetensors"
        do {
            try solver.train()
            Issue.record("training at lr 1e300 should stop")
        } catch let error as SolverError {
            switch error {
            case .nonFiniteWeights(_, _, let epoch, _, _): #expect(epoch == 1)
            case .nonFiniteLoss: break
            default: Issue.record("unexpected \(error)")
            }
            #expect(error.description.contains("learning rate too high"))
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/model.safetensors"), "no checkpoint of diverged weights")
        #expect(solver.bestParameters.firstNonFinite == nil)
    }
}
