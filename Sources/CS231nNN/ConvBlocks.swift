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
        case batch(BatchNorm.Cache<S>)
        case group(SpatialGroupNorm.Cache<S>)
    }

    public typealias Cache<S: TensorScalar> = NormReLUCache<S, Conv2D.Cache<S>, NormCache<S>>

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
            let (out, cache) = try BatchNorm.forward(a, gamma: gamma, beta: beta, state: &state, mode: mode,
                                                     layer: layer + " batchnorm")
            (normalized, normCache) = (out, .batch(cache))
        case .group(let groups):
            let (out, cache) = try SpatialGroupNorm.forward(a, gamma: gamma, beta: beta, groups: groups,
                                                            epsilon: state.epsilon, layer: layer + " groupnorm")
            (normalized, normCache) = (out, .group(cache))
        }
        let (out, reluCache) = ReLU.forward(normalized)
        return (out, Cache(linear: convCache, norm: normCache, relu: reluCache))
    }

    /// dx, dw, db, dγ, dβ.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>, rule: ReLUBackwardRule = .standard) throws
        -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>, dgamma: Tensor<S>, dbeta: Tensor<S>) {
        let dnormalized = try ReLU.backward(dout, cache.relu, rule: rule)
        let (da, dgamma, dbeta): (Tensor<S>, Tensor<S>, Tensor<S>)
        switch cache.norm {
        case .batch(let c): (da, dgamma, dbeta) = try BatchNorm.backward(dnormalized, c)
        case .group(let c): (da, dgamma, dbeta) = try SpatialGroupNorm.backward(dnormalized, c)
        }
        let (dx, dw, db) = try Conv2D.backward(da, cache.linear)
        return (dx, dw, db, dgamma, dbeta)
    }
}
