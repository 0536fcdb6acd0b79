import CS231n
import Foundation
import Testing

/// `cs231n compress` end to end on a small built-in checkpoint: compress, then read the file back.
struct CompressCommandTests {
    @Test(.enabled(if: TestEnvironment.toolIsBuilt, "\(TestEnvironment.toolMissing)"))
    func compressWritesAFileThatChecksAndExpandsIntoAnEvaluableCheckpoint() throws {
        let tool = TestEnvironment.tool
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-compress-\(getpid())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("model.safetensors").path
        let compressed = folder.appendingPathComponent("model.cs231nz").path
        let expanded = folder.appendingPathComponent("expanded.safetensors").path
        #expect(try ReportRenderingTests.run(tool.path, ["train", "--dataset", "builtin", "--num-train", "500", "--num-val", "200",
                                                         "--hidden", "30", "--epochs", "2", "-o", folder.path]) == 0)
        #expect(try ReportRenderingTests.run(tool.path, ["compress", checkpoint, "--prune", "0.8", "--retrain-epochs", "1",
                                                         "--bits-sweep", "3", "--share-bits", "3", "--fine-tune-epochs", "1",
                                                         "-o", compressed]) == 0)
        #expect(FileManager.default.fileExists(atPath: compressed))
        #expect(try ReportRenderingTests.run(tool.path, ["compress", "--check", compressed, "--expand", expanded]) == 0,
                "the file reproduces its recorded accuracy")
        #expect(try ReportRenderingTests.run(tool.path, ["evaluate", expanded, "-o", folder.path]) == 0)
        #expect(try ReportRenderingTests.run(tool.path, ["compress", "--check", checkpoint]) != 0, "a checkpoint is not a compressed file")

        // A NaN in a codebook passes every CRC-32: the check refuses it and expands nothing.
        var poisoned = try CompressedModel(contentsOf: compressed)
        let used = try #require(poisoned.layers[0].assignments.first { $0 != SharedLayer<Float>.pruned })
        poisoned.layers[0].codebook[Int(used)] = .nan
        let poisonedPath = folder.appendingPathComponent("nan.cs231nz").path, notWritten = folder.appendingPathComponent("nan.safetensors").path
        try poisoned.write(to: poisonedPath)
        let (status, output) = try VisualizeCommandTests.run(["compress", "--check", poisonedPath, "--expand", notWritten])
        #expect(status != 0 && output.contains("holds nan") && output.contains(poisoned.layers[0].name), "\(output)")
        #expect(!FileManager.default.fileExists(atPath: notWritten))
    }
}
