import CS231nNN
import CS231nCompression
import CS231nOptim
import Foundation
import Testing

/// Files written by version 1 (Tests/Fixtures/legacy-v1, see its README) still load.
@Suite struct LegacyFileTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/legacy-v1").path

    static let checkpoints: [(file: String, kind: String)] = [
        ("two-layer.safetensors", "two-layer"), ("fc-batchnorm-dropout.safetensors", "fully-connected"),
        ("three-layer-convnet.safetensors", "three-layer-convnet"), ("cnn.safetensors", "cnn"),
    ]

    @Test(arguments: checkpoints.map(\.file))
    func checkpointOfVersionOneLoads(file: String) throws {
        let path = Self.folder + "/" + file
        let (model, read) = try Checkpoint.loadModel(path, as: Float.self)
        #expect(model.configuration.kind == Self.checkpoints.first { $0.file == file }!.kind)
        for (name, tensor) in model.parameters {
            #expect(read.tensor("best.params." + name, as: Float.self) == tensor, "\(name)")
        }
        #expect(read.tensor("data.mean_image", as: Float.self)?.count == 3072)
        #expect(!Checkpoint.history(read).loss.isEmpty)
        // The one codec reads exactly what the earlier writer wrote: written again, the same bytes.
        #expect(read.serialized() == (try FileSystem.contents(atPath: path)))
        let (latest, _) = try Checkpoint.loadModel(path, as: Float.self, latest: true)
        #expect(latest.parameters.names == model.parameters.names)
    }

    @Test func compressedModelOfVersionOneLoads() throws {
        let compressed = try CompressedModel(contentsOf: Self.folder + "/two-layer.cs231nz")
        #expect(compressed.configuration.kind == "two-layer")
        let expanded = try compressed.expandedModel()
        let nonzero = expanded.parameters["W1"]!.scalars.filter { $0 != 0 }.count
        #expect(nonzero > 0 && nonzero < expanded.parameters["W1"]!.count, "pruned, not empty")
        // Written again it holds the same model; only its configuration's JSON is the typed one now
        // (no empty "options" object), so the file is 13 bytes shorter, not the same bytes.
        let original = try FileSystem.contents(atPath: Self.folder + "/two-layer.cs231nz")
        let rewritten = compressed.serialized()
        let reread = try CompressedModel(parsing: rewritten, path: "rewritten")
        #expect(reread.configuration == compressed.configuration)
        #expect(try reread.expandedModel().parameters.map(\.1) == expanded.parameters.map(\.1))
        #expect(original.count - rewritten.count == #","options":{}"#.utf8.count)
        #expect(try compressed.checkpointFile().tensor("data.mean_image", as: Float.self)?.count == 3072)
    }
}
