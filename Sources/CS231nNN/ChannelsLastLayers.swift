/// The pointwise and pooling layers of the modern CNN over channels-last tensors (N, H, W, C),
/// seen as M = N·H·W rows of C channels: per-channel work runs along each row, and per-channel
/// sums add whole rows, so every inner loop is contiguous.
///
/// Per-channel sums are taken over a fixed number of row blocks in Double and the blocks added
/// in order, so results do not depend on the thread count.
public enum ChannelsLastMaxPool {
    public struct Cache: Sendable {
        public var inputShape: [Int]
        /// Which tap of its k×k window (ky·k + kx) each output came from.
        public var winners: [UInt8]
        public var size: Int

        @inlinable
        public init(inputShape: [Int], winners: [UInt8], size: Int) {
            self.inputShape = inputShape; self.winners = winners; self.size = size
        }
    }

    /// k×k windows with stride k; rows and columns that do not fill a window are dropped
    /// (PyTorch's floor mode: 31 → 15).
    @inlinable
    public static func forward<S: TensorScalar>(_ x: Tensor<S>, size k: Int, layer: String = "MaxPool2D") throws
        -> (out: Tensor<S>, cache: Cache) {
        guard x.rank == 4, k >= 1, k <= 16, x.shape[1] >= k, x.shape[2] >= k else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "a \(k)×\(k) pool needs an (N×H×W×C) input of at least \(k)×\(k), got \(describeShape(x.shape))")
        }
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (h / k, w / k)
        var out = Tensor<S>(uninitializedShape: [n, oh, ow, c])
        // windowMaximum writes every tap, so the array starts uninitialized.
        let count = n * oh * ow * c
        var winners = [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                winners.withUnsafeMutableBufferPointer { wb in
                    let input = SendableConstPointer(xb.baseAddress!), output = SendablePointer(ob.baseAddress!)
                    let taps = SendablePointer(wb.baseAddress!)
                    Parallel.forEachChunk(n * oh) { rows in
                        for row in rows {
                            let (image, oy) = (row / oh, row % oh)
                            for ox in 0..<ow {
                                let target = output.base + (row * ow + ox) * c, tap = taps.base + (row * ow + ox) * c
                                let first = input.base + ((image * h + oy * k) * w + ox * k) * c
                                windowMaximum(first, rowStride: w * c, channels: c, size: k, into: target, taps: tap)
                            }
                        }
                    }
                }
            }
        }
        return (out, Cache(inputShape: x.shape, winners: winners, size: k))
    }

    /// The maximum over one k×k window of `channels` values per tap (taps `rowStride` apart
    /// between rows), with the winning tap of each channel; the first tap wins ties, as in
    /// PyTorch. The inner loops select instead of branching, so that they vectorise (generic
    /// SIMD masks were three times slower than the branchy loop).
    @inlinable @inline(__always)
    static func windowMaximum<S: TensorScalar>(_ first: UnsafePointer<S>, rowStride: Int, channels c: Int, size k: Int,
                                               into target: UnsafeMutablePointer<S>, taps: UnsafeMutablePointer<UInt8>) {
        target.update(from: first, count: c)
        taps.update(repeating: 0, count: c)
        for ky in 0..<k {
            for kx in 0..<k where ky + kx > 0 {
                let source = first + ky * rowStride + kx * c, index = UInt8(ky * k + kx)
                for j in 0..<c {
                    let (candidate, best) = (source[j], target[j])
                    let better = candidate > best
                    target[j] = better ? candidate : best
                    taps[j] = better ? index : taps[j]
                }
            }
        }
    }

    /// Routes each output gradient to the input that won its window; the rest get zero.
    @inlinable
    public static func backward<S: TensorScalar>(_ dout: Tensor<S>, _ cache: Cache, layer: String = "MaxPool2D") throws -> Tensor<S> {
        let (n, h, w, c) = (cache.inputShape[0], cache.inputShape[1], cache.inputShape[2], cache.inputShape[3])
        let k = cache.size, (oh, ow) = (h / k, w / k)
        guard dout.shape == [n, oh, ow, c] else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "upstream gradient \(describeShape(dout.shape)) is not (\(n)×\(oh)×\(ow)×\(c))")
        }
        var dx = Tensor<S>(shape: cache.inputShape, repeating: 0)
        dout.withUnsafeBufferPointer { db in
            dx.withUnsafeMutableBufferPointer { xb in
                cache.winners.withUnsafeBufferPointer { wb in
                    let upstream = SendableConstPointer(db.baseAddress!), target = SendablePointer(xb.baseAddress!)
                    let taps = SendableConstPointer(wb.baseAddress!)
                    Parallel.forEachChunk(n * oh) { rows in
                        for row in rows {
                            let (image, oy) = (row / oh, row % oh)
                            for ox in 0..<ow {
                                let d = upstream.base + (row * ow + ox) * c, tap = taps.base + (row * ow + ox) * c
                                let first = target.base + ((image * h + oy * k) * w + ox * k) * c
                                for j in 0..<c {
                                    let index = Int(tap[j])
                                    first[((index / k) * w + index % k) * c + j] = d[j]
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}

/// A per-channel bias then GELU, out = gelu(x + b): the whitening layer's activation.
public enum ChannelsLastBiasGELU {
    public struct Cache<S: TensorScalar>: Sendable {
        /// The pre-activation x + b.
        public var preactivation: Tensor<S>

        @inlinable
        public init(preactivation: Tensor<S>) { self.preactivation = preactivation }
    }

    @inlinable
    public static func forward<S: TensorScalar>(_ x: Tensor<S>, bias: Tensor<S>, layer: String = "BiasGELU") throws
        -> (out: Tensor<S>, cache: Cache<S>) {
        let c = try channelCount(x, matching: bias, layer: layer)
        var z = x
        z.withUnsafeMutableBufferPointer { zb in
            bias.withUnsafeBufferPointer { bb in
                let values = SendablePointer(zb.baseAddress!), shift = SendableConstPointer(bb.baseAddress!)
                Parallel.forEachChunk(zb.count / c, minimumChunk: 256) { rows in
                    for row in rows {
                        let line = values.base + row * c
                        for j in 0..<c { line[j] += shift.base[j] }
                    }
                }
            }
        }
        return (GELU.forward(z).out, Cache(preactivation: z))
    }

    /// The gradient of the pre-activation (dx) and of the bias.
    @inlinable
    public static func backward<S: TensorScalar>(_ dout: Tensor<S>, _ cache: Cache<S>, layer: String = "BiasGELU") throws
        -> (dx: Tensor<S>, dbias: Tensor<S>) {
        guard dout.shape == cache.preactivation.shape else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "upstream gradient \(describeShape(dout.shape)) for input \(describeShape(cache.preactivation.shape))")
        }
        let dz = try GELU.backward(dout, GELU.Cache(x: cache.preactivation), layer: layer)
        let c = dz.shape.last!
        return (dz, try Tensor(shape: [c], scalars: ChannelSums.sums(dz, channels: c).map { S($0) }))
    }
}

/// Spatial batch norm followed by GELU, out = gelu(x̂ + β), x̂ the per-channel standardized
/// input: airbench's BN–GELU, whose scale γ is frozen at 1 so that only the shift β trains.
public enum ChannelsLastBatchNormGELU {
    public struct Cache<S: TensorScalar>: Sendable {
        public var mode: Mode
        public var normalized: Tensor<S>
        /// x̂ + β, the GELU's input.
        public var preactivation: Tensor<S>
        /// 1 / √(σ² + ε) per channel.
        public var inverseStd: [S]
        public var beta: Tensor<S>
        public var layer: String
        /// The replicas whose global batch gave the statistics (synchronized batch norm), and
        /// its row count.
        public var replicas: (any ReplicaGroup)?
        public var statisticsRows: Double

        @inlinable
        public init(mode: Mode, normalized: Tensor<S>, preactivation: Tensor<S>, inverseStd: [S], beta: Tensor<S>, layer: String,
                    replicas: (any ReplicaGroup)? = nil, statisticsRows: Double? = nil) {
            self.mode = mode; self.normalized = normalized; self.preactivation = preactivation; self.inverseStd = inverseStd
            self.beta = beta; self.layer = layer; self.replicas = replicas
            self.statisticsRows = statisticsRows ?? Double(normalized.count / Swift.max(1, beta.count))
        }
    }

    /// Training standardizes with the batch's mean and (biased) variance and folds them into
    /// the running estimates (the variance unbiased, as PyTorch does); testing uses the estimates.
    @inlinable
    public static func forward<S: TensorScalar>(_ x: Tensor<S>, beta: Tensor<S>, state: inout BatchNormState<S>, mode: Mode,
                                                layer: String = "BatchNorm2D") throws -> (out: Tensor<S>, cache: Cache<S>) {
        let c = try channelCount(x, matching: beta, layer: layer)
        guard state.runningMean.shape == [c], state.runningVariance.shape == [c] else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "running statistics \(describeShape(state.runningMean.shape)) for \(c) channels")
        }
        let rows = x.count / c
        var mean: [S], variance: [S], statisticsRows = Double(rows)
        if mode == .train {
            var sums = [statisticsRows] + ChannelSums.sums(x, channels: c)
            try state.replicas?.sumInRankOrder(&sums)
            statisticsRows = sums[0]
            let batchMean = sums.dropFirst().map { $0 / statisticsRows }
            var squares = ChannelSums.squaredDeviations(x, mean: batchMean, channels: c)
            try state.replicas?.sumInRankOrder(&squares)
            let batchVariance = squares.map { $0 / statisticsRows }
            let unbiased = statisticsRows / Swift.max(1, statisticsRows - 1)
            let momentum = state.momentum
            state.runningMean = try state.runningMean * momentum + Tensor(shape: [c], scalars: batchMean.map { S($0) }) * (1 - momentum)
            state.runningVariance = try state.runningVariance * momentum
                + Tensor(shape: [c], scalars: batchVariance.map { S($0 * unbiased) }) * (1 - momentum)
            (mean, variance) = (batchMean.map { S($0) }, batchVariance.map { S($0) })
        } else {
            (mean, variance) = (state.runningMean.scalars, state.runningVariance.scalars)
        }
        let inverseStd = variance.map { 1 / ($0 + state.epsilon).squareRoot() }
        var normalized = Tensor<S>(uninitializedShape: x.shape), shifted = Tensor<S>(uninitializedShape: x.shape)
        x.withUnsafeBufferPointer { xb in
            normalized.withUnsafeMutableBufferPointer { nb in
                shifted.withUnsafeMutableBufferPointer { sb in
                    beta.withUnsafeBufferPointer { bb in
                        let input = SendableConstPointer(xb.baseAddress!), xhat = SendablePointer(nb.baseAddress!)
                        let z = SendablePointer(sb.baseAddress!), shift = SendableConstPointer(bb.baseAddress!)
                        let statistics = UnsafeSendable((mean, inverseStd))
                        Parallel.forEachChunk(rows, minimumChunk: 256) { range in
                            statistics.value.0.withUnsafeBufferPointer { mean in
                            statistics.value.1.withUnsafeBufferPointer { inverseStd in
                            for row in range {
                                let offset = row * c
                                for j in 0..<c {
                                    let value = (input.base[offset + j] - mean[j]) * inverseStd[j]
                                    xhat.base[offset + j] = value
                                    z.base[offset + j] = value + shift.base[j]
                                }
                            }
                            }
                            }
                        }
                    }
                }
            }
        }
        return (GELU.forward(shifted).out, Cache(mode: mode, normalized: normalized, preactivation: shifted, inverseStd: inverseStd,
                                                   beta: beta, layer: layer, replicas: state.replicas, statisticsRows: statisticsRows))
    }

    /// dz = dout·gelu′(x̂ + β); dβ = Σ dz; dx = ivar·(dz − mean(dz) − x̂·mean(dz·x̂)) per
    /// channel (batch norm's simplified gradient with γ = 1), or dz·ivar in test mode.
    @inlinable
    public static func backward<S: TensorScalar>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> (dx: Tensor<S>, dbeta: Tensor<S>) {
        guard dout.shape == cache.normalized.shape else {
            throw TensorError.shapeMismatch(operation: cache.layer,
                detail: "upstream gradient \(describeShape(dout.shape)) for input \(describeShape(cache.normalized.shape))")
        }
        let c = cache.beta.count, rows = dout.count / c
        var dz = try GELU.backward(dout, GELU.Cache(x: cache.preactivation), layer: cache.layer)
        var sums = ChannelSums.sums(dz, channels: c) + ChannelSums.sums(dz, times: cache.normalized, channels: c)
        let dbeta = try Tensor<S>(shape: [c], scalars: sums[..<c].map { S($0) })
        let train = cache.mode == .train
        if train { try cache.replicas?.sumInRankOrder(&sums) }
        let meanD = sums[..<c].map { S($0 / cache.statisticsRows) }, meanDX = sums[c...].map { S($0 / cache.statisticsRows) }
        dz.withUnsafeMutableBufferPointer { db in
            cache.normalized.withUnsafeBufferPointer { nb in
                let d = SendablePointer(db.baseAddress!), xhat = SendableConstPointer(nb.baseAddress!)
                let constants = UnsafeSendable((cache.inverseStd, meanD, meanDX))
                Parallel.forEachChunk(rows, minimumChunk: 256) { range in
                    let (inverseStd, meanD, meanDX) = constants.value
                    inverseStd.withUnsafeBufferPointer { inverseStd in
                    meanD.withUnsafeBufferPointer { meanD in
                    meanDX.withUnsafeBufferPointer { meanDX in
                    for row in range {
                        let offset = row * c
                        if train {
                            for j in 0..<c {
                                d.base[offset + j] = inverseStd[j] * (d.base[offset + j] - meanD[j] - xhat.base[offset + j] * meanDX[j])
                            }
                        } else {
                            for j in 0..<c { d.base[offset + j] *= inverseStd[j] }
                        }
                    }
                    }
                    }
                    }
                }
            }
        }
        return (dz, dbeta)
    }
}

/// C, the last axis of `x`, after checking that `parameter` has one entry per channel.
@inlinable
func channelCount<S: TensorScalar>(_ x: Tensor<S>, matching parameter: Tensor<S>, layer: String) throws -> Int {
    guard x.rank >= 2, let c = x.shape.last, c > 0, parameter.shape == [c] else {
        throw TensorError.shapeMismatch(operation: layer,
            detail: "input \(describeShape(x.shape)) (channels last) with a per-channel parameter \(describeShape(parameter.shape))")
    }
    return c
}

/// Per-channel sums over the rows of a channels-last tensor.
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

    /// Σ_rows term per channel, in Double, over fixed row blocks added in order.
    @inlinable
    static func reduce<S: TensorScalar>(rows: Int, channels c: Int, _ values: UnsafePointer<S>, _ term: Term<S>) -> [Double] {
        let blocks = Swift.max(1, Swift.min(rows, Self.blocks))
        let partials = UnsafeMutablePointer<Double>.allocate(capacity: blocks * c)
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: blocks * c)
        let sums = SendablePointer(partials), x = SendableConstPointer(values), summand = UnsafeSendable(term)
        Parallel.forEachChunk(blocks) { blockRange in
            for block in blockRange {
                let target = sums.base + block * c
                let rowRange = Parallel.chunkRange(block, of: blocks, count: rows)
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
        }
        return (0..<c).map { j in (0..<blocks).reduce(0.0) { $0 + partials[$1 * c + j] } }
    }
}
