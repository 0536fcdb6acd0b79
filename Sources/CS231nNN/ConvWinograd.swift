/// Winograd's minimal filtering F(m×m, 3×3) for 3×3, padding-1, stride-1 convolutions of
/// channels-last images (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks"), for
/// either tile of `WinogradTile`: F(2×2, 3×3) or F(4×4, 3×3).
///
///     Y = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A
///
/// The sum over channels at each of the α² positions is a GEMM over all tiles of a chunk of
/// images, (tiles × C)·(C × F), run by `InCacheGEMM` (the operands sit in the cache, so they
/// are not packed), with fewer multiplications than im2col on large planes (less of a saving on
/// small ones, where tiles overhang the plane). No library on our platforms offers it for
/// channels-last CPU tensors, hence this file.
@usableFromInline
enum WinogradConv {
    /// Whether `g` is a convolution this file computes: 3×3, stride 1, padding 1.
    @inlinable
    static func computes(_ g: ConvGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.padding == 1
    }

    /// Elements between positions in a buffer of α² matrices of `elements` each: rounded up to
    /// 1024 elements (a 4 KiB page of Floats) and 16 more (a cache line of Floats). Matrices a
    /// power of two apart (256 tiles × 256 channels is 256 KiB) would put the α² values a
    /// transform reads or writes for one tile in the same cache set, and the caches would evict
    /// them from one another.
    @inlinable
    static func positionStride(_ elements: Int) -> Int { (elements + 1023) / 1024 * 1024 + 16 }

    /// The filters (F, C, 3, 3) transformed, U = G g Gᵀ: α² matrices (C × F), `positionStride`
    /// apart (the second dimension of the result).
    @inlinable
    static func transformFilters<S: TensorScalar, T: WinogradTile>(_ w: Tensor<S>, _: T.Type) -> Tensor<S> {
        let (f, c) = (w.shape[0], w.shape[1])
        let stride = positionStride(c * f)
        var u = Tensor<S>(uninitializedShape: [T.positions, stride])
        withSendablePointers(writing: &u, reading: w) { target, source in
            forEachFilterRow(channels: c, filters: f) { channel in
                // Filters inner, so that each position's row of U is written in order.
                for filter in 0..<f {
                    T.transformFilter(source.base + (filter * c + channel) * 9, into: target.base + channel * f + filter, stride: stride)
                }
            }
        }
        return u
    }

    /// out (N, H, W, F) = x ⋆ w for a channels-last geometry `g` it `computes`, by the tile `T`.
    /// Chunks of images run in parallel, each with its own transform buffers and α²
    /// single-threaded GEMMs; every output is written by one chunk, so the result does not
    /// depend on the thread count.
    @inlinable
    static func forward<S: TensorScalar, T: WinogradTile>(_ x: Tensor<S>, _ w: Tensor<S>, geometry g: ConvGeometry,
                                                          tile: T.Type) -> Tensor<S> {
        var out = Tensor<S>(uninitializedShape: g.outputShape(batch: x.shape[0], channels: w.shape[0]))
        withSendablePointers(writing: &out) { output in
            convolveChunks(x, w, geometry: g, tile: T.self) { m, stride, images, tiles, work in
                transformOutput(m, stride: stride, images: images, g, tiles, T.self, work, into: output.base)
            }
        }
        return out
    }

    /// `convolveChunks` over the images of `x` where they lie.
    @inlinable
    static func convolveChunks<S: TensorScalar, T: WinogradTile>(
        _ x: Tensor<S>, _ w: Tensor<S>, geometry g: ConvGeometry, tile: T.Type,
        output: @Sendable (UnsafePointer<S>, Int, Range<Int>, Tiling, Workspace<S>) -> Void
    ) {
        withSendablePointers(reading: x) { input in
            convolveChunks(images: x.shape[0], w, geometry: g, tile: T.self, input: { images, _ in
                input.base + images.lowerBound * g.inputPlane * g.channels
            }, output: output)
        }
    }

    /// The forward's chunks of `n` images: the input tiles' transforms and the α² products of
    /// each chunk, then `output(M, M's position stride, the chunk's images, tiling, workspace)`.
    /// `input(the chunk's images, workspace)` gives the first of the chunk's images, the others
    /// following it; `work.images` has room for `scratchPerImage` scalars per image of a chunk.
    @inlinable
    static func convolveChunks<S: TensorScalar, T: WinogradTile>(
        images n: Int, _ w: Tensor<S>, geometry g: ConvGeometry, tile: T.Type, scratchPerImage: Int = 0,
        input: @Sendable (Range<Int>, Workspace<S>) -> UnsafePointer<S>,
        output: @Sendable (UnsafePointer<S>, Int, Range<Int>, Tiling, Workspace<S>) -> Void
    ) {
        let c = g.channels, f = w.shape[0]
        guard n > 0 else { return }
        let u = transformFilters(w, T.self), uStride = u.shape[1]
        // Chunks of 64 tiles: the unpacked GEMM is as fast on 64 rows as on more, and a chunk's
        // α² matrices stay closer to the core between the transforms and the products.
        let tiles = Tiling(g, filters: f, tileSize: T.outputSize, minimumTiles: 64)
        withSendablePointers(reading: u) { filters in
            Parallel.forEachChunk(tiles.chunkCount(images: n)) { chunkRange in
                let work = Workspace<S>(tiles, channels: c, positions: T.positions, scratchPerImage: scratchPerImage)
                defer { work.deallocate() }
                for chunk in chunkRange {
                    let images = tiles.images(ofChunk: chunk, of: n)
                    let count = images.count * tiles.perImage
                    transformInput(input(images, work), images: 0..<images.count, g, tiles, T.self, work, into: work.v,
                                   stride: work.vStride)
                    for p in 0..<T.positions {
                        GEMM.runInCache(GemmCall(m: count, n: f, k: c, a: work.v + p * work.vStride, lda: c,
                                                 b: filters.base + p * uStride, ldb: f, c: work.m + p * work.mStride, ldc: f))
                    }
                    output(work.m, work.mStride, images, tiles, work)
                }
            }
        }
    }

    /// dw (F, C, 3, 3) of upstream `dout` (N, H, W, F), the adjoint of `forward`: the input
    /// tiles' V and the upstream tiles' dM = A dY Aᵀ give dU = Σ_tiles Vᵀ·dM at each of the α²
    /// positions (α² GEMMs per chunk), and dw = Gᵀ dU G. The chunks of images are summed in an
    /// `OrderedSum`, so the result does not depend on the thread count.
    @inlinable
    static func filterGradient<S: TensorScalar, T: WinogradTile>(_ x: Tensor<S>, _ dout: Tensor<S>, geometry g: ConvGeometry,
                                                                 tile: T.Type) -> Tensor<S> {
        withSendablePointers(reading: dout) { upstream in
            filterGradient(x, filters: dout.shape[3], geometry: g, tile: T.self) { images, tiles, work in
                transformOutputGradient(upstream.base, images: images, g, tiles, T.self, work, into: work.m, stride: work.mStride)
            }
        }
    }

    /// `filterGradient` with the upstream tiles' dM of each chunk of images written into
    /// `work.m` by `upstream(the chunk's images, tiling, workspace)`.
    @inlinable
    static func filterGradient<S: TensorScalar, T: WinogradTile>(
        _ x: Tensor<S>, filters f: Int, geometry g: ConvGeometry, tile: T.Type,
        upstream transformUpstream: @Sendable (Range<Int>, Tiling, Workspace<S>) -> Void
    ) -> Tensor<S> {
        let n = x.shape[0], c = g.channels
        // Longer chunks than the forward's: each adds its α² products to the whole dU (C × F at
        // each position), so fewer chunks move dU through the caches fewer times.
        let tiles = Tiling(g, filters: f, tileSize: T.outputSize, minimumTiles: 256)
        let stride = positionStride(c * f), size = T.positions * stride
        let du = UnsafeMutablePointer<S>.allocate(capacity: size)
        defer { du.deallocate() }
        du.initialize(repeating: 0, count: size)
        withSendablePointers(reading: x) { input in
            OrderedSum.sum(items: tiles.chunkCount(images: n), size: size, into: du, fill: { (sums: OrderedSum.Partials<S>, blocks) in
                let work = Workspace<S>(tiles, channels: c, positions: T.positions)
                defer { work.deallocate() }
                for block in blocks {
                    for chunk in sums.items(of: block) {
                        let images = tiles.images(ofChunk: chunk, of: n)
                        let count = images.count * tiles.perImage
                        transformInput(input.base, images: images, g, tiles, T.self, work, into: work.v, stride: work.vStride)
                        transformUpstream(images, tiles, work)
                        for p in 0..<T.positions {
                            GEMM.runInCache(GemmCall(transposeA: true, m: c, n: f, k: count, a: work.v + p * work.vStride, lda: c,
                                                     b: work.m + p * work.mStride, ldb: f, beta: 1,
                                                     c: sums.partial(block) + p * stride, ldc: f))
                        }
                    }
                }
            })
        }
        var dw = Tensor<S>(uninitializedShape: [f, c, 3, 3])
        let sums = SendableConstPointer(UnsafePointer(du))
        withSendablePointers(writing: &dw) { target in
            forEachFilterRow(channels: c, filters: f) { channel in
                for filter in 0..<f {
                    T.untransformFilterGradient(sums.base + channel * f + filter, stride: stride,
                                                into: target.base + (filter * c + channel) * 9)
                }
            }
        }
        return dw
    }

    /// Runs `body(channel)` for each of the `channels` rows of a filter transform (F filters
    /// each), the rows split among the threads: each filter's transform is written by one
    /// thread, so the result is the same at any thread count.
    @inlinable
    static func forEachFilterRow(channels c: Int, filters f: Int, _ body: @Sendable (Int) -> Void) {
        Parallel.forEachChunk(c, minimumChunk: Swift.max(1, 4096 / Swift.max(1, f))) { channels in
            for channel in channels { body(channel) }
        }
    }

    /// One worker's transform buffers for a chunk of images: the input tiles' V (α² positions ×
    /// tiles × C), the output side's M or dM (α² × tiles × F), C zeros that stand in for pixels
    /// outside the plane, one tile's outputs (m × m × F) for a pool, room for images an input
    /// is unpooled into, and the α² vectors a tile's transform works in.
    @usableFromInline
    struct Workspace<S: TensorScalar> {
        @usableFromInline let v: UnsafeMutablePointer<S>, m: UnsafeMutablePointer<S>, zeros: UnsafeMutablePointer<S>
        @usableFromInline let tileOutputs: UnsafeMutablePointer<S>, images: UnsafeMutablePointer<S>
        @usableFromInline let scratch: UnsafeMutablePointer<SIMD8<S>>
        /// Elements between positions in v and in m (`positionStride`).
        @usableFromInline let vStride: Int, mStride: Int

        @inlinable
        init(_ tiles: Tiling, channels c: Int, positions: Int, scratchPerImage: Int = 0) {
            let rows = tiles.imagesPerChunk * tiles.perImage
            (vStride, mStride) = (positionStride(rows * c), positionStride(rows * tiles.filters))
            v = .allocate(capacity: positions * vStride)
            m = .allocate(capacity: positions * mStride)
            zeros = .allocate(capacity: c)
            zeros.initialize(repeating: 0, count: c)
            tileOutputs = .allocate(capacity: tiles.size * tiles.size * tiles.filters)
            images = .allocate(capacity: tiles.imagesPerChunk * scratchPerImage)
            scratch = .allocate(capacity: positions)
        }

        @inlinable
        func deallocate() {
            v.deallocate(); m.deallocate(); zeros.deallocate(); tileOutputs.deallocate(); images.deallocate(); scratch.deallocate()
        }
    }

    /// How a plane splits into m×m output tiles (the last row or column may overhang).
    @usableFromInline
    struct Tiling: Sendable {
        /// m, the outputs along each side of a tile.
        @usableFromInline let size: Int
        @usableFromInline let rows: Int, columns: Int
        /// Output channels: the row length of the output tensor.
        @usableFromInline let filters: Int
        @usableFromInline var perImage: Int { rows * columns }
        /// The fewest tiles in a chunk.
        @usableFromInline let minimumTiles: Int
        /// Images per chunk of tiles: at least `minimumTiles`.
        @usableFromInline var imagesPerChunk: Int { Swift.max(1, (minimumTiles + perImage - 1) / perImage) }
        /// Chunks that cover `n` images; each pass spreads them over the cores.
        @inlinable func chunkCount(images n: Int) -> Int { (n + imagesPerChunk - 1) / imagesPerChunk }
        /// The images of chunk `chunk` of `n`: `imagesPerChunk` of them, fewer in the last.
        @inlinable func images(ofChunk chunk: Int, of n: Int) -> Range<Int> {
            (chunk * imagesPerChunk)..<Swift.min(n, (chunk + 1) * imagesPerChunk)
        }
        @inlinable init(_ g: ConvGeometry, filters: Int, tileSize: Int, minimumTiles: Int) {
            size = tileSize
            self.minimumTiles = minimumTiles
            rows = (g.outputHeight + tileSize - 1) / tileSize
            columns = (g.outputWidth + tileSize - 1) / tileSize
            self.filters = filters
        }
    }

    /// V = Bᵀ d B for every tile of `images` and every channel: position p of tile t lands at
    /// v[p·stride + t·C + c]. Pixels outside the plane (the padding, and beyond an overhanging
    /// tile) read as zeros.
    @inlinable
    static func transformInput<S: TensorScalar, T: WinogradTile>(_ x: UnsafePointer<S>, images: Range<Int>, _ g: ConvGeometry,
                                                                 _ tiles: Tiling, _: T.Type, _ work: Workspace<S>,
                                                                 into v: UnsafeMutablePointer<S>, stride: Int) {
        let c = g.channels, side = T.patchSize, zeros = UnsafePointer(work.zeros)
        var tile = 0
        var patch = [UnsafePointer<S>](repeating: zeros, count: T.positions)
        for image in images {
            let plane = x + image * g.inputPlane * c
            for ty in 0..<tiles.rows {
                for tx in 0..<tiles.columns {
                    for i in 0..<side {
                        let y = tiles.size * ty - 1 + i
                        for j in 0..<side {
                            let column = tiles.size * tx - 1 + j
                            let inside = y >= 0 && y < g.height && column >= 0 && column < g.width
                            patch[i * side + j] = inside ? plane + (y * g.width + column) * c : zeros
                        }
                    }
                    patch.withUnsafeBufferPointer { d in
                        for channel in Swift.stride(from: 0, to: c, by: 8) {
                            T.transformInput(d.baseAddress!, channel: channel, lanes: Swift.min(8, c - channel),
                                             into: v + tile * c + channel, stride: stride, scratch: work.scratch)
                        }
                    }
                    tile += 1
                }
            }
        }
    }

    /// Y = Aᵀ M A for every tile of `images`: the outputs that fall inside the plane.
    @inlinable
    static func transformOutput<S: TensorScalar, T: WinogradTile>(_ m: UnsafePointer<S>, stride: Int, images: Range<Int>,
                                                                  _ g: ConvGeometry, _ tiles: Tiling, _: T.Type,
                                                                  _ work: Workspace<S>, into out: UnsafeMutablePointer<S>) {
        let f = tiles.filters
        forEachOutputTile(images, g, tiles) { tile, offset, rowsInside, columnsInside in
            for filter in Swift.stride(from: 0, to: f, by: 8) {
                T.transformOutput(m + tile * f + filter, stride: stride, lanes: Swift.min(8, f - filter),
                                  into: out + offset + filter, rowStride: g.outputWidth * f, columnStride: f,
                                  rowsInside: rowsInside, columnsInside: columnsInside, scratch: work.scratch)
            }
        }
    }

    /// dM = A dY Aᵀ for every tile of `images`: the adjoint of `transformOutput`, with the
    /// outputs an overhanging tile does not have read as zeros.
    @inlinable
    static func transformOutputGradient<S: TensorScalar, T: WinogradTile>(_ dout: UnsafePointer<S>, images: Range<Int>,
                                                                          _ g: ConvGeometry, _ tiles: Tiling, _: T.Type,
                                                                          _ work: Workspace<S>, into dm: UnsafeMutablePointer<S>,
                                                                          stride: Int) {
        let f = tiles.filters
        forEachOutputTile(images, g, tiles) { tile, offset, rowsInside, columnsInside in
            for filter in Swift.stride(from: 0, to: f, by: 8) {
                T.transformOutputGradient(dout + offset + filter, rowStride: g.outputWidth * f, columnStride: f,
                                          rowsInside: rowsInside, columnsInside: columnsInside, lanes: Swift.min(8, f - filter),
                                          into: dm + tile * f + filter, stride: stride, scratch: work.scratch)
            }
        }
    }

    /// Calls `body` for every output tile of `images` in order, with the tile's index in the
    /// chunk, the offset of its top-left output in the (N, H, W, F) tensor, and how many of its
    /// rows and columns lie inside the plane (fewer than m in an overhanging tile).
    @inlinable @inline(__always)
    static func forEachOutputTile(_ images: Range<Int>, _ g: ConvGeometry, _ tiles: Tiling,
                                  _ body: (_ tile: Int, _ offset: Int, _ rowsInside: Int, _ columnsInside: Int) -> Void) {
        var tile = 0
        let m = tiles.size
        for image in images {
            for ty in 0..<tiles.rows {
                for tx in 0..<tiles.columns {
                    body(tile, ((image * g.outputHeight + m * ty) * g.outputWidth + m * tx) * tiles.filters,
                         Swift.min(m, g.outputHeight - m * ty), Swift.min(m, g.outputWidth - m * tx))
                    tile += 1
                }
            }
        }
    }
}
