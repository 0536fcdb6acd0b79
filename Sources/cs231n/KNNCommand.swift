import ArgumentParser
import CS231n
import Foundation

extension DistanceMetric: ExpressibleByArgument {}

/// `cs231n knn`: assignment 1's kNN notebook as one command, or full-data nearest neighbour.
struct KNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knn",
        abstract: "k-nearest neighbours: cross-validate k, plot it and evaluate the best k; or classify a whole split (--full).",
        discussion: """
            Without --full: the first --train images of the training split are cross-validated over --folds \
            contiguous folds for every k of --k (table, mean ± std, best k, and an SVG plot of accuracy against \
            k with error bars); the first --test validation images are then classified with k = 1 and the best \
            k, their distance matrix drawn as a grayscale PNG (dark = near), and the test batch too when present.
            With --full: every image of the validation split (or the test batch when present) is classified \
            against the whole training split (49,000 images), with a progress bar and ETA on stderr.
            Pixels are used raw (0…255, no preprocessing), as in the assignment.
            """)

    @OptionGroup var source: DatasetOptions
    @OptionGroup var common: CommonOptions

    @Option(help: "Training images for cross-validation: the first N of the training split.")
    var train = 5000

    @Option(help: "Evaluation images: the first N of the validation split (and of the test batch when present).")
    var test = 500

    @Option(name: .customLong("k"), help: "Values of k, comma-separated (default: 1,3,5,8,10,12,15,20,50,100; with --full: 1).")
    var kList: String?

    @Option(help: "Cross-validation folds.")
    var folds = 5

    @Option(help: "Distance: l2 (Euclidean, on the GEMM) or l1 (Manhattan, SIMD kernel).")
    var metric: DistanceMetric = .l2

    @Flag(help: "Classify the whole validation split (or test batch) against the whole training split.")
    var full = false

    @Option(help: "Queries per pass; memory ≈ chunk × training images × 4 bytes.")
    var chunkSize = 1024

    @Option(name: [.short, .long], help: "Folder for the plot and the distance-matrix picture.")
    var output = "out"

    static let defaultKs = [1, 3, 5, 8, 10, 12, 15, 20, 50, 100]

    func validate() throws {
        // The split's real size is checked once it is loaded; these bounds hold for any dataset.
        try OptionRange.check(train, in: 2...Dataset.maximumBuiltinCount, "--train")
        try OptionRange.check(test, in: 1...Dataset.maximumBuiltinCount, "--test")
        try OptionRange.check(folds, in: 2...train, "--folds")
        try OptionRange.check(chunkSize, in: 1...65_536, "--chunk-size")
        try FileSystem.checkCreatable(directory: output)
        _ = try ks()
    }

    func ks() throws -> [Int] {
        guard let kList else { return full ? [1] : Self.defaultKs }
        let values = kList.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let parsed = values.compactMap(Int.init)
        guard !values.isEmpty, parsed.count == values.count, parsed.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--k must be positive integers separated by commas, got \"\(kList)\"")
        }
        return parsed
    }

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        let splits = try source.splits(seed: common.seed, .knn)
        if full {
            try runFull(splits, printer: printer)
        } else {
            try runCrossValidation(splits, printer: printer)
        }
    }

    func runCrossValidation(_ splits: DatasetSplits, printer: ResultPrinter) throws {
        let ks = try ks()
        guard train <= splits.train.count else {
            throw SizeError("--train \(train) exceeds the \(splits.train.count) images of the training split"
                            + (source.name(.knn) == .builtin ? " (raise --num-train)" : ""))
        }
        guard test <= splits.val.count else {
            throw SizeError("--test \(test) exceeds the \(splits.val.count) images of the validation split")
        }
        let trainingSet = splits.train.slice(0..<train)
        let rows = trainingSet.rows(Float.self)
        printer.say("kNN (\(metric)) on \(source.name(.knn).rawValue): \(folds)-fold cross-validation on \(train) training images")
        let started = Date()
        let result = try CrossValidation.kNearestNeighbor(rows: rows, labels: trainingSet.labels, ks: ks, folds: folds,
                                                          metric: metric, classCount: trainingSet.classNames.count)
        let seconds = Date().timeIntervalSince(started)
        report(result, printer: printer)
        printer.say(String(format: "best k = %d (mean accuracy %.1f%%); cross-validation took %.2f s", result.bestK,
                           100 * result.means[ks.firstIndex(of: result.bestK)!], seconds))
        printer.figure([("command", "knn"), ("split", "cv"), ("distance", .string(metric.rawValue))],
                       metric: "best_k", value: Double(result.bestK))

        try FileSystem.createDirectory(atPath: output)
        let plotPath = (output as NSString).appendingPathComponent("knn-cv-\(metric.rawValue).svg")
        try plot(result).write(to: plotPath)
        printer.say("wrote \(plotPath)")

        var model = KNearestNeighbor(chunkSize: chunkSize)
        try model.train(rows, labels: trainingSet.labels, classCount: trainingSet.classNames.count)
        let evaluationKs = result.bestK == 1 ? [1] : [1, result.bestK]
        let validation = splits.val.slice(0..<test)
        let distances = try model.distances(validation.rows(Float.self), metric: metric)
        let picturePath = (output as NSString).appendingPathComponent("knn-distances-\(metric.rawValue).png")
        let picture = try MatrixImage.grayscale(distances, maxWidth: 800, maxHeight: 400)
        try picture.write(to: picturePath)
        printer.say("wrote \(picturePath): the \(test)×\(train) \(metric) distance matrix as \(picture.width)×\(picture.height) pixels "
                    + "(rows: validation images, columns: training images, block means; dark = near)")
        try evaluate(model, on: validation, split: "val", ks: evaluationKs, printer: printer)
        if let testSet = splits.test {
            try evaluate(model, on: testSet.slice(0..<Swift.min(test, testSet.count)), split: "test", ks: evaluationKs, printer: printer)
        }
    }

    /// The per-fold table, then mean ± std, one row per k.
    func report(_ result: CrossValidationResult, printer: ResultPrinter) {
        let foldHeaders = result.folds.indices.map { "fold \($0 + 1)".rightAligned(8) }.joined()
        printer.say("k".rightAligned(5) + foldHeaders + "   mean ± std")
        let (means, deviations) = (result.means, result.standardDeviations)
        for (kIndex, k) in result.ks.enumerated() {
            let row = result.accuracies[kIndex].map { String(format: "%7.1f%%", 100 * $0) }.joined()
            let best = k == result.bestK ? "  ← best" : ""
            printer.say(String(format: "%5d", k) + row + String(format: "   %.1f%% ± %.1f%%", 100 * means[kIndex], 100 * deviations[kIndex]) + best)
            for (fold, accuracy) in result.accuracies[kIndex].enumerated() {
                printer.figure([("command", "knn"), ("split", "cv"), ("k", .int(k)), ("fold", .int(fold)),
                                ("distance", .string(metric.rawValue))], metric: "accuracy", value: accuracy)
            }
            for (statistic, value) in [("mean", means[kIndex]), ("std", deviations[kIndex])] {
                printer.figure([("command", "knn"), ("split", "cv"), ("k", .int(k)), ("statistic", .string(statistic)),
                                ("distance", .string(metric.rawValue))], metric: "accuracy", value: value)
            }
        }
    }

    /// The notebook's picture: every fold's accuracy as a dot, the mean with ± std error bars.
    func plot(_ result: CrossValidationResult) -> SVGPlot {
        var plot = SVGPlot(title: "Cross-validation on k (\(metric), \(train) images, \(folds) folds)", xLabel: "k",
                           yLabel: "cross-validation accuracy")
        let perFold = result.accuracies.flatMap { $0 }
        let foldKs = result.ks.flatMap { k in result.folds.map { _ in Double(k) } }
        plot.add(.init(name: "each fold", x: foldKs, y: perFold, style: .markers, color: "#9a9a9a"))
        plot.add(.init(name: "mean ± std", x: result.ks.map(Double.init), y: result.means, errors: result.standardDeviations,
                       color: SVGPlot.palette[0]))
        return plot
    }

    func evaluate(_ model: KNearestNeighbor, on images: LabeledImages, split: String, ks: [Int],
                  printer: ResultPrinter) throws {
        let started = Date()
        let predictions = try model.predict(images.rows(Float.self), ks: ks, metric: metric)
        let seconds = Date().timeIntervalSince(started)
        reportAccuracy(predictions, labels: images.labels, split: split, ks: ks, percentDecimals: 1, printer: printer)
        printer.say(String(format: "%@: %d queries × %d training images in %.2f s", split as NSString, images.count,
                           model.trainingCount, seconds))
    }

    /// Says and records the accuracy of each k's predictions (`predictions[i]` for `ks[i]`)
    /// against `labels`, in percent with `percentDecimals` decimals.
    func reportAccuracy(_ predictions: [[Int]], labels: [Int], split: String, ks: [Int], percentDecimals: Int,
                        printer: ResultPrinter) {
        for (kIndex, k) in ks.enumerated() {
            let correct = zip(predictions[kIndex], labels).filter { $0 == $1 }.count
            let accuracy = Double(correct) / Double(labels.count)
            printer.say(String(format: "%@: k = %d: %d / %d correct, accuracy %.\(percentDecimals)f%%", split as NSString, k,
                               correct, labels.count, 100 * accuracy))
            printer.figure([("command", "knn"), ("split", .string(split)), ("k", .int(k)),
                            ("distance", .string(metric.rawValue))], metric: "accuracy", value: accuracy)
        }
    }

    func runFull(_ splits: DatasetSplits, printer: ResultPrinter) throws {
        let ks = try ks()
        let (queries, split) = splits.test.map { ($0, "test") } ?? (splits.val, "val")
        printer.say("kNN (\(metric)) on \(source.name(.knn).rawValue): \(queries.count) \(split) images against all "
                    + "\(splits.train.count) training images, k = \(ks.map(String.init).joined(separator: ", "))")
        // The bar moves once per chunk: aim for ten of them, in whole tiles of 256 queries.
        let tenth = (queries.count + 9) / 10
        var model = KNearestNeighbor(chunkSize: Swift.min(chunkSize, Swift.max(256, (tenth + 255) / 256 * 256)))
        try model.train(splits.train.rows(Float.self), labels: splits.train.labels,
                        classCount: splits.train.classNames.count)
        let world = try DistributedRun.world()
        let bar = ProgressBar("kNN \(metric) queries", total: world?.share(of: queries.count).count ?? queries.count)
        let started = Date()
        let rows = queries.rows(Float.self)
        let predictions = try world.map { try model.predict(rows, ks: ks, metric: metric, replicas: $0) { bar.update($0) } }
            ?? model.predict(rows, ks: ks, metric: metric) { bar.update($0) }
        bar.finish()
        let seconds = Date().timeIntervalSince(started)
        // Thousands of queries resolve hundredths of a percent.
        reportAccuracy(predictions, labels: queries.labels, split: split, ks: ks, percentDecimals: 2, printer: printer)
        printer.say(String(format: "%d × %d %@ distances and votes in %.2f s", queries.count, splits.train.count,
                           metric.description as NSString, seconds))
        printer.figure([("command", "knn"), ("split", .string(split)), ("distance", .string(metric.rawValue))],
                       metric: "seconds", value: seconds)
    }
}

/// A size asked for that the data cannot give (known only once the data is loaded).
struct SizeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension String {
    /// Right-aligned in a column of `width` characters.
    fileprivate func rightAligned(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
