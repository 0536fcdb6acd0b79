// MARK: - Naive reference

extension Conv2D {
    /// The definition as loops: out[n, f, y, x] = b[f] + Σ_{c, ky, kx} w[f, c, ky, kx] ·
    /// xpadded[n, c, y·S + ky, x·S + kx]. Slow; the reference the other algorithms are tested
    /// against.
    @inlinable
    public static func forwardNaive<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, stride: Int = 1,
                                       padding: Int = 0, layer: String = "Conv2D") throws
        -> (out: Tensor<S>, cache: Cache<S>) {
        let g = try geometry(layer: layer, input: x.shape, weights: w.shape, stride: stride, padding: padding)
        return try forward(x, w, b, geometry: g, algorithm: .naive)
    }

    /// The loops of `forwardNaive` for an NCHW geometry.
    @inlinable
    static func forwardNaive<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, geometry g: ConvGeometry) throws -> Tensor<S> {
        let n = try g.batchSize(of: x.shape)
        let filters = try checkParameters(w, b, g)
        var out = Tensor<S>(uninitializedShape: [n, filters, g.outputHeight, g.outputWidth])
        withSendablePointers(writing: &out, reading: x, w, b) { os, xs, ws, bs in
            g.forEachOutput(images: n, filters: filters) { o, i, f, oy, ox in
                var sum = bs.base[f]
                g.forEachTap(i, f, oy, ox) { xIndex, wIndex in sum += xs.base[xIndex] * ws.base[wIndex] }
                os.base[o] = sum
            }
        }
        return out
    }

    /// Each output's upstream gradient flows back along the products that made it: the gradients
    /// of the convolution and its bias, for the NCHW input and upstream gradient at the
    /// convolution's output (an epilogue is not undone).
    @inlinable
    public static func backwardNaive<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws
        -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>) {
        let g = cache.geometry
        let n = try g.batchSize(of: cache.x.shape)
        let filters = cache.w.shape[0]
        try g.checkUpstream(dout.shape, batch: n, channels: filters)
        var dx = Tensor<S>.zeros(cache.x.shape), dw = Tensor<S>.zeros(cache.w.shape), db = Tensor<S>.zeros([filters])
        cache.x.withUnsafeBufferPointer { xs in
            cache.w.withUnsafeBufferPointer { ws in
                dout.withUnsafeBufferPointer { ds in
                    dx.withUnsafeMutableBufferPointer { dxs in
                        dw.withUnsafeMutableBufferPointer { dws in
                            db.withUnsafeMutableBufferPointer { dbs in
                                g.forEachOutput(images: n, filters: filters) { o, i, f, oy, ox in
                                    let d = ds[o]
                                    dbs[f] += d
                                    g.forEachTap(i, f, oy, ox) { xIndex, wIndex in
                                        dws[wIndex] += d * xs[xIndex]
                                        dxs[xIndex] += d * ws[wIndex]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, db)
    }
}

extension ConvGeometry {
    /// Calls body(flat index into the output, i, f, y, x) for every output (y, x) of filter f on
    /// image i of `images` NCHW images, in the output's order: the loops the naive forward and
    /// backward passes share.
    @inlinable
    func forEachOutput(images n: Int, filters: Int, _ body: (Int, Int, Int, Int, Int) -> Void) {
        var o = 0
        for i in 0..<n {
            for f in 0..<filters {
                for oy in 0..<outputHeight {
                    for ox in 0..<outputWidth {
                        body(o, i, f, oy, ox)
                        o += 1
                    }
                }
            }
        }
    }

    /// Calls body(flat index into x, flat index into w) for every filter tap of output (y, x) of
    /// filter f on image i that lands inside the image (taps on the padding contribute zero),
    /// for NCHW inputs.
    @inlinable
    func forEachTap(_ i: Int, _ f: Int, _ oy: Int, _ ox: Int, _ body: (Int, Int) -> Void) {
        for c in 0..<channels {
            for ky in 0..<kernelHeight {
                let iy = oy * stride - padding + ky
                guard iy >= 0, iy < height else { continue }
                for kx in 0..<kernelWidth {
                    let ix = ox * stride - padding + kx
                    guard ix >= 0, ix < width else { continue }
                    body(((i * channels + c) * height + iy) * width + ix,
                         ((f * channels + c) * kernelHeight + ky) * kernelWidth + kx)
                }
            }
        }
    }
}
