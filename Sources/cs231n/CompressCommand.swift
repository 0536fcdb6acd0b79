import ArgumentParser
import CS231n
import Foundation

/// `cs231n compress`: Deep Compression of a trained checkpoint, or the check of a compressed file.
struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Prune, retrain and weight-share a checkpoint (Deep Compression); report accuracy against sparsity and bits, and the size on disk.",
        discussion: """
            Prunes each weight tensor by magnitude in steps (50% → 75% → 90% for --prune 0.9), retraining \
            between steps with the pruned weights held at zero; then clusters each layer's surviving weights \
            into 2^bits shared values by k-means (linear initialisation) and fine-tunes the shared values, \
            whose gradient is the sum of their weights' gradients. Every width of --bits-sweep is tried at \
            the final sparsity; --share-bits is written to -o in a sparse + codebook format (relative-index \
            positions, packed indices, a float32 codebook per layer; biases float32). Retraining uses the \
            checkpoint's update rule, its last learning rate, batch size and lr decay, on the data it was \
            trained on. With --check, the argument is a compressed file: it is read, expanded and scored \
            on the same val split, which must reproduce the accuracy recorded in it; --expand also writes \
            it as a float32 checkpoint that `cs231n evaluate` reads.
            """)

    /// A checkpoint from `cs231n train`; with --check, a compressed file.
    @OptionGroup var checkpoint: CheckpointOptions

    @OptionGroup var pruning: PruningOptions
    @OptionGroup var sharing: SharingOptions

    @Option(help: "Retraining learning rate (default: the checkpoint's last).")
    var lr: Double?

    @Option(help: "Centroid fine-tuning learning rate (default: the retraining rate / 1000, as a centroid's gradient sums thousands of weights').")
    var fineTuneLr: Double?

    @OptionGroup var compressedFile: CompressedFileOptions

    @OptionGroup var common: CommonOptions

    func validate() throws {
        if let lr { try OptionRange.positive(lr, "--lr") }
        if let fineTuneLr { try OptionRange.positive(fineTuneLr, "--fine-tune-lr") }
        if checkpoint.latest && compressedFile.check { throw ValidationError("--latest picks a checkpoint's weights; a compressed file has one set") }
    }

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        if compressedFile.check { return try checkCompressedFile(printer: printer) }
        let (model, file) = try checkpoint.model()
        try DeepCompression.checkSupported(model)
        printer.say("loading the data \(checkpoint.path) was trained on…")
        let (record, data) = try checkpoint.data(file, for: model)
        // A file that `compress --check --expand` wrote has no training settings: retrain with defaults.
        var (options, optimizer) = file.metadata["solver.options"] == nil && file.metadata["optimizer.settings"] == nil
            ? (SolverOptions(batchSize: 200, learningRateDecay: 0.95), OptimizerSettings(rule: .pytorchMomentum, learningRate: 0.01))
            : try Checkpoint.trainingSettings(of: file, path: checkpoint.path)
        if let lr { optimizer.learningRate = lr }
        options.seed = common.seed
        let settings = DeepCompressionSettings(
            sparsity: pruning.prune, pruningSteps: try pruning.stepList(), retrainEpochs: pruning.retrainEpochs,
            bits: sharing.shareBits, bitsSweep: try sharing.bitsList(), fineTuneEpochs: sharing.fineTuneEpochs,
            optimizer: optimizer, fineTuneLearningRate: fineTuneLr, solver: options)
        printer.say("\(model.configuration.kind) net, \(model.parameters.scalarCount) parameters; pruning to "
                    + settings.pruningSteps.map { String(format: "%g%%", 100 * $0) }.joined(separator: " → ")
                    + " with \(pruning.retrainEpochs) retraining epochs each (\(optimizer.rule.rawValue) lr \(optimizer.learningRate)), "
                    + "then \(settings.bitsCompared.map(String.init).joined(separator: ", ")) bits")
        let result = try DeepCompression.compress(model, train: data.train, val: data.val, settings: settings,
                                                  data: ParameterStore(record.tensors.map { ($0.name, $0.tensor) }),
                                                  metadata: record.metadata.filter { $0.key.hasPrefix("data.") },
                                                  onEvent: progressReporter(printer))
        try result.compressed.write(to: compressedFile.output)
        report(result, printer: printer)
        printer.say("wrote \(compressedFile.output); check it with `cs231n compress --check \(compressedFile.output)`")
    }

    /// A bar per retraining or fine-tuning epoch.
    func progressReporter(_ printer: ResultPrinter) -> (DeepCompressionEvent) -> Void {
        var bar: ProgressBar?
        return { event in
            guard case let .solver(stage, solverEvent) = event else { return }
            switch solverEvent {
            case let .iteration(epoch, step, steps, loss):
                if bar == nil { bar = ProgressBar("\(stage) epoch \(epoch)", total: steps) }
                bar?.update(step, status: String(format: "loss %.3f", loss))
            case let .epochEnd(_, _, valAccuracy, _, _):
                bar?.finish(status: String(format: "val acc %.1f%%", 100 * valAccuracy))
                bar = nil
            }
        }
    }

    func report(_ result: DeepCompressionResult, printer: ResultPrinter) {
        let size = DeepCompression.readableSize
        for (title, table) in [("sparsity", result.sparsityTable), ("bits", result.bitsTable)] {
            printer.say("\nval accuracy against \(title)")
            printer.say("  " + "stage".padded(12) + "sparsity  values    val acc   weight bytes")
            for row in table {
                printer.say("  " + row.stage.padded(12) + String(format: "%7.1f%%", 100 * row.sparsity) + "  "
                            + (row.bits.map { "\($0)-bit" } ?? "float32").padded(8)
                            + String(format: "%7.2f%%", 100 * row.valAccuracy) + "   " + size(row.weightBytes))
                printer.figure([("command", "compress"), ("table", .string(title)), ("stage", .string(row.stage)),
                                ("sparsity", .double(row.sparsity)), ("bits", row.bits.map { .int($0) } ?? .string("float32")),
                                ("weight_bytes", .int(row.weightBytes)), ("split", "val")], metric: "accuracy", value: row.valAccuracy)
            }
        }
        printer.say(String(format: "\nsize on disk: %@ as float32 safetensors → %@ compressed (%.1f× smaller); weights alone %@ → %@ (%.1f×)",
                           size(result.denseFileBytes), size(result.compressedFileBytes),
                           Double(result.denseFileBytes) / Double(result.compressedFileBytes),
                           size(result.denseWeightBytes), size(result.compressedWeightBytes),
                           Double(result.denseWeightBytes) / Double(result.compressedWeightBytes)))
        for (what, dense, compressed) in [("file", result.denseFileBytes, result.compressedFileBytes),
                                          ("weights", result.denseWeightBytes, result.compressedWeightBytes)] {
            printer.figure([("command", "compress"), ("size", .string(what)), ("format", "float32")], metric: "bytes", value: Double(dense))
            printer.figure([("command", "compress"), ("size", .string(what)), ("format", "compressed")], metric: "bytes", value: Double(compressed))
        }
    }

    /// Reads, expands and scores a compressed file, which must reproduce its recorded accuracy.
    func checkCompressedFile(printer: ResultPrinter) throws {
        let input = checkpoint.path
        let compressed = try CompressedModel(contentsOf: input)
        // Loading the expanded file checks its weights and preprocessing: a codebook or dense
        // section may hold NaN or ±Inf that its CRC-32 does not object to.
        let file = try compressed.checkpointFile(path: input)
        let model = try Checkpoint.loadModel(from: file, path: input, as: Float.self, allowNonfinite: checkpoint.allowNonfinite).model
        let data = try checkpoint.data(file, for: model).data
        let accuracy = try model.accuracy(data.val.x, data.val.y)
        printer.say(String(format: "%@: %@ net, %d weight tensors shared, val accuracy %.2f%% (%d images)", input as NSString,
                           model.configuration.kind as NSString, compressed.layers.count, 100 * accuracy, data.val.count))
        printer.figure([("command", "compress"), ("check", .string(input)), ("split", "val")], metric: "accuracy", value: accuracy)
        if checkpoint.dataSource.dataset == nil, let recorded = compressed.metadata["compression.val_accuracy"].flatMap(Double.init) {
            guard recorded == accuracy else {
                throw ValidationError(String(format: "%@ records val accuracy %.4f%% but scores %.4f%%", input, 100 * recorded, 100 * accuracy))
            }
            printer.say("reproduces the recorded val accuracy")
        }
        // Only a file that passed every check is expanded.
        if let expand = compressedFile.expand {
            try file.write(to: expand)
            printer.say("wrote \(expand), a float32 checkpoint (`cs231n evaluate \(expand)`)")
        }
    }
}

/// The compressed file: written to -o, or, with --check, the argument read back and scored,
/// and with --expand written out again as a float32 checkpoint. Each path is checked before
/// anything runs.
struct CompressedFileOptions: ParsableArguments {
    @Flag(help: "Read the compressed file given as the argument, expand it and score it on val.")
    var check = false

    @Option(help: "With --check: also write the expanded model as a float32 checkpoint here.")
    var expand: String?

    @Option(name: [.short, .long], help: "The compressed file to write.")
    var output = "compressed.cs231nz"

    func validate() throws {
        if let expand { try AtomicFile.checkWritable(expand) }
        if !check { try AtomicFile.checkWritable(output) }
        if expand != nil && !check { throw ValidationError("--expand goes with --check") }
    }
}

/// --prune, --steps and --retrain-epochs: how far the weights are pruned, in which steps, and
/// how long the net retrains after each.
struct PruningOptions: ParsableArguments {
    @Option(help: "The fraction of each weight tensor to prune, in [0, 1).")
    var prune = 0.9

    @Option(help: "The sparsities to prune to in turn, comma-separated, ending at --prune (default: halving what is left, 0.5,0.75,0.9 for 0.9).")
    var steps: String?

    @Option(help: "Retraining epochs after each pruning step.")
    var retrainEpochs = 2

    func validate() throws {
        guard (0..<1).contains(prune) else { throw ValidationError("--prune must be in [0, 1), got \(prune)") }
        try OptionRange.check(retrainEpochs, in: 0...SolverOptions.maximumEpochs, "--retrain-epochs")
        if let pruningSteps = try stepList() {
            guard pruningSteps.last == prune, pruningSteps == pruningSteps.sorted(), pruningSteps.allSatisfy({ (0..<1).contains($0) }) else {
                throw ValidationError("--steps must rise within [0, 1) and end at --prune \(prune), got \(steps!)")
            }
        }
    }

    /// The sparsities of --steps; nil without it.
    func stepList() throws -> [Double]? { try steps.map { try commaSeparatedNumbers($0, option: "--steps") } }
}

/// --share-bits, --bits-sweep and --fine-tune-epochs: the weight sharing written to the file,
/// the widths compared, and the fine-tuning of each.
struct SharingOptions: ParsableArguments {
    @Option(help: "Bits per codebook index in the written file: 2^bits shared values per layer (1-8).")
    var shareBits = 4

    @Option(help: "Widths compared in the bits table, comma-separated.")
    var bitsSweep = "8,6,4,3,2"

    @Option(help: "Centroid fine-tuning epochs for each width.")
    var fineTuneEpochs = 2

    func validate() throws {
        try OptionRange.check(fineTuneEpochs, in: 0...SolverOptions.maximumEpochs, "--fine-tune-epochs")
        guard (1...8).contains(shareBits) else { throw ValidationError("--share-bits must be in 1...8, got \(shareBits)") }
        let sweep = try bitsList()
        guard sweep.allSatisfy({ (1...8).contains($0) }) else { throw ValidationError("--bits-sweep widths must be in 1...8, got \(bitsSweep)") }
    }

    func bitsList() throws -> [Int] { try commaSeparatedNumbers(bitsSweep, option: "--bits-sweep").map { Int($0) } }
}

/// The numbers of a comma-separated option (--steps, --bits-sweep).
private func commaSeparatedNumbers(_ text: String, option: String) throws -> [Double] {
    let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
        throw ValidationError("\(option) must be numbers separated by commas, got '\(text)'")
    }
    return values.map { $0! }
}
