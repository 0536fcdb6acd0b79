import CS231n
import Foundation

/// The demo's stages, in the order the course teaches them, on whatever splits `Demo` is given
/// (`cs231n demo` cuts 5,000 built-in training images by default).
enum DemoPipeline {
    static func stages(seed: UInt64) -> [DemoStage] {
        [dataStage, knnStage, linearStage, netsStage(seed: seed), convNetStage(seed: seed)]
    }

    static var dataStage: DemoStage { DemoStage(
        name: "data", title: "The data", inputs: ["per_class": "8"]
    ) { context in
        let grid = try context.splits.train.classSampleGrid(perClass: 8, seed: context.seed, scale: 2)
        let counts = context.splits.train.labelCounts
        return ReportSection(title: "The data", blocks: [
            .paragraph("Eight training images of each class, a row per class: the first figure of the course. "
                       + "Data-driven classification learns from examples like these rather than from rules."),
            .png(Data(grid.encoded()), caption: "Training samples, one row per class", width: nil),
            .table(header: ["class"] + context.splits.train.classNames, rows: [["training images"] + counts.map(String.init)],
                   highlightRow: nil),
        ])
    } }
}

/// One stage of the demo: what decides its result, and how to compute its report section.
struct DemoStage {
    let name: String
    let title: String
    let inputs: [String: String]
    let run: (DemoContext) throws -> ReportSection
}

/// What every stage shares: the data, the seed, and where its figures go.
struct DemoContext {
    let seed: UInt64
    let splits: DatasetSplits
    let datasetDescription: String
    /// Inputs every stage depends on.
    let identity: [String: String]
    let onEvent: (DemoEvent) -> Void

    init(splits: DatasetSplits, dataset: DatasetName, seed: UInt64, onEvent: @escaping (DemoEvent) -> Void) {
        self.seed = seed
        self.splits = splits
        self.onEvent = onEvent
        let sizes = "\(splits.train.count) train, \(splits.val.count) val"
        switch dataset {
        case .builtin: datasetDescription = "built-in dataset (\(sizes), \(splits.test?.count ?? 0) test)"
        case .cifar10: datasetDescription = "CIFAR-10 (\(sizes)" + (splits.test.map { ", \($0.count) test)" } ?? "; no test batch)")
        }
        identity = ["dataset": dataset.rawValue, "seed": String(seed), "train": String(splits.train.count),
                    "val": String(splits.val.count), "test": String(splits.test?.count ?? 0)]
    }

    /// Passes a figure the running stage measured to the caller.
    func report(_ keys: [(String, DemoFigure.Value)], metric: String, value: Double) {
        onEvent(.figure(DemoFigure(keys, metric: metric, value: value)))
    }

    /// The splits accuracies are reported on: val, and test where the dataset has one.
    var evaluationSplits: [(String, LabeledImages)] {
        [("val", splits.val)] + (splits.test.map { [("test", $0)] } ?? [])
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

/// A fraction as the report prints it: 0.4567 → "45.7%".
func percent(_ fraction: Double) -> String { String(format: "%.1f%%", 100 * fraction) }
