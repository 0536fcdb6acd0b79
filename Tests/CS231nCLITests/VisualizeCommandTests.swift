import CS231n
import Foundation
import Testing

/// `cs231n visualize` end to end on a tiny conv net and a tiny two-layer net trained on the
/// built-in dataset, and the PyTorch reference where torch is installed.
@Suite(.serialized, .enabled(if: TestEnvironment.toolIsBuilt, "\(TestEnvironment.toolMissing)"))
struct VisualizeCommandTests {
    /// Runs the tool, returning its exit status and stdout + stderr; `threads` sets CS231N_THREADS.
    static func run(_ arguments: [String], executable: String = ReportRenderingTests.tool.path,
                    threads: Int? = nil) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let threads { process.environment = ProcessInfo.processInfo.environment.merging(["CS231N_THREADS": String(threads)]) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// A folder with a checkpoint of `model` trained for one short epoch.
    static func trained(_ model: String, extra: [String] = []) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-visualize-\(model)-\(UUID().uuidString)")
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
        let folder = try Self.trained("three-layer-convnet", extra: ["--filters", "4"])
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
        try Self.expectErrors(mistakes, checkpoint: checkpoint, output: out)
    }

    /// Each `visualize` command line fails with an error containing its message.
    static func expectErrors(_ mistakes: [([String], String)], checkpoint: String, output: String) throws {
        for (arguments, message) in mistakes {
            let (status, text) = try run(["visualize"] + arguments + ["--checkpoint", checkpoint, "-o", output])
            #expect(status != 0 && text.contains(message), "visualize \(arguments.joined(separator: " ")): \(text)")
        }
    }

    @Test func aFullyConnectedNet() throws {
        let folder = try Self.trained("two-layer")
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
    }

    /// scripts/visualize_reference.py recomputes our saliency maps in float64 PyTorch (Captum's
    /// rules) from the checkpoint and the raw gradients, and agrees.
    @Test(.enabled(if: TestEnvironment.pythonWithTorch != nil, "no Python with torch (run ../shared/peers/setup.sh)"))
    func thePyTorchReferenceAgrees() throws {
        let python = try #require(TestEnvironment.pythonWithTorch)
        let folder = try Self.trained("two-layer")
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("model.safetensors").path
        let raw = folder.appendingPathComponent("raw.safetensors").path
        let (status, output) = try Self.run(["visualize", "saliency", "--checkpoint", checkpoint, "--images", "0-3", "--raw", raw,
                                             "-o", folder.path])
        #expect(status == 0, "\(output)")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/visualize_reference.py").path
        let (referenceStatus, report) = try Self.run([script, checkpoint, raw], executable: python)
        #expect(referenceStatus == 0 && report.contains("(ok)"), "\(report)")
    }
}
