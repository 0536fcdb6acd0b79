/// The NCHW passes, one image at a time in parallel over the batch, with the whole epilogue
/// done while the image's output is still in cache. Each image's convolution comes out as rows
/// (one per output pixel, F channels each: the GEMM's long dimension is then the pixels, which
/// suits a first layer's small K = C·KH·KW), the pool reads F contiguous channels per pixel and
/// writes its output NCHW, so no layout copy is needed; without a pool the rows are transposed
/// into the output planes.
///
/// The way back runs per image too: the activation gradient rows, then dw (+= patchesᵀ · dz)
/// and db in a fixed number of image blocks added in order (`OrderedSum`), and dx by col2im.
extension Conv2D {
    @inlinable
    static func forwardChannelsFirst<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>?, batch n: Int, _ cache: inout Cache<S>) {
        let g = cache.geometry, e = cache.epilogue, filters = w.shape[0]
        let (patch, plane, direct) = (g.patchSize, g.outputPlane, cache.algorithm == .direct)
        let rowsShape = [n, g.outputHeight, g.outputWidth, filters]
        var activations = Tensor<S>(uninitializedShape: e.activation == .none ? [0] : rowsShape)
        var derivatives = Tensor<S>(uninitializedShape: e.activation == .gelu ? rowsShape : [0])
        var out = Tensor<S>(uninitializedShape: e.pool.map { $0.outputShape(batch: n, channels: filters) }
                                                ?? g.outputShape(batch: n, channels: filters))
        var winners = [UInt8](repeating: 0, count: e.pool.map { n * $0.outputPlane * filters } ?? 0)
        let offsets = UnsafeSendable(direct ? DirectConv.patchOffsets(g) : [])
        withBaseAddresses([x, g.packFilters(w), b ?? .zeros([filters])]) { inputs in
            let (images, weights, bias) = (inputs[0], inputs[1], inputs[2])
            activations.withUnsafeMutableBufferPointer { ab in
                derivatives.withUnsafeMutableBufferPointer { zb in
                    out.withUnsafeMutableBufferPointer { ob in
                        winners.withUnsafeMutableBufferPointer { wb in
                            let act = SendablePointer(ab.baseAddress!), slope = SendablePointer(zb.baseAddress!)
                            let output = SendablePointer(ob.baseAddress!), taps = wb.baseAddress.map { SendablePointer($0) }
                            Parallel.forEachChunk(n) { chunk in
                                let padded = PaddedImage<S>(g)
                                let patches = direct ? nil : UnsafeMutablePointer<S>.allocate(capacity: plane * patch + 8)
                                let scratch = UnsafeMutablePointer<S>.allocate(capacity: plane * filters + filters)
                                defer { padded.deallocate(); patches?.deallocate(); scratch.deallocate() }
                                for i in chunk {
                                    padded.load(images.base + i * g.imageSize)
                                    let rows = i * plane * filters
                                    // The convolution + bias (+ ReLU): into the cache with a ReLU, else the scratch.
                                    let z = e.activation == .relu ? act.base + rows : scratch
                                    if let patches {
                                        g.im2col(padded: padded.base, into: patches)
                                        GEMM.run(GemmCall(m: plane, n: filters, k: patch, a: patches, lda: patch,
                                                          b: weights.base, ldb: filters, c: z, ldc: filters))
                                        RowKernels.addBias(z, rows: plane, columns: filters, bias: bias.base, relu: e.activation == .relu)
                                    } else {
                                        offsets.value.withUnsafeBufferPointer { offsets in
                                            DirectConv.convolve(padded: padded.base, g, offsets: offsets.baseAddress!, packed: weights.base,
                                                                bias: bias.base, relu: e.activation == .relu, filters: filters, into: z)
                                        }
                                    }
                                    var a = UnsafePointer(z)
                                    if e.activation == .gelu {
                                        GELU.apply(a, into: act.base + rows, derivative: slope.base + rows, count: plane * filters)
                                        a = UnsafePointer(act.base + rows)
                                    }
                                    if let pool = e.pool {
                                        pool.maxPoolPixels(a, into: output.base + i * filters * pool.outputPlane, channelStride: pool.outputPlane,
                                                           pixelStride: 1, winners: taps!.base + i * pool.outputPlane * filters,
                                                           best: scratch + plane * filters)
                                    } else {
                                        ImageLayout.transpose(a, rows: plane, columns: filters, into: output.base + i * filters * plane)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if e.activation != .none { cache.activations = activations }
        if e.activation == .gelu { cache.gelu = GELU.Cache(derivative: derivatives) }
        cache.activationLayout = .nhwc
        if let pool = e.pool { cache.pool = MaxPool2D.Cache(inputShape: rowsShape, out: out, geometry: pool, winners: winners) }
        cache.out = out
    }

    @inlinable
    static func backwardChannelsFirst<S>(_ dout: Tensor<S>, _ cache: Cache<S>, needs: GradientNeeds, regularization: S,
                                         rule: ReLUBackwardRule) -> (dx: Tensor<S>?, dw: Tensor<S>?, db: Tensor<S>?) {
        let g = cache.geometry, e = cache.epilogue, n = cache.x.shape[0], filters = cache.w.shape[0]
        let (patch, plane, direct) = (g.patchSize, g.outputPlane, cache.algorithm == .direct)
        let (weights, biases, input) = (needs.contains(.weights), needs.contains(.biases) && cache.hasBias, needs.contains(.input))
        var dw = weights ? (regularization == 0 ? Tensor<S>.zeros(cache.w.shape) : cache.w * regularization) : Tensor(uninitializedShape: [0])
        var db = Tensor<S>.zeros([biases ? filters : 0])
        var dx = Tensor<S>(uninitializedShape: input ? cache.x.shape : [0])
        let weightCount = weights ? patch * filters : 0
        let offsets = UnsafeSendable(direct && weights ? DirectConv.patchOffsets(g) : [])
        // The pool's unpooling gates the ReLU when there is a pool; without one the gate runs below.
        let gateInPool = e.pool != nil && e.activation == .relu && (rule == .standard || (e.pool?.windowsTile ?? false))
        let none = Tensor<S>(uninitializedShape: [0])
        let winners = cache.pool?.winners ?? []
        withBaseAddresses([cache.x, dout, cache.activations ?? none, cache.gelu?.derivative ?? none, cache.pool?.out ?? none,
                           input ? g.packFilters(cache.w) : none]) { inputs in
            let (images, upstream, act, slope, pooled, packed) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5])
            winners.withUnsafeBufferPointer { wb in
                dx.withUnsafeMutableBufferPointer { dxb in
                    dw.withUnsafeMutableBufferPointer { dwb in
                        db.withUnsafeMutableBufferPointer { dbb in
                            let taps = wb.baseAddress.map { SendableConstPointer($0) }
                            let target = SendablePointer(dxb.baseAddress!)
                            OrderedSum.sum(items: n, size: weightCount + (biases ? filters : 0), fill: { (sums: OrderedSum.Partials<S>, blocks) in
                                let padded = PaddedImage<S>(g)
                                let patches = direct || !weights ? nil : UnsafeMutablePointer<S>.allocate(capacity: plane * patch + 8)
                                let dz = UnsafeMutablePointer<S>.allocate(capacity: plane * filters)
                                let gradient = UnsafeMutablePointer<S>.allocate(capacity: 2 * filters)
                                let scratch = input ? InputGradientScratch<S>(g) : nil
                                defer { padded.deallocate(); patches?.deallocate(); dz.deallocate(); gradient.deallocate(); scratch?.deallocate() }
                                for block in blocks {
                                    let partial = sums.partial(block)
                                    for i in sums.items(of: block) {
                                        // dz: the gradient rows at the convolution's output, through the pool and the activation.
                                        let rows = i * plane * filters
                                        if let pool = e.pool {
                                            let offset = i * filters * pool.outputPlane
                                            pool.maxUnpoolPixels(upstream.base + offset, pooled: pooled.base + offset, channelStride: pool.outputPlane,
                                                                 pixelStride: 1, winners: taps!.base + offset, relu: gateInPool ? rule : nil,
                                                                 into: dz, gradient: gradient)
                                        } else {
                                            ImageLayout.transpose(upstream.base + i * filters * plane, rows: filters, columns: plane, into: dz)
                                        }
                                        switch e.activation {
                                        case .relu where !gateInPool: ReLU.gate(dz, by: act.base + rows, count: plane * filters, rule: rule)
                                        case .gelu: GELU.backward(dz, derivative: slope.base + rows, into: dz, count: plane * filters)
                                        case .none, .relu: break
                                        }
                                        if weights {
                                            padded.load(images.base + i * g.imageSize)
                                            if let patches {
                                                g.im2col(padded: padded.base, into: patches)
                                                GEMM.run(GemmCall(transposeA: true, m: patch, n: filters, k: plane, a: patches, lda: patch,
                                                                  b: dz, ldb: filters, beta: 1, c: partial, ldc: filters))
                                            } else {
                                                offsets.value.withUnsafeBufferPointer { offsets in
                                                    DirectConv.accumulateFilterGradient(padded: padded.base, g, offsets: offsets.baseAddress!,
                                                                                        dz: dz, filters: filters, into: partial)
                                                }
                                            }
                                        }
                                        if biases {
                                            for q in 0..<plane { RowKernels.add(dz + q * filters, into: partial + weightCount, count: filters) }
                                        }
                                        scratch?.inputGradient(of: dz, packed: packed.base, filters: filters, into: target.base + i * g.imageSize)
                                    }
                                }
                            }, combine: { partial in
                                if weights { g.addTransposedFilterGradient(partial, filters: filters, into: dwb.baseAddress!) }
                                if biases { RowKernels.add(partial + weightCount, into: dbb.baseAddress!, count: filters) }
                            })
                        }
                    }
                }
            }
        }
        return (input ? dx : nil, weights ? dw : nil, biases ? db : nil)
    }
}
