import ArgumentParser
import CS231n
import Foundation

extension UpdateRule: ExpressibleByArgument {}

/// `cs231n train`: assignment 2's Solver on a two-layer, fully-connected or conv net. Each
/// model's defaults are its BENCHMARKS.md recipe (`Recipe`), so `cs231n train` alone reproduces W4.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a two-layer, fully-connected or convolutional net with the Solver; checkpoint every epoch.",
        discussion: """
            Prints a progress bar per epoch and the train and val accuracy, then writes into --output: \
            the checkpoint (safetensors; also --checkpoint), loss.svg and accuracy.svg against the epoch, and \
            first-layer-weights.png (the first 100 hidden units' weights as 32×32 images) or, for the conv \
            nets, filters.png (the first convolution's filters). With --resume it \
            continues the run saved at --checkpoint exactly where it stopped: the model, data and update \
            settings come from the checkpoint; --epochs may extend it.
            """)

    enum ModelChoice: String, ExpressibleByArgument, CaseIterable {
        case twoLayer = "two-layer", fc, threeLayerConvnet = "three-layer-convnet", cnn
    }

    enum NormChoice: String, ExpressibleByArgument, CaseIterable {
        case none, batch, layer
        var normalization: Normalization { [.none: .none, .batch: .batchnorm, .layer: .layernorm][self]! }
    }

    @Option(help: "two-layer, fc (fully-connected, any depth), three-layer-convnet (conv 7×7 - ReLU - pool - affine - ReLU - affine; W5's recipe) or cnn (the modern airbench-style net; W6's 94% recipe).")
    var model: ModelChoice = .twoLayer

    @Option(help: "Hidden layer sizes, comma-separated (two-layer and three-layer-convnet take one; default 500, 100 for the conv net; the cnn's group widths, default 64,256,256).")
    var hidden: String?

    @Option(help: "Convolution filters (three-layer-convnet).")
    var filters = 32

    @Option(help: "Epochs to train (default: the model's recipe; with --resume, the checkpoint's count unless given).")
    var epochs: Int?

    @Option(help: "Learning rate (default: the model's recipe, else the course's default for the rule).")
    var lr: Double?

    @Option(help: "Update rule: \(UpdateRule.allCases.map(\.rawValue).joined(separator: ", ")) (default: the model's recipe). momentum is CS231n's sgd_momentum.")
    var update: UpdateRule?

    @Option(help: "μ of the momentum rules (default 0.9; 0.85 for cnn).")
    var momentum: Double?

    @Option(help: "The learning rate is multiplied by this after each epoch (default 0.95; 1 for the conv nets).")
    var lrDecay: Double?

    @Option(help: "Within-run learning-rate schedule: constant or warmup-linear (default: warmup-linear for cnn).")
    var schedule: LearningRateSchedule?

    @Option(help: "Examples per step (default 200; 128 for three-layer-convnet, 1024 for cnn).")
    var batchSize: Int?

    @Option(help: "L2 strength: the loss adds 0.5·reg·ΣW² over the weight matrices (default 1e-3; cnn has none).")
    var reg: Double?

    @Option(help: "PyTorch-style weight decay λ added to every gradient as λ·w (default 0; cnn: 0.0153·batch/11.5, airbench's).")
    var weightDecay: Double?

    @Option(help: "cnn: label smoothing ε of the summed cross-entropy.")
    var labelSmoothing = 0.2

    @Option(help: "cnn: test-time augmentation: 0 none, 1 average with the mirror image, 2 also with 1-pixel translations.")
    var tta = 2

    @Option(help: "Training augmentation: none, flip-translate (a random mirror and a random shift of up to 2 pixels, reflect-padded) or alternating-flip-translate (the same shifts; each image mirrored in every other epoch); default alternating-flip-translate for cnn.")
    var augment: Augmentation.Kind?

    @Flag(inversion: .prefixedNo, help: "Lookahead: every 5 steps pull the weights to a running average that forgets ever more slowly, ending on the average (airbench's; default on for cnn).")
    var lookahead: Bool?

    @Option(help: "Initial weights: he (√(2/fan-in)) or a standard deviation such as 1e-2.")
    var weightScale = "he"

    @Option(help: "Normalization of the hidden layers (fc): none, batch or layer.")
    var norm: NormChoice = .none

    @Option(help: "Dropout's keep probability p (fc; 1 = no dropout): each hidden unit is kept with probability p.")
    var dropout = 1.0

    @OptionGroup var source: DatasetOptions

    @Option(help: "Checkpoint file, written every epoch (default: <output>/model.safetensors).")
    var checkpoint: String?

    @Flag(help: "Continue the run saved at --checkpoint.")
    var resume = false

    @Flag(help: "With --resume: load weights and preprocessing even when they hold NaN or infinite values.")
    var allowNonfinite = false

    @Option(help: "Stop after this epoch, keeping the checkpoint: --resume then goes on exactly as if the run had not stopped (the schedule still spans --epochs).")
    var stopAfter: Int?

    @Option(name: [.short, .long], help: "Folder for the checkpoint and the pictures.")
    var output = "train-output"

    @OptionGroup var common: CommonOptions
    @OptionGroup var distributed: DistributedTrainOptions

    var checkpointPath: String { checkpoint ?? output + "/model.safetensors" }

    func validate() throws {
        if let epochs { try OptionRange.check(epochs, in: 1...SolverOptions.maximumEpochs, "--epochs") }
        if let stopAfter { try OptionRange.check(stopAfter, in: 1...SolverOptions.maximumEpochs, "--stop-after") }
        try validateRecipe()
        if let lr { try OptionRange.positive(lr, "--lr") }
        guard dropout > 0, dropout <= 1 else { throw ValidationError("--dropout is the keep probability, in (0, 1]") }
        try OptionRange.check(filters, in: 1...ModelShapes.maximumSize, "--filters")
        _ = try initialScale()
        if model != .fc && (norm != .none || dropout < 1) {
            throw ValidationError("--norm and --dropout need --model fc (\(model.rawValue) has neither)")
        }
        try checkModelSize()
        if resume && !FileManager.default.fileExists(atPath: checkpointPath) {
            throw ValidationError("--resume: no checkpoint at \(checkpointPath) (set --checkpoint or --output)")
        }
        try FileSystem.checkCreatable(directory: output)
        // A checkpoint inside --output is written once the folder exists; any other must have its folder now.
        if let checkpoint, ((checkpoint as NSString).deletingLastPathComponent as NSString).standardizingPath
            != (output as NSString).standardizingPath {
            try AtomicFile.checkWritable(checkpoint)
        }
    }

    /// The model the options describe must be one the machine can hold: each size in range and
    /// the parameter count under the cap (`ModelShapes`), checked on CIFAR-10's shapes before
    /// any data is loaded.
    func checkModelSize() throws {
        let sizes = try hiddenSizes()
        let convolutional = model == .threeLayerConvnet || model == .cnn
        let inputShape = convolutional ? [LabeledImages.channels, LabeledImages.height, LabeledImages.width] : [LabeledImages.imageSize]
        do {
            _ = try ModelShapes(modelConfiguration(classes: 10, inputShape: inputShape))
        } catch {
            throw ValidationError("--hidden \(sizes.map(String.init).joined(separator: ","))\(model == .threeLayerConvnet ? " and --filters \(filters)" : ""): \(error)")
        }
    }

    func hiddenSizes() throws -> [Int] {
        let hidden = hidden ?? [.threeLayerConvnet: "100", .cnn: "64,256,256"][model] ?? "500"
        let sizes = hidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ (1...ModelShapes.maximumSize).contains($0 ?? 0) }) else {
            throw ValidationError("--hidden must be sizes in 1...\(ModelShapes.maximumSize) separated by commas, got '\(hidden)'")
        }
        if model != .fc && model != .cnn && sizes.count != 1 { throw ValidationError("--model \(model.rawValue) takes one --hidden size") }
        return sizes.map { $0! }
    }

    func initialScale() throws -> Double? {
        if weightScale.lowercased() == "he" { return nil }
        guard let scale = Double(weightScale), scale > 0, scale.isFinite else {
            throw ValidationError("--weight-scale must be he or a positive number, got '\(weightScale)'")
        }
        return scale
    }

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        try FileSystem.createDirectory(atPath: output)
        try AtomicFile.checkWritable(checkpointPath)
        var (solver, data) = try resume ? resumedSolver(printer: printer) : freshSolver(printer: printer)
        solver.checkpointPath = checkpointPath
        try distributed.apply(to: &solver, printer: printer)
        let configuration = solver.model.configuration
        printer.say("\(configuration.kind) net \(configuration.inputSize)-\(configuration.hiddenSizes.map(String.init).joined(separator: "-"))-\(configuration.classes), "
                    + "\(solver.model.parameters.scalarCount) parameters; \(solver.optimizer.settings.rule.rawValue) lr \(solver.optimizer.settings.learningRate), "
                    + "batch \(solver.options.batchSize), \(data.train.count) training images; "
                    + "augmentation \(solver.checkpointMetadata["train.augmentation"] ?? "none")\(solver.options.lookahead ? ", lookahead" : "")")
        attachProgress(to: &solver, printer: printer)
        try solver.train(stopAfter: stopAfter)
        guard DistributedRun.isLeader else { return }
        try report(solver, data: data, printer: printer)
    }

    func freshSolver(printer: ResultPrinter) throws -> (Solver<AnyModel<Float>>, PreparedData<Float>) {
        printer.say("loading \(source.name(.train).rawValue)…")
        let convolutional = model == .threeLayerConvnet || model == .cnn
        let inputShape = convolutional ? [LabeledImages.channels, LabeledImages.height, LabeledImages.width] : [LabeledImages.imageSize]
        let data = try PreparedData<Float>(source.splits(seed: common.seed, .train),
                                           fitting: model == .cnn ? .channelStandardization : .meanImage, inputShape: inputShape)
        let r = recipe()
        var network = try AnyModel<Float>(modelConfiguration(classes: data.classNames.count, inputShape: inputShape))
        if var cnn = network.modernConvNet {
            try cnn.initializeWhitening(from: data.train.x)
            network.modernConvNet = cnn
        }
        var solver = try Solver(model: network, train: data.train, val: data.val, recipe: r, seed: common.seed)
        solver.record(try CheckpointData(data, augmentation: r.augmentation))
        return (solver, data)
    }

    func resumedSolver(printer: ResultPrinter) throws -> (Solver<AnyModel<Float>>, PreparedData<Float>) {
        let file = try Checkpoint.read(checkpointPath)
        let model = try Checkpoint.freshModel(of: file, path: checkpointPath, as: Float.self)
        let configuration = model.configuration
        let (saved, settings) = try Checkpoint.trainingSettings(of: file, path: checkpointPath)
        var options = saved
        if let epochs { options.epochs = epochs }
        printer.say("resuming \(checkpointPath) at epoch \(file.metadata["solver.epoch"] ?? "?") of \(options.epochs); loading its data…")
        let record = try CheckpointData(checkpoint: file, path: checkpointPath)
        let data = try record.prepare(inputShape: configuration.inputShape, classes: configuration.classes, dataDirectory: source.dataDir)
        var solver = try Solver(model: model, train: data.train, val: data.val, optimizer: settings, options: options)
        try solver.resume(from: checkpointPath, allowNonfinite: allowNonfinite)
        solver.record(record)
        return (solver, data)
    }

    /// The cnn sums its loss over the batch (as airbench does); the bar and loss.svg show it per
    /// image, like every other model's. `step` counts from 0 within the epoch.
    static func lossPerImage(_ solver: Solver<AnyModel<Float>>) -> (_ loss: Double, _ step: Int) -> Double {
        guard solver.model.configuration.kind == ModernConvNet<Float>.kind else { return { loss, _ in loss } }
        let (count, batch) = (solver.trainSet.count, solver.options.batchSize)
        return { loss, step in loss / Double(Swift.min(batch, count - step * batch)) }
    }

    /// A bar per epoch with the running loss, then a line with the epoch's accuracies.
    func attachProgress(to solver: inout Solver<AnyModel<Float>>, printer: ResultPrinter) {
        let total = solver.options.epochs
        let perImage = Self.lossPerImage(solver)
        var bar: ProgressBar?
        var recent: [Double] = [], epochLoss = 0.0, epochSteps = 0
        solver.onEvent = { event in
            switch event {
            case let .iteration(epoch, step, steps, loss):
                if bar == nil { bar = ProgressBar("epoch \(epoch)/\(total)", total: steps) }
                recent.append(perImage(loss, step - 1))
                epochLoss += recent.last!
                epochSteps += 1
                if recent.count > 20 { recent.removeFirst() }
                bar?.update(step, status: String(format: "loss %.3f", recent.reduce(0, +) / Double(recent.count)))
            case let .epochEnd(epoch, trainAccuracy, valAccuracy, seconds, improved):
                bar?.finish(status: String(format: "loss %.3f", recent.last ?? .nan))
                bar = nil
                printer.say(String(format: "epoch %d/%d: train acc %.1f%%, val acc %.1f%%%@, %.1f s", epoch, total,
                                   100 * trainAccuracy, 100 * valAccuracy, improved ? " (best)" : "", seconds))
                let keys: [(String, JSONValue)] = [("command", "train"), ("epoch", .int(epoch))]
                printer.figure(keys + [("split", "train")], metric: "accuracy", value: trainAccuracy)
                printer.figure(keys + [("split", "val")], metric: "accuracy", value: valAccuracy)
                printer.figure(keys, metric: "loss", value: epochLoss / Double(Swift.max(1, epochSteps)))
                printer.figure(keys, metric: "seconds", value: seconds)
                (epochLoss, epochSteps) = (0, 0)
            }
        }
    }

    /// Final accuracies of the best-val model, then the pictures.
    func report(_ solver: Solver<AnyModel<Float>>, data: PreparedData<Float>, printer: ResultPrinter) throws {
        // The cnn scores six views per image: 5,000 training images say enough about its fit.
        let trainCount = solver.model.configuration.kind == ModernConvNet<Float>.kind ? Swift.min(5_000, data.train.count) : data.train.count
        let trainAccuracy = try solver.model.accuracy(data.train.x.slice(0..<trainCount), Array(data.train.y[0..<trainCount]))
        let valAccuracy = try solver.model.accuracy(data.val.x, data.val.y)
        printer.say(String(format: "final (best val epoch): train acc %.2f%%, val acc %.2f%%", 100 * trainAccuracy, 100 * valAccuracy))
        printer.figure([("command", "train"), ("split", "train")], metric: "accuracy", value: trainAccuracy)
        printer.figure([("command", "train"), ("split", "val")], metric: "accuracy", value: valAccuracy)
        if let test = data.test {
            let testAccuracy = try solver.model.accuracy(test.x, test.y)
            printer.say(String(format: "test acc %.2f%%", 100 * testAccuracy))
            printer.figure([("command", "train"), ("split", "test")], metric: "accuracy", value: testAccuracy)
        }
        printer.say("wrote \(checkpointPath)")
        let perImage = Self.lossPerImage(solver)
        var history = solver.history
        history.loss = history.loss.enumerated().map { perImage($1, $0 % solver.stepsPerEpoch) }
        try TrainingFigures.lossPlot(history, stepsPerEpoch: solver.stepsPerEpoch).write(to: output + "/loss.svg")
        try TrainingFigures.accuracyPlot(solver.history).write(to: output + "/accuracy.svg")
        printer.say("wrote \(output)/loss.svg, \(output)/accuracy.svg")
        if let w1 = solver.model.parameters["W1"], let picture = try TrainingFigures.firstLayerWeights(w1) {
            try picture.write(to: output + "/first-layer-weights.png")
            printer.say("wrote \(output)/first-layer-weights.png (\(picture.width)×\(picture.height))")
        }
        if let w1 = FilterPicture.firstConvolution(of: solver.model), let picture = try TrainingFigures.firstLayerFilters(w1) {
            try picture.write(to: output + "/filters.png")
            printer.say("wrote \(output)/filters.png (\(picture.width)×\(picture.height))")
        }
    }
}
