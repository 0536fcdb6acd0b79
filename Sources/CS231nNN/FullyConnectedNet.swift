/// {affine - [batch/layer norm] - ReLU - [dropout]} × (L − 1) - affine - softmax, as in CS231n's
/// `FullyConnectedNet`. Parameters: W1…WL, b1…bL, and gamma1…, beta1… for the normalized
/// hidden layers; buffers: running_mean1…, running_var1… under batchnorm.
public struct FullyConnectedNet<S: TensorScalar>: Model {
    public typealias Scalar = S

    public let configuration: ModelConfiguration
    public var parameters = ParameterStore<S>()
    public var trainingSteps = 0
    @usableFromInline var batchNormStates: [BatchNormState<S>] = []

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
        var generator = RandomGenerator(seed: c.seed, stream: .initialization)
        let sizes = [c.inputSize] + c.hiddenSizes + [c.classes]
        for layer in 1..<sizes.count {
            let (fanIn, fanOut) = (sizes[layer - 1], sizes[layer])
            parameters["W\(layer)"] = initialWeights([fanIn, fanOut], fanIn: fanIn, weightScale: c.weightScale,
                                                     using: &generator)
            parameters["b\(layer)"] = .zeros([fanOut])
            if layer < sizes.count - 1, c.normalization != .none {
                parameters["gamma\(layer)"] = .ones([fanOut])
                parameters["beta\(layer)"] = .zeros([fanOut])
            }
        }
        if c.normalization == .batchnorm { batchNormStates = c.hiddenSizes.map { BatchNormState(features: $0) } }
    }

    @inlinable
    public var layerCount: Int { configuration.hiddenSizes.count + 1 }

    public var buffers: ParameterStore<S> {
        get {
            var store = ParameterStore<S>()
            for (i, state) in batchNormStates.enumerated() {
                store["running_mean\(i + 1)"] = state.runningMean
                store["running_var\(i + 1)"] = state.runningVariance
            }
            return store
        }
        set {
            for i in batchNormStates.indices {
                if let mean = newValue["running_mean\(i + 1)"] { batchNormStates[i].runningMean = mean }
                if let variance = newValue["running_var\(i + 1)"] { batchNormStates[i].runningVariance = variance }
            }
        }
    }

    /// What a hidden layer's backward needs.
    @usableFromInline
    enum HiddenCache {
        case plain(AffineReLU.Cache<S>)
        case normalized(AffineNormReLU.Cache<S>)
    }

    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func loss(_ x: Tensor<S>, _ y: [Int]) throws -> (loss: S, gradients: ParameterStore<S>) {
        var generator = RandomGenerator(seed: configuration.seed &+ UInt64(trainingSteps) &* 0x9E37_79B9_7F4A_7C15,
                                        stream: .dropout)
        trainingSteps += 1
        var states = batchNormStates
        let (scores, hiddenCaches, dropoutCaches, outputCache) = try forward(x, mode: .train, states: &states,
                                                                            generator: &generator)
        batchNormStates = states
        var (loss, dscores) = try SoftmaxLoss.forwardBackward(scores, labels: y)
        let reg = S(configuration.regularization)
        if reg != 0 {
            for layer in 1...layerCount { loss += 0.5 * reg * parameters["W\(layer)"]!.squaredSum() }
        }
        var gradients: [String: Tensor<S>] = [:]
        _ = try backward(dscores, from: layerCount - 1, hiddenCaches, dropoutCaches, outputCache, needs: .parameters,
                         into: &gradients)
        return (loss, ParameterStore(parameters.names.map { ($0, gradients[$0]!) }))
    }

    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func scores(_ x: Tensor<S>) throws -> Tensor<S> {
        var states = batchNormStates
        var unused = RandomGenerator(seed: 0, stream: .dropout)
        return try forward(x, mode: .test, states: &states, generator: &unused).scores
    }

    @inlinable
    func forward(_ x: Tensor<S>, mode: Mode, states: inout [BatchNormState<S>], generator: inout RandomGenerator)
        throws -> (scores: Tensor<S>, hidden: [HiddenCache], dropout: [Dropout.Cache<S>], output: Affine.Cache<S>) {
        guard x.rank >= 2, x.count / Swift.max(1, x.shape[0]) == configuration.inputSize else {
            throw TensorError.shapeMismatch(operation: "FullyConnectedNet",
                detail: "input \(describeShape(x.shape)) for a net over examples of \(describeShape(configuration.inputShape))")
        }
        let keep = S(configuration.keepProbability)
        var hiddenCaches: [HiddenCache] = [], dropoutCaches: [Dropout.Cache<S>] = []
        var h = x
        for layer in 1..<layerCount {
            let w = parameters["W\(layer)"]!, b = parameters["b\(layer)"]!
            switch configuration.normalization {
            case .none:
                let (out, cache) = try AffineReLU.forward(h, w, b)
                h = out
                hiddenCaches.append(.plain(cache))
            case .batchnorm, .layernorm:
                var state = states.isEmpty ? BatchNormState<S>(features: 0) : states[layer - 1]
                let (out, cache) = try AffineNormReLU.forward(
                    h, w, b, gamma: parameters["gamma\(layer)"]!, beta: parameters["beta\(layer)"]!,
                    normalization: configuration.normalization, state: &state, mode: mode)
                if !states.isEmpty { states[layer - 1] = state }
                h = out
                hiddenCaches.append(.normalized(cache))
            }
            if keep < 1 {
                let (out, cache) = try Dropout.forward(h, keepProbability: keep, mode: mode, generator: &generator)
                h = out
                dropoutCaches.append(cache)
            }
        }
        let (scores, outputCache) = try Affine.forward(h, parameters["W\(layerCount)"]!, parameters["b\(layerCount)"]!)
        return (scores, hiddenCaches, dropoutCaches, outputCache)
    }

    /// Walks back from the activations of layer `start` (an index into `inspectableLayers`:
    /// hidden layer `start + 1`, or the scores at `layerCount − 1`) with `rule` at every ReLU.
    /// Training starts at the scores and wants the parameter gradients but not the data's, which
    /// costs as much as the first layer's forward GEMM; inspection wants only the input gradient,
    /// which it returns.
    @inlinable
    func backward(_ upstream: Tensor<S>, from start: Int, _ hiddenCaches: [HiddenCache], _ dropoutCaches: [Dropout.Cache<S>],
                  _ outputCache: Affine.Cache<S>, rule: ReLUBackwardRule = .standard, needs: GradientNeeds,
                  into gradients: inout [String: Tensor<S>]) throws -> Tensor<S>? {
        let reg = S(configuration.regularization), parameters = needs.intersection(.parameters)
        var dh = upstream
        if start == layerCount - 1 {
            let (dx, dw, db) = try Affine.backward(dh, outputCache, needs: parameters.union(.input), regularization: reg)
            (gradients["W\(layerCount)"], gradients["b\(layerCount)"], dh) = (dw, db, dx!)
        }
        for layer in stride(from: Swift.min(start + 1, layerCount - 1), through: 1, by: -1) {
            if !dropoutCaches.isEmpty { dh = try Dropout.backward(dh, dropoutCaches[layer - 1]) }
            let daffine: Tensor<S>, affineCache: Affine.Cache<S>
            switch hiddenCaches[layer - 1] {
            case .plain(let cache):
                daffine = try ReLU.backward(dh, gate: cache.out, rule: rule)
                affineCache = cache.affine
            case .normalized(let cache):
                let dnormalized = try ReLU.backward(dh, cache.relu, rule: rule)
                let (da, dgamma, dbeta) = try AffineNormReLU.normBackward(dnormalized, cache.norm)
                if !parameters.isEmpty { (gradients["gamma\(layer)"], gradients["beta\(layer)"]) = (dgamma, dbeta) }
                (daffine, affineCache) = (da, cache.affine)
            }
            let wantsInput = layer > 1 || needs.contains(.input)
            let (dx, dw, db) = try Affine.backward(daffine, affineCache, needs: parameters.union(wantsInput ? .input : []),
                                                   regularization: reg)
            (gradients["W\(layer)"], gradients["b\(layer)"]) = (dw, db)
            if wantsInput { dh = dx! }
        }
        return needs.contains(.input) ? dh : nil
    }
}

extension FullyConnectedNet: InspectableModel {
    /// fc1 … fc(L−1), the hidden layers' outputs (after the ReLU), then the scores.
    public var inspectableLayers: [InspectedLayer] {
        let hidden = configuration.normalization == .none ? "affine + ReLU" : "affine + \(configuration.normalization.rawValue) + ReLU"
        return configuration.hiddenSizes.enumerated().map { InspectedLayer(name: "fc\($0.offset + 1)", shape: [$0.element], summary: hidden) }
            + [InspectedLayer(name: "scores", shape: [configuration.classes], summary: "affine")]
    }

    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func trace(_ x: Tensor<S>) throws -> ForwardTrace<S> {
        var states = batchNormStates
        var unused = RandomGenerator(seed: 0, stream: .dropout)
        let (scores, hiddenCaches, dropoutCaches, outputCache) = try forward(x, mode: .test, states: &states, generator: &unused)
        let last = layerCount - 1
        return ForwardTrace(model: "FullyConnectedNet", layers: inspectableLayers, input: x, activations: { layer in
            guard layer < last else { return scores }
            // Test-mode dropout is the identity, so a hidden layer's output is its ReLU's.
            switch hiddenCaches[layer] {
            case .plain(let cache): return cache.out
            case .normalized(let cache): return cache.relu.x.maximum(0)
            }
        }, backward: { layer, upstream, rule in
            var unusedGradients: [String: Tensor<S>] = [:]
            return try backward(upstream, from: layer, hiddenCaches, dropoutCaches, outputCache, rule: rule,
                                needs: .input, into: &unusedGradients)!
        })
    }
}
