import CS231n
import Foundation
import Testing

/// `cs231n train` end to end on the built-in dataset: each model's recipe and the options that
/// override it, and the modern CNN's checkpoint, resume and pictures.
@Suite(.serialized, .enabled(if: TestEnvironment.toolIsBuilt, "\(TestEnvironment.toolMissing)"))
struct TrainCommandTests {
    static let tinyData = ["--dataset", "builtin", "--num-train", "96", "--num-val", "32"]

    func folder(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-train-\(name)-\(getpid())")
    }

    @Test func eachModelStartsFromItsRecipeAndOptionsOverrideIt() throws {
        let out = folder("recipes")
        defer { try? FileManager.default.removeItem(at: out) }
        let cases: [([String], String)] = [
            (["--model", "two-layer"], "pytorch-momentum lr 0.02, batch 200"),
            (["--model", "two-layer", "--update", "adam"], "adam lr 0.001, batch 200"),
            (["--model", "two-layer", "--update", "pytorch-momentum", "--lr", "0.5"], "pytorch-momentum lr 0.5,"),
            (["--model", "three-layer-convnet", "--filters", "2"], "adam lr 0.001, batch 128"),
            // airbench's rate follows the momentum: 11.5 / (1024 · (1 + 1/(1 − 0.9))).
            (["--model", "cnn", "--hidden", "4,4,4", "--momentum", "0.9", "--batch-size", "48"],
             "pytorch-nesterov lr 0.00102095"),
        ]
        for (arguments, expected) in cases {
            let (status, output) = try VisualizeCommandTests.run(["train"] + arguments + Self.tinyData + ["--epochs", "1", "-o", out.path])
            #expect(status == 0 && output.contains(expected), "train \(arguments.joined(separator: " ")): \(output)")
        }
        let mistakes: [([String], String)] = [
            (["--model", "cnn", "--reg", "0.1"], "--model cnn has no L2 term"),
            (["--model", "cnn", "--tta", "3"], "--tta must be 0, 1 or 2"),
            (["--model", "cnn", "--momentum", "1"], "--momentum is 1.0, outside the valid range [0, 1)"),
            (["--model", "cnn", "--hidden", "4,0,4"], "--hidden must be sizes in 1...16777216"),
        ]
        for (arguments, message) in mistakes {
            let (status, output) = try VisualizeCommandTests.run(["train"] + arguments + Self.tinyData + ["-o", out.path])
            #expect(status != 0 && output.contains(message), "train \(arguments.joined(separator: " ")): \(output)")
        }
    }

    /// Two epochs in one go, and the same run stopped after its first epoch and resumed, write
    /// the same checkpoint, byte for byte: the whitening filters, running statistics, momentum,
    /// the warm-up-linear schedule, the lookahead average (updated at step 5 of the 6 in an
    /// epoch) and the alternating flip all carry over.
    @Test func theCNNResumesBitIdenticallyAndDrawsItsWhiteningFilters() throws {
        let whole = folder("cnn-whole"), split = folder("cnn-split")
        defer { for url in [whole, split] { try? FileManager.default.removeItem(at: url) } }
        let cnn = ["train", "--model", "cnn", "--hidden", "4,6,8", "--batch-size", "16", "--tta", "1", "--epochs", "2"]
            + Self.tinyData
        var (status, output) = try VisualizeCommandTests.run(cnn + ["--json", "-o", whole.path])
        #expect(status == 0, "\(output)")
        // Each epoch's mean loss is per image, as for the other models, though the cnn trains on
        // the batch's sum: a sum over 40 images would be far above 10 classes' log 10 ≈ 2.3.
        let losses = MPICommandTests.figures(output, metric: "loss")
        #expect(losses.count == 2 && losses.allSatisfy { $0 > 0.3 && $0 < 4 }, "\(losses)")
        #expect(output.contains("augmentation alternating-flip-translate, lookahead"), "the cnn recipe: \(output)")
        // airbench's inputs: each channel standardized by the training pixels' mean and deviation,
        // stored with the checkpoint so that evaluate prepares the val split exactly as training did.
        let file = try Checkpoint.read(whole.appendingPathComponent("model.safetensors").path)
        #expect(file.metadata["data.preprocessing"]?.hasPrefix("channel-standardization") == true, "\(file.metadata)")
        let scale = try #require(file.tensor("data.scale_image", as: Float.self)).scalars
        #expect(scale.count == 3072 && Set(scale).count == 3 && scale.allSatisfy { $0 > 1 && $0 < 128 }, "\(Set(scale))")
        let trained = try Self.accuracy(in: output, command: "train")
        let (evaluated, report) = try VisualizeCommandTests.run(["evaluate", whole.appendingPathComponent("model.safetensors").path,
                                                                 "--json", "-o", whole.path])
        let scored = try Self.accuracy(in: report, command: "evaluate")
        #expect(evaluated == 0 && scored == trained, "evaluate \(scored), train \(trained): \(report)")
        (status, output) = try VisualizeCommandTests.run(cnn + ["--stop-after", "1", "-o", split.path])
        #expect(status == 0 && !output.contains("epoch 2/2"), "\(output)")
        (status, output) = try VisualizeCommandTests.run(["train", "--resume", "-o", split.path])
        #expect(status == 0 && output.contains("resuming") && output.contains("epoch 2/2"), "\(output)")
        let checkpoint = { (url: URL) in try Data(contentsOf: url.appendingPathComponent("model.safetensors")) }
        #expect(try checkpoint(whole) == checkpoint(split), "resumed and uninterrupted checkpoints differ")

        let filters = try PNGImage.decode(Array(try Data(contentsOf: whole.appendingPathComponent("filters.png"))), source: "filters.png")
        #expect(filters.width >= 8 * 48, "24 whitening filters of 2×2, 8 to a row, at least 48 pixels each: \(filters.width)")
        let drawn = whole.appendingPathComponent("drawn.png").path
        (status, output) = try VisualizeCommandTests.run(["visualize", "filters", whole.appendingPathComponent("model.safetensors").path,
                                                          "-o", drawn, "--json"])
        #expect(status == 0 && output.contains("\"metric\":\"filters\",\"value\":24.0"), "\(output)")
    }

    /// The final val accuracy `command` printed (not an epoch's, nor a class's).
    static func accuracy(in output: String, command: String) throws -> Double {
        let figures = try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        let figure = figures.first { $0["command"] as? String == command && $0["split"] as? String == "val"
            && $0["metric"] as? String == "accuracy" && $0["class"] == nil && $0["epoch"] == nil }
        return try #require(figure?["value"] as? Double, "no val accuracy from \(command) in \(output)")
    }
}
