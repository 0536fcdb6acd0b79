import CS231n
import Foundation
import Testing

/// Sizes, rates and paths out of range are refused in `validate()`, before any data is loaded
/// or anything allocated, with an error naming the option and its valid range; checkpoints
/// that do not fit the data, or hold NaN, are refused with the tensor named.
@Suite(.serialized, .enabled(if: TestEnvironment.toolIsBuilt, "\(TestEnvironment.toolMissing)"))
struct ArgumentRangeTests {
    @Test func outOfRangeArgumentsAreRefusedBeforeAnyWork() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-ranges-\(UUID().uuidString)").path
        try FileSystem.createDirectory(atPath: folder)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(FileManager.default.createFile(atPath: folder + "/file", contents: Data()))
        let checkpoint = ["--checkpoint", folder + "/none.safetensors"]
        let huge = "9223372036854775807"
        let mistakes: [([String], String)] = [
            (["train", "--hidden", "4611686018427387904"], "--hidden must be sizes in 1...16777216"),
            (["train", "--model", "fc", "--hidden", "1000000"], "more than 1073741824 elements"),
            (["train", "--model", "three-layer-convnet", "--filters", "4611686018427387904"],
             "--filters is 4611686018427387904, outside the valid range 1...16777216"),
            (["train", "--batch-size", huge], "--batch-size is \(huge), outside the valid range 1...16777216"),
            (["train", "--lr", "inf"], "--lr is inf: it must be a positive finite number"),
            (["train", "--lr", "nan"], "--lr is nan"),
            (["train", "--epochs", "0"], "--epochs is 0, outside the valid range 1...1000000"),
            (["train", "--momentum", "1"], "--momentum is 1.0, outside the valid range [0, 1)"),
            (["train", "--num-train", huge, "--num-val", huge], "take at most"),
            (["train", "--checkpoint", folder + "/no/such/dir/x.safetensors"], "the folder \(folder)/no/such/dir does not exist"),
            (["train", "-o", folder + "/file/out"], "\(folder)/file exists and is not a folder"),
            (["visualize", "fool", "--lr", "nan"] + checkpoint, "--lr is nan"),
            (["visualize", "fool", "--max-steps=-5"] + checkpoint, "--max-steps is -5, outside the valid range 1...1000000"),
            (["visualize", "saliency", "--images", "0-9223372036854775806"] + checkpoint, "indices are in 0...999999"),
            (["visualize", "class", "--lr", "inf"] + checkpoint, "--lr is inf"),
            (["visualize", "tsne", "--perplexity", "nan"] + checkpoint, "--perplexity is nan"),
            (["evaluate", "-o", folder + "/file/x"] + checkpoint, "exists and is not a folder"),
            (["compress", "--lr", "inf"] + checkpoint, "--lr is inf"),
            (["compress", "-o", folder + "/no/such/x.cs231nz"] + checkpoint, "does not exist"),
            (["data", "show", "--per-class", huge], "--per-class is \(huge), outside the valid range 1...1000"),
            (["data", "export", "--train", huge, "-o", folder + "/export"], "--train is \(huge), outside the valid range 5...1000000"),
            (["knn", "--train", huge], "--train is \(huge), outside the valid range 2...1000000"),
            (["knn", "--num-train", huge], "--num-train and --num-val take at most"),
            (["linear", "--batch-size", huge], "--batch-size is \(huge)"),
            (["linear", "--lr", "0"], "--lr takes comma-separated positive finite numbers"),
            (["bench", "W0", "--sizes", "4611686018427387904"], "--sizes is 4611686018427387904, outside the valid range 1...16384"),
            (["gradcheck", "--tolerance=-1"], "--tolerance is -1.0"),
        ]
        for (arguments, message) in mistakes {
            let started = Date()
            let (status, output) = try VisualizeCommandTests.run(arguments)
            #expect(status != 0 && output.contains(message), "\(arguments.joined(separator: " ")): \(output)")
            #expect(Date().timeIntervalSince(started) < 20, "\(arguments.joined(separator: " ")) did work before refusing")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["file"], "nothing was written")
    }

    @Test func checkpointsThatDoNotFitOrHoldNaNAreRefused() throws {
        let folder = try VisualizeCommandTests.trained("two-layer")
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("model.safetensors").path
        let file = try Checkpoint.read(checkpoint)

        // NaN in the best weights: refused with the tensor and element, loaded with --allow-nonfinite.
        var poisoned = file
        var w2 = try #require(file.tensor("best.params.W2", as: Float.self))
        w2.withUnsafeMutableBufferPointer { $0[3] = .nan }
        poisoned.add("best.params.W2", w2)
        let poisonedPath = folder.appendingPathComponent("nan.safetensors").path
        try poisoned.write(to: poisonedPath)
        let (status, output) = try VisualizeCommandTests.run(["evaluate", poisonedPath, "-o", folder.path])
        #expect(status != 0 && output.contains("tensor \"best.params.W2\" holds nan at element 3"), "\(output)")
        let (allowed, report) = try VisualizeCommandTests.run(["evaluate", poisonedPath, "--allow-nonfinite", "-o", folder.path])
        #expect(allowed == 0, "\(report)")
        let (visualized, text) = try VisualizeCommandTests.run(["visualize", "saliency", "--checkpoint", poisonedPath, "-o", folder.path])
        #expect(visualized != 0 && text.contains("best.params.W2"), "\(text)")

        // A model of 7 classes on data of 10: refused before any class index is used.
        var configuration = try ModelConfiguration.fromJSON(file.metadata["model.config"]!)
        configuration.classes = 7
        var fewer = SafetensorsFile()
        fewer.metadata = file.metadata
        fewer.metadata["model.config"] = configuration.jsonString()
        for name in file.names {
            let entry = try #require(file.entries[name])
            var shape = entry.shape
            if name.hasSuffix("W2") || name.hasSuffix("b2") || name.contains(".W2.") || name.contains(".b2.") { shape[shape.count - 1] = 7 }
            if entry.dtype == .f64 {
                fewer.add(name, try #require(file.tensor(name, as: Double.self)))
            } else {
                fewer.add(name, shape == entry.shape ? try #require(file.tensor(name, as: Float.self)) : Tensor<Float>.zeros(shape))
            }
        }
        let fewerPath = folder.appendingPathComponent("seven.safetensors").path
        try fewer.write(to: fewerPath)
        for command in [["evaluate", fewerPath], ["visualize", "class", "--target", "9", "--checkpoint", fewerPath],
                        ["visualize", "occlusion", "--checkpoint", fewerPath], ["visualize", "fool", "--checkpoint", fewerPath]] {
            let (status, output) = try VisualizeCommandTests.run(command + ["-o", folder.path])
            #expect(status != 0 && output.contains("the model scores 7 classes but the builtin data has 10"), "\(command): \(output)")
        }
        // An empty validation split: nothing to score, so no accuracy.
        var empty = file
        empty.metadata["data.num_val"] = "0"
        let emptyPath = folder.appendingPathComponent("empty.safetensors").path
        try empty.write(to: emptyPath)
        let (scored, message) = try VisualizeCommandTests.run(["evaluate", emptyPath, "-o", folder.path])
        #expect(scored != 0 && message.contains("is empty: there is nothing to score"), "\(message)")

        let (status2, output2) = try VisualizeCommandTests.run(["visualize", "class", "--target", "12", "--checkpoint", checkpoint,
                                                               "-o", folder.path])
        #expect(status2 != 0 && output2.contains("--target 12: not a class; the classes are 0 "), "\(output2)")
    }

    @Test func resumeRefusesStateOutOfRangeAndDivergenceFailsLoudly() throws {
        let folder = try VisualizeCommandTests.trained("two-layer")
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("model.safetensors").path
        let original = try Checkpoint.read(checkpoint)
        let edits: [(String, (String) -> String, String)] = [
            ("solver.options", { $0.replacingOccurrences(of: "\"trainAccuracySamples\":1000", with: "\"trainAccuracySamples\":-5") },
             "metadata solver.options: trainAccuracySamples is -5, outside the valid range 1...2147483647"),
            ("optimizer.settings", { $0.replacingOccurrences(of: "\"learningRate\":", with: "\"learningRate\":-") },
             "metadata optimizer.settings: learningRate is -"),
            ("solver.epoch", { _ in "99" }, "metadata solver.epoch is 99, outside the valid range 0...1"),
            ("solver.options", { $0.replacingOccurrences(of: "\"seed\":0", with: "\"seed\":-1") },
             "metadata solver.options is not valid: "),
            ("optimizer.settings", { $0.replacingOccurrences(of: "\"rule\":\"", with: "\"rule\":\"x") },
             "metadata optimizer.settings is not valid: field \"rule\" is not valid: cannot initialize UpdateRule"),
        ]
        let edited = folder.appendingPathComponent("edited.safetensors").path
        for (key, change, message) in edits {
            var file = original
            file.metadata[key] = change(file.metadata[key]!)
            try file.write(to: edited)
            let (status, output) = try VisualizeCommandTests.run(["train", "--resume", "--checkpoint", edited, "--epochs", "2",
                                                                  "-o", folder.path])
            #expect(status != 0 && output.contains(message), "\(key): \(output)")
        }
        var poisoned = original
        var b1 = try #require(original.tensor("params.b1", as: Float.self))
        b1.withUnsafeMutableBufferPointer { $0[0] = .infinity }
        poisoned.add("params.b1", b1)
        try poisoned.write(to: edited)
        let (status, output) = try VisualizeCommandTests.run(["train", "--resume", "--checkpoint", edited, "--epochs", "2", "-o", folder.path])
        #expect(status != 0 && output.contains("tensor \"params.b1\" holds inf at element 0"), "\(output)")

        // A rate finite but far too high: the run stops with the cause, and no checkpoint holds Inf or NaN.
        let diverging = folder.appendingPathComponent("diverging").path
        let (diverged, report) = try VisualizeCommandTests.run(["train", "--model", "two-layer", "--lr", "1e30", "--epochs", "3",
                                                                "--batch-size", "200"] + TrainCommandTests.tinyData + ["-o", diverging])
        #expect(diverged != 0 && report.contains("learning rate too high"), "\(report)")
        if let saved = try? Checkpoint.read(diverging + "/model.safetensors") {
            #expect(saved.firstNonFiniteValue(under: ["params.", "best."]) == nil)
        }
    }
}
