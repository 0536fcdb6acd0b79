import CS231n
import Foundation
import Testing

/// `cs231n visualize` end to end on a tiny conv net and a tiny two-layer net trained on the
/// built-in dataset, and the PyTorch reference where torch is installed.
@Suite(.serialized) struct VisualizeCommandTests {
    /// Runs the tool, returning its exit status and stdout + stderr.
    static func run(_ arguments: [String], executable: String = ReportRenderingTests.tool.path) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// A folder with a checkpoint of `model` trained for one short epoch, or nil (with a message)
    /// when the tool is not built next to the tests.
    static func trained(_ model: String, extra: [String] = []) throws -> URL? {
        guard ReportRenderingTests.builtTool() != nil else { return nil }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-visualize-\(model)-\(getpid())")
        let (status, output) = try run(["train", "--model", model, "--dataset", "builtin", "--num-train", "200", "--num-val", "40",
                                        "--epochs", "1", "--batch-size", "50", "--hidden", "12", "-o", folder.path] + extra)
        #expect(status == 0, "\(output)")
        return folder
    }

    func expectPictures(_ folder: URL, _ names: [String]) throws {
        for name in names {
            let path = folder.appendingPathComponent(name).path
            let image = try PNGImage.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))), source: path)
            #expect(image.width > 32 && image.height > 32, "\(name)")
        }
    }

    @Test func everyCommandDrawsAConvNet() throws {
        guard let folder = try Self.trained("three-layer-convnet", extra: ["--filters", "4"]) else { return }
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("model.safetensors").path, out = folder.appendingPathComponent("pictures").path
        let commands: [[String]] = [
            ["saliency", "--images", "0-2,5", "--json"],
            ["guided"],
            ["deconv", "--layer", "conv1", "--channel", "3", "--images", "1,2"],
            ["guided", "--layer", "fc2", "--channel", "0"],
            ["features", "--layer", "pool1", "--images", "4"],
            ["class", "--target", "disc", "--steps", "20", "--frame-every", "10"],
            ["fool", "--images", "3", "--target", "0"],
            ["filters"],
        ]
        for command in commands {
            let (status, output) = try Self.run(["visualize"] + command + ["--checkpoint", checkpoint, "-o", out])
            #expect(status == 0, "visualize \(command.joined(separator: " ")): \(output)")
            if command.contains("--json") {
                #expect(output.contains("\"command\":\"visualize saliency\"") && output.contains("\"metric\":\"seconds\""), "\(output)")
            }
        }
        let pictures = URL(fileURLWithPath: out)
        try expectPictures(pictures, ["saliency.png", "guided.png", "projection-deconvnet-conv1-c3.png", "top9-deconvnet-conv1-c3.png",
                                      "top9-guided-fc2-c0.png", "features-pool1-4.png", "class-disc.png", "filters.png"])
        let fooled = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("fool-3-") }
        #expect(fooled.count == 1 && fooled[0].hasSuffix("-to-disc.png"), "\(fooled)")
        // The positional form of `filters` still works.
        #expect(try Self.run(["visualize", "filters", checkpoint, "-o", out + "/positional.png"]).0 == 0)

        let mistakes: [([String], String)] = [
            (["guided", "--layer", "conv7", "--channel", "0"], "conv1 (4×32×32)"),
            (["deconv", "--layer", "conv1", "--channel", "4"], "channels 0...3"),
            (["saliency", "--images", "40"], "40 images (0...39)"),
            (["fool", "--target", "zebra"], "0 disc, 1 ring"),
            (["guided", "--layer", "pool1", "--channel", "1", "--position", "16,0"], "y in 0...15"),
        ]
        for (arguments, message) in mistakes {
            let (status, output) = try Self.run(["visualize"] + arguments + ["--checkpoint", checkpoint, "-o", out])
            #expect(status != 0 && output.contains(message), "visualize \(arguments.joined(separator: " ")): \(output)")
        }
    }

    @Test func aFullyConnectedNetAndThePyTorchReference() throws {
        guard let folder = try Self.trained("two-layer") else { return }
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("model.safetensors").path
        let raw = folder.appendingPathComponent("raw.safetensors").path
        let (status, output) = try Self.run(["visualize", "saliency", "--checkpoint", checkpoint, "--images", "0-3", "--raw", raw,
                                             "-o", folder.path])
        #expect(status == 0, "\(output)")
        #expect(try Self.run(["visualize", "guided", "--layer", "fc1", "--channel", "5", "--checkpoint", checkpoint,
                              "-o", folder.path]).0 == 0)
        try expectPictures(folder, ["saliency.png", "top9-guided-fc1-c5.png"])

        // CS231n's inputs: (x − mean image) / 255. A checkpoint from before the scale was stored
        // (no data.scale_image) is read with 255 and scores the same.
        let file = try Checkpoint.read(checkpoint)
        #expect(file.metadata["data.preprocessing"]?.hasPrefix("mean-image") == true, "\(file.metadata)")
        #expect(file.tensor("data.scale_image", as: Float.self)?.scalars.allSatisfy { $0 == 255 } == true)
        var older = SafetensorsFile()
        older.metadata = file.metadata
        for name in file.names where name != "data.scale_image" {
            let entry = file.entries[name]!
            try older.add(name, dtype: entry.dtype, shape: entry.shape, bytes: entry.bytes)
        }
        let olderPath = folder.appendingPathComponent("older.safetensors").path
        try Data(older.serialized()).write(to: URL(fileURLWithPath: olderPath))
        let scores = try [checkpoint, olderPath].map { path in
            let (status, report) = try Self.run(["evaluate", path, "--json", "-o", folder.path])
            #expect(status == 0, "\(report)")
            return try TrainCommandTests.accuracy(in: report, command: "evaluate")
        }
        #expect(scores[0] == scores[1], "\(scores)")

        let home = FileManager.default.homeDirectoryForCurrentUser.path
        let python = [home + "/.venv-peers/bin/python", "/usr/bin/python3"].first { path in
            FileManager.default.isExecutableFile(atPath: path) && ((try? Self.run(["-c", "import torch"], executable: path).0) == 0)
        }
        guard let python else {
            print("skipped: no Python with torch (~/.venv-peers or python3); scripts/visualize_reference.py was not run")
            return
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/visualize_reference.py").path
        let (referenceStatus, report) = try Self.run([script, checkpoint, raw], executable: python)
        #expect(referenceStatus == 0 && report.contains("(ok)"), "\(report)")
    }
}
