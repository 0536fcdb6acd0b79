/// Batch norm over channels-last rows (M = N·H·W rows of C channels): per-channel work runs
/// along each row, and per-channel sums add whole rows, so every inner loop is contiguous.
/// The sums are taken in Double over a fixed number of row blocks added in order, so results
/// do not depend on the thread count.
extension BatchNorm {
    /// Training standardizes with the batch's mean and (biased) variance and folds them into
    /// the running estimates; testing uses the estimates. A GELU `activation` is applied to
    /// each row as it is normalized (its input is never written out), and its derivative kept.
    @inlinable
    static func forwardChannels<S>(_ x: Tensor<S>, gamma: Tensor<S>?, beta: Tensor<S>, state: inout BatchNormState<S>,
                                   mode: Mode, activation: Activation) throws -> (out: Tensor<S>, cache: Cache<S>) {
        let c = x.shape.last!, rows = x.count / c
        var mean: [S], variance: [S], statisticsRows = Double(rows)
        if mode == .train {
            // Synchronized batch norm adds the row counts and per-channel sums over the replicas.
            var sums = [statisticsRows] + ChannelSums.sums(x, channels: c)
            try state.replicas?.sumInRankOrder(&sums)
            statisticsRows = sums[0]
            let batchMean = sums.dropFirst().map { $0 / statisticsRows }
            var squares = ChannelSums.squaredDeviations(x, mean: batchMean, channels: c)
            try state.replicas?.sumInRankOrder(&squares)
            let batchVariance = squares.map { $0 / statisticsRows }
            let correction = state.unbiasedRunningVariance ? statisticsRows / Swift.max(1, statisticsRows - 1) : 1
            let momentum = state.momentum
            state.runningMean = try state.runningMean * momentum + Tensor(shape: [c], scalars: batchMean.map { S($0) }) * (1 - momentum)
            state.runningVariance = try state.runningVariance * momentum
                + Tensor(shape: [c], scalars: batchVariance.map { S($0 * correction) }) * (1 - momentum)
            (mean, variance) = (batchMean.map { S($0) }, batchVariance.map { S($0) })
        } else {
            (mean, variance) = (state.runningMean.scalars, state.runningVariance.scalars)
        }
        let inverseStd = variance.map { 1 / ($0 + state.epsilon).squareRoot() }
        var normalized = Tensor<S>(uninitializedShape: x.shape), out = Tensor<S>(uninitializedShape: x.shape)
        let gelu = activation == .gelu
        var derivative = Tensor<S>(uninitializedShape: gelu ? x.shape : [0])
        let scale = gamma ?? Tensor<S>(uninitializedShape: [0])
        withSendablePointers(writing: &normalized, &out, reading: x, beta, scale) { xhat, result, input, shift, gammaValues in
            withSendablePointers(writing: &derivative) { slope in
                let factor = gamma == nil ? nil : gammaValues
                let statistics = UnsafeSendable((mean, inverseStd))
                Parallel.forEachChunk(rows, minimumChunk: 256) { range in
                    // With a GELU, each row's γ·x̂ + β stays in this row-sized buffer.
                    let row = UnsafeMutablePointer<S>.allocate(capacity: gelu ? c : 0)
                    defer { row.deallocate() }
                    statistics.value.0.withUnsafeBufferPointer { mean in
                        statistics.value.1.withUnsafeBufferPointer { inverseStd in
                            for r in range {
                                let offset = r * c
                                let z = gelu ? row : result.base + offset
                                for j in 0..<c { xhat.base[offset + j] = (input.base[offset + j] - mean[j]) * inverseStd[j] }
                                if let factor {
                                    for j in 0..<c { z[j] = factor.base[j] * xhat.base[offset + j] + shift.base[j] }
                                } else {
                                    for j in 0..<c { z[j] = xhat.base[offset + j] + shift.base[j] }
                                }
                                if gelu { GELU.apply(row, into: result.base + offset, derivative: slope.base + offset, count: c) }
                            }
                        }
                    }
                }
            }
        }
        var cache = Cache(mode: mode, normalized: normalized, inverseStd: try Tensor(shape: [c], scalars: inverseStd),
                          epsilon: state.epsilon, inputShape: x.shape)
        if gelu { cache.gelu = GELU.Cache(derivative: derivative) }
        cache.replicas = state.replicas
        cache.statisticsRows = statisticsRows
        return (out, cache)
    }

    /// dβ = Σ dy; dγ = Σ dy·x̂; dx = γ·ivar·(dy − mean(dy) − x̂·mean(dy·x̂)) per channel, or
    /// dy·γ·ivar in test mode, where the statistics are constants. dx replaces dy in `d`. After
    /// a GELU, `d` is the gradient at its output: dy = d ⊙ GELU′ is formed in the pass that sums it.
    @inlinable
    static func backwardChannels<S>(_ d: inout Tensor<S>, _ cache: Cache<S>, needs: GradientNeeds) throws
        -> (dgamma: Tensor<S>?, dbeta: Tensor<S>?) {
        let c = d.shape.last!, rows = d.count / c
        var sums: [Double]
        if let gelu = cache.gelu, cache.activation == .gelu {
            var gated = Tensor<S>(uninitializedShape: d.shape)
            sums = withSendablePointers(writing: &gated, reading: d, gelu.derivative, cache.normalized) { dy, upstream, slope, xhat in
                ChannelSums.gatedSums(upstream.base, derivative: slope.base, normalized: xhat.base, into: dy.base, rows: rows,
                                      channels: c)
            }
            d = gated
        } else {
            sums = ChannelSums.sums(d, channels: c) + ChannelSums.sums(d, times: cache.normalized, channels: c)
        }
        let dbeta = needs.contains(.biases) ? try Tensor<S>(shape: [c], scalars: sums[..<c].map { S($0) }) : nil
        let dgamma = needs.contains(.weights) ? try Tensor<S>(shape: [c], scalars: sums[c...].map { S($0) }) : nil
        guard needs.contains(.input) else { return (dgamma, dbeta) }
        let train = cache.mode == .train
        // Synchronized batch norm: the means of the gradients are over the replicas' global batch.
        if train { try cache.replicas?.sumInRankOrder(&sums) }
        let statisticsRows = cache.statisticsRows ?? Double(rows)
        let meanD = sums[..<c].map { S($0 / statisticsRows) }, meanDX = sums[c...].map { S($0 / statisticsRows) }
        // γ·ivar per channel; ivar itself when γ is frozen at 1.
        var scale = cache.inverseStd.scalars
        if let gamma = cache.gamma { scale = zip(scale, gamma.scalars).map { $0 * $1 } }
        withSendablePointers(writing: &d, reading: cache.normalized) { d, xhat in
            let constants = UnsafeSendable((scale, meanD, meanDX))
            Parallel.forEachChunk(rows, minimumChunk: 256) { range in
                let (scale, meanD, meanDX) = constants.value
                scale.withUnsafeBufferPointer { scale in
                    meanD.withUnsafeBufferPointer { meanD in
                        meanDX.withUnsafeBufferPointer { meanDX in
                            for row in range {
                                let offset = row * c
                                if train {
                                    for j in 0..<c {
                                        d.base[offset + j] = scale[j] * (d.base[offset + j] - meanD[j] - xhat.base[offset + j] * meanDX[j])
                                    }
                                } else {
                                    for j in 0..<c { d.base[offset + j] *= scale[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dgamma, dbeta)
    }
}

/// Per-channel sums over the rows of a channels-last tensor, in Double, in an `OrderedSum` of
/// row blocks.
@usableFromInline
enum ChannelSums {
    @usableFromInline static let blocks = 16

    /// What is summed per channel. An enum rather than a closure, so that each inner loop is
    /// a plain (vectorisable) loop instead of a call per element.
    @usableFromInline
    enum Term<S: TensorScalar> {
        case value
        case product(UnsafePointer<S>)
        case squaredDeviation(UnsafePointer<Double>)
    }

    /// Σ x per channel.
    @inlinable
    static func sums<S: TensorScalar>(_ x: Tensor<S>, channels c: Int) -> [Double] {
        x.withUnsafeBufferPointer { xb in reduce(rows: x.count / c, channels: c, xb.baseAddress!, .value) }
    }

    /// Σ x·y per channel.
    @inlinable
    static func sums<S: TensorScalar>(_ x: Tensor<S>, times y: Tensor<S>, channels c: Int) -> [Double] {
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeBufferPointer { yb in reduce(rows: x.count / c, channels: c, xb.baseAddress!, .product(yb.baseAddress!)) }
        }
    }

    /// Σ (x − mean)² per channel.
    @inlinable
    static func squaredDeviations<S: TensorScalar>(_ x: Tensor<S>, mean: [Double], channels c: Int) -> [Double] {
        x.withUnsafeBufferPointer { xb in
            mean.withUnsafeBufferPointer { centre in
                reduce(rows: x.count / c, channels: c, xb.baseAddress!, .squaredDeviation(centre.baseAddress!))
            }
        }
    }

    /// dy = d ⊙ GELU′ into `dy`, with Σ dy (the first c sums) and Σ dy·x̂ (the last c) per
    /// channel in one pass: the blocks and the order of `reduce`'s two sums, so the same bits.
    @inlinable
    static func gatedSums<S: TensorScalar>(_ d: UnsafePointer<S>, derivative: UnsafePointer<S>, normalized xhat: UnsafePointer<S>,
                                           into dy: UnsafeMutablePointer<S>, rows: Int, channels c: Int) -> [Double] {
        var total = [Double](repeating: 0, count: 2 * c)
        let pointers = UnsafeSendable((d, derivative, xhat, dy))
        OrderedSum.sum(items: rows, blocks: blocks, size: 2 * c, fill: { (sums: OrderedSum.Partials<Double>, blockRange) in
            let (d, derivative, xhat, dy) = pointers.value
            for block in blockRange {
                let target = sums.partial(block)
                for row in sums.items(of: block) {
                    let offset = row * c
                    GELU.backward(d + offset, derivative: derivative + offset, into: dy + offset, count: c)
                    for j in 0..<c { target[j] += Double(dy[offset + j]) }
                    for j in 0..<c { target[c + j] += Double(dy[offset + j]) * Double(xhat[offset + j]) }
                }
            }
        }, combine: { partial in for j in 0..<2 * c { total[j] += partial[j] } })
        return total
    }

    /// Σ_rows term per channel.
    @inlinable
    static func reduce<S: TensorScalar>(rows: Int, channels c: Int, _ values: UnsafePointer<S>, _ term: Term<S>) -> [Double] {
        var total = [Double](repeating: 0, count: c)
        let x = SendableConstPointer(values), summand = UnsafeSendable(term)
        OrderedSum.sum(items: rows, blocks: blocks, size: c, fill: { (sums: OrderedSum.Partials<Double>, blockRange) in
            for block in blockRange {
                let target = sums.partial(block), rowRange = sums.items(of: block)
                switch summand.value {
                case .value:
                    for row in rowRange {
                        let source = x.base + row * c
                        for j in 0..<c { target[j] += Double(source[j]) }
                    }
                case let .product(other):
                    for row in rowRange {
                        let (source, factor) = (x.base + row * c, other + row * c)
                        for j in 0..<c { target[j] += Double(source[j]) * Double(factor[j]) }
                    }
                case let .squaredDeviation(mean):
                    for row in rowRange {
                        let source = x.base + row * c
                        for j in 0..<c {
                            let deviation = Double(source[j]) - mean[j]
                            target[j] += deviation * deviation
                        }
                    }
                }
            }
        }, combine: { partial in for j in 0..<c { total[j] += partial[j] } })
        return total
    }
}
