import ArgumentParser
import CS231n
import Foundation

extension LinearLoss: ExpressibleByArgument {}

/// `cs231n linear`: assignment 1's SVM and Softmax notebooks as one command.
struct LinearCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linear",
        abstract: "Train a linear SVM or Softmax by minibatch SGD over a grid of learning rates × regularizations.",
        discussion: """
            Each (lr, reg) pair is trained with the same seed and scored on the validation split; the table \
            shows train and val accuracy. The best model is saved (safetensors, with its normalisation) \
            together with its loss curve and, on raw pixels, the 10 class templates.
            Raw pixels have the training mean image subtracted; hog+color features (HOG, 9 orientations \
            in 8×8 cells, and a 10-bin hue histogram) are standardised. Both get a bias column.
            """)

    @Option(help: "Loss: svm or softmax.")
    var loss: LinearLoss = .svm

    @Option(name: .customLong("lr"), help: "Learning rates, comma-separated (default: a grid tuned for the loss and features).")
    var learningRates: String?

    @Option(name: .customLong("reg"), help: "Regularization strengths, comma-separated (default: tuned like --lr).")
    var regularizations: String?

    @Option(help: "SGD iterations per candidate.")
    var iters = 1500

    @Option(help: "Examples per SGD step, drawn with replacement.")
    var batchSize = 200

    @Option(help: "Inputs: raw (pixels minus the mean image) or hog+color (also hog, color).")
    var features = "raw"

    @OptionGroup var source: DatasetOptions

    @Option(name: [.short, .long], help: "Folder for the model, the class templates and the loss curve.")
    var output = "linear-output"

    @Flag(help: "Do not write any file.")
    var noSave = false

    @OptionGroup var common: CommonOptions

    func validate() throws {
        try OptionRange.check(iters, in: 1...OptionRange.maximumSteps, "--iters")
        try OptionRange.check(batchSize, in: 1...SolverOptions.maximumBatchSize, "--batch-size")
        if !noSave { try FileSystem.checkCreatable(directory: output) }
        _ = try ImageFeature.parseFeatureOption(features)
        _ = try Self.parseList(learningRates, option: "--lr")
        _ = try Self.parseList(regularizations, option: "--reg")
    }

    static func parseList(_ text: String?, option: String) throws -> [Double]? {
        guard let text else { return nil }
        let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        let positive = option == "--lr"
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite && ($0! > 0 || !positive && $0! == 0) }) else {
            throw ValidationError("\(option) takes comma-separated \(positive ? "positive" : "non-negative") finite numbers, "
                                  + "e.g. 1e-7,5e-7; got '\(text)'")
        }
        return values.map { $0! }
    }

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        let featureKinds = try ImageFeature.parseFeatureOption(features)
        let grid = HyperparameterSearch.defaultGrid(loss: loss, features: featureKinds)
        let learningRateGrid = try Self.parseList(learningRates, option: "--lr") ?? grid.learningRates
        let regularizationGrid = try Self.parseList(regularizations, option: "--reg") ?? grid.regularizations

        if !noSave {
            do {
                try FileSystem.createDirectory(atPath: output)
            } catch {
                throw OutputFolderError(path: output, reason: error.localizedDescription)
            }
        }
        let splits = try source.splits(seed: common.seed, .linear)
        let featureName = featureKinds.isEmpty ? "raw" : featureKinds.map(\.rawValue).joined(separator: "+")
        var inputs: LinearInputs<Float>!
        let preparation = try TimingSummary.time { inputs = try LinearInputs<Float>(splits: splits, features: featureKinds) }
        printer.say(String(format: "inputs: %@, %d columns with the bias (prepared in %.2f s); train %d, val %d%@",
                           featureName, inputs.dimension, preparation, splits.train.count, splits.val.count,
                           splits.test.map { ", test \($0.count)" } ?? ""))

        let settings = SGDSettings(iterations: iters, batchSize: batchSize, seed: common.seed)
        let keys: [(String, JSONValue)] = [("command", "linear"), ("loss", .string(loss.rawValue)), ("features", .string(featureName))]
        printer.say("\(loss) grid search: \(learningRateGrid.count) learning rates × \(regularizationGrid.count) regularizations, "
                    + "\(iters) iterations of batch \(batchSize)")
        switch loss {
        case .svm: try search(LinearSVM<Float>.self, inputs: inputs, learningRateGrid, regularizationGrid, settings, keys, printer)
        case .softmax: try search(Softmax<Float>.self, inputs: inputs, learningRateGrid, regularizationGrid, settings, keys, printer)
        }
    }

    private func search<C: LinearClassifier>(
        _ type: C.Type, inputs: LinearInputs<Float>, _ learningRateGrid: [Double], _ regularizationGrid: [Double],
        _ settings: SGDSettings, _ keys: [(String, JSONValue)], _ printer: ResultPrinter
    ) throws where C.Scalar == Float {
        var header = true
        let result = try HyperparameterSearch.run(
            type, train: inputs.train, validation: inputs.validation, classCount: inputs.classNames.count,
            learningRates: learningRateGrid, regularizations: regularizationGrid, settings: settings,
            replicas: try DistributedRun.world()
        ) { trial in
            if header { printer.say(HyperparameterTrial.tableHeader); header = false }
            printer.say(trial.tableRow())
            let trialKeys = keys + [("lr", .double(trial.learningRate)), ("reg", .double(trial.regularization))]
            if let accuracy = trial.trainAccuracy {
                printer.figure(trialKeys + [("split", "train")], metric: "accuracy", value: accuracy)
            }
            if let accuracy = trial.validationAccuracy {
                printer.figure(trialKeys + [("split", "val")], metric: "accuracy", value: accuracy)
            }
            printer.figure(trialKeys, metric: "train_seconds", value: trial.seconds)
        }
        let best = result.bestTrial
        let bestKeys = keys + [("trial", "best"), ("lr", .double(best.learningRate)), ("reg", .double(best.regularization))]
        printer.say(String(format: "best: lr %.1e, reg %.1e: val accuracy %.1f%%", best.learningRate, best.regularization,
                           100 * (best.validationAccuracy ?? 0)))
        if let accuracy = best.validationAccuracy {
            printer.figure(bestKeys + [("split", "val")], metric: "accuracy", value: accuracy)
        }
        if let test = inputs.test {
            let accuracy = try result.best.accuracy(inputs: test.x, labels: test.y)
            printer.say(String(format: "test accuracy of the best model: %.1f%%", 100 * accuracy))
            printer.figure(bestKeys + [("split", "test")], metric: "accuracy", value: accuracy)
        }
        guard !noSave, DistributedRun.isLeader else { return }
        try writeOutputs(result, inputs: inputs, printer: printer)
    }

    private func writeOutputs<C: LinearClassifier>(
        _ result: HyperparameterSearchResult<C>, inputs: LinearInputs<Float>, printer: ResultPrinter
    ) throws where C.Scalar == Float {
        let settings = SGDSettings(learningRate: result.bestTrial.learningRate, regularization: result.bestTrial.regularization,
                                   iterations: iters, batchSize: batchSize, seed: common.seed)
        let model = LinearModel(loss: C.loss, weights: result.best.weights!, preprocessor: inputs.preprocessor,
                                features: inputs.features, classNames: inputs.classNames, settings: settings,
                                validationAccuracy: result.bestTrial.validationAccuracy)
        let stem = "\(output)/\(C.loss.rawValue)-\(model.featureName)"
        try model.save(to: stem + ".safetensors")
        printer.say("wrote \(stem).safetensors")
        try TrainingFigures.iterationLossPlot(result.bestLossHistory.map(Double.init),
                           title: String(format: "%@ training loss (lr %g, reg %g)", C.loss.description, settings.learningRate,
                                         settings.regularization))
            .write(to: stem + "-loss.svg")
        printer.say("wrote \(stem)-loss.svg")
        if inputs.features.isEmpty {
            let picture = try ClassTemplates.picture(weights: result.best.weights!, classNames: inputs.classNames)
            try picture.write(to: stem + "-templates.png")
            printer.say("wrote \(stem)-templates.png (\(picture.width)×\(picture.height))")
        }
    }
}

extension ImageFeature {
    /// "raw" → no features; otherwise a "+"-joined list.
    static func parseFeatureOption(_ text: String) throws -> [ImageFeature] {
        do {
            return text.lowercased() == "raw" ? [] : try parseList(text)
        } catch {
            throw ValidationError("--features: \(error); or raw")
        }
    }
}

/// The output folder could not be made.
struct OutputFolderError: Error, CustomStringConvertible {
    var path: String
    var reason: String
    var description: String { "cannot create the output folder \(path): \(reason)" }
}
