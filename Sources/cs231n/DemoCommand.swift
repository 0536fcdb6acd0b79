import ArgumentParser
import CS231n
import CS231nDemo
import Foundation

/// The main job: the whole course pipeline, end to end, into one self-contained report.html
/// (`Demo` in CS231nDemo does the work; this command parses, calls it and prints).
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole pipeline (data, k-NN, linear, nets, what they learned) and write report.html.")

    /// CIFAR-10 is downloaded into the cache folder when it is missing and no --data-dir is given.
    @OptionGroup var source: DatasetOptions

    @Option(name: [.short, .long], help: "Folder for report.html and the stage cache.")
    var output = "."

    @Flag(name: .long, help: "Recompute every stage instead of reusing stored results.")
    var fresh = false

    @Option(name: .long, help: "Run only these stages, comma-separated (default: all).")
    var stages: String?

    @OptionGroup var common: CommonOptions

    func validate() throws {
        try FileSystem.checkCreatable(directory: output)
    }

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        let chosen = stages.map { $0.split(separator: ",").map(String.init) }
        // A misspelt stage is refused before a download or the data's loading.
        try Demo.checkStageNames(chosen ?? [])
        let dataset = source.name(.demo)
        if dataset == .cifar10 { try Demo.downloadCIFAR10IfMissing(dataDir: source.dataDir, onEvent: printer.show) }
        let demo = Demo(splits: try source.splits(seed: common.seed, .demo), dataset: dataset, seed: common.seed)
        let report = try demo.run(output: URL(fileURLWithPath: output, isDirectory: true), fresh: fresh, stages: chosen,
                                  onEvent: printer.show)
        printer.say("wrote \(report.path)")
        printer.figure([("command", "demo"), ("path", .string(report.path))], metric: "report_bytes",
                       value: Double((try? Data(contentsOf: report).count) ?? 0))
    }
}

extension ResultPrinter {
    /// A demo event as the tool has always printed it: stage headings and notes for people,
    /// figures as JSON lines under `--json`.
    func show(_ event: DemoEvent) {
        switch event {
        case let .downloadingCIFAR10(directory):
            say("CIFAR-10 is not in \(directory): downloading the official 163 MB archive "
                + "(about 20 s at 10 MB/s, 3 min at 1 MB/s), then unpacking it there.")
        case let .stageStarted(_, title, number, count):
            say("[\(number)/\(count)] \(title)…")
        case let .stageReused(_, title, number, count):
            say("[\(number)/\(count)] \(title): reused (inputs unchanged; --fresh recomputes)")
        case let .figure(measured):
            figure([("command", "demo")] + measured.keys.map { ($0.name, JSONValue($0.value)) }, metric: measured.metric,
                   value: measured.value)
        }
    }
}

extension JSONValue {
    init(_ value: DemoFigure.Value) {
        switch value {
        case let .string(text): self = .string(text)
        case let .int(number): self = .int(number)
        }
    }
}
