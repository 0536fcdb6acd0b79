/// The channels-last passes, over whole tensors: the convolution into (N·H·W) rows of F
/// channels, then each step of the epilogue as one parallel sweep over the rows. The way back
/// mirrors it; the bias gradient sums each channel's column in Double over fixed row blocks,
/// as batch norm's statistics do.
extension Conv2D {
    @inlinable
    static func forwardChannelsLast<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>?, _ cache: inout Cache<S>) {
        let g = cache.geometry, filters = w.shape[0]
        let activation = cache.epilogue.activation
        if b == nil && activation == .none, let pool = cache.epilogue.pool,
           let (pooled, winners) = convolvePooledChannelsLast(x, w, g, cache.algorithm, pool: pool) {
            cache.pool = MaxPool2D.Cache(inputShape: g.outputShape(batch: x.shape[0], channels: filters), out: pooled,
                                         geometry: pool, winners: winners)
            cache.out = pooled
            return
        }
        var z = convolveChannelsLast(x, w, g, cache.algorithm)
        if b != nil || activation == .relu {
            let rows = z.count / filters, bias = b ?? .zeros([filters])
            z.withUnsafeMutableBufferPointer { zb in
                bias.withUnsafeBufferPointer { bb in
                    RowKernels.addBias(zb.baseAddress!, rows: rows, columns: filters, bias: bb.baseAddress!, relu: activation == .relu)
                }
            }
        }
        var a = z
        if activation == .gelu { (a, cache.gelu) = GELU.forward(z) }
        if activation != .none { cache.activations = a }
        if let pool = cache.epilogue.pool {
            let (pooled, poolCache) = MaxPool2D.forwardChannelsLast(a, geometry: pool)
            (a, cache.pool) = (pooled, poolCache)
        }
        cache.out = a
    }

    @inlinable
    static func backwardChannelsLast<S>(_ dout: Tensor<S>, _ cache: Cache<S>, needs: GradientNeeds, regularization: S,
                                        rule: ReLUBackwardRule) throws -> (dx: Tensor<S>?, dw: Tensor<S>?, db: Tensor<S>?) {
        let g = cache.geometry, filters = cache.w.shape[0]
        let activation = cache.epilogue.activation
        // A Winograd convolution with a 2×2 pool alone reads the pooled gradient itself, unless a
        // bias gradient needs the unpooled one anyway.
        var needs = needs, pooledDW: Tensor<S>?, pooledDX: Tensor<S>?
        if activation == .none && !(needs.contains(.biases) && cache.hasBias), let pool = cache.pool, let winners = pool.winners {
            if needs.contains(.weights),
               let dw = filterGradientUnpoolingChannelsLast(cache.x, pooledGradient: dout, winners: winners, pool: pool.geometry,
                                                            cache.w, g, cache.algorithm, regularization: regularization) {
                (pooledDW, needs) = (dw, needs.subtracting(.weights))
            }
            if needs.contains(.input),
               let dx = inputGradientUnpoolingChannelsLast(pooledGradient: dout, winners: winners, pool: pool.geometry, cache.w, g,
                                                           cache.algorithm) {
                (pooledDX, needs) = (dx, needs.subtracting(.input))
            }
            guard needs.contains(.weights) || needs.contains(.input) else { return (pooledDX, pooledDW, nil) }
        }
        var d = dout, gatedByPool = false
        if let pool = cache.pool {
            gatedByPool = activation == .relu && (rule == .standard || pool.geometry.windowsTile)
            d = MaxPool2D.backwardChannelsLast(d, pool, relu: gatedByPool ? rule : nil)
        }
        switch activation {
        case .none: break
        case .relu where !gatedByPool: d = try ReLU.backward(d, gate: cache.activations!, rule: rule)
        case .relu: break
        case .gelu: d = try GELU.backward(d, cache.gelu!, layer: g.layer)
        }
        var db: Tensor<S>?
        if needs.contains(.biases) && cache.hasBias {
            db = try Tensor(shape: [filters], scalars: ChannelSums.sums(d, channels: filters).map { S($0) })
        }
        let dw = needs.contains(.weights) ? filterGradientChannelsLast(cache.x, d, cache.w, g, cache.algorithm,
                                                                      regularization: regularization) : pooledDW
        let dx = needs.contains(.input) ? inputGradientChannelsLast(d, cache.w, g, cache.algorithm) : pooledDX
        return (dx, dw, db)
    }

    /// dx of a Winograd convolution with a 2×2 pool (one `WinogradConv.pools`) from the pooled
    /// gradient, each chunk of images unpooled where the input transform reads it; nil for any
    /// other convolution.
    @inlinable
    static func inputGradientUnpoolingChannelsLast<S>(pooledGradient dout: Tensor<S>, winners: [UInt8], pool: ConvGeometry,
                                                      _ w: Tensor<S>, _ g: ConvGeometry, _ algorithm: Algorithm) -> Tensor<S>? {
        guard algorithm.isWinograd, WinogradConv.pools(pool, after: g, filters: w.shape[0]),
              let transposed = transposedGeometry(g, filters: w.shape[0]), WinogradConv.computes(transposed) else { return nil }
        let flipped = flippedFilters(w)
        switch algorithm {
        case .winograd:
            return WinogradConv.forward(unpooling: dout, winners: winners, pool: pool, flipped, geometry: transposed, tile: WinogradF2.self)
        case .winograd4x4:
            return WinogradConv.forward(unpooling: dout, winners: winners, pool: pool, flipped, geometry: transposed, tile: WinogradF4.self)
        case .naive, .im2col, .direct: return nil
        }
    }

    /// dw of a Winograd convolution with a 2×2 pool (one `WinogradConv.pools`) from the pooled
    /// gradient, unpooled a tile at a time where the filter gradient reads it; nil for any other
    /// convolution.
    @inlinable
    static func filterGradientUnpoolingChannelsLast<S>(_ x: Tensor<S>, pooledGradient dout: Tensor<S>, winners: [UInt8],
                                                       pool: ConvGeometry, _ w: Tensor<S>, _ g: ConvGeometry, _ algorithm: Algorithm,
                                                       regularization: S) -> Tensor<S>? {
        guard WinogradConv.pools(pool, after: g, filters: w.shape[0]) else { return nil }
        let dw: Tensor<S>
        switch algorithm {
        case .winograd:
            dw = WinogradConv.filterGradient(x, pooledGradient: dout, winners: winners, pool: pool, geometry: g, tile: WinogradF2.self)
        case .winograd4x4:
            dw = WinogradConv.filterGradient(x, pooledGradient: dout, winners: winners, pool: pool, geometry: g, tile: WinogradF4.self)
        case .naive, .im2col, .direct: return nil
        }
        return regularization == 0 ? dw : try! dw + w * regularization
    }

    /// The max pool `pool` of x ⋆ w and its winning taps, pooled as the Winograd tiles come out
    /// (the convolution's output is never written), or nil where `algorithm` is not Winograd or
    /// the pool is not one `WinogradConv.pools`.
    @inlinable
    static func convolvePooledChannelsLast<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ g: ConvGeometry, _ algorithm: Algorithm,
                                              pool: ConvGeometry) -> (Tensor<S>, [UInt8])? {
        guard WinogradConv.pools(pool, after: g, filters: w.shape[0]) else { return nil }
        switch algorithm {
        case .winograd: return WinogradConv.forward(x, w, geometry: g, tile: WinogradF2.self, pool: pool)
        case .winograd4x4: return WinogradConv.forward(x, w, geometry: g, tile: WinogradF4.self, pool: pool)
        case .naive, .im2col, .direct: return nil
        }
    }

    /// out (N, H', W', F) = x ⋆ w, by `algorithm` (not naive).
    @inlinable
    static func convolveChannelsLast<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ g: ConvGeometry, _ algorithm: Algorithm) -> Tensor<S> {
        switch algorithm {
        case .winograd: return WinogradConv.forward(x, w, geometry: g, tile: WinogradF2.self)
        case .winograd4x4: return WinogradConv.forward(x, w, geometry: g, tile: WinogradF4.self)
        case .naive, .im2col, .direct: break
        }
        let n = x.shape[0], filters = w.shape[0], direct = algorithm == .direct
        let (patch, plane) = (g.patchSize, g.outputPlane)
        var out = Tensor<S>(uninitializedShape: g.outputShape(batch: n, channels: filters))
        guard n > 0 else { return out }
        let perChunk = direct ? 1 : g.imagesPerChunk, chunks = (n + perChunk - 1) / perChunk
        let packed = g.packFilters(w), offsets = direct ? DirectConv.patchOffsets(g) : []
        let zeros = Tensor<S>.zeros([filters])
        withSendablePointers(writing: &out, reading: x, packed, zeros) { output, input, weights, bias in
            let table = UnsafeSendable(offsets)
            Parallel.forEachChunk(chunks) { chunkRange in
                let padded = PaddedImage<S>(g)
                let rows = direct ? nil : UnsafeMutablePointer<S>.allocate(capacity: perChunk * plane * patch + 8)
                defer { padded.deallocate(); rows?.deallocate() }
                for chunk in chunkRange {
                    let images = (chunk * perChunk)..<Swift.min(n, (chunk + 1) * perChunk)
                    let target = output.base + images.lowerBound * plane * filters
                    guard let rows else {
                        padded.load(input.base + images.lowerBound * g.imageSize)
                        table.value.withUnsafeBufferPointer { offsets in
                            DirectConv.convolve(padded: padded.base, g, offsets: offsets.baseAddress!, packed: weights.base,
                                                bias: bias.base, relu: false, filters: filters, into: target)
                        }
                        continue
                    }
                    for (j, image) in images.enumerated() {
                        padded.load(input.base + image * g.imageSize)
                        g.im2col(padded: padded.base, into: rows + j * plane * patch)
                    }
                    GEMM.run(GemmCall(m: images.count * plane, n: filters, k: patch, a: rows, lda: patch,
                                      b: weights.base, ldb: filters, c: target, ldc: filters))
                }
            }
        }
        return out
    }

    /// dw (F, C, KH, KW) = Σ over images of patchesᵀ · dz, plus regularization·w.
    @inlinable
    static func filterGradientChannelsLast<S>(_ x: Tensor<S>, _ dz: Tensor<S>, _ w: Tensor<S>, _ g: ConvGeometry,
                                              _ algorithm: Algorithm, regularization: S) -> Tensor<S> {
        let winogradGradient: Tensor<S>?
        switch algorithm {
        case .winograd: winogradGradient = WinogradConv.filterGradient(x, dz, geometry: g, tile: WinogradF2.self)
        case .winograd4x4: winogradGradient = WinogradConv.filterGradient(x, dz, geometry: g, tile: WinogradF4.self)
        case .naive, .im2col, .direct: winogradGradient = nil
        }
        if let dw = winogradGradient { return regularization == 0 ? dw : try! dw + w * regularization }
        let n = x.shape[0], filters = w.shape[0], direct = algorithm == .direct
        let (patch, plane) = (g.patchSize, g.outputPlane)
        let perChunk = direct ? 1 : g.imagesPerChunk
        var dw = regularization == 0 ? Tensor<S>.zeros(w.shape) : w * regularization
        let offsets = direct ? DirectConv.patchOffsets(g) : []
        withSendablePointers(writing: &dw, reading: x, dz) { target, input, upstream in
            let table = UnsafeSendable(offsets)
            OrderedSum.sum(items: n, size: patch * filters, fill: { (sums: OrderedSum.Partials<S>, blocks) in
                let padded = PaddedImage<S>(g)
                let rows = direct ? nil : UnsafeMutablePointer<S>.allocate(capacity: perChunk * plane * patch + 8)
                defer { padded.deallocate(); rows?.deallocate() }
                for block in blocks {
                    let blockImages = sums.items(of: block), partial = sums.partial(block)
                    for start in stride(from: blockImages.lowerBound, to: blockImages.upperBound, by: perChunk) {
                        let images = start..<Swift.min(blockImages.upperBound, start + perChunk)
                        let d = upstream.base + start * plane * filters
                        guard let rows else {
                            padded.load(input.base + start * g.imageSize)
                            table.value.withUnsafeBufferPointer { offsets in
                                DirectConv.accumulateFilterGradient(padded: padded.base, g, offsets: offsets.baseAddress!,
                                                                    dz: d, filters: filters, into: partial)
                            }
                            continue
                        }
                        for (j, image) in images.enumerated() {
                            padded.load(input.base + image * g.imageSize)
                            g.im2col(padded: padded.base, into: rows + j * plane * patch)
                        }
                        GEMM.run(GemmCall(transposeA: true, m: patch, n: filters, k: images.count * plane, a: rows,
                                          lda: patch, b: d, ldb: filters, beta: 1, c: partial, ldc: filters))
                    }
                }
            }, combine: { partial in g.addTransposedFilterGradient(partial, filters: filters, into: target.base) })
        }
        return dw
    }

    /// dx (N, H, W, C) of dz (N, H', W', F). With stride 1, a square window and P < K it is
    /// the convolution of dz (padded by K − 1 − P) with the flipped filters, by Winograd when the
    /// forward ran Winograd and by im2col otherwise; else col2im of each image's patch gradients.
    @inlinable
    static func inputGradientChannelsLast<S>(_ dz: Tensor<S>, _ w: Tensor<S>, _ g: ConvGeometry, _ algorithm: Algorithm) -> Tensor<S> {
        if let transposed = transposedGeometry(g, filters: w.shape[0]) {
            let flipped = flippedFilters(w)
            return convolveChannelsLast(dz, flipped, transposed, algorithm.isWinograd ? algorithm : .im2col)
        }
        return inputGradientByCol2im(dz, w, g)
    }

    /// The geometry of dx as a convolution of dz (padded by K − 1 − P) with the flipped
    /// filters, where there is one: stride 1, a square window and P < K.
    @inlinable
    static func transposedGeometry(_ g: ConvGeometry, filters: Int) -> ConvGeometry? {
        let k = g.kernelHeight
        guard g.stride == 1, g.kernelWidth == k, g.padding < k else { return nil }
        return try? ConvGeometry(layer: g.layer, channels: filters, height: g.outputHeight, width: g.outputWidth,
                                 kernelHeight: k, kernelWidth: k, padding: k - 1 - g.padding, layout: .nhwc)
    }
}

extension ConvGeometry {
    /// Images per im2col GEMM: enough pixels (≥ 256 rows) to keep the multiply efficient on
    /// small planes.
    @inlinable
    var imagesPerChunk: Int { Swift.max(1, (256 + outputPlane - 1) / outputPlane) }
}
