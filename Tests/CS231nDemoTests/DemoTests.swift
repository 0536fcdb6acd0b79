import CS231n
import CS231nDemo
import Foundation
import Testing

/// The demo's promises, in process: the same seed gives the same report apart from its timing
/// lines, a rerun reuses every stored stage, `fresh` recomputes, and a misspelt stage is refused.
/// The splits are `cs231n demo --num-train 500 --num-val 60`'s, so that each full run stays short
/// in a debug build too.
struct DemoTests {
    static func splits(seed: UInt64) throws -> DatasetSplits {
        try DataSpec(dataset: .builtin, seed: seed, numTrain: 500, numVal: 60).load()
    }

    /// A folder of its own for each test, removed by the caller.
    static func temporaryFolder(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-demo-\(name)-\(UUID().uuidString)")
    }

    /// Runs `demo` into `folder` and returns what it reported, in order.
    static func run(_ demo: Demo, into folder: URL, fresh: Bool = false, stages: [String]? = nil) throws -> [DemoEvent] {
        var events: [DemoEvent] = []
        try demo.run(output: folder, fresh: fresh, stages: stages) { events.append($0) }
        return events
    }

    /// report.html without the lines marked as timings (stage times, images per second). A
    /// reused stage has no stage time, so each line goes with its line break.
    static func reportWithoutTimings(_ folder: URL) throws -> String {
        let html = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        return html.replacingOccurrences(of: #"<p class="timing">[^<]*</p>\n?"#, with: "", options: .regularExpression)
    }

    static func started(_ events: [DemoEvent]) -> [String] {
        events.compactMap { if case let .stageStarted(name, _, _, _) = $0 { name } else { nil } }
    }

    static func reused(_ events: [DemoEvent]) -> [String] {
        events.compactMap { if case let .stageReused(name, _, _, _) = $0 { name } else { nil } }
    }

    @Test func twoRunsWithTheSameSeedWriteTheSameReportAndARerunReusesEveryStage() throws {
        let demo = Demo(splits: try Self.splits(seed: 7), dataset: .builtin, seed: 7)
        let base = Self.temporaryFolder("determinism")
        defer { try? FileManager.default.removeItem(at: base) }
        // Each run has its own folder, so its own stage cache: both compute every stage.
        let first = base.appendingPathComponent("first"), second = base.appendingPathComponent("second")
        let events = try Self.run(demo, into: first)
        #expect(Self.started(events) == Demo.stageNames)
        #expect(Self.started(try Self.run(demo, into: second)) == Demo.stageNames)
        let a = try Self.reportWithoutTimings(first), b = try Self.reportWithoutTimings(second)
        for case let .stageStarted(_, title, _, _) in events {
            #expect(a.contains(title), "the report has no section \"\(title)\"")
        }
        #expect(a.contains("Understanding the net"))
        #expect(a == b, "two runs with seed 7 differ beyond their timing lines")
        #expect(try String(contentsOf: first.appendingPathComponent("report.html"), encoding: .utf8).contains("class=\"timing\""))

        let rerun = try Self.run(demo, into: first)
        #expect(Self.reused(rerun) == Demo.stageNames && Self.started(rerun).isEmpty)
        #expect(!rerun.contains { if case .figure = $0 { true } else { false } }, "a reused stage measures nothing")
        #expect(try Self.reportWithoutTimings(first) == b, "the rerun's report differs from a computed one")
    }

    @Test func freshRecomputesAStoredStage() throws {
        let demo = Demo(splits: try Self.splits(seed: 3), dataset: .builtin, seed: 3)
        let folder = Self.temporaryFolder("fresh")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(Self.started(try Self.run(demo, into: folder, stages: ["data"])) == ["data"])
        let stored = try Self.reportWithoutTimings(folder)
        #expect(Self.reused(try Self.run(demo, into: folder, stages: ["data"])) == ["data"])
        let fresh = try Self.run(demo, into: folder, fresh: true, stages: ["data"])
        #expect(Self.started(fresh) == ["data"] && Self.reused(fresh).isEmpty)
        #expect(fresh.contains { if case let .figure(figure) = $0 { figure.metric == "seconds" } else { false } })
        #expect(try Self.reportWithoutTimings(folder) == stored)
    }

    @Test func anUnknownStageIsRefusedNamingTheStages() throws {
        let demo = Demo(splits: try Self.splits(seed: 0), dataset: .builtin, seed: 0)
        let folder = Self.temporaryFolder("unknown")
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = #expect(throws: DemoError.self) { try demo.run(output: folder, stages: ["data", "bogus"]) }
        #expect(error == .unknownStage("bogus", validStages: ["data", "knn", "linear", "nets", "convnet"]))
        #expect(error?.description == "unknown stage 'bogus'; stages are data, knn, linear, nets, convnet")
        #expect(!FileManager.default.fileExists(atPath: folder.path), "a refused run writes nothing")
    }

    @Test func splitsWithOtherThanTenClassesAreRefused() throws {
        var splits = try Self.splits(seed: 0)
        splits.val.classNames = Array(splits.val.classNames.prefix(3))
        let folder = Self.temporaryFolder("classes")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: DemoError.unsupportedSplits("the val split has 3 classes; the demo's nets score 10")) {
            try Demo(splits: splits, dataset: .builtin, seed: 0).run(output: folder)
        }
    }
}
