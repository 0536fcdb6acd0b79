/// The running statistics batch normalization keeps for test time, with its hyper-parameters
/// (CS231n's `bn_param`). Running mean and variance start at zero, as in the course.
public struct BatchNormState<S: TensorScalar>: Sendable {
    public var runningMean: Tensor<S>
    public var runningVariance: Tensor<S>
    /// running = momentum · running + (1 − momentum) · batch statistic.
    public var momentum: S
    public var epsilon: S
    /// Synchronized batch norm when set: training uses the statistics of the replicas' global
    /// batch, its per-channel sums (and, backward, their gradients' sums) added over the replicas.
    public var replicas: (any ReplicaGroup)?

    public init(features: Int, momentum: S = 0.9, epsilon: S = 1e-5) {
        runningMean = .zeros([features])
        runningVariance = .zeros([features])
        self.momentum = momentum
        self.epsilon = epsilon
    }
}

/// Batch normalization over the batch axis of (N, D) inputs (Ioffe & Szegedy 2015):
/// out = γ · (x − μ) / √(σ² + ε) + β, with μ, σ² of the batch when training and the running
/// estimates when testing.
public enum BatchNorm {
    /// The nodes of the forward graph that the backward passes read.
    public struct Cache<S: TensorScalar>: Sendable {
        public var mode: Mode
        /// x − μ (N, D).
        public var centred: Tensor<S>
        /// The normalized input x̂ (N, D).
        public var normalized: Tensor<S>
        /// The variance used (batch or running) (D).
        public var variance: Tensor<S>
        /// 1 / √(σ² + ε) (D).
        public var inverseStd: Tensor<S>
        public var gamma: Tensor<S>
        public var epsilon: S

        @inlinable
        public init(mode: Mode, centred: Tensor<S>, normalized: Tensor<S>, variance: Tensor<S>,
                    inverseStd: Tensor<S>, gamma: Tensor<S>, epsilon: S) {
            self.mode = mode; self.centred = centred; self.normalized = normalized; self.variance = variance
            self.inverseStd = inverseStd; self.gamma = gamma; self.epsilon = epsilon
        }
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>, gamma: Tensor<S>, beta: Tensor<S>,
                                  state: inout BatchNormState<S>, mode: Mode) throws
        -> (out: Tensor<S>, cache: Cache<S>) {
        try checkNormInputs(x, gamma: gamma, beta: beta, operation: "BatchNorm.forward")
        let mean: Tensor<S>, variance: Tensor<S>
        switch mode {
        case .train:
            mean = try x.mean(axis: 0)
            variance = try x.variance(axis: 0)
            state.runningMean = try state.runningMean * state.momentum + mean * (1 - state.momentum)
            state.runningVariance = try state.runningVariance * state.momentum + variance * (1 - state.momentum)
        case .test:
            mean = state.runningMean
            variance = state.runningVariance
        }
        let centred = try x - mean
        let inverseStd = 1 / (variance + state.epsilon).sqrt()
        let normalized = try centred * inverseStd
        let out = try normalized * gamma + beta
        return (out, Cache(mode: mode, centred: centred, normalized: normalized, variance: variance,
                           inverseStd: inverseStd, gamma: gamma, epsilon: state.epsilon))
    }

    /// Backpropagation through the forward graph node by node, as drawn in the course.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws
        -> (dx: Tensor<S>, dgamma: Tensor<S>, dbeta: Tensor<S>) {
        let (dgamma, dbeta, dnormalized) = try affineGradients(dout, cache, operation: "BatchNorm.backward")
        if cache.mode == .test { return (try dnormalized * cache.inverseStd, dgamma, dbeta) }
        let n = S(dout.shape[0])
        // x̂ = (x − μ) · ivar
        let dinverseStd = try (dnormalized * cache.centred).sum(axis: 0)
        let dcentred1 = try dnormalized * cache.inverseStd
        // ivar = 1 / sqrtvar, sqrtvar = √(σ² + ε)
        let sqrtVariance = (cache.variance + cache.epsilon).sqrt()
        let dsqrtVariance = try -dinverseStd / (sqrtVariance * sqrtVariance)
        let dvariance = try dsqrtVariance * 0.5 / sqrtVariance
        // σ² = mean((x − μ)²)
        let dsquares = dvariance / n
        let dcentred2 = try cache.centred * 2 * dsquares
        let dcentred = try dcentred1 + dcentred2
        // x − μ, μ = mean(x)
        let dmean = try -dcentred.sum(axis: 0)
        let dx = try dcentred + dmean / n
        return (dx, dgamma, dbeta)
    }

    /// The same gradient simplified on paper:
    /// dx = (ivar / N) · (N·dx̂ − Σ dx̂ − x̂ · Σ dx̂·x̂).
    @inlinable
    public static func backwardAlt<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws
        -> (dx: Tensor<S>, dgamma: Tensor<S>, dbeta: Tensor<S>) {
        let (dgamma, dbeta, dnormalized) = try affineGradients(dout, cache, operation: "BatchNorm.backwardAlt")
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
    static func affineGradients<S>(_ dout: Tensor<S>, _ cache: Cache<S>, operation: String) throws
        -> (Tensor<S>, Tensor<S>, Tensor<S>) {
        guard dout.shape == cache.normalized.shape else {
            throw TensorError.shapeMismatch(operation: operation,
                detail: "upstream gradient \(describeShape(dout.shape)) for input \(describeShape(cache.normalized.shape))")
        }
        return (try (dout * cache.normalized).sum(axis: 0), try dout.sum(axis: 0), try dout * cache.gamma)
    }
}

/// Checks x is (N, D) with N > 0 and γ, β are (D).
@inlinable
func checkNormInputs<S>(_ x: Tensor<S>, gamma: Tensor<S>, beta: Tensor<S>, operation: String) throws {
    guard x.rank == 2, x.shape[0] > 0 else {
        throw TensorError.invalidArgument(operation: operation,
                                          detail: "input must be a non-empty (N×D) matrix, got \(describeShape(x.shape))")
    }
    guard gamma.shape == [x.shape[1]], beta.shape == [x.shape[1]] else {
        throw TensorError.shapeMismatch(operation: operation,
            detail: "input \(describeShape(x.shape)) with gamma \(describeShape(gamma.shape)) and beta \(describeShape(beta.shape))")
    }
}
