import ArgumentParser
import CS231n
import Foundation

/// The main job: the whole course pipeline, end to end, into one self-contained report.html.
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
        let outputURL = URL(fileURLWithPath: output, isDirectory: true)
        try FileSystem.createDirectory(atPath: outputURL.path)
        let cache = try StageCache(directory: outputURL.appendingPathComponent(".cs231n-demo-cache/\(source.name(.demo).rawValue)-seed\(common.seed)"))
        if fresh { try cache.clear() }

        let started = Date()
        let context = try DemoContext(source: source, seed: common.seed, cache: cache, printer: printer)
        let all = DemoPipeline.stages(for: context)
        let chosen = stages.map { Set($0.split(separator: ",").map(String.init)) }
        if let chosen, let unknown = chosen.subtracting(all.map(\.name)).first {
            throw ValidationError("unknown stage '\(unknown)'; stages are \(all.map(\.name).joined(separator: ", "))")
        }
        let stages = all.filter { chosen?.contains($0.name) ?? true }
        var report = HTMLReport(title: "swift-cs231n demo report: \(context.datasetDescription)")
        report.sections.append(context.setupSection())
        for (index, stage) in stages.enumerated() {
            let key = StageCache.key(stage: stage.name, inputs: stage.inputs.merging(context.identity) { a, _ in a })
            let heading = "[\(index + 1)/\(stages.count)] \(stage.title)"
            if let stored = cache.lookup(stage: stage.name, key: key) {
                printer.say("\(heading): reused (inputs unchanged; --fresh recomputes)")
                report.sections.append(stored)
                continue
            }
            printer.say("\(heading)…")
            let seconds = try TimingSummary.time {
                var section = try stage.run(context)
                section.blocks.append(.keyValues(stage.inputs.sorted { $0.key < $1.key }.map { .init($0.key, $0.value) }))
                try cache.store(stage: stage.name, key: key, section: section)
                report.sections.append(section)
            }
            report.sections[report.sections.count - 1].blocks.append(.timing(String(format: "Stage time: %.1f s", seconds)))
            printer.figure([("command", "demo"), ("stage", .string(stage.name))], metric: "seconds", value: seconds)
        }
        report.sections.append(ReportSection(title: "Run", blocks: [
            .timing(String(format: "Total wall time of this run: %.1f s (reused stages count as 0).", Date().timeIntervalSince(started))),
        ]))
        let reportURL = outputURL.appendingPathComponent("report.html")
        try report.write(to: reportURL)
        printer.say("wrote \(reportURL.path)")
        printer.figure([("command", "demo"), ("path", .string(reportURL.path))], metric: "report_bytes",
                       value: Double((try? Data(contentsOf: reportURL).count) ?? 0))
    }
}

/// One stage of the demo: what decides its result, and how to compute its report section.
struct DemoStage {
    let name: String
    let title: String
    let inputs: [String: String]
    let run: (DemoContext) throws -> ReportSection
}

/// What every stage shares: the data, the seed, where to keep working files, how to report.
struct DemoContext {
    let seed: UInt64
    let splits: DatasetSplits
    let cache: StageCache
    let printer: ResultPrinter
    let datasetDescription: String
    /// Inputs every stage depends on.
    let identity: [String: String]

    init(source: DatasetOptions, seed: UInt64, cache: StageCache, printer: ResultPrinter) throws {
        self.seed = seed
        self.cache = cache
        self.printer = printer
        let name = source.name(.demo)
        if name == .cifar10 { _ = try DemoPipeline.ensureCIFAR10(dataDir: source.dataDir, printer: printer) }
        splits = try source.splits(seed: seed, .demo)
        let sizes = "\(splits.train.count) train, \(splits.val.count) val"
        switch name {
        case .builtin: datasetDescription = "built-in dataset (\(sizes), \(splits.test?.count ?? 0) test)"
        case .cifar10: datasetDescription = "CIFAR-10 (\(sizes)" + (splits.test.map { ", \($0.count) test)" } ?? "; no test batch)")
        }
        identity = ["dataset": name.rawValue, "seed": String(seed), "train": String(splits.train.count),
                    "val": String(splits.val.count), "test": String(splits.test?.count ?? 0)]
    }

    func setupSection() -> ReportSection {
        ReportSection(title: "Setup", blocks: [
            .paragraph("Every figure below was computed by this run of swift-cs231n (or reused from an earlier run "
                       + "with identical inputs). Accuracies are measured on the validation split; test accuracy is "
                       + "reported where the dataset has a test split."),
            .keyValues([
                .init("dataset", datasetDescription), .init("seed", String(seed)),
                .init("toolkit", "swift-cs231n \(Toolkit.version)"),
                .init("BLAS backend", BLAS.backend.rawValue), .init("Swift GEMM ISA", GemmISA.current.rawValue),
                .init("cores used", String(Parallel.coreCount)), .init("CPU", CPUInfo.modelName),
                .init("CPU features", CPUInfo.features.joined(separator: " ")),
            ]),
        ])
    }
}
