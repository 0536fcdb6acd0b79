import Foundation
import Testing

/// Checkpoints written by version 1 (Tests/Fixtures/legacy-v1) score what they scored then.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: ReportRenderingTests.tool.path),
                "the cs231n tool is not built next to the tests"))
struct LegacyCheckpointCommandTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/legacy-v1").path

    /// The val accuracies in the fixtures' README.
    @Test(arguments: [("two-layer.safetensors", 0.20), ("fc-batchnorm-dropout.safetensors", 0.08),
                      ("three-layer-convnet.safetensors", 0.16), ("cnn.safetensors", 0.10)])
    func evaluatesAsWhenItWasWritten(file: String, accuracy: Double) throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-legacy-\(getpid())-\(file)")
        defer { try? FileManager.default.removeItem(at: output) }
        let (status, report) = try VisualizeCommandTests.run(["evaluate", Self.folder + "/" + file, "--json", "-o", output.path])
        #expect(status == 0, "\(report)")
        let overall = report.split(separator: "\n").first { $0.contains("\"metric\":\"accuracy\"") && !$0.contains("\"class\"") }
        let value = try #require(overall.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })?["value"] as? Double
        #expect(value.map { abs($0 - accuracy) < 1e-9 } == true, "\(report)")
    }

    @Test func compressedModelChecksAsWhenItWasWritten() throws {
        let (status, report) = try VisualizeCommandTests.run(["compress", "--check", Self.folder + "/two-layer.cs231nz"])
        #expect(status == 0, "\(report)")
    }
}
