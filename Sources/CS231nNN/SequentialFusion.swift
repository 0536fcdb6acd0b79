/// The cache a fused pair of layers leaves at its second layer: the cache of the whole pair,
/// which the first layer's backward takes through both in one pass.
struct FusedPairCache: Sendable {
    let pair: any Sendable
}

/// What a fused pair leaves at its first layer: that layer's own output and cache, made only
/// when asked for (by inspection), as each costs a pass over the activations.
struct FusedFirstLayer<S: TensorScalar>: Sendable {
    let output: @Sendable () throws -> Tensor<S>
    let cache: @Sendable () throws -> any Sendable
}

extension Sequential {
    /// Layers `index` and `index + 1` as one kernel, when they are a convolution with an
    /// activation and the max pool after it: the pool runs as `Conv2D`'s epilogue, reading the
    /// activations in the convolution's own pass, and on the way back the activation's gate
    /// rides on the pool's. Both layers' caches and the pair's output, or nil when the pair does
    /// not fuse.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func fusedForward(_ x: Tensor<S>, at index: Int) throws -> (out: Tensor<S>, first: FusedFirstLayer<S>, second: FusedPairCache)? {
        guard index + 1 < entries.count, let conv = entries[index].layer as? Conv2DLayer<S>, conv.activation != .none,
              let pool = entries[index + 1].layer as? MaxPool2DLayer<S> else { return nil }
        let cache = try conv.forward(x, pooledBy: pool)
        let first = FusedFirstLayer<S>(output: {
            guard let activations = try cache.activations(in: .nchw) else {
                throw TensorError.invalidArgument(operation: "Sequential", detail: "the fused convolution kept no activations")
            }
            return activations
        }, cache: { try cache.beforePool() })
        return (cache.out, first, FusedPairCache(pair: cache))
    }
}
