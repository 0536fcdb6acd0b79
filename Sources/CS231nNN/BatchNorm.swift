/// The running statistics batch normalization keeps for test time, with its hyper-parameters
/// (CS231n's `bn_param`). Running mean and variance start at zero, as in the course.
public struct BatchNormState<S: TensorScalar>: Sendable {
    public var runningMean: Tensor<S>
    public var runningVariance: Tensor<S>
    /// running = momentum · running + (1 − momentum) · batch statistic.
    public var momentum: S
    public var epsilon: S
    /// Whether the running variance folds in the batch's unbiased variance (PyTorch) rather
    /// than the biased one it normalizes with (the course).
    public var unbiasedRunningVariance: Bool
    /// Synchronized batch norm when set: training uses the statistics of the replicas' global
    /// batch, its per-channel sums (and, backward, their gradients' sums) added over the replicas.
    public var replicas: (any ReplicaGroup)?

    public init(features: Int, momentum: S = 0.9, epsilon: S = 1e-5, unbiasedRunningVariance: Bool = false) {
        runningMean = .zeros([features])
        runningVariance = .zeros([features])
        self.momentum = momentum
        self.epsilon = epsilon
        self.unbiasedRunningVariance = unbiasedRunningVariance
    }
}

/// Batch normalization (Ioffe & Szegedy 2015): out = γ · (x − μ) / √(σ² + ε) + β per feature,
/// with μ, σ² of the batch when training and the running estimates when testing; then an
/// optional activation as an epilogue (γ may be absent: frozen at 1, as airbench's BN–GELU).
///
/// The features are the last axis of (N, D) inputs and the channels of image batches, whose
/// every position counts as a row: spatial batch normalization, which the course computes by
/// reshaping NCHW to (N·H·W, C) and calling batch norm, as this does (channels-last batches
/// need no reshape). The input's shape picks the kernel:
///
/// | input                    | kernel                                                        |
/// |--------------------------|---------------------------------------------------------------|
/// | (N, D)                   | the course's graph in tensor ops; `backward` node by node     |
/// | (N, C, H, W) or NHWC     | per-channel sums in Double over a fixed number of row blocks, |
/// |                          | the simplified gradient; Float and Double alike               |
public enum BatchNorm {
    /// What the backward pass reads.
    public struct Cache<S: TensorScalar>: Sendable {
        public var mode: Mode
        /// x̂ as rows of features (M, D).
        public var normalized: Tensor<S>
        /// 1 / √(σ² + ε) (D).
        public var inverseStd: Tensor<S>
        /// γ, or nil when frozen at 1.
        public var gamma: Tensor<S>?
        /// The course's graph only: x − μ (N, D) and the variance used (D).
        public var centred: Tensor<S>?, variance: Tensor<S>?
        public var epsilon: S
        public var activation: Activation
        /// The ReLU's input, γ·x̂ + β, whose sign gates its gradient.
        public var preactivation: Tensor<S>?
        /// The GELU's derivative at its input, computed with the forward.
        public var gelu: GELU.Cache<S>?
        /// The input's shape, and its layout when it is a batch of images.
        public var inputShape: [Int]
        public var layout: ImageLayout?
        public var layer: String
        /// Synchronized batch norm only: the replicas whose global batch gave the statistics,
        /// and that batch's row count.
        public var replicas: (any ReplicaGroup)?
        public var statisticsRows: Double?

        @inlinable
        init(mode: Mode, normalized: Tensor<S>, inverseStd: Tensor<S>, centred: Tensor<S>? = nil, variance: Tensor<S>? = nil,
             epsilon: S, inputShape: [Int]) {
            self.mode = mode; self.normalized = normalized; self.inverseStd = inverseStd; self.centred = centred
            self.variance = variance; self.epsilon = epsilon; self.inputShape = inputShape
            activation = .none; layer = ""
        }
    }

    /// The course's `batchnorm_forward` for (N, D) inputs and, with `layout`, spatial batch
    /// norm for image batches; `state` holds the running statistics.
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, gamma: Tensor<S>?, beta: Tensor<S>, state: inout BatchNormState<S>,
                                  mode: Mode, layout: ImageLayout = .nchw, activation: Activation = .none,
                                  layer: String = "BatchNorm") throws -> (out: Tensor<S>, cache: Cache<S>) {
        let spatial = x.rank == 4
        guard x.rank == 2 || spatial, x.count > 0 else {
            throw TensorError.invalidArgument(operation: layer,
                detail: "input must be a non-empty (N×D) matrix or batch of images, got \(describeShape(x.shape))")
        }
        let rows = spatial ? try layout.convert(x, to: .nhwc) : x
        let features = rows.shape.last!
        guard (gamma?.shape ?? [features]) == [features], beta.shape == [features] else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "input \(describeShape(x.shape)) with gamma \(gamma.map { describeShape($0.shape) } ?? "(frozen)") and beta \(describeShape(beta.shape))")
        }
        guard state.runningMean.shape == [features], state.runningVariance.shape == [features] else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "running statistics \(describeShape(state.runningMean.shape)) for \(features) features")
        }
        var (z, cache) = spatial ? try forwardChannels(rows, gamma: gamma, beta: beta, state: &state, mode: mode,
                                                       activation: activation)
                                 : try forwardGraph(rows, gamma: gamma ?? .ones([features]), beta: beta, state: &state, mode: mode)
        (cache.gamma, cache.activation, cache.inputShape, cache.layer) = (gamma, activation, x.shape, layer)
        cache.layout = spatial ? layout : nil
        // The channels-last pass applies a GELU itself, row by row.
        if activation == .gelu && !spatial { (z, cache.gelu) = GELU.forward(z) }
        if activation == .relu { (z, cache.preactivation) = (z.maximum(0), z) }
        return (spatial ? try ImageLayout.nhwc.convert(z, to: layout) : z, cache)
    }

    /// dx, dγ and dβ: for (N, D) inputs backpropagation through the forward graph node by node,
    /// as drawn in the course; the simplified gradient otherwise.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> (dx: Tensor<S>, dgamma: Tensor<S>, dbeta: Tensor<S>) {
        let (dx, dgamma, dbeta) = try backward(dout, cache, needs: .all, simplified: false)
        return (dx!, dgamma!, dbeta!)
    }

    /// The same gradient simplified on paper: dx = (γ·ivar / N) · (N·dy − Σ dy − x̂ · Σ dy·x̂).
    @inlinable
    public static func backwardAlt<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> (dx: Tensor<S>, dgamma: Tensor<S>, dbeta: Tensor<S>) {
        let (dx, dgamma, dbeta) = try backward(dout, cache, needs: .all, simplified: true)
        return (dx!, dgamma!, dbeta!)
    }

    /// The gradients `needs` asks for (dγ is the gradient of a γ at 1 when γ is frozen), by the
    /// simplified form.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>, needs: GradientNeeds) throws
        -> (dx: Tensor<S>?, dgamma: Tensor<S>?, dbeta: Tensor<S>?) {
        try backward(dout, cache, needs: needs, simplified: true)
    }

    @inlinable
    static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>, needs: GradientNeeds, simplified: Bool) throws
        -> (dx: Tensor<S>?, dgamma: Tensor<S>?, dbeta: Tensor<S>?) {
        guard dout.shape == cache.inputShape else {
            throw TensorError.shapeMismatch(operation: cache.layer,
                detail: "upstream gradient \(describeShape(dout.shape)) for input \(describeShape(cache.inputShape))")
        }
        var d = try cache.layout.map { try $0.convert(dout, to: .nhwc) } ?? dout
        switch cache.activation {
        case .none: break
        case .relu: d = try ReLU.backward(d, gate: cache.preactivation!)
        case .gelu where cache.layout == nil: d = try GELU.backward(d, cache.gelu!, layer: cache.layer)
        case .gelu: break  // the channels-last pass applies it while it sums
        }
        guard let layout = cache.layout else {
            let (dx, dgamma, dbeta) = simplified ? try backwardGraphSimplified(d, cache) : try backwardGraph(d, cache)
            return (needs.contains(.input) ? dx : nil, needs.contains(.weights) ? dgamma : nil, needs.contains(.biases) ? dbeta : nil)
        }
        let (dgamma, dbeta) = try backwardChannels(&d, cache, needs: needs)
        return (needs.contains(.input) ? try ImageLayout.nhwc.convert(d, to: layout) : nil, dgamma, dbeta)
    }

    // MARK: - The course's graph, (N, D)

    @inlinable
    static func forwardGraph<S>(_ x: Tensor<S>, gamma: Tensor<S>, beta: Tensor<S>, state: inout BatchNormState<S>,
                                mode: Mode) throws -> (out: Tensor<S>, cache: Cache<S>) {
        let mean: Tensor<S>, variance: Tensor<S>
        switch mode {
        case .train:
            mean = try x.mean(axis: 0)
            variance = try x.variance(axis: 0)
            let folded = state.unbiasedRunningVariance ? variance * (S(x.shape[0]) / S(Swift.max(1, x.shape[0] - 1))) : variance
            state.runningMean = try state.runningMean * state.momentum + mean * (1 - state.momentum)
            state.runningVariance = try state.runningVariance * state.momentum + folded * (1 - state.momentum)
        case .test:
            mean = state.runningMean
            variance = state.runningVariance
        }
        let centred = try x - mean
        let inverseStd = 1 / (variance + state.epsilon).sqrt()
        let normalized = try centred * inverseStd
        let out = try normalized * gamma + beta
        return (out, Cache(mode: mode, normalized: normalized, inverseStd: inverseStd, centred: centred, variance: variance,
                           epsilon: state.epsilon, inputShape: x.shape))
    }

    @inlinable
    static func backwardGraph<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> (Tensor<S>, Tensor<S>, Tensor<S>) {
        let (dgamma, dbeta, dnormalized) = try affineGradients(dout, cache)
        if cache.mode == .test { return (try dnormalized * cache.inverseStd, dgamma, dbeta) }
        let n = S(dout.shape[0]), centred = cache.centred!
        // x̂ = (x − μ) · ivar
        let dinverseStd = try (dnormalized * centred).sum(axis: 0)
        let dcentred1 = try dnormalized * cache.inverseStd
        // ivar = 1 / sqrtvar, sqrtvar = √(σ² + ε)
        let sqrtVariance = (cache.variance! + cache.epsilon).sqrt()
        let dsqrtVariance = try -dinverseStd / (sqrtVariance * sqrtVariance)
        let dvariance = try dsqrtVariance * 0.5 / sqrtVariance
        // σ² = mean((x − μ)²)
        let dsquares = dvariance / n
        let dcentred2 = try centred * 2 * dsquares
        let dcentred = try dcentred1 + dcentred2
        // x − μ, μ = mean(x)
        let dmean = try -dcentred.sum(axis: 0)
        let dx = try dcentred + dmean / n
        return (dx, dgamma, dbeta)
    }

    @inlinable
    static func backwardGraphSimplified<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> (Tensor<S>, Tensor<S>, Tensor<S>) {
        let (dgamma, dbeta, dnormalized) = try affineGradients(dout, cache)
        if cache.mode == .test { return (try dnormalized * cache.inverseStd, dgamma, dbeta) }
        let n = S(dout.shape[0])
        let sumD = try dnormalized.sum(axis: 0)
        let sumDX = try (dnormalized * cache.normalized).sum(axis: 0)
        let inner = try dnormalized * n - sumD - cache.normalized * sumDX
        return (try inner * (cache.inverseStd / n), dgamma, dbeta)
    }

    /// dγ = Σ dout·x̂, dβ = Σ dout and dx̂ = dout·γ: the last step of the forward, shared by both
    /// backward forms.
    @inlinable
    static func affineGradients<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> (Tensor<S>, Tensor<S>, Tensor<S>) {
        let dnormalized = try cache.gamma.map { try dout * $0 } ?? dout
        return (try (dout * cache.normalized).sum(axis: 0), try dout.sum(axis: 0), dnormalized)
    }
}
