import Foundation

/// A classifier the Solver can train, checkpoint and rebuild: fully-connected nets now,
/// convolutional nets later.
public protocol Model<Scalar> {
    associatedtype Scalar: TensorScalar
    /// The kind and hyper-parameters: enough for `AnyModel` to build the same model again.
    var configuration: ModelConfiguration { get }
    /// The trained parameters, named as in CS231n (W1, b1, gamma1, beta1, …).
    var parameters: ParameterStore<Scalar> { get set }
    /// State that is saved but not trained: batch norm's running mean and variance.
    var buffers: ParameterStore<Scalar> { get set }
    /// How many training-mode losses have been computed. Random choices of a training step
    /// (dropout masks) derive from the seed and this count, so a resumed run draws the same.
    var trainingSteps: Int { get set }
    /// The training-mode loss (data loss plus regularization) of a labelled batch and the
    /// gradient of every parameter, under the same names.
    mutating func loss(_ x: Tensor<Scalar>, _ y: [Int]) throws -> (loss: Scalar, gradients: ParameterStore<Scalar>)
    /// Test-mode class scores (N, C).
    func scores(_ x: Tensor<Scalar>) throws -> Tensor<Scalar>
    /// Parameters that learn at a multiple of the optimizer's rate, by name (none by default).
    var learningRateScales: [String: Double] { get }
    /// Parameters the optimizer leaves alone in epoch `epoch` (0-based; none by default).
    func frozenParameters(epoch: Int) -> Set<String>
    /// Whether `loss` averages its data term over the batch (the course's nets, the default) or
    /// sums it (airbench's): data-parallel training weighs each replica's part by it.
    var lossReduction: LossReduction { get }
    /// The registered family that built the model and its configuration, which a checkpoint
    /// then stores (format 2) to load it back through `ModelRegistry`; nil for the built-in
    /// models, whose checkpoints store `configuration` (format 1).
    var family: ModelFamilyRecord? { get }
}

/// How a training loss gathers the examples of a batch.
public typealias LossReduction = SoftmaxLoss.Reduction

extension Model {
    public var learningRateScales: [String: Double] { [:] }
    public func frozenParameters(epoch: Int) -> Set<String> { [] }
    public var lossReduction: LossReduction { .mean }
    public var family: ModelFamilyRecord? { nil }

    /// The predicted class of each row, scoring `batchSize` rows at a time.
    @inlinable
    public func predict(_ x: Tensor<Scalar>, batchSize: Int = 1000) throws -> [Int] {
        let n = x.shape.first ?? 0
        var predictions: [Int] = []
        predictions.reserveCapacity(n)
        for start in stride(from: 0, to: n, by: Swift.max(1, batchSize)) {
            let batch = try x.slice(start..<Swift.min(n, start + batchSize))
            predictions += try scores(batch).argmax(axis: 1)
        }
        return predictions
    }

    /// The fraction of rows whose predicted class is their label.
    @inlinable
    public func accuracy(_ x: Tensor<Scalar>, _ y: [Int], batchSize: Int = 1000) throws -> Double {
        guard !y.isEmpty else { return 0 }
        let predictions = try predict(x, batchSize: batchSize)
        return Double(zip(predictions, y).filter { $0 == $1 }.count) / Double(y.count)
    }
}

/// A model built around another, `base`, which it changes in part (pruning masks, the course's
/// names for a `Sequential`): what it does not change, it forwards, `loss` and `scores`
/// included unless the conformance declares its own.
public protocol ModelWrapper: Model where Scalar == Base.Scalar {
    associatedtype Base: Model
    var base: Base { get set }
}

extension ModelWrapper {
    @inlinable
    public var configuration: ModelConfiguration { base.configuration }

    @inlinable
    public var parameters: ParameterStore<Scalar> {
        get { base.parameters }
        _modify { yield &base.parameters }
    }

    @inlinable
    public var buffers: ParameterStore<Scalar> {
        get { base.buffers }
        set { base.buffers = newValue }
    }

    @inlinable
    public var trainingSteps: Int {
        get { base.trainingSteps }
        set { base.trainingSteps = newValue }
    }

    /// The base's loss. Inlinable, so that a caller specialized for Float or Double runs the
    /// base's specialized code.
    @inlinable
    public mutating func loss(_ x: Tensor<Scalar>, _ y: [Int]) throws -> (loss: Scalar, gradients: ParameterStore<Scalar>) {
        try base.loss(x, y)
    }

    /// The base's scores.
    @inlinable
    public func scores(_ x: Tensor<Scalar>) throws -> Tensor<Scalar> { try base.scores(x) }
}

/// What a model is and its hyper-parameters, stored as JSON in checkpoints: the fields every
/// kind reads, and the typed settings of the kinds that need more (`convolution` for
/// "three-layer-convnet", `modernConvNet` for "cnn"; nil means their defaults).
///
/// Checkpoints written before the settings were typed stored them as an `options` object of
/// strings; decoding reads it into the typed settings (`LegacyModelOptions`), so they load.
public struct ModelConfiguration: Codable, Sendable, Equatable {
    /// "two-layer", "fully-connected", "three-layer-convnet" or "cnn" (`AnyModel.kinds`).
    public var kind: String
    /// The shape of one example, e.g. [3072] or [3, 32, 32].
    public var inputShape: [Int]
    /// The hidden layers' widths; the modern CNN's group widths.
    public var hiddenSizes: [Int]
    public var classes: Int
    public var normalization: Normalization
    /// Dropout's p: the probability of keeping a unit (1 = no dropout).
    public var keepProbability: Double
    /// L2 strength: the loss gains 0.5 · reg · ΣW² over the weight matrices.
    public var regularization: Double
    /// Standard deviation of the initial weights, or nil for He initialization (√(2/fan-in)).
    public var weightScale: Double?
    public var seed: UInt64
    /// The convolution of "three-layer-convnet" (nil: 32 filters of 7×7).
    public var convolution: ConvNetSettings?
    /// The settings of "cnn" beyond its widths (nil: airbench94's).
    public var modernConvNet: ModernConvNetSettings?

    public init(kind: String, inputShape: [Int], hiddenSizes: [Int], classes: Int,
                normalization: Normalization = .none, keepProbability: Double = 1, regularization: Double = 0,
                weightScale: Double? = nil, seed: UInt64 = 0, convolution: ConvNetSettings? = nil,
                modernConvNet: ModernConvNetSettings? = nil) {
        self.kind = kind
        self.inputShape = inputShape
        self.hiddenSizes = hiddenSizes
        self.classes = classes
        self.normalization = normalization
        self.keepProbability = keepProbability
        self.regularization = regularization
        self.weightScale = weightScale
        self.seed = seed
        self.convolution = convolution
        self.modernConvNet = modernConvNet
    }

    /// The stored properties' keys; `encode(to:)` is synthesized from them.
    enum CodingKeys: String, CodingKey {
        case kind, inputShape, hiddenSizes, classes, normalization, keepProbability, regularization, weightScale, seed
        case convolution, modernConvNet
    }

    /// The key of the settings of files written before they were typed, read and never written.
    enum LegacyKeys: String, CodingKey {
        case options
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(kind: try c.decode(String.self, forKey: .kind), inputShape: try c.decode([Int].self, forKey: .inputShape),
                  hiddenSizes: try c.decode([Int].self, forKey: .hiddenSizes), classes: try c.decode(Int.self, forKey: .classes),
                  normalization: try c.decode(Normalization.self, forKey: .normalization),
                  keepProbability: try c.decode(Double.self, forKey: .keepProbability),
                  regularization: try c.decode(Double.self, forKey: .regularization),
                  weightScale: try c.decodeIfPresent(Double.self, forKey: .weightScale), seed: try c.decode(UInt64.self, forKey: .seed),
                  convolution: try c.decodeIfPresent(ConvNetSettings.self, forKey: .convolution),
                  modernConvNet: try c.decodeIfPresent(ModernConvNetSettings.self, forKey: .modernConvNet))
        let legacy = try decoder.container(keyedBy: LegacyKeys.self)
        if let options = try legacy.decodeIfPresent([String: String].self, forKey: .options), !options.isEmpty {
            do { try LegacyModelOptions(options).apply(to: &self) } catch let error as TensorError {
                throw DecodingError.dataCorruptedError(forKey: .options, in: legacy, debugDescription: "\(error)")
            }
        }
    }

    public var inputSize: Int { inputShape.reduce(1, *) }

    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// The configuration `text` holds; a `TensorError` that names the bad field otherwise.
    public static func fromJSON(_ text: String) throws -> ModelConfiguration {
        do { return try JSONDecoder().decode(ModelConfiguration.self, from: Data(text.utf8)) } catch {
            throw TensorError.invalidArgument(operation: "ModelConfiguration",
                                              detail: "not a model configuration: \(describeJSONError(error, json: Data(text.utf8)))")
        }
    }
}

/// The initial weights of a layer with `fanIn` inputs: N(0, scale²), or He's N(0, 2/fanIn).
@inlinable
func initialWeights<S: TensorScalar>(_ shape: [Int], fanIn: Int, weightScale: Double?,
                                     using generator: inout RandomGenerator) -> Tensor<S> {
    let std = weightScale ?? (2.0 / Double(fanIn)).squareRoot()
    return Tensor<S>.randn(shape, scale: S(std), using: &generator)
}
