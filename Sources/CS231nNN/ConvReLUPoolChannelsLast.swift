/// The conv-ReLU-pool block with channels-last activations, for pools whose windows tile.
///
/// Per image, forward: the zero-padded image is convolved straight into (H·W) × F activation
/// rows by `DirectConv` (Float, F a multiple of 16), or else unrolled with one patch row per
/// output pixel ((H·W) × C·KH·KW) for a GEMM; the pool reads F contiguous channels per pixel and
/// writes its output NCHW, so no layout copy is needed.
/// Backward: dwᵀ = cols · dact with the usual (C·KH·KW) × (H·W) patch matrix. For W5's first
/// layer (K = 147, F = 32) these (H·W)-major GEMMs take 30-40% less time than the F-major ones
/// of `Conv2D` with OpenBLAS's AVX-512 kernels (and no more with its Haswell ones); the whole
/// block forward and backward takes about 25% less CPU time.
extension ConvReLUPool {
    @inlinable
    static func forwardChannelsLast<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, conv g: ConvGeometry,
                                       pool p: ConvGeometry) throws -> (out: Tensor<S>, cache: Cache<S>) {
        let n = try g.batchSize(of: x.shape)
        let filters = try Conv2D.checkParameters(w, b, g)
        let (patch, plane) = (g.patchSize, g.outputPlane)
        var activations = Tensor<S>(uninitializedShape: [n, g.outputHeight, g.outputWidth, filters])
        var out = Tensor<S>(uninitializedShape: [n, filters, p.outputHeight, p.outputWidth])
        let imageSize = g.channels * g.inputPlane
        let direct = DirectConv.applies(g, filters: filters, scalar: S.self)
        let packed = direct ? w.withUnsafeBufferPointer { DirectConv.packedFilters($0.baseAddress!, filters: filters, patch: patch) } : []
        let offsets = DirectConv.patchOffsets(g)
        let tables = UnsafeSendable((packed, offsets))
        x.withUnsafeBufferPointer { xb in
            w.withUnsafeBufferPointer { wb in
                b.withUnsafeBufferPointer { bb in
                    activations.withUnsafeMutableBufferPointer { ab in
                        out.withUnsafeMutableBufferPointer { ob in
                            let input = SendableConstPointer(xb.baseAddress!)
                            let weights = SendableConstPointer(wb.baseAddress!), bias = SendableConstPointer(bb.baseAddress!)
                            let act = SendablePointer(ab.baseAddress!), output = SendablePointer(ob.baseAddress!)
                            Parallel.forEachChunk(n) { images in
                                let rows = UnsafeMutablePointer<S>.allocate(capacity: direct ? 1 : patch * plane + 8)
                                let padded = UnsafeMutablePointer<S>.allocate(capacity: g.paddedImageSize + 8)
                                let best = UnsafeMutablePointer<S>.allocate(capacity: filters)
                                defer { rows.deallocate(); padded.deallocate(); best.deallocate() }
                                padded.initialize(repeating: 0, count: g.paddedImageSize + 8)
                                for i in images {
                                    g.pad(input.base + i * imageSize, into: padded)
                                    let a = act.base + i * plane * filters
                                    if direct {
                                        tables.value.0.withUnsafeBufferPointer { packed in
                                            tables.value.1.withUnsafeBufferPointer { offsets in
                                                DirectConv.convolveReLU(padded: padded, g, offsets: offsets.baseAddress!,
                                                                        packed: packed.baseAddress!, bias: bias.base,
                                                                        filters: filters, into: a)
                                            }
                                        }
                                    } else {
                                        g.im2colRows(padded: padded, into: rows)
                                        GEMM.run(GemmCall(transposeB: true, m: plane, n: filters, k: patch, a: rows, lda: patch,
                                                          b: weights.base, ldb: patch, c: a, ldc: filters))
                                        for q in 0..<plane { ChannelKernels.addBiasReLU(bias.base, into: a + q * filters, count: filters) }
                                    }
                                    p.maxPoolChannelsLast(a, into: output.base + i * filters * p.outputPlane, best: best)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (out, Cache(conv: Conv2D.Cache(x: x, w: w, geometry: g), pool: p, activations: activations,
                           channelsLast: true, out: out))
    }

    /// dw (+ regularization·w), db and, when `dx` is given, the input gradient; dw's partial
    /// sums are kept transposed (K × F, the GEMM's natural output) and summed in a fixed block
    /// order, so the result does not depend on the thread count.
    @inlinable
    static func backwardChannelsLast<S>(_ dout: Tensor<S>, _ cache: Cache<S>, rule: ReLUBackwardRule,
                                        dx: UnsafeMutablePointer<S>?, dw: inout Tensor<S>, db: inout Tensor<S>,
                                        regularization: S) throws {
        let (g, p) = (cache.conv.geometry, cache.pool)
        let n = try g.batchSize(of: cache.conv.x.shape)
        let filters = cache.conv.w.shape[0]
        try p.checkUpstream(dout.shape, batch: n, channels: filters)
        if dw.shape != cache.conv.w.shape { dw = Tensor(uninitializedShape: cache.conv.w.shape) }
        if db.shape != [filters] { db = Tensor(uninitializedShape: [filters]) }
        let (patch, plane, imageSize) = (g.patchSize, g.outputPlane, g.channels * g.inputPlane)
        let weightCount = filters * patch, blockSize = weightCount + filters
        let blocks = Swift.min(n, Conv2D.reductionBlocks)
        let partials = UnsafeMutablePointer<S>.allocate(capacity: Swift.max(1, blocks * blockSize))
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: blocks * blockSize)
        let inputGradient = dx.map { SendablePointer($0) }
        let direct = DirectConv.applies(g, filters: filters, scalar: S.self)
        let offsets = DirectConv.patchOffsets(g)
        cache.conv.x.withUnsafeBufferPointer { xb in
            cache.conv.w.withUnsafeBufferPointer { wb in
                cache.activations.withUnsafeBufferPointer { ab in
                    dout.withUnsafeBufferPointer { upstreamBuffer in
                        let input = SendableConstPointer(xb.baseAddress!)
                        let weights = SendableConstPointer(wb.baseAddress!), act = SendableConstPointer(ab.baseAddress!)
                        let upstream = SendableConstPointer(upstreamBuffer.baseAddress!), sums = SendablePointer(partials)
                        Parallel.forEachChunk(blocks) { blockRange in
                            // The direct kernel reads the padded image; the GEMM, its patch matrix.
                            let columns = UnsafeMutablePointer<S>.allocate(capacity: direct ? g.paddedImageSize + 8 : patch * plane)
                            if direct { columns.initialize(repeating: 0, count: g.paddedImageSize + 8) }
                            let dact = UnsafeMutablePointer<S>.allocate(capacity: plane * filters)
                            let scratch = UnsafeMutablePointer<S>.allocate(capacity: 2 * filters)
                            let dcolumns = inputGradient == nil ? nil : UnsafeMutablePointer<S>.allocate(capacity: patch * plane)
                            defer { columns.deallocate(); dact.deallocate(); scratch.deallocate(); dcolumns?.deallocate() }
                            for block in blockRange {
                                let dwBlock = sums.base + block * blockSize, dbBlock = dwBlock + weightCount
                                for i in Parallel.chunkRange(block, of: blocks, count: n) {
                                    p.maxUnpoolChannelsLast(act.base + i * plane * filters,
                                                            upstream: upstream.base + i * filters * p.outputPlane,
                                                            into: dact, relu: rule, scratch: scratch)
                                    // dwᵀ (K × F) += cols (K × H·W) · dact (H·W × F): the patch matrix in its
                                    // usual layout, which is faster to build than the per-pixel one.
                                    if direct {
                                        g.pad(input.base + i * imageSize, into: columns)
                                        offsets.withUnsafeBufferPointer { offsets in
                                            DirectConv.accumulateFilterGradient(padded: columns, g, offsets: offsets.baseAddress!,
                                                                                dact: dact, filters: filters, into: dwBlock)
                                        }
                                    } else {
                                        g.im2col(input.base + i * imageSize, into: columns)
                                        GEMM.run(GemmCall(m: patch, n: filters, k: plane, a: columns, lda: plane,
                                                          b: dact, ldb: filters, beta: 1, c: dwBlock, ldc: filters))
                                    }
                                    for q in 0..<plane { ConvKernels.add(dact + q * filters, into: dbBlock, count: filters) }
                                    guard let inputGradient, let dcolumns else { continue }
                                    GEMM.run(GemmCall(transposeA: true, transposeB: true, m: patch, n: plane, k: filters,
                                                      a: weights.base, lda: patch, b: dact, ldb: filters, c: dcolumns, ldc: plane))
                                    let target = inputGradient.base + i * imageSize
                                    target.update(repeating: 0, count: imageSize)
                                    g.col2im(UnsafePointer(dcolumns), into: target)
                                }
                            }
                        }
                    }
                }
            }
        }
        cache.conv.w.withUnsafeBufferPointer { wb in
            dw.withUnsafeMutableBufferPointer { dwb in
                Conv2D.sumTransposedBlocks(partials, blocks: blocks, stride: blockSize, rows: patch, columns: filters,
                                           into: dwb.baseAddress!, plus: wb.baseAddress!, times: regularization)
            }
        }
        db.withUnsafeMutableBufferPointer {
            Conv2D.sumBlocks(partials + weightCount, blocks: blocks, stride: blockSize, count: filters,
                             into: $0.baseAddress!, plus: nil, times: 0)
        }
    }
}

extension ConvGeometry {
    /// Elements of one image zero-padded on every side: C × (H + 2P) × (W + 2P).
    @inlinable
    var paddedImageSize: Int { channels * (height + 2 * padding) * (width + 2 * padding) }

    /// Copies one (C, H, W) image into the interior of a zero-padded one; the border, zeroed
    /// once by the caller, is never written.
    @inlinable
    func pad<S: TensorScalar>(_ image: UnsafePointer<S>, into padded: UnsafeMutablePointer<S>) {
        let paddedWidth = width + 2 * padding, paddedPlane = (height + 2 * padding) * paddedWidth
        for c in 0..<channels {
            for y in 0..<height {
                (padded + c * paddedPlane + (y + padding) * paddedWidth + padding)
                    .update(from: image + c * inputPlane + y * width, count: width)
            }
        }
    }

    /// The patch matrix with one row per output pixel: row (oy, ox) holds the window's values in
    /// (c, ky, kx) order, read from the zero-padded image, so every window row is one contiguous
    /// run of KW values with no bounds to check. Runs of at most 8 are copied as one 8-wide load
    /// and store whose spill the next run overwrites: `rows` and `padded` need 8 elements of slack.
    @inlinable
    func im2colRows<S: TensorScalar>(padded: UnsafePointer<S>, into rows: UnsafeMutablePointer<S>) {
        let paddedWidth = width + 2 * padding, paddedPlane = (height + 2 * padding) * paddedWidth
        let kw = kernelWidth
        var target = rows
        for oy in 0..<outputHeight {
            for ox in 0..<outputWidth {
                let corner = padded + oy * stride * paddedWidth + ox * stride
                for c in 0..<channels {
                    var source = corner + c * paddedPlane
                    for _ in 0..<kernelHeight {
                        if kw <= 8 {
                            ConvKernels.store(ConvKernels.load(source), target)
                        } else {
                            target.update(from: source, count: kw)
                        }
                        source += paddedWidth
                        target += kw
                    }
                }
            }
        }
    }

    /// Max pooling of one image's channels-last activations (H·W rows of C) into its NCHW
    /// output, for windows that tile; `best` holds C scalars.
    @inlinable
    func maxPoolChannelsLast<S: TensorScalar>(_ activations: UnsafePointer<S>, into out: UnsafeMutablePointer<S>,
                                              best: UnsafeMutablePointer<S>) {
        for py in 0..<outputHeight {
            for px in 0..<outputWidth {
                windowMaximum(activations, py, px, into: best)
                let o = out + py * outputWidth + px
                for c in 0..<channels { o[c * outputPlane] = best[c] }
            }
        }
    }

    /// The activation gradient (H·W rows of C) of one image from its NCHW upstream gradient:
    /// each window's gradient goes, through the ReLU's rule, to the first pixel holding the
    /// window's maximum. `scratch` holds 2·C scalars.
    @inlinable
    func maxUnpoolChannelsLast<S: TensorScalar>(_ activations: UnsafePointer<S>, upstream: UnsafePointer<S>,
                                                into dact: UnsafeMutablePointer<S>, relu: ReLUBackwardRule,
                                                scratch: UnsafeMutablePointer<S>) {
        let best = scratch, gradient = scratch + channels
        for py in 0..<outputHeight {
            for px in 0..<outputWidth {
                windowMaximum(activations, py, px, into: best)
                let u = upstream + py * outputWidth + px
                for c in 0..<channels { gradient[c] = u[c * outputPlane] }
                ConvGeometry.gate(UnsafePointer(gradient), pooled: UnsafePointer(best), count: channels, relu: relu, into: gradient)
                for ky in 0..<kernelHeight {
                    for kx in 0..<kernelWidth {
                        let pixel = (py * stride + ky) * width + px * stride + kx
                        let (a, d) = (activations + pixel * channels, dact + pixel * channels)
                        ChannelKernels.routeToFirstMaximum(a, best: best, gradient: gradient, into: d, count: channels)
                    }
                }
            }
        }
    }

    /// best[c] = the maximum of channel c over window (py, px) of channels-last activations.
    @inlinable @inline(__always)
    func windowMaximum<S: TensorScalar>(_ activations: UnsafePointer<S>, _ py: Int, _ px: Int, into best: UnsafeMutablePointer<S>) {
        let corner = (py * stride * width + px * stride) * channels
        best.update(from: activations + corner, count: channels)
        for ky in 0..<kernelHeight {
            for kx in 0..<kernelWidth where ky + kx > 0 {
                let row = activations + corner + (ky * width + kx) * channels
                ChannelKernels.maximum(row, into: best, count: channels)
            }
        }
    }
}

/// The per-pixel channel loops of the channels-last block. Each has a Float path on concrete
/// SIMD8<Float>, because comparisons on generic SIMD vectors are lowered lane by lane and
/// generic scalar selects are not vectorised; Double (gradient checks) runs the scalar loop.
@usableFromInline
enum ChannelKernels {
    /// row[c] = max(row[c] + bias[c], 0).
    @inlinable
    static func addBiasReLU<S: TensorScalar>(_ bias: UnsafePointer<S>, into row: UnsafeMutablePointer<S>, count: Int) {
        var c = 0
        if S.self == Float.self {
            let (b, r) = (floats(bias), mutableFloats(row))
            while c + 8 <= count {
                let v = load(r + c) + load(b + c)
                store(v.replacing(with: 0, where: v .< SIMD8<Float>.zero), r + c)
                c += 8
            }
        }
        while c < count {
            let v = row[c] + bias[c]
            row[c] = v < 0 ? 0 : v
            c += 1
        }
    }

    /// best[c] = max(best[c], row[c]).
    @inlinable
    static func maximum<S: TensorScalar>(_ row: UnsafePointer<S>, into best: UnsafeMutablePointer<S>, count: Int) {
        var c = 0
        if S.self == Float.self {
            let (r, m) = (floats(row), mutableFloats(best))
            while c + 8 <= count {
                let (v, current) = (load(r + c), load(m + c))
                store(current.replacing(with: v, where: v .> current), m + c)
                c += 8
            }
        }
        while c < count {
            if row[c] > best[c] { best[c] = row[c] }
            c += 1
        }
    }

    /// The first pixel of a window equal to its maximum takes the gradient, which is then
    /// spent: d = gradient where a == best, and gradient becomes 0 there.
    @inlinable
    static func routeToFirstMaximum<S: TensorScalar>(_ a: UnsafePointer<S>, best: UnsafePointer<S>,
                                                     gradient: UnsafeMutablePointer<S>, into d: UnsafeMutablePointer<S>,
                                                     count: Int) {
        var c = 0
        if S.self == Float.self {
            let (av, bv, g, out) = (floats(a), floats(best), mutableFloats(gradient), mutableFloats(d))
            while c + 8 <= count {
                let hit = load(av + c) .== load(bv + c)
                let gv = load(g + c)
                store(SIMD8<Float>.zero.replacing(with: gv, where: hit), out + c)
                store(gv.replacing(with: 0, where: hit), g + c)
                c += 8
            }
        }
        while c < count {
            let hit = a[c] == best[c]
            d[c] = hit ? gradient[c] : 0
            if hit { gradient[c] = 0 }
            c += 1
        }
    }

    @inlinable @inline(__always)
    static func floats<S>(_ p: UnsafePointer<S>) -> UnsafePointer<Float> {
        UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    @inlinable @inline(__always)
    static func mutableFloats<S>(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    @inlinable @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

    @inlinable @inline(__always)
    static func load(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

    @inlinable @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
