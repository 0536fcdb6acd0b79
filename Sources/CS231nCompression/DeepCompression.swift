import CS231nData
import CS231nNN
import CS231nOptim
import Foundation

/// How to compress a model.
public struct DeepCompressionSettings: Sendable {
    /// The fraction of each weight tensor pruned in the end.
    public var sparsity: Double
    /// The sparsities pruned to in turn, each followed by retraining; the last is `sparsity`.
    public var pruningSteps: [Double]
    /// Retraining epochs after each pruning step (0: prune without retraining).
    public var retrainEpochs: Int
    /// Bits of a codebook index in the compressed model (2^bits shared values per layer).
    public var bits: Int
    /// The widths compared in the bits table; `bits` is always among them.
    public var bitsSweep: [Int]
    /// Centroid fine-tuning epochs after clustering (0: none).
    public var fineTuneEpochs: Int
    public var kMeansIterations: Int
    /// The update rule and learning rate of retraining.
    public var optimizer: OptimizerSettings
    /// The learning rate of centroid fine-tuning. A centroid's gradient sums those of all the
    /// weights sharing it, thousands of them, so it needs a rate far below retraining's.
    public var fineTuneLearningRate: Double
    /// Batch size, learning-rate decay and seed of retraining and fine-tuning (epochs are set above).
    public var solver: SolverOptions

    public init(sparsity: Double = 0.9, pruningSteps: [Double]? = nil, retrainEpochs: Int = 2, bits: Int = 4,
                bitsSweep: [Int] = [8, 6, 4, 3, 2], fineTuneEpochs: Int = 2, kMeansIterations: Int = 30,
                optimizer: OptimizerSettings, fineTuneLearningRate: Double? = nil, solver: SolverOptions) {
        self.sparsity = sparsity
        self.pruningSteps = pruningSteps ?? Pruning.schedule(to: sparsity)
        self.retrainEpochs = retrainEpochs
        self.bits = bits
        self.bitsSweep = bitsSweep
        self.fineTuneEpochs = fineTuneEpochs
        self.kMeansIterations = kMeansIterations
        self.optimizer = optimizer
        self.fineTuneLearningRate = fineTuneLearningRate ?? optimizer.learningRate * 1e-3
        self.solver = solver
    }

    /// The widths to compare, widest first, with `bits` among them.
    public var bitsCompared: [Int] { Array(Set(bitsSweep + [bits])).sorted(by: >) }
}

/// One row of a compression table: a model's val accuracy and the bytes of its weight tensors
/// (float32 when dense; the sparse encoding with float32 values when pruned; the sparse
/// encoding with packed codebook indices and the codebooks when shared).
public struct CompressionRow: Sendable, Codable, Equatable {
    /// "dense", "pruned", "retrained", "shared" or "fine-tuned".
    public var stage: String
    public var sparsity: Double
    /// Codebook index bits, nil for float32 weights.
    public var bits: Int?
    public var valAccuracy: Double
    public var weightBytes: Int
}

/// What compression produced: the tables, the sizes and the compressed model.
public struct DeepCompressionResult: Sendable {
    /// Val accuracy against sparsity: the dense model, then each step before and after retraining.
    public var sparsityTable: [CompressionRow]
    /// Val accuracy against bits at the final sparsity, before and after centroid fine-tuning.
    public var bitsTable: [CompressionRow]
    /// The model at `settings.bits`, fine-tuned.
    public var compressed: CompressedModel
    /// The model as a float32 safetensors file (parameters, buffers, data tensors), in bytes.
    public var denseFileBytes: Int
    /// The compressed file, in bytes.
    public var compressedFileBytes: Int
    /// The weight tensors alone, dense float32 and compressed.
    public var denseWeightBytes: Int
    public var compressedWeightBytes: Int
}

/// What compression reports as it goes.
public enum DeepCompressionEvent: Sendable {
    case row(CompressionRow)
    case solver(stage: String, SolverEvent)
}

/// Deep Compression (Han, Mao and Dally, ICLR 2016) of a trained model: magnitude pruning with
/// retraining, then weight sharing by k-means with centroid fine-tuning, then relative-index
/// sparse storage of packed codebook indices.
public enum DeepCompression {
    /// Refuses a model the compressed file cannot describe: Deep Compression takes the built-in
    /// nets (two-layer, fully-connected, three-layer-convnet, cnn), whose configuration the
    /// file's header stores; a `Sequential` net is not one of them yet.
    public static func checkSupported(_ model: AnyModel<Float>) throws {
        guard model.sequentialNet != nil else { return }
        throw TensorError.invalidArgument(operation: "Deep Compression",
            detail: "the compressed file format holds the built-in nets (two-layer, fully-connected, three-layer-convnet, cnn), "
                + "not yet a \(model.configuration.kind) net")
    }

    /// Compresses `model`, retraining on `train` and measuring on `val`. `data` (the mean image)
    /// and `metadata` (the `data.*` facts) go into the files so that they are usable alone.
    public static func compress(_ model: AnyModel<Float>, train: LabeledTensors<Float>, val: LabeledTensors<Float>,
                                settings: DeepCompressionSettings, data: ParameterStore<Float> = ParameterStore(),
                                metadata: [String: String] = [:],
                                onEvent: ((DeepCompressionEvent) -> Void)? = nil) throws -> DeepCompressionResult {
        try checkSupported(model)
        guard settings.pruningSteps.allSatisfy({ (0..<1).contains($0) }), settings.pruningSteps == settings.pruningSteps.sorted(),
              !settings.pruningSteps.isEmpty else {
            throw SolverError.invalidOptions("pruning steps must rise within [0, 1), got \(settings.pruningSteps)")
        }
        func record(_ row: CompressionRow, into table: inout [CompressionRow]) {
            table.append(row)
            onEvent?(.row(row))
        }
        func options(_ epochs: Int) -> SolverOptions { var options = settings.solver; options.epochs = epochs; return options }

        var sparsityTable: [CompressionRow] = [], bitsTable: [CompressionRow] = []
        var pruned = model
        record(CompressionRow(stage: "dense", sparsity: 0, bits: nil, valAccuracy: try model.accuracy(val.x, val.y),
                              weightBytes: denseWeightBytes(model.parameters)), into: &sparsityTable)
        var masks: ParameterStore<Float>?
        for step in settings.pruningSteps {
            masks = try Pruning.masks(for: pruned.parameters, sparsity: step, keeping: masks)
            var masked = try PrunedModel(pruned, masks: masks!)
            record(try row("pruned", masked.base, val: val), into: &sparsityTable)
            if settings.retrainEpochs > 0 {
                var solver = try Solver(model: masked, train: train, val: val, optimizer: settings.optimizer,
                                        options: options(settings.retrainEpochs))
                solver.onEvent = onEvent.map { report in { report(.solver(stage: String(format: "retrain %g%%", 100 * step), $0)) } }
                try solver.train()
                masked = solver.model
                record(try row("retrained", masked.base, val: val), into: &sparsityTable)
            }
            pruned = masked.base
        }

        var chosen: SharedWeightsModel<AnyModel<Float>>?
        for bits in settings.bitsCompared {
            var shared = try SharedWeightsModel(pruned, bits: bits, iterations: settings.kMeansIterations)
            record(try row("shared", shared.base, val: val, layers: shared.layers), into: &bitsTable)
            if settings.fineTuneEpochs > 0 {
                var fineTuning = settings.optimizer
                fineTuning.learningRate = settings.fineTuneLearningRate
                var solver = try Solver(model: shared, train: train, val: val, optimizer: fineTuning, options: options(settings.fineTuneEpochs))
                solver.onEvent = onEvent.map { report in { report(.solver(stage: "fine-tune \(bits)-bit", $0)) } }
                try solver.train()
                shared = solver.model
                record(try row("fine-tuned", shared.base, val: val, layers: shared.layers), into: &bitsTable)
            }
            if bits == settings.bits { chosen = shared }
        }

        var fileMetadata = metadata
        fileMetadata["compression.val_accuracy"] = String(try chosen!.base.accuracy(val.x, val.y))
        fileMetadata["compression.sparsity"] = String(settings.sparsity)
        fileMetadata["compression.bits"] = String(settings.bits)
        let compressed = CompressedModel(chosen!, data: data, metadata: fileMetadata)
        return DeepCompressionResult(
            sparsityTable: sparsityTable, bitsTable: bitsTable, compressed: compressed,
            denseFileBytes: CompressedModel.floatFile(model, data: data, metadata: metadata).serialized().count,
            compressedFileBytes: compressed.serialized().count,
            denseWeightBytes: denseWeightBytes(model.parameters), compressedWeightBytes: sharedWeightBytes(compressed.layers))
    }

    static func row(_ stage: String, _ model: AnyModel<Float>, val: LabeledTensors<Float>,
                    layers: [SharedLayer<Float>]? = nil) throws -> CompressionRow {
        CompressionRow(stage: stage, sparsity: Pruning.weightSparsity(of: model.parameters), bits: layers?.first?.bits,
                       valAccuracy: try model.accuracy(val.x, val.y),
                       weightBytes: layers.map(sharedWeightBytes) ?? sparseFloatWeightBytes(model.parameters))
    }

    /// The weight tensors as float32.
    public static func denseWeightBytes(_ parameters: ParameterStore<Float>) -> Int {
        4 * parameters.filter { Pruning.isWeight($0.0) }.reduce(0) { $0 + $1.1.count }
    }

    /// The weight tensors in the relative-index sparse encoding with float32 values.
    public static func sparseFloatWeightBytes(_ parameters: ParameterStore<Float>) -> Int {
        parameters.filter { Pruning.isWeight($0.0) }.reduce(0) { total, entry in
            let values = entry.1.scalars
            let positions = values.indices.filter { values[$0] != 0 }
            return total + RelativeIndex.byteCount(positions) + 4 * positions.count
        }
    }

    /// A byte count as the compression tables print it: bytes, KiB with one decimal or MiB with two.
    public static func readableSize(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? String(format: "%.2f MiB", Double(bytes) / Double(1 << 20))
            : bytes >= 1 << 10 ? String(format: "%.1f KiB", Double(bytes) / 1024) : "\(bytes) B"
    }

    /// Shared layers as stored: codebook, relative-index positions and packed indices.
    public static func sharedWeightBytes(_ layers: [SharedLayer<Float>]) -> Int {
        layers.reduce(0) { total, layer in
            let positions = layer.positions
            return total + 4 * layer.codebook.count + RelativeIndex.byteCount(positions)
                + BitPacking.byteCount(positions.count, bits: layer.bits)
        }
    }
}
