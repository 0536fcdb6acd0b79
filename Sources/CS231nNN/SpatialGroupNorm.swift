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
        GroupNormKernels.blockStatistics(x, blocks: n * groups, size: blockSize, mean: &mean, variance: &variance)
        let inverseStd = 1 / (variance + epsilon).sqrt()
        var out = Tensor<S>(uninitializedShape: x.shape), normalized = Tensor<S>(uninitializedShape: x.shape)
        GroupNormKernels.normalize(x, mean: mean, inverseStd: inverseStd, gamma: gamma, beta: beta, channels: channels,
                                   groups: groups, batch: n, plane: plane, normalized: &normalized, out: &out)
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
                                            let sumD = RowKernels.sum(d.base + offset, count: plane)
                                            let sumDX = GroupNormKernels.dot(d.base + offset, xhat.base + offset, count: plane)
                                            sums.base[i * channels + c] = sumD
                                            sums.base[(n + i) * channels + c] = sumDX
                                            sumDhat += gam.base[c] * sumD
                                            sumDhatX += gam.base[c] * sumDX
                                        }
                                        let ivarBlock = inv.base[block]
                                        for c in group * perGroup..<(group + 1) * perGroup {
                                            let offset = (i * channels + c) * plane
                                            let a = ivarBlock * gam.base[c]
                                            GroupNormKernels.affineCombination(d.base + offset, a, xhat.base + offset,
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
