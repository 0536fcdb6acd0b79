/// Spatial batch normalization: batch norm with one mean and variance per channel, taken over
/// the batch and every position, N·H·W values each (CS231n's `spatial_batchnorm_*`, which
/// reshapes NCHW to (N·H·W, C) and calls batch norm). Here each channel's planes are walked in
/// place, in parallel over the channels, instead of transposing the tensor twice.
/// Running statistics live in the same `BatchNormState` as the fully-connected batch norm.
public enum SpatialBatchNorm {
    public struct Cache<S: TensorScalar>: Sendable {
        public var mode: Mode
        /// x̂ (N, C, H, W).
        public var normalized: Tensor<S>
        /// 1 / √(σ² + ε) per channel (C).
        public var inverseStd: Tensor<S>
        public var gamma: Tensor<S>
        public var layer: String

        @inlinable
        public init(mode: Mode, normalized: Tensor<S>, inverseStd: Tensor<S>, gamma: Tensor<S>, layer: String) {
            self.mode = mode; self.normalized = normalized; self.inverseStd = inverseStd; self.gamma = gamma; self.layer = layer
        }
    }

    /// γ, β and the running statistics are (C). Training uses and records the batch's
    /// statistics; testing uses the running ones.
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, gamma: Tensor<S>, beta: Tensor<S>, state: inout BatchNormState<S>,
                                  mode: Mode, layer: String = "SpatialBatchNorm") throws -> (out: Tensor<S>, cache: Cache<S>) {
        let (n, channels, plane) = try checkSpatialNormInputs(x, gamma: gamma, beta: beta, layer: layer)
        guard state.runningMean.shape == [channels], state.runningVariance.shape == [channels] else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "running statistics \(describeShape(state.runningMean.shape)) for \(channels) channels")
        }
        var mean = Tensor<S>(uninitializedShape: [channels]), variance = Tensor<S>(uninitializedShape: [channels])
        if mode == .train {
            SpatialNormKernels.channelStatistics(x, channels: channels, batch: n, plane: plane, mean: &mean, variance: &variance)
            let momentum = state.momentum
            state.runningMean = try state.runningMean * momentum + mean * (1 - momentum)
            state.runningVariance = try state.runningVariance * momentum + variance * (1 - momentum)
        } else {
            (mean, variance) = (state.runningMean, state.runningVariance)
        }
        let inverseStd = 1 / (variance + state.epsilon).sqrt()
        var out = Tensor<S>(uninitializedShape: x.shape), normalized = Tensor<S>(uninitializedShape: x.shape)
        SpatialNormKernels.normalize(x, mean: mean, inverseStd: inverseStd, gamma: gamma, beta: beta, channels: channels,
                                     groups: channels, perExample: false, batch: n, plane: plane,
                                     normalized: &normalized, out: &out)
        return (out, Cache(mode: mode, normalized: normalized, inverseStd: inverseStd, gamma: gamma, layer: layer))
    }

    /// dx = (γ·ivar / M) · (M·dout − Σ dout − x̂ · Σ dout·x̂) per channel, M = N·H·W (the
    /// simplified batch-norm gradient); in test mode the statistics are constants and
    /// dx = dout·γ·ivar.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws
        -> (dx: Tensor<S>, dgamma: Tensor<S>, dbeta: Tensor<S>) {
        guard dout.shape == cache.normalized.shape else {
            throw TensorError.shapeMismatch(operation: cache.layer,
                detail: "upstream gradient \(describeShape(dout.shape)) for input \(describeShape(cache.normalized.shape))")
        }
        let (n, channels, plane) = (dout.shape[0], dout.shape[1], dout.shape[2] * dout.shape[3])
        var dgamma = Tensor<S>(uninitializedShape: [channels]), dbeta = Tensor<S>(uninitializedShape: [channels])
        var dx = Tensor<S>(uninitializedShape: dout.shape)
        let count = S(n * plane), train = cache.mode == .train
        dout.withUnsafeBufferPointer { db in
            cache.normalized.withUnsafeBufferPointer { xb in
                cache.inverseStd.withUnsafeBufferPointer { ivar in
                    cache.gamma.withUnsafeBufferPointer { gb in
                        dgamma.withUnsafeMutableBufferPointer { dgb in
                            dbeta.withUnsafeMutableBufferPointer { dbb in
                                dx.withUnsafeMutableBufferPointer { dxb in
                                    let d = SendableConstPointer(db.baseAddress!), xhat = SendableConstPointer(xb.baseAddress!)
                                    let inv = SendableConstPointer(ivar.baseAddress!), gam = SendableConstPointer(gb.baseAddress!)
                                    let dg = SendablePointer(dgb.baseAddress!), dbe = SendablePointer(dbb.baseAddress!)
                                    let target = SendablePointer(dxb.baseAddress!)
                                    Parallel.forEachChunk(channels) { range in
                                        for c in range {
                                            var sumD = 0.0, sumDX = 0.0
                                            for i in 0..<n {
                                                let offset = (i * channels + c) * plane
                                                sumD += Double(ConvKernels.sum(d.base + offset, count: plane))
                                                sumDX += Double(ConvKernels.dot(d.base + offset, xhat.base + offset, count: plane))
                                            }
                                            dbe.base[c] = S(sumD)
                                            dg.base[c] = S(sumDX)
                                            let scale = gam.base[c] * inv.base[c]
                                            // dx = a·dout + b·x̂ + c0
                                            let (a, b, c0) = train ? (scale, -scale * S(sumDX) / count, -scale * S(sumD) / count)
                                                                   : (scale, 0, 0)
                                            for i in 0..<n {
                                                let offset = (i * channels + c) * plane
                                                ConvKernels.affineCombination(d.base + offset, a, xhat.base + offset, b, c0,
                                                                              into: target.base + offset, count: plane)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dgamma, dbeta)
    }
}

/// Spatial group normalization (Wu & He 2018): the channels are split into G groups and each
/// example is normalized over each group's channels and positions, as layer norm does over a
/// whole example. The same in training and testing; γ and β are per channel (C).
public enum SpatialGroupNorm {
    public struct Cache<S: TensorScalar>: Sendable {
        /// x̂ (N, C, H, W).
        public var normalized: Tensor<S>
        /// 1 / √(σ² + ε) per example and group (N, G).
        public var inverseStd: Tensor<S>
        public var gamma: Tensor<S>
        public var groups: Int
        public var layer: String

        @inlinable
        public init(normalized: Tensor<S>, inverseStd: Tensor<S>, gamma: Tensor<S>, groups: Int, layer: String) {
            self.normalized = normalized; self.inverseStd = inverseStd; self.gamma = gamma
            self.groups = groups; self.layer = layer
        }
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>, gamma: Tensor<S>, beta: Tensor<S>, groups: Int, epsilon: S = 1e-5,
                                  layer: String = "SpatialGroupNorm") throws -> (out: Tensor<S>, cache: Cache<S>) {
        let (n, channels, plane) = try checkSpatialNormInputs(x, gamma: gamma, beta: beta, layer: layer)
        guard groups > 0, channels % groups == 0 else {
            throw TensorError.invalidArgument(operation: layer, detail: "\(channels) channels do not split into \(groups) groups")
        }
        // Each (example, group) is one contiguous block of (C/G)·H·W values.
        let blockSize = channels / groups * plane
        var mean = Tensor<S>(uninitializedShape: [n, groups]), variance = Tensor<S>(uninitializedShape: [n, groups])
        SpatialNormKernels.channelStatistics(x, channels: n * groups, batch: 1, plane: blockSize, mean: &mean, variance: &variance)
        let inverseStd = 1 / (variance + epsilon).sqrt()
        var out = Tensor<S>(uninitializedShape: x.shape), normalized = Tensor<S>(uninitializedShape: x.shape)
        SpatialNormKernels.normalize(x, mean: mean, inverseStd: inverseStd, gamma: gamma, beta: beta, channels: channels,
                                     groups: groups, perExample: true, batch: n, plane: plane,
                                     normalized: &normalized, out: &out)
        return (out, Cache(normalized: normalized, inverseStd: inverseStd, gamma: gamma, groups: groups, layer: layer))
    }

    /// Per (example, group) block of M values: dx = (ivar / M) · (M·dx̂ − Σ dx̂ − x̂ · Σ dx̂·x̂)
    /// with dx̂ = dout·γ; dγ and dβ sum over the batch and positions.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws
        -> (dx: Tensor<S>, dgamma: Tensor<S>, dbeta: Tensor<S>) {
        guard dout.shape == cache.normalized.shape else {
            throw TensorError.shapeMismatch(operation: cache.layer,
                detail: "upstream gradient \(describeShape(dout.shape)) for input \(describeShape(cache.normalized.shape))")
        }
        let (n, channels, plane) = (dout.shape[0], dout.shape[1], dout.shape[2] * dout.shape[3])
        let groups = cache.groups, perGroup = channels / groups
        // Σ dout and Σ dout·x̂ per (example, channel) plane, reduced over the batch in order below.
        var planeSums = Tensor<S>(uninitializedShape: [2, n, channels])
        var dx = Tensor<S>(uninitializedShape: dout.shape)
        let count = S(perGroup * plane)
        dout.withUnsafeBufferPointer { db in
            cache.normalized.withUnsafeBufferPointer { xb in
                cache.inverseStd.withUnsafeBufferPointer { ivar in
                    cache.gamma.withUnsafeBufferPointer { gb in
                        planeSums.withUnsafeMutableBufferPointer { sb in
                            dx.withUnsafeMutableBufferPointer { dxb in
                                let d = SendableConstPointer(db.baseAddress!), xhat = SendableConstPointer(xb.baseAddress!)
                                let inv = SendableConstPointer(ivar.baseAddress!), gam = SendableConstPointer(gb.baseAddress!)
                                let sums = SendablePointer(sb.baseAddress!), target = SendablePointer(dxb.baseAddress!)
                                Parallel.forEachChunk(n * groups) { blocks in
                                    for block in blocks {
                                        let (i, group) = block.quotientAndRemainder(dividingBy: groups)
                                        var sumDhat: S = 0, sumDhatX: S = 0
                                        for c in group * perGroup..<(group + 1) * perGroup {
                                            let offset = (i * channels + c) * plane
                                            let sumD = ConvKernels.sum(d.base + offset, count: plane)
                                            let sumDX = ConvKernels.dot(d.base + offset, xhat.base + offset, count: plane)
                                            sums.base[i * channels + c] = sumD
                                            sums.base[(n + i) * channels + c] = sumDX
                                            sumDhat += gam.base[c] * sumD
                                            sumDhatX += gam.base[c] * sumDX
                                        }
                                        let ivarBlock = inv.base[block]
                                        for c in group * perGroup..<(group + 1) * perGroup {
                                            let offset = (i * channels + c) * plane
                                            let a = ivarBlock * gam.base[c]
                                            ConvKernels.affineCombination(d.base + offset, a, xhat.base + offset,
                                                                          -ivarBlock * sumDhatX / count, -ivarBlock * sumDhat / count,
                                                                          into: target.base + offset, count: plane)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let perChannel = try planeSums.sum(axis: 1)
        return (dx, try perChannel.slice(1..<2).reshaped([channels]), try perChannel.slice(0..<1).reshaped([channels]))
    }
}

/// Checks x is (N, C, H, W) with N·H·W > 0 and γ, β are (C); returns (N, C, H·W).
@inlinable
func checkSpatialNormInputs<S>(_ x: Tensor<S>, gamma: Tensor<S>, beta: Tensor<S>, layer: String) throws -> (Int, Int, Int) {
    guard x.rank == 4, x.count > 0 else {
        throw TensorError.shapeMismatch(operation: layer, detail: "input \(describeShape(x.shape)) is not a non-empty (N×C×H×W)")
    }
    guard gamma.shape == [x.shape[1]], beta.shape == [x.shape[1]] else {
        throw TensorError.shapeMismatch(operation: layer,
            detail: "input \(describeShape(x.shape)) with gamma \(describeShape(gamma.shape)) and beta \(describeShape(beta.shape))")
    }
    return (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
}
