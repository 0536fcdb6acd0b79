/// A Winograd convolution followed by a 2×2 max pool at stride 2 alone (W6's conv → pool):
/// each tile of outputs is pooled as the output transform produces it. On the way back the
/// filter gradient unpools each tile of the pooled gradient where it reads it, and the input
/// gradient unpools each chunk of images into its workspace. Without a bias (whose gradient
/// sums the unpooled gradient), neither the full-size output nor the full-size gradient is
/// ever written.
extension WinogradConv {
    /// Whether `forward(_:_:geometry:tile:pool:)` can pool the output of `g` with `filters`
    /// filters by `pool`: a 2×2 window at stride 2 over the whole channels-last output, which
    /// puts every window inside one tile (m is even).
    @inlinable
    static func pools(_ pool: ConvGeometry, after g: ConvGeometry, filters: Int) -> Bool {
        pool.kernelHeight == 2 && pool.kernelWidth == 2 && pool.stride == 2 && pool.padding == 0 && pool.layout == .nhwc
            && (pool.height, pool.width, pool.channels) == (g.outputHeight, g.outputWidth, filters)
    }

    /// The max pool `pool` of `forward`'s output, for a pool it `pools`, and the winning tap of
    /// each pooled value (`MaxPool2D`'s winners). The convolution's output is never written:
    /// each tile's m×m outputs go to a buffer in the workspace, and its windows are pooled from
    /// there by `MaxPool2D`'s own kernel, so the results are those of the two layers one after
    /// the other, to the bit.
    @inlinable
    static func forward<S: TensorScalar, T: WinogradTile>(_ x: Tensor<S>, _ w: Tensor<S>, geometry g: ConvGeometry,
                                                          tile: T.Type, pool: ConvGeometry) -> (out: Tensor<S>, winners: [UInt8]) {
        var out = Tensor<S>(uninitializedShape: pool.outputShape(batch: x.shape[0], channels: w.shape[0]))
        let count = out.count
        // Every pooled value's tap is written below, so the array starts uninitialized.
        var winners = [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        withSendablePointers(writing: &out) { output in
            winners.withUnsafeMutableBufferPointer { wb in
                let taps = SendablePointer(wb.baseAddress!)
                convolveChunks(x, w, geometry: g, tile: T.self) { m, stride, images, tiles, work in
                    transformOutputPooled(m, stride: stride, images: images, g, tiles, T.self, work, pool: pool,
                                          into: output.base, winners: taps.base)
                }
            }
        }
        return (out, winners)
    }

    /// The 2×2 max pool of Y = Aᵀ M A for every tile of `images`: each tile's outputs go to
    /// `work.tileOutputs`, and the windows of the tile that lie in the pooled plane are pooled
    /// from there into `out` (N, H/2, W/2, F), with their taps in `winners`.
    @inlinable
    static func transformOutputPooled<S: TensorScalar, T: WinogradTile>(_ m: UnsafePointer<S>, stride: Int, images: Range<Int>,
                                                                        _ g: ConvGeometry, _ tiles: Tiling, _: T.Type,
                                                                        _ work: Workspace<S>, pool: ConvGeometry,
                                                                        into out: UnsafeMutablePointer<S>,
                                                                        winners: UnsafeMutablePointer<UInt8>) {
        let f = tiles.filters, size = tiles.size, half = size / 2
        // The pool over one tile's outputs, as they lie in the buffer.
        var window = pool
        (window.height, window.width, window.outputHeight, window.outputWidth) = (size, size, half, half)
        var tile = 0
        for image in images {
            for ty in 0..<tiles.rows {
                for tx in 0..<tiles.columns {
                    let rowsInside = Swift.min(size, g.outputHeight - size * ty), columnsInside = Swift.min(size, g.outputWidth - size * tx)
                    for filter in Swift.stride(from: 0, to: f, by: 8) {
                        T.transformOutput(m + tile * f + filter, stride: stride, lanes: Swift.min(8, f - filter),
                                          into: work.tileOutputs + filter, rowStride: size * f, columnStride: f,
                                          rowsInside: rowsInside, columnsInside: columnsInside, scratch: work.scratch)
                    }
                    // Windows past the pooled plane (a last odd row or column) are dropped, as
                    // the pool's floor rounding drops them; the others lie inside the tile's outputs.
                    let (top, left) = (half * ty, half * tx)
                    for a in 0..<Swift.min(half, pool.outputHeight - top) {
                        for b in 0..<Swift.min(half, pool.outputWidth - left) {
                            let offset = ((image * pool.outputHeight + top + a) * pool.outputWidth + left + b) * f
                            window.windowMaximum(work.tileOutputs + (2 * a * size + 2 * b) * f, into: out + offset,
                                                 taps: winners + offset)
                        }
                    }
                    tile += 1
                }
            }
        }
    }

    /// dw of a convolution whose output `forward(_:_:geometry:tile:pool:)` pooled, from the
    /// pooled gradient `dout` (N, H/2, W/2, F) and the pool's `winners`: the gradient at the
    /// convolution's output is unpooled one tile at a time into the workspace, where the
    /// output-gradient transform reads it. The same bits as `MaxPool2D`'s backward and then
    /// `filterGradient`.
    @inlinable
    static func filterGradient<S: TensorScalar, T: WinogradTile>(_ x: Tensor<S>, pooledGradient dout: Tensor<S>, winners: [UInt8],
                                                                 pool: ConvGeometry, geometry g: ConvGeometry,
                                                                 tile: T.Type) -> Tensor<S> {
        withSendablePointers(reading: dout) { upstream in
            winners.withUnsafeBufferPointer { wb in
                let taps = SendableConstPointer(wb.baseAddress!)
                return filterGradient(x, filters: dout.shape[3], geometry: g, tile: T.self) { images, tiles, work in
                    transformOutputGradientUnpooling(upstream.base, winners: taps.base, pool: pool, images: images, g, tiles,
                                                     T.self, work)
                }
            }
        }
    }

    /// dM = A dY Aᵀ into `work.m` for every tile of `images`, where dY is the pool's gradient
    /// unpooled into `work.tileOutputs`: each window's winning tap takes the pooled gradient and
    /// its other taps 0, as `MaxPool2D`'s backward writes them; the outputs the pool left out
    /// (a last odd row or column) are 0.
    @inlinable
    static func transformOutputGradientUnpooling<S: TensorScalar, T: WinogradTile>(
        _ pooled: UnsafePointer<S>, winners: UnsafePointer<UInt8>, pool: ConvGeometry, images: Range<Int>,
        _ g: ConvGeometry, _ tiles: Tiling, _: T.Type, _ work: Workspace<S>
    ) {
        let f = tiles.filters, size = tiles.size, half = size / 2, buffer = work.tileOutputs
        var tile = 0
        for image in images {
            for ty in 0..<tiles.rows {
                for tx in 0..<tiles.columns {
                    let (top, left) = (half * ty, half * tx)
                    for a in 0..<half {
                        for b in 0..<half {
                            let first = buffer + (2 * a * size + 2 * b) * f
                            guard top + a < pool.outputHeight && left + b < pool.outputWidth else {
                                first.update(repeating: 0, count: 2 * f)
                                (first + size * f).update(repeating: 0, count: 2 * f)
                                continue
                            }
                            let offset = ((image * pool.outputHeight + top + a) * pool.outputWidth + left + b) * f
                            let (gradient, taps) = (pooled + offset, winners + offset)
                            for ky in 0..<2 {
                                for kx in 0..<2 {
                                    let target = first + (ky * size + kx) * f, index = UInt8(ky * 2 + kx)
                                    for j in 0..<f { target[j] = taps[j] == index ? gradient[j] : 0 }
                                }
                            }
                        }
                    }
                    let rowsInside = Swift.min(size, g.outputHeight - size * ty), columnsInside = Swift.min(size, g.outputWidth - size * tx)
                    for filter in Swift.stride(from: 0, to: f, by: 8) {
                        T.transformOutputGradient(buffer + filter, rowStride: size * f, columnStride: f, rowsInside: rowsInside,
                                                  columnsInside: columnsInside, lanes: Swift.min(8, f - filter),
                                                  into: work.m + tile * f + filter, stride: work.mStride, scratch: work.scratch)
                    }
                    tile += 1
                }
            }
        }
    }

    /// dY ⋆ w for a geometry `g` it `computes`, where dY is the pooled gradient `dout`
    /// (N, H/2, W/2, F) unpooled by the pool's `winners`: the input gradient of the pooled
    /// convolution (`w` its flipped filters, `g` the transposed geometry). Each chunk's images
    /// are unpooled into the workspace by `MaxPool2D`'s own kernel, where the input transform
    /// reads them, so the full-size gradient never leaves the cache. The same bits as
    /// `MaxPool2D`'s backward and then `forward`.
    @inlinable
    static func forward<S: TensorScalar, T: WinogradTile>(unpooling dout: Tensor<S>, winners: [UInt8], pool: ConvGeometry,
                                                          _ w: Tensor<S>, geometry g: ConvGeometry, tile: T.Type) -> Tensor<S> {
        let n = dout.shape[0]
        var out = Tensor<S>(uninitializedShape: g.outputShape(batch: n, channels: w.shape[0]))
        withSendablePointers(writing: &out, reading: dout) { output, upstream in
            winners.withUnsafeBufferPointer { wb in
                let taps = SendableConstPointer(wb.baseAddress!)
                convolveChunks(images: n, w, geometry: g, tile: T.self, scratchPerImage: pool.imageSize, input: { images, work in
                    // The kernel's gradient scratch is for gated or strided gradients; this one is neither.
                    let unused = UnsafeMutablePointer<S>.allocate(capacity: 2 * pool.channels)
                    defer { unused.deallocate() }
                    for (j, image) in images.enumerated() {
                        let offset = image * pool.outputPlane * pool.channels
                        pool.maxUnpoolPixels(upstream.base + offset, pooled: upstream.base + offset, channelStride: 1,
                                             pixelStride: pool.channels, winners: taps.base + offset, relu: nil,
                                             into: work.images + j * pool.imageSize, gradient: unused)
                    }
                    return UnsafePointer(work.images)
                }, output: { m, stride, images, tiles, work in
                    transformOutput(m, stride: stride, images: images, g, tiles, T.self, work, into: output.base)
                })
            }
        }
        return out
    }
}
