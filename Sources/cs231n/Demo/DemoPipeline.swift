import CS231n
import Foundation

/// The demo's stages, in the order the course teaches them (the sizes they run at are
/// `DatasetDefaults.demo`).
enum DemoPipeline {
    static func stages(for context: DemoContext) -> [DemoStage] {
        [dataStage, knnStage, linearStage, netsStage(seed: context.seed), convNetStage(seed: context.seed)]
    }

    /// The CIFAR-10 folder to use: the one named, or the cache folder, downloading the official
    /// archive there first when it is missing.
    static func ensureCIFAR10(dataDir: String?, printer: ResultPrinter) throws -> String {
        let directory = dataDir ?? CIFAR10.defaultDirectory
        let trainingPresent = CIFAR10.trainingFiles.allSatisfy {
            FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent($0))
        }
        if trainingPresent || dataDir != nil { return directory }
        printer.say("CIFAR-10 is not in \(directory): downloading the official 163 MB archive "
                    + "(about 20 s at 10 MB/s, 3 min at 1 MB/s), then unpacking it there.")
        let bar = ProgressBar("download", total: 170_498_071)
        try CIFAR10.download(into: directory) { done, total in
            bar.update(Int(done), status: total.map { "of \($0 / 1_000_000) MB" } ?? "")
        }
        bar.finish()
        return directory
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
