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
        #expect(compressed.serialized() == (try FileSystem.contents(atPath: Self.folder + "/two-layer.cs231nz")))
        #expect(try compressed.checkpointFile().tensor("data.mean_image", as: Float.self)?.count == 3072)
    }
}
