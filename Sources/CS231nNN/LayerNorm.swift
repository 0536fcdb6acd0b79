/// Layer normalization (Ba et al. 2016): each example is normalized over its own features,
/// out = γ · (x − μᵢ) / √(σᵢ² + ε) + β. Training and testing are the same computation.
public enum LayerNorm {
    public struct Cache<S: TensorScalar>: Sendable {
        /// The normalized input x̂ (N, D).
        public var normalized: Tensor<S>
        /// 1 / √(σᵢ² + ε) per example (N, 1).
        public var inverseStd: Tensor<S>
        public var gamma: Tensor<S>

        @inlinable
        public init(normalized: Tensor<S>, inverseStd: Tensor<S>, gamma: Tensor<S>) {
            self.normalized = normalized; self.inverseStd = inverseStd; self.gamma = gamma
        }
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>, gamma: Tensor<S>, beta: Tensor<S>,
                                  epsilon: S = 1e-5) throws -> (out: Tensor<S>, cache: Cache<S>) {
        try checkNormInputs(x, gamma: gamma, beta: beta, operation: "LayerNorm.forward")
        let centred = try x - x.mean(axis: 1, keepDims: true)
        let variance = try centred.pow(2).mean(axis: 1, keepDims: true)
        let inverseStd = 1 / (variance + epsilon).sqrt()
        let normalized = try centred * inverseStd
        let out = try normalized * gamma + beta
        return (out, Cache(normalized: normalized, inverseStd: inverseStd, gamma: gamma))
    }

    /// The batch-norm gradient with the roles of the axes swapped: statistics were per row, so
    /// the sums run along each row; γ and β were per feature, so theirs run down the batch.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws
        -> (dx: Tensor<S>, dgamma: Tensor<S>, dbeta: Tensor<S>) {
        guard dout.shape == cache.normalized.shape else {
            throw TensorError.shapeMismatch(operation: "LayerNorm.backward",
                detail: "upstream gradient \(describeShape(dout.shape)) for input \(describeShape(cache.normalized.shape))")
        }
        let features = S(dout.shape[1])
        let dgamma = try (dout * cache.normalized).sum(axis: 0)
        let dbeta = try dout.sum(axis: 0)
        let dnormalized = try dout * cache.gamma
        let sumD = try dnormalized.sum(axis: 1, keepDims: true)
        let sumDX = try (dnormalized * cache.normalized).sum(axis: 1, keepDims: true)
        let inner = try dnormalized * features - sumD - cache.normalized * sumDX
        return (try inner * (cache.inverseStd / features), dgamma, dbeta)
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
