import Foundation
import Testing

/// The demo's promise: the same seed gives the same report, apart from its timing lines.
struct DemoDeterminismTests {
    /// report.html without the lines marked as timings (stage times, images per second).
    static func reportWithoutTimings(_ folder: URL) throws -> String {
        let html = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        return html.replacingOccurrences(of: #"<p class="timing">[^<]*</p>"#, with: "", options: .regularExpression)
    }

    @Test(.enabled(if: TestEnvironment.toolIsBuilt, "\(TestEnvironment.toolMissing)"))
    func twoRunsWithTheSameSeedWriteTheSameReport() throws {
        let tool = TestEnvironment.tool
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-determinism-\(getpid())")
        defer { try? FileManager.default.removeItem(at: base) }
        // Each run has its own folder, so its own stage cache: both compute every stage, side by
        // side, on fewer images than the default so that the test stays short in a debug build too.
        let first = base.appendingPathComponent("first"), second = base.appendingPathComponent("second")
        let runs = try [first, second].map { folder in
            try ReportRenderingTests.start(tool.path, ["demo", "--seed", "7", "--num-train", "500", "--num-val", "60", "-o", folder.path])
        }
        for run in runs {
            run.waitUntilExit()
            #expect(run.terminationStatus == 0)
        }
        let a = try Self.reportWithoutTimings(first), b = try Self.reportWithoutTimings(second)
        #expect(a.contains("k-nearest neighbours") && a.contains("Neural networks") && a.contains("Understanding the net"))
        #expect(a == b, "two runs with seed 7 differ beyond their timing lines")
        #expect(try String(contentsOf: first.appendingPathComponent("report.html"), encoding: .utf8).contains("class=\"timing\""))
    }
}
