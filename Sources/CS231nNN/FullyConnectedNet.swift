/// {affine - [batch/layer norm] - ReLU - [dropout]} × (L − 1) - affine - softmax, as in CS231n's
/// `FullyConnectedNet`: a `Sequential` under the course's names. Parameters: W1…WL, b1…bL, and
/// gamma1…, beta1… for the normalized hidden layers; buffers: running_mean1…, running_var1…
/// under batchnorm.
///
/// Its layers are named fc1 … fc(L−1) at each hidden layer's output after the ReLU (the affine
/// with the ReLU fused, or affine1, norm1, then fc1 the ReLU when normalized), dropout1 … when
/// dropping, and scores.
public struct FullyConnectedNet<S: TensorScalar>: ModelWrapper {
    public typealias Scalar = S

    public let configuration: ModelConfiguration
    /// The layers, with the course's parameter names as `storedNames`.
    public var base: Sequential<S>

    /// `keepProbability` 1 disables dropout; `weightScale` nil means He initialization.
    public init(inputShape: [Int] = [3072], hiddenSizes: [Int], classes: Int = 10,
                normalization: Normalization = .none, keepProbability: Double = 1,
                regularization: Double = 0, weightScale: Double? = 1e-2, seed: UInt64 = 0) throws {
        try self.init(configuration: ModelConfiguration(
            kind: "fully-connected", inputShape: inputShape, hiddenSizes: hiddenSizes, classes: classes,
            normalization: normalization, keepProbability: keepProbability, regularization: regularization,
            weightScale: weightScale, seed: seed))
    }

    /// A freshly initialized net of `configuration` (its kind may be any fully-connected one).
    public init(configuration: ModelConfiguration) throws {
        _ = try ModelShapes(configuration)  // sizes in range before anything is allocated
        let c = configuration
        guard c.inputSize > 0, c.classes > 0, c.hiddenSizes.allSatisfy({ $0 > 0 }) else {
            throw TensorError.invalidArgument(operation: "FullyConnectedNet",
                detail: "sizes must be positive: input \(c.inputShape), hidden \(c.hiddenSizes), classes \(c.classes)")
        }
        guard c.keepProbability > 0, c.keepProbability <= 1 else {
            throw TensorError.invalidArgument(operation: "FullyConnectedNet",
                                              detail: "dropout keep probability \(c.keepProbability) is not in (0, 1]")
        }
        guard c.regularization >= 0, (c.weightScale ?? 1) > 0 else {
            throw TensorError.invalidArgument(operation: "FullyConnectedNet",
                detail: "regularization \(c.regularization) and weight scale \(c.weightScale ?? 0) must be ≥ 0 and > 0")
        }
        self.configuration = c
        var layers: [(name: String, layer: any Layer<S>)] = [], names: [String: String] = [:]
        for (index, width) in c.hiddenSizes.enumerated() {
            let n = index + 1
            switch c.normalization {
            case .none:
                layers.append(("fc\(n)", AffineLayer<S>(outputs: width, activation: .relu, weightScale: c.weightScale)))
                names.merge(["fc\(n).weight": "W\(n)", "fc\(n).bias": "b\(n)"]) { a, _ in a }
            case .batchnorm, .layernorm:
                layers.append(("affine\(n)", AffineLayer<S>(outputs: width, weightScale: c.weightScale)))
                layers.append(("norm\(n)", c.normalization == .batchnorm ? BatchNormLayer<S>() : LayerNormLayer<S>()))
                layers.append(("fc\(n)", ReLULayer<S>()))
                names.merge(["affine\(n).weight": "W\(n)", "affine\(n).bias": "b\(n)", "norm\(n).gamma": "gamma\(n)",
                             "norm\(n).beta": "beta\(n)"]) { a, _ in a }
                if c.normalization == .batchnorm {
                    names.merge(["norm\(n).running_mean": "running_mean\(n)", "norm\(n).running_var": "running_var\(n)"]) { a, _ in a }
                }
            }
            if c.keepProbability < 1 { layers.append(("dropout\(n)", DropoutLayer<S>(keepProbability: c.keepProbability))) }
        }
        let last = c.hiddenSizes.count + 1
        layers.append(("scores", AffineLayer<S>(outputs: c.classes, weightScale: c.weightScale)))
        names.merge(["scores.weight": "W\(last)", "scores.bias": "b\(last)"]) { a, _ in a }
        base = try Sequential(inputShape: [c.inputSize], layers: layers, regularization: c.regularization, seed: c.seed,
                              storedNames: names)
    }

    /// Each example flattened to a row, after checking it has the net's input size.
    @inlinable
    func rows(_ x: Tensor<S>) throws -> Tensor<S> {
        guard x.rank >= 2, x.count / Swift.max(1, x.shape[0]) == configuration.inputSize else {
            throw TensorError.shapeMismatch(operation: "FullyConnectedNet",
                detail: "input \(describeShape(x.shape)) for a net over examples of \(describeShape(configuration.inputShape))")
        }
        return x.flattenedRows()
    }

    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func loss(_ x: Tensor<S>, _ y: [Int]) throws -> (loss: S, gradients: ParameterStore<S>) {
        try base.loss(rows(x), y)
    }

    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func scores(_ x: Tensor<S>) throws -> Tensor<S> { try base.scores(rows(x)) }
}

/// Inspected as its base, with each example flattened to a row on the way in and the input
/// gradient shaped as the examples.
extension FullyConnectedNet: InspectableModel {
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func trace(_ x: Tensor<S>) throws -> ForwardTrace<S> {
        let inner = try base.trace(rows(x))
        return ForwardTrace(model: "FullyConnectedNet", layers: inner.layers, input: x, rules: inner.rules, activations: inner.activationsAt,
                            backward: { try inner.backwardFrom($0, $1, $2).reshaped(x.shape) })
    }
}
