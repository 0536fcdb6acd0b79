/// `Conv2D` as a layer: `filters` filters of `kernel`×`kernel` over (N, C, H, W) images, with
/// the ReLU fused as the convolution's epilogue when `activation` is `.relu`. The algorithm
/// (im2col, Winograd, direct) is `Conv2D`'s rule, chosen per call underneath.
public struct Conv2DLayer<S: TensorScalar>: WeightAndBiasLayer {
    public typealias Scalar = S
    public typealias Cache = Conv2D.Cache<S>

    public let filters: Int, kernel: Int, stride: Int, padding: Int
    public let activation: Activation
    /// Standard deviation of the initial weights, or nil for He's √(2/fan-in).
    public let weightScale: Double?
    /// (F, C, KH, KW)
    public var weight = Tensor<S>.zeros([0, 0, 0, 0])
    /// (F)
    public var bias = Tensor<S>.zeros([0])
    /// Set by `build`: the (C, H, W) → (F, H′, W′) geometry.
    public private(set) var geometry: ConvGeometry?

    public init(filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0, activation: Activation = .none,
                weightScale: Double? = nil) {
        self.filters = filters; self.kernel = kernel; self.stride = stride; self.padding = padding
        self.activation = activation; self.weightScale = weightScale
    }

    public var summary: String { "conv \(kernel)x\(kernel)" + (activation == .none ? "" : " + \(activation == .relu ? "ReLU" : "GELU")") }

    func geometry(for inputShape: [Int]) throws -> ConvGeometry {
        let name = "Conv2DLayer"
        _ = try checked(filters, in: 1...maximumLayerDimension, field: "filters", layer: name)
        _ = try checked(kernel, in: 1...maximumWindowSize, field: "kernel", layer: name)
        _ = try checked(stride, in: 1...maximumWindowSize, field: "stride", layer: name)
        _ = try checked(padding, in: 0...maximumWindowSize, field: "padding", layer: name)
        if let weightScale { _ = try checked(weightScale, in: 0...1e6, excludingLower: true, field: "weightScale", layer: name) }
        guard inputShape.count == 3 else {
            throw TensorError.invalidArgument(operation: name, detail: "input shape \(describeShape(inputShape)) is not (C×H×W)")
        }
        for (axis, size) in zip(["channels", "height", "width"], inputShape) {
            _ = try checked(size, in: 1...maximumLayerDimension, field: "input \(axis)", layer: name)
        }
        return try Conv2D.geometry(layer: name, input: inputShape, weights: [filters, inputShape[0], kernel, kernel],
                                   stride: stride, padding: padding)
    }

    public func plan(inputShape: [Int]) throws -> LayerPlan {
        let g = try geometry(for: inputShape)
        let outputShape = [filters, g.outputHeight, g.outputWidth]
        _ = try Tensor<S>.checkedCount(shape: outputShape)
        return LayerPlan(outputShape: outputShape, parameters: ["weight": [filters, g.channels, kernel, kernel], "bias": [filters]])
    }

    public mutating func build(inputShape: [Int], using generator: inout RandomGenerator) throws -> [Int] {
        let plan = try plan(inputShape: inputShape)
        let g = try geometry(for: inputShape)
        weight = initialWeights([filters, g.channels, kernel, kernel], fanIn: g.patchSize, weightScale: weightScale, using: &generator)
        bias = .zeros([filters])
        geometry = g
        return plan.outputShape
    }

    /// out (N, F, H′, W′) from x (N, C, H, W).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func forward(_ x: Tensor<S>, context: inout LayerContext) throws -> (out: Tensor<S>, cache: Cache) {
        let g = try geometry ?? geometry(for: Array(x.shape.dropFirst()))
        return try Conv2D.forward(x, weight, bias, geometry: g, epilogue: Conv2D.Epilogue(activation: activation))
    }

    /// The convolution with `pool` as its epilogue, one pass for the pair: the pair's cache, whose
    /// `out` is the pool's output (N, F, H″, W″) and whose `activations` are this layer's.
    /// `Sequential` runs a conv layer with an activation and the max pool after it so.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func forward(_ x: Tensor<S>, pooledBy pool: MaxPool2DLayer<S>) throws -> Cache {
        let g = try geometry ?? geometry(for: Array(x.shape.dropFirst()))
        let poolGeometry = try pool.geometry(for: [filters, g.outputHeight, g.outputWidth])
        return try Conv2D.forward(x, weight, bias, geometry: g, epilogue: Conv2D.Epilogue(activation: activation, pool: poolGeometry)).cache
    }

    /// dx (N, C, H, W), dW (F, C, KH, KW) with reg·W folded in, db (F) from dout (N, F, H′, W′),
    /// through the fused ReLU by the context's rule.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(_ dout: Tensor<S>, cache: Cache, needs: GradientNeeds, context: LayerContext) throws
        -> (dx: Tensor<S>?, gradients: ParameterStore<S>) {
        let (dx, dw, db) = try Conv2D.backward(dout, cache, needs: needs, regularization: S(context.regularization), rule: context.rule)
        return (dx, Self.gradients(weight: dw, bias: db))
    }
}

/// `MaxPool2D` as a layer: the maximum of each `size`×`size` window, `stride` apart.
public struct MaxPool2DLayer<S: TensorScalar>: Layer {
    public typealias Scalar = S
    public typealias Cache = MaxPool2D.Cache<S>

    public let size: Int, stride: Int

    public init(size: Int = 2, stride: Int = 2) { self.size = size; self.stride = stride }

    public var summary: String { "max pool \(size)x\(size)" }

    func geometry(for inputShape: [Int]) throws -> ConvGeometry {
        let name = "MaxPool2DLayer"
        _ = try checked(size, in: 1...maximumWindowSize, field: "size", layer: name)
        _ = try checked(stride, in: 1...maximumWindowSize, field: "stride", layer: name)
        guard inputShape.count == 3 else {
            throw TensorError.invalidArgument(operation: name, detail: "input shape \(describeShape(inputShape)) is not (C×H×W)")
        }
        return try MaxPool2D.geometry(layer: name, input: inputShape, poolHeight: size, poolWidth: size, stride: stride)
    }

    public func plan(inputShape: [Int]) throws -> LayerPlan {
        let g = try geometry(for: inputShape)
        return LayerPlan(outputShape: [g.channels, g.outputHeight, g.outputWidth])
    }

    /// out (N, C, H′, W′) from x (N, C, H, W).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func forward(_ x: Tensor<S>, context: inout LayerContext) throws -> (out: Tensor<S>, cache: Cache) {
        try MaxPool2D.forward(x, geometry: geometry(for: Array(x.shape.dropFirst())))
    }

    /// dx (N, C, H, W): each window's gradient to its maximum.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(_ dout: Tensor<S>, cache: Cache, needs: GradientNeeds, context: LayerContext) throws
        -> (dx: Tensor<S>?, gradients: ParameterStore<S>) {
        (needs.contains(.input) ? try MaxPool2D.backward(dout, cache) : nil, ParameterStore())
    }
}

/// `BatchNorm` as a layer: over the features of (N, D) rows, or spatially over the channels of
/// (N, C, H, W) images; γ and β trained, the running mean and variance saved as buffers.
public struct BatchNormLayer<S: TensorScalar>: Layer {
    public typealias Scalar = S
    public typealias Cache = BatchNorm.Cache<S>

    public let momentum: Double, epsilon: Double
    /// (features)
    public var gamma = Tensor<S>.zeros([0])
    /// (features)
    public var beta = Tensor<S>.zeros([0])
    /// The running statistics, (features) each.
    public var state = BatchNormState<S>(features: 0)

    public init(momentum: Double = 0.9, epsilon: Double = 1e-5) { self.momentum = momentum; self.epsilon = epsilon }

    public var summary: String { "batchnorm" }

    public var parameters: ParameterStore<S> {
        get { ParameterStore([("gamma", gamma), ("beta", beta)]) }
        set { replace(from: newValue, ["gamma": \.gamma, "beta": \.beta]) }
    }

    public func plan(inputShape: [Int]) throws -> LayerPlan {
        let name = "BatchNormLayer"
        _ = try checked(momentum, in: 0...1, field: "momentum", layer: name)
        _ = try checked(epsilon, in: 0...1, excludingLower: true, field: "epsilon", layer: name)
        guard inputShape.count == 1 || inputShape.count == 3 else {
            throw TensorError.invalidArgument(operation: name, detail: "input shape \(describeShape(inputShape)) is not (D) or (C×H×W)")
        }
        let features = try checked(inputShape[0], in: 1...maximumLayerDimension, field: "features", layer: name)
        return LayerPlan(outputShape: inputShape, parameters: ["gamma": [features], "beta": [features]],
                         buffers: ["running_mean": [features], "running_var": [features]])
    }

    public mutating func build(inputShape: [Int], using _: inout RandomGenerator) throws -> [Int] {
        let plan = try plan(inputShape: inputShape)
        let features = inputShape[0]
        (gamma, beta) = (.ones([features]), .zeros([features]))
        state = BatchNormState(features: features, momentum: S(momentum), epsilon: S(epsilon))
        return plan.outputShape
    }

    public var buffers: ParameterStore<S> {
        get { ParameterStore([("running_mean", state.runningMean), ("running_var", state.runningVariance)]) }
        set {
            if let value = newValue["running_mean"] { state.runningMean = value }
            if let value = newValue["running_var"] { state.runningVariance = value }
        }
    }

    /// out in x's shape; training updates the running statistics.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func forward(_ x: Tensor<S>, context: inout LayerContext) throws -> (out: Tensor<S>, cache: Cache) {
        try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &state, mode: context.mode, layer: "BatchNormLayer")
    }

    /// dx in x's shape, dγ and dβ (features).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func backward(_ dout: Tensor<S>, cache: Cache, needs: GradientNeeds, context: LayerContext) throws
        -> (dx: Tensor<S>?, gradients: ParameterStore<S>) {
        let (dx, dgamma, dbeta) = try BatchNorm.backward(dout, cache, needs: needs)
        return (dx, Self.named(["gamma": dgamma, "beta": dbeta]))
    }
}
