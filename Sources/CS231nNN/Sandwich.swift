/// The normalization a hidden layer of a fully-connected net applies before its ReLU.
public enum Normalization: String, Sendable, CaseIterable, Codable {
    case none, batchnorm, layernorm
}

/// affine → ReLU, with the ReLU fused into the affine's bias pass.
public enum AffineReLU {
    public struct Cache<S: TensorScalar>: Sendable {
        public var affine: Affine.Cache<S>
        /// The ReLU's output: positive exactly where its input was.
        public var out: Tensor<S>

        @inlinable
        public init(affine: Affine.Cache<S>, out: Tensor<S>) { self.affine = affine; self.out = out }
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>) throws
        -> (out: Tensor<S>, cache: Cache<S>) {
        let rows = x.flattenedRows()
        var out = Tensor<S>(uninitializedShape: [rows.shape[0], w.shape.last ?? 0])
        try Affine.forward(rows, w, b, into: &out, relu: true)
        return (out, Cache(affine: Affine.Cache(x: rows, w: w, inputShape: x.shape), out: out))
    }

    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>,
                                   rule: ReLUBackwardRule = .standard) throws
        -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>) {
        try Affine.backward(ReLU.backward(dout, gate: cache.out, rule: rule), cache.affine)
    }
}

/// affine → batch or layer norm → ReLU.
public enum AffineNormReLU {
    public enum NormCache<S: TensorScalar>: Sendable {
        case batch(BatchNorm.Cache<S>)
        case layer(LayerNorm.Cache<S>)
    }

    public typealias Cache<S: TensorScalar> = NormReLUCache<S, Affine.Cache<S>, NormCache<S>>

    /// `state` holds the running statistics for batchnorm and is left alone for layernorm.
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>,
                                  gamma: Tensor<S>, beta: Tensor<S>, normalization: Normalization,
                                  state: inout BatchNormState<S>, mode: Mode) throws
        -> (out: Tensor<S>, cache: Cache<S>) {
        let (a, affineCache) = try Affine.forward(x, w, b)
        let normalized: Tensor<S>, normCache: NormCache<S>
        switch normalization {
        case .batchnorm:
            let (out, cache) = try BatchNorm.forward(a, gamma: gamma, beta: beta, state: &state, mode: mode)
            (normalized, normCache) = (out, .batch(cache))
        case .layernorm:
            let (out, cache) = try LayerNorm.forward(a, gamma: gamma, beta: beta, epsilon: state.epsilon)
            (normalized, normCache) = (out, .layer(cache))
        case .none:
            throw TensorError.invalidArgument(operation: "AffineNormReLU.forward",
                                              detail: "needs batchnorm or layernorm (use AffineReLU for none)")
        }
        let (out, reluCache) = ReLU.forward(normalized)
        return (out, Cache(linear: affineCache, norm: normCache, relu: reluCache))
    }

    /// dx, dW, db, dγ, dβ. Batch norm backpropagates with the simplified ("alt") form.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>,
                                   rule: ReLUBackwardRule = .standard) throws
        -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>, dgamma: Tensor<S>, dbeta: Tensor<S>) {
        let dnormalized = try ReLU.backward(dout, cache.relu, rule: rule)
        let (da, dgamma, dbeta) = try normBackward(dnormalized, cache.norm)
        let (dx, dw, db) = try Affine.backward(da, cache.linear)
        return (dx, dw, db, dgamma, dbeta)
    }

    @inlinable
    static func normBackward<S>(_ dout: Tensor<S>, _ cache: NormCache<S>) throws
        -> (Tensor<S>, Tensor<S>, Tensor<S>) {
        switch cache {
        case .batch(let c): return try BatchNorm.backwardAlt(dout, c)
        case .layer(let c): return try LayerNorm.backward(dout, c)
        }
    }
}

/// The caches of a linear layer (affine or convolution) → normalization → ReLU block: one type
/// for `AffineNormReLU` and `ConvNormReLU`, which differ only in the layer and the norms.
public struct NormReLUCache<S: TensorScalar, Linear: Sendable, Norm: Sendable>: Sendable {
    /// The affine's or the convolution's cache.
    public var linear: Linear
    public var norm: Norm
    public var relu: ReLU.Cache<S>

    @inlinable
    public init(linear: Linear, norm: Norm, relu: ReLU.Cache<S>) {
        self.linear = linear; self.norm = norm; self.relu = relu
    }
}
