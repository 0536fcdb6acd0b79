import CS231n
import Foundation
import Testing

/// `cs231n visualize occlusion|neighbours|tsne` end to end on a tiny conv net trained on the
/// built-in dataset (200 training and 40 validation images).
@Suite(.serialized, .enabled(if: TestEnvironment.toolIsBuilt, "\(TestEnvironment.toolMissing)"))
struct VisualizeInsightCommandTests {
    @Test func occlusionNeighboursAndTSNEDrawAConvNet() throws {
        let folder = try VisualizeCommandTests.trained("three-layer-convnet", extra: ["--filters", "4"])
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("model.safetensors").path, out = folder.appendingPathComponent("insight").path
        let commands: [([String], String)] = [
            (["occlusion", "--images", "0-2", "--patch", "6", "--stride", "3", "--fill", "grey", "--layer", "conv1"], "9x9 positions"),
            (["neighbours", "--k", "3", "--images", "1,4"], "of 3 fc2 neighbours"),
            (["neighbours", "--layer", "pool1", "--k", "3", "--images", "1"], "of 3 pool1 neighbours"),
            (["tsne", "--images", "30", "--perplexity", "5", "--iterations", "300", "--json"], "\"metric\":\"kl_divergence\""),
        ]
        for (command, expected) in commands {
            let (status, output) = try VisualizeCommandTests.run(["visualize"] + command + ["--checkpoint", checkpoint, "-o", out])
            #expect(status == 0 && output.contains(expected), "visualize \(command.joined(separator: " ")): \(output)")
        }
        try VisualizeCommandTests().expectPictures(URL(fileURLWithPath: out), ["occlusion.png", "neighbours-fc2.png", "neighbours-pool1.png",
                                                                                "tsne-grid-fc2.png"])
        let svg = try String(contentsOfFile: out + "/tsne-fc2.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("<circle"))

        let mistakes: [([String], String)] = [
            (["occlusion", "--layer", "conv7"], "conv1 (4×32×32)"),
            (["occlusion", "--patch", "33"], "it must be in 1...32"),
            (["occlusion", "--images", "40"], "40 images (0...39)"),
            (["neighbours", "--k", "201"], "(1...200)"),
            (["neighbours", "--layer", "fc9"], "pool1 (4×16×16)"),
            (["tsne", "--images", "41"], "the val split has 40 images (1...40)"),
            (["tsne", "--images", "0-50", "--split", "train", "--perplexity", "60"], "below the number of images (51)"),
        ]
        try VisualizeCommandTests.expectErrors(mistakes, checkpoint: checkpoint, output: out)
    }

    /// The map does not depend on how many threads computed it.
    @Test func theMapIsTheSameAtAnyThreadCount() throws {
        let folder = try VisualizeCommandTests.trained("three-layer-convnet", extra: ["--filters", "4"])
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("model.safetensors").path
        for method in ["exact", "barnes-hut"] {
            var maps: [Tensor<Float>] = []
            for threads in [1, 2, nil] as [Int?] {
                let raw = folder.appendingPathComponent("raw-\(method)-\(threads ?? 0).safetensors").path
                let (status, output) = try VisualizeCommandTests.run(["visualize", "tsne", "--checkpoint", checkpoint, "--split", "train", "--images", "200",
                                                     "--perplexity", "10", "--iterations", "300", "--method", method, "--seed", "3",
                                                     "--raw", raw, "-o", folder.path], threads: threads)
                #expect(status == 0, "\(output)")
                maps.append(try #require(try SafetensorsFile(contentsOf: raw).tensor("embedding", as: Float.self)))
            }
            #expect(maps[0].shape == [200, 2] && maps[0] == maps[1] && maps[0] == maps[2], "\(method)")
        }
    }
}
