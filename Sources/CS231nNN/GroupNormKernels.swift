/// The per-plane loops of spatial group normalization.
@usableFromInline
enum GroupNormKernels {
    /// Mean and population variance of each of `blocks` contiguous blocks of `size` values, in
    /// two passes, summed in Double; the blocks in parallel.
    @inlinable
    static func blockStatistics<S: TensorScalar>(_ x: Tensor<S>, blocks: Int, size: Int, mean: inout Tensor<S>,
                                                 variance: inout Tensor<S>) {
        withSendablePointers(writing: &mean, &variance, reading: x) { means, variances, input in
            Parallel.forEachChunk(blocks, minimumChunk: Swift.max(1, 16_384 / Swift.max(1, size))) { range in
                for block in range {
                    let values = input.base + block * size
                    let mu = S(Double(RowKernels.sum(values, count: size)) / Double(size))
                    means.base[block] = mu
                    variances.base[block] = S(Double(squaredDeviationSum(values, from: mu, count: size)) / Double(size))
                }
            }
        }
    }

    /// x̂ = (x − μ)·ivar and out = γ·x̂ + β for every plane of (N, C, H, W), with the statistics
    /// of plane (i, c) at index i·groups + c / (C / groups).
    @inlinable
    static func normalize<S: TensorScalar>(_ x: Tensor<S>, mean: Tensor<S>, inverseStd: Tensor<S>, gamma: Tensor<S>,
                                           beta: Tensor<S>, channels: Int, groups: Int, batch: Int, plane: Int,
                                           normalized: inout Tensor<S>, out: inout Tensor<S>) {
        let perGroup = channels / groups
        withSendablePointers(writing: &normalized, &out,
                             reading: x, mean, inverseStd, gamma, beta) { xhat, output, input, means, inv, gam, bet in
            Parallel.forEachChunk(batch * channels, minimumChunk: Swift.max(1, 16_384 / plane)) { planes in
                for p in planes {
                    let (i, c) = p.quotientAndRemainder(dividingBy: channels)
                    let statistic = i * groups + c / perGroup, offset = p * plane
                    normalize(input.base + offset, mean: means.base[statistic], inverseStd: inv.base[statistic],
                              gamma: gam.base[c], beta: bet.base[c], normalized: xhat.base + offset,
                              out: output.base + offset, count: plane)
                }
            }
        }
    }

    /// Σ a[i]·b[i].
    @inlinable
    static func dot<S: TensorScalar>(_ a: UnsafePointer<S>, _ b: UnsafePointer<S>, count: Int) -> S {
        var accumulator = SIMD8<S>.zero
        var i = 0
        while i + 8 <= count {
            accumulator.addProduct(SIMD8(loading: a + i), SIMD8(loading: b + i))
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
            let d = SIMD8<S>(loading: values + i) - center
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
            let xhat = (SIMD8<S>(loading: x + i) - mu) * ivar
            xhat.store(to: normalized + i)
            b.addingProduct(g, xhat).store(to: out + i)
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
            vc.addingProduct(va, SIMD8(loading: x + i)).addingProduct(vb, SIMD8(loading: y + i)).store(to: out + i)
            i += 8
        }
        while i < count { out[i] = a * x[i] + b * y[i] + c; i += 1 }
    }
}
