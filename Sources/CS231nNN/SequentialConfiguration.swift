import Foundation

extension Activation: Codable {}

/// One layer of a `SequentialConfiguration`, as JSON: `{"affine": {"outputs": 100, "activation": "relu"}}`.
public enum LayerSpec: Codable, Sendable, Equatable {
    case affine(outputs: Int, activation: Activation = .none, weightScale: Double? = nil)
    case conv2D(filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0, activation: Activation = .none,
                weightScale: Double? = nil)
    case maxPool2D(size: Int = 2, stride: Int = 2)
    case batchNorm(momentum: Double = 0.9, epsilon: Double = 1e-5)
    case layerNorm(epsilon: Double = 1e-5)
    case dropout(keepProbability: Double)
    case relu
    case flatten

    /// The layer this spec describes, not yet built.
    public func layer<S: TensorScalar>(as _: S.Type = S.self) -> any Layer<S> {
        switch self {
        case let .affine(outputs, activation, weightScale):
            AffineLayer<S>(outputs: outputs, activation: activation, weightScale: weightScale)
        case let .conv2D(filters, kernel, stride, padding, activation, weightScale):
            Conv2DLayer<S>(filters: filters, kernel: kernel, stride: stride, padding: padding, activation: activation,
                           weightScale: weightScale)
        case let .maxPool2D(size, stride): MaxPool2DLayer<S>(size: size, stride: stride)
        case let .batchNorm(momentum, epsilon): BatchNormLayer<S>(momentum: momentum, epsilon: epsilon)
        case let .layerNorm(epsilon): LayerNormLayer<S>(epsilon: epsilon)
        case let .dropout(keepProbability): DropoutLayer<S>(keepProbability: keepProbability)
        case .relu: ReLULayer<S>()
        case .flatten: FlattenLayer<S>()
        }
    }
}

/// A `Sequential` as data: the shape of one example, the named layers in order, the loss, the
/// L2 strength and the seed. It is the configuration of the built-in "sequential" kind, and a
/// model family of one's own can build its net from one.
public struct SequentialConfiguration: ModelFamilyConfiguration, Equatable {
    public static let kind = "sequential"

    /// One named layer.
    public struct NamedLayer: Codable, Sendable, Equatable {
        public var name: String
        public var layer: LayerSpec

        public init(_ name: String, _ layer: LayerSpec) { self.name = name; self.layer = layer }
    }

    public var inputShape: [Int]
    public var layers: [NamedLayer]
    public var loss: ClassificationLoss
    public var regularization: Double
    public var seed: UInt64

    public init(inputShape: [Int], layers: [NamedLayer], loss: ClassificationLoss = .softmax, regularization: Double = 0,
                seed: UInt64 = 0) {
        self.inputShape = inputShape; self.layers = layers; self.loss = loss
        self.regularization = regularization; self.seed = seed
    }

    /// The input shape has 1 to 3 dimensions, each in 1...`maximumLayerDimension`; the layers
    /// check their own sizes when the net is planned, before anything is allocated.
    public func validate() throws {
        guard (1...3).contains(inputShape.count) else {
            throw TensorError.invalidArgument(operation: "SequentialConfiguration",
                detail: "inputShape \(describeShape(inputShape)) has \(inputShape.count) dimensions, not 1...3")
        }
        for (index, size) in inputShape.enumerated() {
            _ = try checked(size, in: 1...maximumLayerDimension, field: "inputShape[\(index)]", layer: "SequentialConfiguration")
        }
    }

    public func makeSequential<S: TensorScalar>(as _: S.Type) throws -> Sequential<S> {
        try validate()
        return try Sequential<S>(inputShape: inputShape, layers: layers.map { ($0.name, $0.layer.layer(as: S.self)) },
                                 loss: loss,
                                 regularization: regularization, seed: seed)
    }
}
