/// A layer of a model that can be looked inside: its name and the shape of one example's
/// activations there, e.g. "conv1" [32, 32, 32] or "scores" [10].
public struct InspectedLayer: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let shape: [Int]
    /// What the layer computes, for listings ("conv 7x7 + ReLU").
    public let summary: String
    /// Whether a test-mode pass leaves its input as it is (dropout), so that its activations
    /// are its predecessor's.
    public let isIdentityWhenTesting: Bool

    public init(name: String, shape: [Int], summary: String, isIdentityWhenTesting: Bool = false) {
        self.name = name; self.shape = shape; self.summary = summary; self.isIdentityWhenTesting = isIdentityWhenTesting
    }

    /// Channels of a (C, H, W) layer, units of a flat one.
    public var channels: Int { shape.first ?? 0 }

    public var description: String { "\(name) \(describeShape(shape)) (\(summary))" }
}

/// A test-mode forward pass that keeps what the way back needs: the activations of every named
/// layer, and the gradient w.r.t. the input of any upstream gradient placed at one of them,
/// with the ReLU backward rule applied at every ReLU on the way back.
///
/// The closures run the model's own forward caches and backward walk (the ones its training
/// step uses), so what is inspected is exactly what is trained.
public struct ForwardTrace<S: TensorScalar> {
    /// Input to scores.
    public let layers: [InspectedLayer]
    /// The traced input (N, …).
    public let input: Tensor<S>
    @usableFromInline let activationsAt: (Int) throws -> Tensor<S>
    @usableFromInline let backwardFrom: (Int, Tensor<S>, ReLUBackwardRule) throws -> Tensor<S>
    /// Who traced, for error messages ("ThreeLayerConvNet").
    public let model: String
    /// The ReLU backward rules its way back offers: all of them, or the standard gradient alone
    /// for a net whose nonlinearities are not ReLUs (guided backprop and the deconvnet are
    /// defined at ReLUs).
    public let rules: [ReLUBackwardRule]

    @inlinable
    public init(model: String, layers: [InspectedLayer], input: Tensor<S>, rules: [ReLUBackwardRule] = ReLUBackwardRule.allCases,
                activations: @escaping (Int) throws -> Tensor<S>, backward: @escaping (Int, Tensor<S>, ReLUBackwardRule) throws -> Tensor<S>) {
        self.model = model; self.layers = layers; self.input = input; self.rules = rules
        activationsAt = activations; backwardFrom = backward
    }

    public var batchSize: Int { input.shape.first ?? 0 }

    /// The position of `name` in `layers`, or an error listing the layers there are.
    public func layerIndex(_ name: String) throws -> Int {
        guard let index = layers.firstIndex(where: { $0.name == name }) else {
            throw TensorError.invalidArgument(operation: model,
                detail: "no layer \"\(name)\"; its layers are " + layers.map(\.description).joined(separator: ", "))
        }
        return index
    }

    /// The activations of a layer for the whole batch: (N) + the layer's shape.
    @inlinable
    public func activations(_ layer: String) throws -> Tensor<S> { try activationsAt(layerIndex(layer)) }

    /// d⟨upstream, layer's activations⟩ / d input, in the input's shape, with `rule` at every
    /// ReLU between the layer and the input (the layer's own ReLU included).
    @inlinable
    public func inputGradient(_ upstream: Tensor<S>, at layer: String, rule: ReLUBackwardRule = .standard) throws -> Tensor<S> {
        let index = try layerIndex(layer)
        let expected = [batchSize] + layers[index].shape
        guard upstream.shape == expected else {
            throw TensorError.shapeMismatch(operation: model,
                detail: "upstream gradient \(describeShape(upstream.shape)) at layer \(layer), whose activations are \(describeShape(expected))")
        }
        return try backwardFrom(index, upstream, rule)
    }
}

/// A model that lets you look inside: named layers, their activations for a batch, and input
/// gradients of upstream gradients placed at them (saliency, deconvnet, guided backprop).
public protocol InspectableModel: Model {
    /// The layers `trace` exposes, input to scores; the last is "scores".
    var inspectableLayers: [InspectedLayer] { get }
    /// A test-mode forward pass of `x` that keeps every layer's caches.
    func trace(_ x: Tensor<Scalar>) throws -> ForwardTrace<Scalar>
}

extension InspectableModel {
    /// The layer whose activations serve as an image's code by default (feature-space
    /// neighbours, t-SNE): the last before the scores that a test-mode pass does not leave as
    /// it is, or the scores of a net that has no other layer.
    public var defaultCodeLayer: String {
        let layers = inspectableLayers
        return layers.dropLast().last { !$0.isIdentityWhenTesting }?.name ?? layers.last?.name ?? "scores"
    }

    /// The activations of `layer` for a batch.
    @inlinable
    public func activations(_ x: Tensor<Scalar>, layer: String) throws -> Tensor<Scalar> {
        try trace(x).activations(layer)
    }

    /// The input gradient of `upstream` placed at `layer`, with `rule` at every ReLU.
    @inlinable
    public func inputGradient(_ x: Tensor<Scalar>, upstream: Tensor<Scalar>, at layer: String,
                              rule: ReLUBackwardRule = .standard) throws -> Tensor<Scalar> {
        try trace(x).inputGradient(upstream, at: layer, rule: rule)
    }
}

/// A wrapper over an inspectable net is inspected as its base, under the wrapper's name.
extension ModelWrapper where Self: InspectableModel, Base: InspectableModel {
    public var inspectableLayers: [InspectedLayer] { base.inspectableLayers }

    @inlinable
    public func trace(_ x: Tensor<Scalar>) throws -> ForwardTrace<Scalar> {
        let inner = try base.trace(x)
        let name = String(String(describing: Self.self).prefix { $0 != "<" })
        return ForwardTrace(model: name, layers: inner.layers, input: x, rules: inner.rules, activations: inner.activationsAt,
                            backward: inner.backwardFrom)
    }
}
