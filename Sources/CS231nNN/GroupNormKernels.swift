/// The per-plane loops of the spatial normalizations.
@usableFromInline
enum SpatialNormKernels {
    /// Mean and population variance of each channel c over the planes (i·channels + c) for i
    /// in 0..<batch, in two passes, summing the planes in Double and in order.
    @inlinable
    static func channelStatistics<S: TensorScalar>(_ x: Tensor<S>, channels: Int, batch: Int, plane: Int,
                                                   mean: inout Tensor<S>, variance: inout Tensor<S>) {
        let count = Double(batch * plane)
        x.withUnsafeBufferPointer { xb in
            mean.withUnsafeMutableBufferPointer { mb in
                variance.withUnsafeMutableBufferPointer { vb in
                    let input = SendableConstPointer(xb.baseAddress!)
                    let means = SendablePointer(mb.baseAddress!), variances = SendablePointer(vb.baseAddress!)
                    Parallel.forEachChunk(channels, minimumChunk: Swift.max(1, 16_384 / Swift.max(1, batch * plane))) { range in
                        for c in range {
                            var sum = 0.0
                            for i in 0..<batch { sum += Double(ConvKernels.sum(input.base + (i * channels + c) * plane, count: plane)) }
                            let mu = S(sum / count)
                            var squares = 0.0
                            for i in 0..<batch {
                                squares += Double(ConvKernels.squaredDeviationSum(input.base + (i * channels + c) * plane,
                                                                                  from: mu, count: plane))
                            }
                            means.base[c] = mu
                            variances.base[c] = S(squares / count)
                        }
                    }
                }
            }
        }
    }

    /// x̂ = (x − μ)·ivar and out = γ·x̂ + β for every plane of (N, C, H, W), with the statistics
    /// of plane (i, c) at index `i·groups + c / (C / groups)` — per channel for batch norm
    /// (`perExample` false: index c), per example and group for group norm.
    @inlinable
    static func normalize<S: TensorScalar>(_ x: Tensor<S>, mean: Tensor<S>, inverseStd: Tensor<S>, gamma: Tensor<S>,
                                           beta: Tensor<S>, channels: Int, groups: Int, perExample: Bool, batch: Int,
                                           plane: Int, normalized: inout Tensor<S>, out: inout Tensor<S>) {
        let perGroup = channels / groups
        x.withUnsafeBufferPointer { xb in
            mean.withUnsafeBufferPointer { mb in
                inverseStd.withUnsafeBufferPointer { ib in
                    gamma.withUnsafeBufferPointer { gb in
                        beta.withUnsafeBufferPointer { bb in
                            normalized.withUnsafeMutableBufferPointer { nb in
                                out.withUnsafeMutableBufferPointer { ob in
                                    let input = SendableConstPointer(xb.baseAddress!), means = SendableConstPointer(mb.baseAddress!)
                                    let inv = SendableConstPointer(ib.baseAddress!), gam = SendableConstPointer(gb.baseAddress!)
                                    let bet = SendableConstPointer(bb.baseAddress!)
                                    let xhat = SendablePointer(nb.baseAddress!), output = SendablePointer(ob.baseAddress!)
                                    Parallel.forEachChunk(batch * channels, minimumChunk: Swift.max(1, 16_384 / plane)) { planes in
                                        for p in planes {
                                            let (i, c) = p.quotientAndRemainder(dividingBy: channels)
                                            let statistic = perExample ? i * groups + c / perGroup : c
                                            let offset = p * plane
                                            ConvKernels.normalize(input.base + offset, mean: means.base[statistic],
                                                                  inverseStd: inv.base[statistic], gamma: gam.base[c], beta: bet.base[c],
                                                                  normalized: xhat.base + offset, out: output.base + offset, count: plane)
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
}

extension ConvKernels {
    /// Σ a[i]·b[i].
    @inlinable
    static func dot<S: TensorScalar>(_ a: UnsafePointer<S>, _ b: UnsafePointer<S>, count: Int) -> S {
        var accumulator = SIMD8<S>.zero
        var i = 0
        while i + 8 <= count {
            accumulator.addProduct(load(a + i), load(b + i))
            i += 8
        }
        var total = accumulator.sum()
        while i < count { total += a[i] * b[i]; i += 1 }
        return total
    }

    /// Σ (values[i] − mean)².
    @inlinable
    static func squaredDeviationSum<S: TensorScalar>(_ values: UnsafePointer<S>, from mean: S, count: Int) -> S {
        var accumulator = SIMD8<S>.zero
        let center = SIMD8<S>(repeating: mean)
        var i = 0
        while i + 8 <= count {
            let d = load(values + i) - center
            accumulator.addProduct(d, d)
            i += 8
        }
        var total = accumulator.sum()
        while i < count { total += (values[i] - mean) * (values[i] - mean); i += 1 }
        return total
    }

    /// x̂ = (x − μ)·ivar (centred first, so a large mean cancels exactly) and out = γ·x̂ + β.
    @inlinable
    static func normalize<S: TensorScalar>(_ x: UnsafePointer<S>, mean: S, inverseStd: S, gamma: S, beta: S,
                                           normalized: UnsafeMutablePointer<S>, out: UnsafeMutablePointer<S>, count: Int) {
        let (mu, ivar) = (SIMD8<S>(repeating: mean), SIMD8<S>(repeating: inverseStd))
        let (g, b) = (SIMD8<S>(repeating: gamma), SIMD8<S>(repeating: beta))
        var i = 0
        while i + 8 <= count {
            let xhat = (load(x + i) - mu) * ivar
            store(xhat, normalized + i)
            store(b.addingProduct(g, xhat), out + i)
            i += 8
        }
        while i < count {
            normalized[i] = (x[i] - mean) * inverseStd
            out[i] = gamma * normalized[i] + beta
            i += 1
        }
    }

    /// out[i] = a·x[i] + b·y[i] + c.
    @inlinable
    static func affineCombination<S: TensorScalar>(_ x: UnsafePointer<S>, _ a: S, _ y: UnsafePointer<S>, _ b: S, _ c: S,
                                                   into out: UnsafeMutablePointer<S>, count: Int) {
        let (va, vb, vc) = (SIMD8<S>(repeating: a), SIMD8<S>(repeating: b), SIMD8<S>(repeating: c))
        var i = 0
        while i + 8 <= count {
            store(vc.addingProduct(va, load(x + i)).addingProduct(vb, load(y + i)), out + i)
            i += 8
        }
        while i < count { out[i] = a * x[i] + b * y[i] + c; i += 1 }
    }
}
