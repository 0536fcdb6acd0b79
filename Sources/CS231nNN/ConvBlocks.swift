/// conv → ReLU → max pool, CS231n's `conv_relu_pool` sandwich, fused: the ReLU is applied in
/// the convolution's epilogue, and its backward rides on the pool's (a window's winner was
/// positive exactly when the pooled value is), so the ReLU costs no pass of its own.
///
/// When the pool windows tile the image (stride = pool size, as 2×2 / 2), the block keeps the
/// activations channels-last, (N, H, W, F): the GEMMs then run in the orientation where the
/// long dimension is the pixels, which is much faster for a first layer's small K = C·KH·KW
/// (see `ConvReLUPoolChannelsLast.swift`), and the pool reads F contiguous channels per pixel.
public enum ConvReLUPool {
    public struct Cache<S: TensorScalar>: Sendable {
        /// The convolution's input, filters and geometry.
        public var conv: Conv2D.Cache<S>
        public var pool: ConvGeometry
        /// The ReLU's output: (N, H, W, F) when `channelsLast`, else (N, F, H, W).
        public var activations: Tensor<S>
        public var channelsLast: Bool
        /// The block's output (N, F, H', W').
        public var out: Tensor<S>

        @inlinable
        public init(conv: Conv2D.Cache<S>, pool: ConvGeometry, activations: Tensor<S>, channelsLast: Bool, out: Tensor<S>) {
            self.conv = conv; self.pool = pool; self.activations = activations
            self.channelsLast = channelsLast; self.out = out
        }

        /// The ReLU's output as (N, F, H, W), e.g. to look at the feature maps.
        public func activationsNCHW() throws -> Tensor<S> {
            channelsLast ? try activations.permuted([0, 3, 1, 2]) : activations
        }
    }

    /// The two geometries of the block, checked when the net is built: the convolution's over
    /// `input` and the pool's over the convolution's output.
    public static func geometry(layer: String = "ConvReLUPool", input: [Int], weights: [Int], stride: Int = 1,
                                padding: Int = 0, poolHeight: Int = 2, poolWidth: Int = 2,
                                poolStride: Int = 2) throws -> (conv: ConvGeometry, pool: ConvGeometry) {
        let conv = try Conv2D.geometry(layer: layer + " conv", input: input, weights: weights, stride: stride, padding: padding)
        let pool = try MaxPool2D.geometry(layer: layer + " pool", input: [weights[0], conv.outputHeight, conv.outputWidth],
                                          poolHeight: poolHeight, poolWidth: poolWidth, stride: poolStride)
        return (conv, pool)
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, stride: Int = 1, padding: Int = 0,
                                  poolHeight: Int = 2, poolWidth: Int = 2, poolStride: Int = 2,
                                  layer: String = "ConvReLUPool") throws -> (out: Tensor<S>, cache: Cache<S>) {
        let (conv, pool) = try geometry(layer: layer, input: x.shape, weights: w.shape, stride: stride, padding: padding,
                                        poolHeight: poolHeight, poolWidth: poolWidth, poolStride: poolStride)
        return try forward(x, w, b, conv: conv, pool: pool)
    }

    /// The forward with geometries built ahead.
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, conv: ConvGeometry,
                                  pool: ConvGeometry) throws -> (out: Tensor<S>, cache: Cache<S>) {
        guard pool.channels == (w.shape.first ?? 0), pool.height == conv.outputHeight, pool.width == conv.outputWidth else {
            throw TensorError.shapeMismatch(operation: pool.layer,
                detail: "pool over \(describeShape(pool.inputShape)) after a convolution to \(conv.outputHeight)×\(conv.outputWidth) with filters \(describeShape(w.shape))")
        }
        if pool.windowsTile { return try forwardChannelsLast(x, w, b, conv: conv, pool: pool) }
        var activations = Tensor<S>(uninitializedShape: [0]), out = Tensor<S>(uninitializedShape: [0])
        try Conv2D.forward(x, w, b, geometry: conv, into: &activations, relu: true)
        try MaxPool2D.forward(activations, geometry: pool, into: &out)
        return (out, Cache(conv: Conv2D.Cache(x: x, w: w, geometry: conv), pool: pool, activations: activations,
                           channelsLast: false, out: out))
    }

    /// dx, dw, db; `rule` is the ReLU's backward rule (guided and deconvnet for visualisations).
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>, rule: ReLUBackwardRule = .standard) throws
        -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>) {
        guard cache.channelsLast else { return try Conv2D.backward(activationGradient(dout, cache, rule: rule), cache.conv) }
        var dx = Tensor<S>(uninitializedShape: cache.conv.x.shape)
        var dw = Tensor<S>(uninitializedShape: [0]), db = Tensor<S>(uninitializedShape: [0])
        try dx.withUnsafeMutableBufferPointer { target in
            try backwardChannelsLast(dout, cache, rule: rule, dx: target.baseAddress, dw: &dw, db: &db, regularization: 0)
        }
        return (dx, dw, db)
    }

    /// dw + regularization·w and db without dx, for the first layer of a net.
    @inlinable
    public static func parameterGradients<S>(_ dout: Tensor<S>, _ cache: Cache<S>, dw: inout Tensor<S>,
                                             db: inout Tensor<S>, regularization: S = 0) throws {
        if cache.channelsLast {
            try backwardChannelsLast(dout, cache, rule: .standard, dx: nil, dw: &dw, db: &db, regularization: regularization)
            return
        }
        try Conv2D.parameterGradients(activationGradient(dout, cache, rule: .standard), cache.conv,
                                      dw: &dw, db: &db, regularization: regularization)
    }

    /// The gradient at the convolution's output (NCHW path): through the pool and the ReLU in
    /// one pass. The guided and deconvnet rules act on the sum of what overlapping windows send
    /// back, so there the two steps run one after the other.
    @inlinable
    static func activationGradient<S>(_ dout: Tensor<S>, _ cache: Cache<S>, rule: ReLUBackwardRule) throws -> Tensor<S> {
        let pool = cache.pool
        let poolCache = MaxPool2D.Cache(x: cache.activations, out: cache.out, geometry: pool)
        var dconv = Tensor<S>(uninitializedShape: [0])
        if rule == .standard || (pool.stride >= pool.kernelHeight && pool.stride >= pool.kernelWidth) {
            try MaxPool2D.backward(dout, poolCache, into: &dconv, relu: rule)
            return dconv
        }
        try MaxPool2D.backward(dout, poolCache, into: &dconv)
        return try ReLU.backward(dconv, gate: cache.activations, rule: rule)
    }
}

/// How a conv block normalizes its activations.
public enum SpatialNormalization: Sendable, Equatable, Hashable {
    /// Spatial batch norm: per channel over the batch and positions.
    case batch
    /// Spatial group norm with this many groups: per example over each group of channels.
    case group(Int)
}

/// conv → spatial batch or group norm → ReLU.
public enum ConvNormReLU {
    public enum NormCache<S: TensorScalar>: Sendable {
        case batch(SpatialBatchNorm.Cache<S>)
        case group(SpatialGroupNorm.Cache<S>)
    }

    public struct Cache<S: TensorScalar>: Sendable {
        public var conv: Conv2D.Cache<S>
        public var norm: NormCache<S>
        public var relu: ReLU.Cache<S>

        @inlinable
        public init(conv: Conv2D.Cache<S>, norm: NormCache<S>, relu: ReLU.Cache<S>) {
            self.conv = conv; self.norm = norm; self.relu = relu
        }
    }

    /// γ and β are (F). `state` holds batch norm's running statistics (and its ε, which group
    /// norm uses too); group norm leaves the running statistics alone.
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, gamma: Tensor<S>, beta: Tensor<S>,
                                  stride: Int = 1, padding: Int = 0, normalization: SpatialNormalization,
                                  state: inout BatchNormState<S>, mode: Mode,
                                  layer: String = "ConvNormReLU") throws -> (out: Tensor<S>, cache: Cache<S>) {
        let (a, convCache) = try Conv2D.forward(x, w, b, stride: stride, padding: padding, layer: layer + " conv")
        let normalized: Tensor<S>, normCache: NormCache<S>
        switch normalization {
        case .batch:
            let (out, cache) = try SpatialBatchNorm.forward(a, gamma: gamma, beta: beta, state: &state, mode: mode,
                                                            layer: layer + " batchnorm")
            (normalized, normCache) = (out, .batch(cache))
        case .group(let groups):
            let (out, cache) = try SpatialGroupNorm.forward(a, gamma: gamma, beta: beta, groups: groups,
                                                            epsilon: state.epsilon, layer: layer + " groupnorm")
            (normalized, normCache) = (out, .group(cache))
        }
        let (out, reluCache) = ReLU.forward(normalized)
        return (out, Cache(conv: convCache, norm: normCache, relu: reluCache))
    }

    /// dx, dw, db, dγ, dβ.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>, rule: ReLUBackwardRule = .standard) throws
        -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>, dgamma: Tensor<S>, dbeta: Tensor<S>) {
        let dnormalized = try ReLU.backward(dout, cache.relu, rule: rule)
        let (da, dgamma, dbeta): (Tensor<S>, Tensor<S>, Tensor<S>)
        switch cache.norm {
        case .batch(let c): (da, dgamma, dbeta) = try SpatialBatchNorm.backward(dnormalized, c)
        case .group(let c): (da, dgamma, dbeta) = try SpatialGroupNorm.backward(dnormalized, c)
        }
        let (dx, dw, db) = try Conv2D.backward(da, cache.conv)
        return (dx, dw, db, dgamma, dbeta)
    }
}
