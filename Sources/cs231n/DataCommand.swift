import ArgumentParser
import CS231n
import Foundation

/// `cs231n data …`: fetch CIFAR-10, look at a dataset, export the built-in one.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Download CIFAR-10, draw samples of a dataset, describe or export it.",
        subcommands: [DataShowCommand.self, DataDownloadCommand.self, DataInfoCommand.self,
                      DataExportCommand.self])
}

struct DataShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Draw random training images, one row per class labelled with its name, to a PNG.")

    @OptionGroup var source: DatasetOptions
    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Images per class (columns).")
    var perClass = 8

    @Option(name: .long, help: "Upscaling factor of each 32×32 image (nearest neighbour).")
    var scale = 2

    @Option(name: [.short, .long], help: "PNG file to write.")
    var output = "samples.png"

    func validate() throws {
        try OptionRange.check(perClass, in: 1...Self.maximumPerClass, "--per-class")
        try OptionRange.check(scale, in: 1...16, "--scale")
        try AtomicFile.checkWritable(output)
    }

    /// The most images per class one picture shows (a picture of 10 × 1000 tiles).
    static let maximumPerClass = 1_000

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        let images = try source.dataset(seed: common.seed, .data).training
        let picture = try images.classSampleGrid(perClass: perClass, seed: common.seed, scale: scale)
        try picture.write(to: output)
        printer.say("wrote \(output): \(perClass) random \(source.name(.data).rawValue) training images per class "
                    + "(seed \(common.seed)), rows labelled \(images.classNames.joined(separator: ", "))")
        printer.figure([("command", "data show"), ("dataset", .string(source.name(.data).rawValue)),
                        ("output", .string(output))], metric: "images", value: Double(perClass * images.classNames.count))
    }
}

struct DataInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Load a dataset and print its size, classes, label counts and load time.")

    @OptionGroup var source: DatasetOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        let start = Date()
        let dataset = try source.dataset(seed: common.seed, .data)
        let (train, test) = (dataset.training, dataset.test)
        let seconds = Date().timeIntervalSince(start)
        let origin = dataset.directory ?? "built-in, seed \(common.seed)"
        printer.say("\(dataset.name.rawValue) (\(origin)): \(train.count) training images"
                    + (test.map { ", \($0.count) test images" } ?? ", no test batch")
                    + String(format: ", loaded in %.3f s", seconds))
        printer.say("class".padding(toLength: 12, withPad: " ", startingAt: 0) + "  train    test")
        for (label, name) in train.classNames.enumerated() {
            let testCount = test.map { String($0.labelCounts[label]) } ?? "-"
            printer.say(name.padding(toLength: 12, withPad: " ", startingAt: 0)
                        + String(format: "%7d %7@", train.labelCounts[label], testCount))
        }
        printer.figure([("command", "data info"), ("dataset", .string(dataset.name.rawValue)),
                        ("images", .int(train.count + (test?.count ?? 0)))], metric: "load_seconds", value: seconds)
    }
}

struct DataDownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Fetch the official CIFAR-10 archive over HTTPS, check its MD5 and unpack it into the cache folder.")

    enum Downloadable: String, ExpressibleByArgument { case cifar10 }

    @Argument(help: "The dataset to fetch: cifar10.")
    var dataset: Downloadable = .cifar10

    @Option(name: .long, help: "Folder to unpack the batches into. Default: $CS231N_DATA_DIR or ~/.cache/cs231n/cifar-10-batches-bin.")
    var dataDir: String?

    @Option(name: .long, help: "Install from this cifar-10-binary.tar.gz, fetched by hand, instead of downloading.")
    var archive: String?

    @Option(name: .long, help: "Download from this mirror instead of the official site.")
    var url = CIFAR10.archiveURL

    @Option(name: .long, help: "Expected MD5 of the archive.")
    var md5 = CIFAR10.archiveMD5

    @Flag(name: .long, help: "Keep the downloaded archive next to the folder.")
    var keepArchive = false

    @Flag(name: .long, help: "Download again even when the folder is complete.")
    var force = false

    func run() throws {
        let directory = dataDir ?? CIFAR10.defaultDirectory
        if !force && CIFAR10.isComplete(directory: directory) {
            print("CIFAR-10 is already in \(directory) (use --force to fetch it again)")
            return
        }
        if let archive {
            print("checking and unpacking \(archive) …")
            try CIFAR10.install(archive: archive, md5: md5, into: directory)
        } else {
            print("downloading \(url) → \(CIFAR10.archivePath(forDirectory: directory))")
            let bar = DownloadProgress()
            defer { bar.finish() }
            try CIFAR10.download(into: directory, from: url, md5: md5, keepArchive: keepArchive) { done, total in
                bar.update(done, of: total)
            }
        }
        let train = try CIFAR10.load(directory: directory, train: true)
        print("CIFAR-10 is ready in \(directory): \(train.count) training images"
              + (CIFAR10.hasTestBatch(directory: directory) ? " and the test batch" : ""))
    }
}

struct DataExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the built-in dataset as a CIFAR-10 binary folder (readable by any CIFAR-10 loader).")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Training images (cut into five batches).")
    var train = CIFAR10.trainingCount

    @Option(name: .long, help: "Test images (test_batch.bin).")
    var test = CIFAR10.testCount

    @Option(name: [.short, .long], help: "Folder to write.")
    var output: String

    func validate() throws {
        try OptionRange.check(train, in: 5...Dataset.maximumBuiltinCount, "--train")
        try OptionRange.check(test, in: 0...Dataset.maximumBuiltinCount, "--test")
        try FileSystem.checkCreatable(directory: output)
        let (total, overflow) = train.addingReportingOverflow(test)
        guard !overflow, total <= Dataset.maximumBuiltinCount else {
            throw ValidationError("--train and --test draw at most \(Dataset.maximumBuiltinCount) images together")
        }
    }

    func run() throws {
        let all = BuiltinDataset.generate(count: train + test, seed: common.seed)
        try CIFAR10.writeFolder(train: all.slice(0..<train), test: test > 0 ? all.slice(train..<(train + test)) : nil,
                                to: output)
        ResultPrinter(json: common.json).say("wrote \(train) training and \(test) test images of the built-in dataset "
                                             + "(seed \(common.seed)) to \(output)")
    }
}

/// Shows download progress in KiB once the server has said how big the archive is.
final class DownloadProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var bar: ProgressBar?

    func update(_ done: Int64, of total: Int64?) {
        lock.withLock {
            guard let total else { return }
            if bar == nil { bar = ProgressBar("\(CIFAR10.archiveName) (KiB)", total: Int(total / 1024)) }
            bar?.update(Int(done / 1024))
        }
    }

    func finish() { lock.withLock { bar?.finish() } }
}
