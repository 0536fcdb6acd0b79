import CS231n
import Foundation

/// The course pipeline end to end (data, k-NN, linear classifiers, nets, a conv net and what it
/// learned) written as one self-contained `report.html`, as `cs231n demo` runs it.
///
/// Each finished stage's report section is kept in a stage cache under the output folder, keyed
/// by everything that decides it (dataset, seed, sizes, hyper-parameters, toolkit version): a
/// rerun reuses every stage whose key still matches, and a killed run resumes at the first
/// unfinished one. The same seed gives the same report apart from its timing lines.
///
///     let splits = try Dataset.builtin(count: 560, seed: 7).split(numTrain: 500, numVal: 60)
///     let report = try Demo(splits: splits, dataset: .builtin, seed: 7)
///         .run(output: URL(fileURLWithPath: "demo")) { event in print(event) }
public struct Demo: Sendable {
    /// The images every stage learns from and is scored on; their 10 classes are the nets' outputs.
    public var splits: DatasetSplits
    /// Which dataset the splits were cut from: named in the report and part of the cache key.
    public var dataset: DatasetName
    /// Seeds every random draw of every stage.
    public var seed: UInt64

    /// A demo of `splits`, cut from `dataset`, with every random draw seeded by `seed`.
    public init(splits: DatasetSplits, dataset: DatasetName, seed: UInt64) {
        self.splits = splits
        self.dataset = dataset
        self.seed = seed
    }

    /// The stages' names in the order they run: `data`, `knn`, `linear`, `nets`, `convnet`.
    public static var stageNames: [String] { DemoPipeline.stages(seed: 0).map(\.name) }

    /// Throws `DemoError.unknownStage` for the first of `names` that is not a stage, so that a
    /// caller can refuse a misspelt name before it loads any data.
    public static func checkStageNames(_ names: [String]) throws {
        let valid = stageNames
        if let unknown = names.first(where: { !valid.contains($0) }) {
            throw DemoError.unknownStage(unknown, validStages: valid)
        }
    }

    /// Runs the stages named in `stages` (all when nil), in pipeline order, and writes
    /// `report.html` into `output`, creating the folder when needed.
    ///
    /// - Parameters:
    ///   - output: The folder for `report.html` and the stage cache (`.cs231n-demo-cache`).
    ///   - fresh: Recompute every stage instead of reusing stored sections.
    ///   - stages: Names from `stageNames`; an unknown one throws `DemoError.unknownStage`
    ///     before anything is written.
    ///   - onEvent: Sees each stage start or be reused, and every figure a stage measures, as
    ///     they happen.
    /// - Returns: The report's file.
    @discardableResult
    public func run(output: URL, fresh: Bool = false, stages: [String]? = nil,
                    onEvent: @escaping (DemoEvent) -> Void = { _ in }) throws -> URL {
        try Self.checkStageNames(stages ?? [])
        try checkSplits()
        let cache = try StageCache(directory: output.appendingPathComponent(".cs231n-demo-cache/\(dataset.rawValue)-seed\(seed)"))
        if fresh { try cache.clear() }

        let started = Date()
        let context = DemoContext(splits: splits, dataset: dataset, seed: seed, onEvent: onEvent)
        let chosen = DemoPipeline.stages(seed: seed).filter { stages?.contains($0.name) ?? true }
        var report = HTMLReport(title: "swift-cs231n demo report: \(context.datasetDescription)")
        report.sections.append(context.setupSection())
        for (index, stage) in chosen.enumerated() {
            let key = StageCache.key(stage: stage.name, inputs: stage.inputs.merging(context.identity) { a, _ in a })
            if let stored = cache.lookup(stage: stage.name, key: key) {
                onEvent(.stageReused(name: stage.name, title: stage.title, number: index + 1, count: chosen.count))
                report.sections.append(stored)
                continue
            }
            onEvent(.stageStarted(name: stage.name, title: stage.title, number: index + 1, count: chosen.count))
            let seconds = try TimingSummary.time {
                var section = try stage.run(context)
                section.blocks.append(.keyValues(stage.inputs.sorted { $0.key < $1.key }.map { .init($0.key, $0.value) }))
                try cache.store(stage: stage.name, key: key, section: section)
                report.sections.append(section)
            }
            report.sections[report.sections.count - 1].blocks.append(.timing(String(format: "Stage time: %.1f s", seconds)))
            context.report([("stage", .string(stage.name))], metric: "seconds", value: seconds)
        }
        report.sections.append(ReportSection(title: "Run", blocks: [
            .timing(String(format: "Total wall time of this run: %.1f s (reused stages count as 0).", Date().timeIntervalSince(started))),
        ]))
        let reportURL = output.appendingPathComponent("report.html")
        try report.write(to: reportURL)
        return reportURL
    }

    /// The nets score 10 classes and every stage measures on both splits, so anything else is
    /// refused here rather than failing deep inside a stage.
    private func checkSplits() throws {
        let classes = Self.classCount
        for (name, split) in [("train", splits.train), ("val", splits.val)] + (splits.test.map { [("test", $0)] } ?? []) {
            guard split.classNames.count == classes, split.labels.allSatisfy({ (0..<classes).contains($0) }) else {
                throw DemoError.unsupportedSplits("the \(name) split has \(split.classNames.count) classes; "
                                                  + "the demo's nets score \(classes)")
            }
            guard split.count > 0 || name == "test" else { throw DemoError.unsupportedSplits("the \(name) split is empty") }
        }
    }

    /// The classes the demo's nets score: CIFAR-10's and the built-in set's.
    static let classCount = 10

    /// The CIFAR-10 folder to use: `dataDir` when given, else `CIFAR10.defaultDirectory`, where
    /// the official archive is first downloaded (with a progress bar on stderr, after a
    /// `.downloadingCIFAR10` event) when its training batches are missing.
    @discardableResult
    public static func downloadCIFAR10IfMissing(dataDir: String?, onEvent: (DemoEvent) -> Void = { _ in }) throws -> String {
        let directory = dataDir ?? CIFAR10.defaultDirectory
        let trainingPresent = CIFAR10.trainingFiles.allSatisfy {
            FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent($0))
        }
        if trainingPresent || dataDir != nil { return directory }
        onEvent(.downloadingCIFAR10(directory: directory))
        let bar = ProgressBar("download", total: 170_498_071)
        try CIFAR10.download(into: directory) { done, total in
            bar.update(Int(done), status: total.map { "of \($0 / 1_000_000) MB" } ?? "")
        }
        bar.finish()
        return directory
    }
}
