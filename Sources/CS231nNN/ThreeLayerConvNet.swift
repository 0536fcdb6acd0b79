/// conv - ReLU - 2×2 max pool - affine - ReLU - affine - softmax, CS231n's `ThreeLayerConvNet`
/// (assignment 2, and workload W5). Parameters: W1 (F, C, K, K), b1 (F), W2 (F·H/2·W/2, hidden),
/// b2 (hidden), W3 (hidden, classes), b3 (classes). The convolution keeps the input size
/// (stride 1, padding (K − 1)/2); its ReLU and pool run as the convolution's epilogue.
///
/// The L2 term 0.5·reg·ΣW² covers the three weight tensors, not the biases, so its gradient
/// reg·W is what PyTorch's Adam adds as `weight_decay` on a weights-only parameter group.
public struct ThreeLayerConvNet<S: TensorScalar>: Model {
    public typealias Scalar = S

    public static var kind: String { "three-layer-convnet" }

    public let configuration: ModelConfiguration
    /// The trained tensors (`parameters` names them W1, b1, W2, b2, W3, b3).
    public var parameterTensors: ParameterTensors
    public var buffers: ParameterStore<S> {
        get { ParameterStore() }
        set {}
    }
    public var trainingSteps = 0
    /// The convolution's and the pool's geometry, checked when the net is built.
    public let convGeometry: ConvGeometry
    public let poolGeometry: ConvGeometry

    /// `weightScale` nil means He initialization (√(2/fan-in)); the course's default is 1e-3.
    public init(inputShape: [Int] = [3, 32, 32], filters: Int = 32, filterSize: Int = 7, hiddenSize: Int = 100,
                classes: Int = 10, weightScale: Double? = 1e-3, regularization: Double = 0, seed: UInt64 = 0) throws {
        try self.init(configuration: ModelConfiguration(
            kind: Self.kind, inputShape: inputShape, hiddenSizes: [hiddenSize], classes: classes,
            regularization: regularization, weightScale: weightScale, seed: seed,
            options: ["filters": String(filters), "filter-size": String(filterSize)]))
    }

    /// A freshly initialized net of `configuration`: options "filters" (default 32) and
    /// "filter-size" (odd, default 7); one hidden size.
    public init(configuration: ModelConfiguration) throws {
        _ = try ModelShapes(configuration)  // sizes in range before anything is allocated
        let c = configuration
        func invalid(_ detail: String) -> TensorError { .invalidArgument(operation: "ThreeLayerConvNet", detail: detail) }
        guard let filters = Int(c.options["filters"] ?? "32"), let filterSize = Int(c.options["filter-size"] ?? "7") else {
            throw invalid("options filters \"\(c.options["filters"] ?? "")\" and filter-size \"\(c.options["filter-size"] ?? "")\" must be integers")
        }
        guard c.inputShape.count == 3, c.inputShape.allSatisfy({ $0 > 0 }) else {
            throw invalid("input shape \(describeShape(c.inputShape)) is not an image (C, H, W)")
        }
        guard c.hiddenSizes.count == 1, let hidden = c.hiddenSizes.first, hidden > 0, c.classes > 0, filters > 0 else {
            throw invalid("needs one positive hidden size and positive filters and classes (got hidden \(c.hiddenSizes), filters \(filters), classes \(c.classes))")
        }
        guard filterSize > 0, filterSize % 2 == 1 else {
            throw invalid("filter size \(filterSize) must be odd so that padding \((filterSize - 1) / 2) keeps the image size")
        }
        guard c.normalization == .none, c.keepProbability == 1 else {
            throw invalid("has no normalization or dropout (got \(c.normalization), keep \(c.keepProbability))")
        }
        guard c.regularization >= 0, (c.weightScale ?? 1) > 0 else {
            throw invalid("regularization \(c.regularization) and weight scale \(c.weightScale ?? 0) must be ≥ 0 and > 0")
        }
        let channels = c.inputShape[0]
        convGeometry = try Conv2D.geometry(layer: "ThreeLayerConvNet layer 1 conv", input: c.inputShape,
                                           weights: [filters, channels, filterSize, filterSize], padding: (filterSize - 1) / 2)
        poolGeometry = try MaxPool2D.geometry(layer: "ThreeLayerConvNet layer 1 pool",
                                              input: [filters, convGeometry.outputHeight, convGeometry.outputWidth])
        self.configuration = c
        let pooled = filters * poolGeometry.outputPlane
        var generator = RandomGenerator(seed: c.seed, stream: .initialization)
        let w1: Tensor<S> = initialWeights([filters, channels, filterSize, filterSize], fanIn: convGeometry.patchSize,
                                           weightScale: c.weightScale, using: &generator)
        let w2: Tensor<S> = initialWeights([pooled, hidden], fanIn: pooled, weightScale: c.weightScale, using: &generator)
        let w3: Tensor<S> = initialWeights([hidden, c.classes], fanIn: hidden, weightScale: c.weightScale, using: &generator)
        parameterTensors = ParameterTensors(w1: w1, b1: .zeros([filters]), w2: w2, b2: .zeros([hidden]), w3: w3,
                                            b3: .zeros([c.classes]))
    }

    /// The trained tensors as named fields, shapes for F filters of K×K over C channels, a
    /// pooled plane of P = F·H/2·W/2 values, H hidden units and C classes.
    public struct ParameterTensors: NamedTensorFields, Sendable {
        public typealias Scalar = S
        /// (F, C, K, K), (F)
        public var w1: Tensor<S>, b1: Tensor<S>
        /// (P, H), (H)
        public var w2: Tensor<S>, b2: Tensor<S>
        /// (H, C), (C)
        public var w3: Tensor<S>, b3: Tensor<S>

        @inlinable
        public init(w1: Tensor<S>, b1: Tensor<S>, w2: Tensor<S>, b2: Tensor<S>, w3: Tensor<S>, b3: Tensor<S>) {
            self.w1 = w1; self.b1 = b1; self.w2 = w2; self.b2 = b2; self.w3 = w3; self.b3 = b3
        }

        public var namedFields: [(String, WritableKeyPath<Self, Tensor<S>>)] {
            [("W1", \.w1), ("b1", \.b1), ("W2", \.w2), ("b2", \.b2), ("W3", \.w3), ("b3", \.b3)]
        }
    }

    /// W1, b1, W2, b2, W3, b3, the course's names.
    public var parameters: ParameterStore<S> {
        get { parameterTensors.store }
        _modify { yield &parameterTensors.store }
    }

    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func loss(_ x: Tensor<S>, _ y: [Int]) throws -> (loss: S, gradients: ParameterStore<S>) {
        trainingSteps += 1
        let caches = try forward(x)
        var (loss, dscores) = try SoftmaxLoss.forwardBackward(caches.scores, labels: y)
        let reg = S(configuration.regularization)
        if reg != 0 {
            let weights = parameterTensors
            for w in [weights.w1, weights.w2, weights.w3] { loss += 0.5 * reg * w.squaredSum() }
        }
        let g = try backward(dscores, from: Self.scoresLayer, caches, needs: .parameters).gradients
        guard let w1 = g.w1, let b1 = g.b1, let w2 = g.w2, let b2 = g.b2, let w3 = g.w3, let b3 = g.b3 else {
            throw TensorError.invalidArgument(operation: "ThreeLayerConvNet", detail: "the backward returned no parameter gradients")
        }
        return (loss, ParameterTensors(w1: w1, b1: b1, w2: w2, b2: b2, w3: w3, b3: b3).store)
    }

    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func scores(_ x: Tensor<S>) throws -> Tensor<S> { try forward(x).scores }

    /// What a forward pass keeps for the way back.
    @usableFromInline
    typealias Caches = (scores: Tensor<S>, conv: Conv2D.Cache<S>, hidden: AffineReLU.Cache<S>, output: Affine.Cache<S>)

    @inlinable
    func forward(_ x: Tensor<S>) throws -> Caches {
        guard x.rank == 4, Array(x.shape.dropFirst()) == configuration.inputShape else {
            throw TensorError.shapeMismatch(operation: "ThreeLayerConvNet",
                detail: "input \(describeShape(x.shape)) for a net over images of \(describeShape(configuration.inputShape)) (N, C, H, W)")
        }
        let weights = parameterTensors
        let (pooled, convCache) = try Conv2D.forward(x, weights.w1, weights.b1, geometry: convGeometry,
                                                     epilogue: Conv2D.Epilogue(activation: .relu, pool: poolGeometry))
        let (hidden, hiddenCache) = try AffineReLU.forward(pooled, weights.w2, weights.b2)
        let (scores, outputCache) = try Affine.forward(hidden, weights.w3, weights.b3)
        return (scores, convCache, hiddenCache, outputCache)
    }

    /// The gradients a backward computed: those `needs` asked for.
    @usableFromInline
    struct ParameterGradients {
        @usableFromInline var w1: Tensor<S>?, b1: Tensor<S>?, w2: Tensor<S>?, b2: Tensor<S>?, w3: Tensor<S>?, b3: Tensor<S>?
        @inlinable init() {}
    }

    /// The index of "scores" in `inspectableLayers` (conv1, pool1, fc2, scores).
    @usableFromInline static var scoresLayer: Int { 3 }

    /// Walks back from the activations of layer `layer` (an index into `inspectableLayers`) with
    /// `rule` at every ReLU. Training starts at the scores and wants the parameter gradients
    /// (dW + reg·W, db) but not the input's, which costs as much as the first layer's forward;
    /// inspection wants only the input's.
    @inlinable
    func backward(_ upstream: Tensor<S>, from layer: Int, _ caches: Caches, rule: ReLUBackwardRule = .standard,
                  needs: GradientNeeds) throws -> (dx: Tensor<S>?, gradients: ParameterGradients) {
        let reg = S(configuration.regularization), parameters = needs.intersection(.parameters)
        var gradients = ParameterGradients()
        var d = upstream
        if layer >= 3 {
            let (dx, dw, db) = try Affine.backward(d, caches.output, needs: parameters.union(.input), regularization: reg)
            (gradients.w3, gradients.b3, d) = (dw, db, dx!)
        }
        if layer >= 2 {
            d = try ReLU.backward(d, gate: caches.hidden.out, rule: rule)
            let (dx, dw, db) = try Affine.backward(d, caches.hidden.affine, needs: parameters.union(.input), regularization: reg)
            (gradients.w2, gradients.b2, d) = (dw, db, dx!)
        }
        // From the convolution's ReLU output, before the pool, or from the pool's.
        let conv = layer == 0 ? try caches.conv.beforePool() : caches.conv
        let (dx, dw, db) = try Conv2D.backward(d, conv, needs: needs, regularization: reg, rule: rule)
        (gradients.w1, gradients.b1) = (dw, db)
        return (dx, gradients)
    }
}

extension ThreeLayerConvNet: InspectableModel {
    public var inspectableLayers: [InspectedLayer] {
        let (conv, pool) = (convGeometry, poolGeometry)
        let filters = pool.channels
        return [
            InspectedLayer(name: "conv1", shape: [filters, conv.outputHeight, conv.outputWidth],
                           summary: "conv \(conv.kernelHeight)x\(conv.kernelWidth) + ReLU"),
            InspectedLayer(name: "pool1", shape: [filters, pool.outputHeight, pool.outputWidth],
                           summary: "\(pool.kernelHeight)x\(pool.kernelWidth) max pool"),
            InspectedLayer(name: "fc2", shape: configuration.hiddenSizes, summary: "affine + ReLU"),
            InspectedLayer(name: "scores", shape: [configuration.classes], summary: "affine"),
        ]
    }

    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func trace(_ x: Tensor<S>) throws -> ForwardTrace<S> {
        let caches = try forward(x)
        return ForwardTrace(model: "ThreeLayerConvNet", layers: inspectableLayers, input: x, activations: { layer in
            switch layer {
            case 0: try caches.conv.activations(in: .nchw)!
            case 1: caches.conv.out
            case 2: caches.hidden.out
            default: caches.scores
            }
        }, backward: { layer, upstream, rule in
            try backward(upstream, from: layer, caches, rule: rule, needs: .input).dx!
        })
    }
}
