/// `Affine` as a layer: out (N, M) = x·W + b for x (N, d₁, …, d_k) with d₁·…·d_k = D, and the
/// ReLU fused into the bias pass when `activation` is `.relu` (the course's affine-ReLU
/// sandwich: one GEMM and one sweep over the output).
public struct AffineLayer<S: TensorScalar>: WeightAndBiasLayer {
    public typealias Scalar = S
    /// The affine's cache and, with the fused ReLU, its output, whose sign gates the gradient.
    public struct Cache: Sendable {
        public var affine: Affine.Cache<S>
        public var out: Tensor<S>?
    }

    public let outputs: Int
    public let activation: Activation
    /// Standard deviation of the initial weights, or nil for He's √(2/fan-in).
    public let weightScale: Double?
    /// (D, M)
    public var weight = Tensor<S>.zeros([0, 0])
    /// (M)
    public var bias = Tensor<S>.zeros([0])

    public init(outputs: Int, activation: Activation = .none, weightScale: Double? = nil) {
        self.outputs = outputs; self.activation = activation; self.weightScale = weightScale
    }

    public var summary: String { "affine \(outputs)" + (activation == .relu ? " + ReLU" : "") }

    public func plan(inputShape: [Int]) throws -> LayerPlan {
        let name = "AffineLayer"
        _ = try checked(outputs, in: 1...maximumLayerDimension, field: "outputs", layer: name)
        guard activation != .gelu else { throw TensorError.invalidArgument(operation: name, detail: "activation gelu is not in none, relu") }
        if let weightScale { _ = try checked(weightScale, in: 0...1e6, excludingLower: true, field: "weightScale", layer: name) }
        let inputs = try Tensor<S>.checkedCount(shape: inputShape)
        _ = try checked(inputs, in: 1...Int.max, field: "input size", layer: name)
        return LayerPlan(outputShape: [outputs], parameters: ["weight": [inputs, outputs], "bias": [outputs]])
    }

    public mutating func build(inputShape: [Int], using generator: inout RandomGenerator) throws -> [Int] {
        let plan = try plan(inputShape: inputShape)
        let inputs = plan.parameters["weight"]?.first ?? 0
        weight = initialWeights([inputs, outputs], fanIn: inputs, weightScale: weightScale, using: &generator)
        bias = .zeros([outputs])
        return plan.outputShape
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func forward(_ x: Tensor<S>, context: inout LayerContext) throws -> (out: Tensor<S>, cache: Cache) {
        let rows = x.flattenedRows()
        var out = Tensor<S>(uninitializedShape: [rows.shape[0], outputs])
        try Affine.forward(rows, weight, bias, into: &out, relu: activation == .relu)
        return (out, Cache(affine: Affine.Cache(x: rows, w: weight, inputShape: x.shape), out: activation == .relu ? out : nil))
    }

    /// dx (input's shape), dW = xᵀ·dout + reg·W, db = Σ dout from dout (N, M), through the
    /// fused ReLU by the context's rule first.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(_ dout: Tensor<S>, cache: Cache, needs: GradientNeeds, context: LayerContext) throws
        -> (dx: Tensor<S>?, gradients: ParameterStore<S>) {
        let upstream = try cache.out.map { try ReLU.backward(dout, gate: $0, rule: context.rule) } ?? dout
        let (dx, dw, db) = try Affine.backward(upstream, cache.affine, needs: needs, regularization: S(context.regularization))
        return (dx, Self.gradients(weight: dw, bias: db))
    }
}

/// `ReLU` as a layer: out = max(x, 0), any shape.
public struct ReLULayer<S: TensorScalar>: Layer {
    public typealias Scalar = S
    public typealias Cache = ReLU.Cache<S>

    public init() {}

    public var summary: String { "ReLU" }

    public func plan(inputShape: [Int]) throws -> LayerPlan { LayerPlan(outputShape: inputShape) }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func forward(_ x: Tensor<S>, context: inout LayerContext) throws -> (out: Tensor<S>, cache: Cache) {
        ReLU.forward(x)
    }

    /// dx by the context's rule (standard, deconvnet, guided).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(_ dout: Tensor<S>, cache: Cache, needs: GradientNeeds, context: LayerContext) throws
        -> (dx: Tensor<S>?, gradients: ParameterStore<S>) {
        (needs.contains(.input) ? try ReLU.backward(dout, cache, rule: context.rule) : nil, ParameterStore())
    }
}

/// (N, d₁, …, d_k) → (N, d₁·…·d_k): a named place to look at features as rows.
public struct FlattenLayer<S: TensorScalar>: Layer {
    public typealias Scalar = S
    /// The input's shape, which dx takes back.
    public typealias Cache = [Int]

    public init() {}

    public var summary: String { "flatten" }

    public func plan(inputShape: [Int]) throws -> LayerPlan {
        LayerPlan(outputShape: [try Tensor<S>.checkedCount(shape: inputShape)])
    }

    public mutating func forward(_ x: Tensor<S>, context: inout LayerContext) throws -> (out: Tensor<S>, cache: Cache) {
        (x.flattenedRows(), x.shape)
    }

    public func backward(_ dout: Tensor<S>, cache: Cache, needs: GradientNeeds, context: LayerContext) throws
        -> (dx: Tensor<S>?, gradients: ParameterStore<S>) {
        (needs.contains(.input) ? try dout.reshaped(cache) : nil, ParameterStore())
    }
}

/// `Dropout` as a layer: inverted dropout keeping each unit with `keepProbability`, its masks
/// drawn from the context's generator while training; the identity while testing.
public struct DropoutLayer<S: TensorScalar>: Layer {
    public typealias Scalar = S
    public typealias Cache = Dropout.Cache<S>

    public let keepProbability: Double

    public init(keepProbability: Double) { self.keepProbability = keepProbability }

    public var summary: String { "dropout p=\(keepProbability)" }

    public var isIdentityWhenTesting: Bool { true }

    public func plan(inputShape: [Int]) throws -> LayerPlan {
        _ = try checked(keepProbability, in: 0...1, excludingLower: true, field: "keepProbability", layer: "DropoutLayer")
        return LayerPlan(outputShape: inputShape)
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func forward(_ x: Tensor<S>, context: inout LayerContext) throws -> (out: Tensor<S>, cache: Cache) {
        try Dropout.forward(x, keepProbability: S(keepProbability), mode: context.mode, generator: &context.generator)
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(_ dout: Tensor<S>, cache: Cache, needs: GradientNeeds, context: LayerContext) throws
        -> (dx: Tensor<S>?, gradients: ParameterStore<S>) {
        (needs.contains(.input) ? try Dropout.backward(dout, cache) : nil, ParameterStore())
    }
}

/// `LayerNorm` as a layer: each example's D features normalized by their own mean and
/// variance, then scaled by γ and shifted by β; training and testing compute the same.
public struct LayerNormLayer<S: TensorScalar>: Layer {
    public typealias Scalar = S
    public typealias Cache = LayerNorm.Cache<S>

    public let epsilon: Double
    /// (D)
    public var gamma = Tensor<S>.zeros([0])
    /// (D)
    public var beta = Tensor<S>.zeros([0])

    public init(epsilon: Double = 1e-5) { self.epsilon = epsilon }

    public var summary: String { "layernorm" }

    public var parameters: ParameterStore<S> {
        get { ParameterStore([("gamma", gamma), ("beta", beta)]) }
        set { replace(from: newValue, ["gamma": \.gamma, "beta": \.beta]) }
    }

    public func plan(inputShape: [Int]) throws -> LayerPlan {
        let name = "LayerNormLayer"
        _ = try checked(epsilon, in: 0...1, excludingLower: true, field: "epsilon", layer: name)
        guard inputShape.count == 1 else {
            throw TensorError.invalidArgument(operation: name, detail: "input shape \(describeShape(inputShape)) is not (D)")
        }
        let features = try checked(inputShape[0], in: 1...maximumLayerDimension, field: "features", layer: name)
        return LayerPlan(outputShape: inputShape, parameters: ["gamma": [features], "beta": [features]])
    }

    public mutating func build(inputShape: [Int], using _: inout RandomGenerator) throws -> [Int] {
        let plan = try plan(inputShape: inputShape)
        (gamma, beta) = (.ones(inputShape), .zeros(inputShape))
        return plan.outputShape
    }

    /// out (N, D) from x (N, D).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func forward(_ x: Tensor<S>, context: inout LayerContext) throws -> (out: Tensor<S>, cache: Cache) {
        try LayerNorm.forward(x, gamma: gamma, beta: beta, epsilon: S(epsilon))
    }

    /// dx (N, D), dγ and dβ (D).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(_ dout: Tensor<S>, cache: Cache, needs: GradientNeeds, context: LayerContext) throws
        -> (dx: Tensor<S>?, gradients: ParameterStore<S>) {
        let (dx, dgamma, dbeta) = try LayerNorm.backward(dout, cache)
        return (needs.contains(.input) ? dx : nil, Self.named(["gamma": dgamma, "beta": dbeta]))
    }
}
