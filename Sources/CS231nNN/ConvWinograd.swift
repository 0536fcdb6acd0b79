/// Winograd's minimal filtering F(2×2, 3×3) for 3×3, padding-1, stride-1 convolutions of
/// channels-last images (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks").
/// Each 2×2 block of outputs ("tile") is computed from the 4×4 input patch around it with 16
/// multiplications per channel pair instead of 36:
///
///     Y = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A
///
/// The sum over channels at each of the 16 positions is a GEMM over all tiles of a chunk of
/// images, (tiles × C)·(C × F), so the work stays in BLAS with 2.25× fewer multiplications
/// than im2col on large planes (less on small ones, where tiles overhang the plane). No library
/// on our platforms offers it for channels-last CPU tensors, hence this file.
@usableFromInline
enum WinogradConv {
    /// 4×4 input patch per 2×2 output tile.
    @usableFromInline static let positions = 16

    /// Whether `g` is a convolution this file computes: 3×3, stride 1, padding 1. (It beats
    /// im2col only on planes of 5×5 or more: on a 3×3 plane 16 tile positions serve 9 pixels.)
    @inlinable
    static func computes(_ g: ConvGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.padding == 1
    }

    /// The filters (F, C, 3, 3) transformed, U = G g Gᵀ, as 16 matrices (C × F).
    @inlinable
    static func transformFilters<S: TensorScalar>(_ w: Tensor<S>) -> Tensor<S> {
        let (f, c) = (w.shape[0], w.shape[1])
        var u = Tensor<S>(uninitializedShape: [positions, c, f])
        w.withUnsafeBufferPointer { source in
            u.withUnsafeMutableBufferPointer { target in
                let half = S(0.5)
                let target = target.baseAddress!
                for filter in 0..<f {
                    for channel in 0..<c {
                        let g = source.baseAddress! + (filter * c + channel) * 9
                        @inline(__always) func k(_ y: Int, _ x: Int) -> S { g[y * 3 + x] }
                        // G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1] on a column of three.
                        @inline(__always) func gTimes(_ a: S, _ b: S, _ e: S) -> (S, S, S, S) {
                            (a, half * (a + b + e), half * (a - b + e), e)
                        }
                        let column0 = gTimes(k(0, 0), k(1, 0), k(2, 0)), column1 = gTimes(k(0, 1), k(1, 1), k(2, 1))
                        let column2 = gTimes(k(0, 2), k(1, 2), k(2, 2))
                        let entry = target + channel * f + filter
                        @inline(__always) func row(_ i: Int, _ a: S, _ b: S, _ e: S) {
                            let (u0, u1, u2, u3) = gTimes(a, b, e)
                            entry[(4 * i) * c * f] = u0
                            entry[(4 * i + 1) * c * f] = u1
                            entry[(4 * i + 2) * c * f] = u2
                            entry[(4 * i + 3) * c * f] = u3
                        }
                        row(0, column0.0, column1.0, column2.0); row(1, column0.1, column1.1, column2.1)
                        row(2, column0.2, column1.2, column2.2); row(3, column0.3, column1.3, column2.3)
                    }
                }
            }
        }
        return u
    }

    /// out (N, H, W, F) = x ⋆ w for a channels-last geometry `g` it `computes`. Chunks of images
    /// run in parallel, each with its own transform buffers and 16 single-threaded GEMMs; every
    /// output is written by one chunk, so the result does not depend on the thread count.
    @inlinable
    static func forward<S: TensorScalar>(_ x: Tensor<S>, _ w: Tensor<S>, geometry g: ConvGeometry) -> Tensor<S> {
        let n = x.shape[0]
        let (c, f) = (g.channels, w.shape[0])
        let u = transformFilters(w)
        var out = Tensor<S>(uninitializedShape: g.outputShape(batch: n, channels: f))
        guard n > 0 else { return out }
        let tiles = Tiling(g, filters: f)
        let perChunk = tiles.imagesPerChunk, chunks = (n + perChunk - 1) / perChunk
        x.withUnsafeBufferPointer { xb in
            u.withUnsafeBufferPointer { ub in
                out.withUnsafeMutableBufferPointer { ob in
                    let input = SendableConstPointer(xb.baseAddress!), filters = SendableConstPointer(ub.baseAddress!)
                    let output = SendablePointer(ob.baseAddress!)
                    Parallel.forEachChunk(chunks) { chunkRange in
                        let work = Workspace<S>(tiles, channels: c)
                        defer { work.deallocate() }
                        for chunk in chunkRange {
                            let images = (chunk * perChunk)..<Swift.min(n, (chunk + 1) * perChunk)
                            let count = images.count * tiles.perImage
                            transformInput(input.base, images: images, g, tiles, zeros: work.zeros, into: work.v, stride: work.vStride)
                            for p in 0..<positions {
                                GEMM.run(GemmCall(m: count, n: f, k: c, a: work.v + p * work.vStride, lda: c,
                                                  b: filters.base + p * c * f, ldb: f, c: work.m + p * work.mStride, ldc: f))
                            }
                            transformOutput(work.m, stride: work.mStride, images: images, g, tiles, into: output.base)
                        }
                    }
                }
            }
        }
        return out
    }

    /// dw (F, C, 3, 3) of upstream `dout` (N, H, W, F), the adjoint of `forward`: the input
    /// tiles' V and the upstream tiles' dM = A dY Aᵀ give dU = Σ_tiles Vᵀ·dM at each of the 16
    /// positions (16 GEMMs per chunk), and dw = Gᵀ dU G. The chunks of images are summed in an
    /// `OrderedSum`, so the result does not depend on the thread count.
    @inlinable
    static func filterGradient<S: TensorScalar>(_ x: Tensor<S>, _ dout: Tensor<S>, geometry g: ConvGeometry) -> Tensor<S> {
        let n = x.shape[0]
        let (c, f) = (g.channels, dout.shape[3])
        let tiles = Tiling(g, filters: f)
        let perChunk = tiles.imagesPerChunk, chunks = (n + perChunk - 1) / perChunk
        let du = UnsafeMutablePointer<S>.allocate(capacity: positions * c * f)
        defer { du.deallocate() }
        du.initialize(repeating: 0, count: positions * c * f)
        x.withUnsafeBufferPointer { xb in
            dout.withUnsafeBufferPointer { db in
                let input = SendableConstPointer(xb.baseAddress!), upstream = SendableConstPointer(db.baseAddress!)
                OrderedSum.sum(items: chunks, size: positions * c * f, fill: { (sums: OrderedSum.Partials<S>, blocks) in
                    let work = Workspace<S>(tiles, channels: c)
                    defer { work.deallocate() }
                    for block in blocks {
                        for chunk in sums.items(of: block) {
                            let images = (chunk * perChunk)..<Swift.min(n, (chunk + 1) * perChunk)
                            let count = images.count * tiles.perImage
                            transformInput(input.base, images: images, g, tiles, zeros: work.zeros, into: work.v, stride: work.vStride)
                            transformOutputGradient(upstream.base, images: images, g, tiles, into: work.m, stride: work.mStride)
                            for p in 0..<positions {
                                GEMM.run(GemmCall(transposeA: true, m: c, n: f, k: count, a: work.v + p * work.vStride, lda: c,
                                                  b: work.m + p * work.mStride, ldb: f, beta: 1,
                                                  c: sums.partial(block) + p * c * f, ldc: f))
                            }
                        }
                    }
                }, combine: { partial in RowKernels.add(partial, into: du, count: positions * c * f) })
            }
        }
        return untransformFilterGradient(du, filters: f, channels: c)
    }

    /// dw = Gᵀ dU G for every (filter, channel) of dU (16 × C × F).
    @inlinable
    static func untransformFilterGradient<S: TensorScalar>(_ du: UnsafePointer<S>, filters f: Int, channels c: Int) -> Tensor<S> {
        var dw = Tensor<S>(uninitializedShape: [f, c, 3, 3])
        let half = S(0.5)
        // Gᵀ on four values: the adjoint of `transformFilters`' G.
        @inline(__always) func gTransposed(_ u0: S, _ u1: S, _ u2: S, _ u3: S) -> (S, S, S) {
            (u0 + half * (u1 + u2), half * (u1 - u2), half * (u1 + u2) + u3)
        }
        dw.withUnsafeMutableBufferPointer { target in
            for filter in 0..<f {
                for channel in 0..<c {
                    @inline(__always) func u(_ i: Int, _ j: Int) -> S { du[((4 * i + j) * c + channel) * f + filter] }
                    // Gᵀ along i for each j, then along j.
                    let j0 = gTransposed(u(0, 0), u(1, 0), u(2, 0), u(3, 0)), j1 = gTransposed(u(0, 1), u(1, 1), u(2, 1), u(3, 1))
                    let j2 = gTransposed(u(0, 2), u(1, 2), u(2, 2), u(3, 2)), j3 = gTransposed(u(0, 3), u(1, 3), u(2, 3), u(3, 3))
                    let w = target.baseAddress! + (filter * c + channel) * 9
                    let row0 = gTransposed(j0.0, j1.0, j2.0, j3.0), row1 = gTransposed(j0.1, j1.1, j2.1, j3.1)
                    let row2 = gTransposed(j0.2, j1.2, j2.2, j3.2)
                    (w[0], w[1], w[2]) = row0
                    (w[3], w[4], w[5]) = row1
                    (w[6], w[7], w[8]) = row2
                }
            }
        }
        return dw
    }

    /// dM = A dY Aᵀ for every tile of `images`: the adjoint of `transformOutput`, with the
    /// outputs an overhanging tile does not have read as zeros.
    @inlinable
    static func transformOutputGradient<S: TensorScalar>(_ dout: UnsafePointer<S>, images: Range<Int>,
                                                         _ g: ConvGeometry, _ tiles: Tiling,
                                                         into dm: UnsafeMutablePointer<S>, stride: Int) {
        let f = tiles.filters
        forEachOutputTile(images, g, tiles) { tile, offset, rowsInside, columnsInside in
            let corner = dout + offset
            for filter in Swift.stride(from: 0, to: f, by: 8) {
                let lanes = Swift.min(8, f - filter)
                let y00 = SIMD8<S>(loading: corner + filter, lanes: lanes)
                let y01 = columnsInside == 2 ? SIMD8<S>(loading: corner + f + filter, lanes: lanes) : .zero
                let y10 = rowsInside == 2 ? SIMD8<S>(loading: corner + g.outputWidth * f + filter, lanes: lanes) : .zero
                let y11 = rowsInside == 2 && columnsInside == 2 ? SIMD8<S>(loading: corner + (g.outputWidth + 1) * f + filter, lanes: lanes) : .zero
                // A = Aᵀᵀ down the rows: (y0, y0 + y1, y0 − y1, −y1), then along the columns.
                let base = dm + tile * f + filter
                @inline(__always) func row(_ i: Int, _ t0: SIMD8<S>, _ t1: SIMD8<S>) {
                    t0.store(to: base + 4 * i * stride, lanes: lanes)
                    (t0 + t1).store(to: base + (4 * i + 1) * stride, lanes: lanes)
                    (t0 - t1).store(to: base + (4 * i + 2) * stride, lanes: lanes)
                    (-t1).store(to: base + (4 * i + 3) * stride, lanes: lanes)
                }
                row(0, y00, y01)
                row(1, y00 + y10, y01 + y11)
                row(2, y00 - y10, y01 - y11)
                row(3, -y10, -y11)
            }
        }
    }

    /// One worker's transform buffers for a chunk of images: the input tiles' V (16 positions ×
    /// tiles × C), the output side's M or dM (16 × tiles × F), and C zeros that stand in for
    /// pixels outside the plane.
    @usableFromInline
    struct Workspace<S: TensorScalar> {
        @usableFromInline let v: UnsafeMutablePointer<S>, m: UnsafeMutablePointer<S>, zeros: UnsafeMutablePointer<S>
        /// Elements between positions in v and in m.
        @usableFromInline let vStride: Int, mStride: Int

        @inlinable
        init(_ tiles: Tiling, channels c: Int) {
            let rows = tiles.imagesPerChunk * tiles.perImage
            (vStride, mStride) = (rows * c, rows * tiles.filters)
            v = .allocate(capacity: positions * vStride)
            m = .allocate(capacity: positions * mStride)
            zeros = .allocate(capacity: c)
            zeros.initialize(repeating: 0, count: c)
        }

        @inlinable
        func deallocate() { v.deallocate(); m.deallocate(); zeros.deallocate() }
    }

    /// How a plane splits into 2×2 output tiles (the last row or column may overhang).
    @usableFromInline
    struct Tiling: Sendable {
        @usableFromInline let rows: Int, columns: Int
        /// Output channels: the row length of the output tensor.
        @usableFromInline let filters: Int
        @usableFromInline var perImage: Int { rows * columns }
        /// Images per chunk of tiles, enough (≥ 256 tiles) to keep the 16 GEMMs efficient.
        @usableFromInline var imagesPerChunk: Int { Swift.max(1, (256 + perImage - 1) / perImage) }
        @inlinable init(_ g: ConvGeometry, filters: Int) {
            rows = (g.outputHeight + 1) / 2
            columns = (g.outputWidth + 1) / 2
            self.filters = filters
        }
    }

    /// V = Bᵀ d B for every tile of `images` and every channel: position p of tile t lands at
    /// v[p·stride + t·C + c]. Pixels outside the plane (the padding, and beyond an overhanging
    /// tile) read as zeros.
    @inlinable
    static func transformInput<S: TensorScalar>(_ x: UnsafePointer<S>, images: Range<Int>, _ g: ConvGeometry,
                                                _ tiles: Tiling, zeros: UnsafePointer<S>, into v: UnsafeMutablePointer<S>,
                                                stride: Int) {
        let c = g.channels
        var tile = 0
        var patch = [UnsafePointer<S>](repeating: zeros, count: positions)
        for image in images {
            let plane = x + image * g.inputPlane * c
            for ty in 0..<tiles.rows {
                for tx in 0..<tiles.columns {
                    for i in 0..<4 {
                        let y = 2 * ty - 1 + i
                        for j in 0..<4 {
                            let column = 2 * tx - 1 + j
                            let inside = y >= 0 && y < g.height && column >= 0 && column < g.width
                            patch[i * 4 + j] = inside ? plane + (y * g.width + column) * c : zeros
                        }
                    }
                    patch.withUnsafeBufferPointer { d in
                        for channel in Swift.stride(from: 0, to: c, by: 8) {
                            transformInput(d, channel: channel, lanes: Swift.min(8, c - channel),
                                           into: v + tile * c + channel, stride: stride)
                        }
                    }
                    tile += 1
                }
            }
        }
    }

    /// Bᵀ d B for `lanes` (≤ 8) channels from `channel` of the 16 patch pixels `d` (row order).
    /// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], applied to the columns, then to the rows.
    @inlinable @inline(__always)
    static func transformInput<S: TensorScalar>(_ d: UnsafeBufferPointer<UnsafePointer<S>>, channel: Int, lanes: Int,
                                                into target: UnsafeMutablePointer<S>, stride: Int) {
        @inline(__always) func column(_ j: Int) -> (SIMD8<S>, SIMD8<S>, SIMD8<S>, SIMD8<S>) {
            let d0 = SIMD8<S>(loading: d[j] + channel, lanes: lanes), d1 = SIMD8<S>(loading: d[4 + j] + channel, lanes: lanes)
            let d2 = SIMD8<S>(loading: d[8 + j] + channel, lanes: lanes), d3 = SIMD8<S>(loading: d[12 + j] + channel, lanes: lanes)
            return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
        }
        let (r00, r10, r20, r30) = column(0), (r01, r11, r21, r31) = column(1)
        let (r02, r12, r22, r32) = column(2), (r03, r13, r23, r33) = column(3)
        @inline(__always) func row(_ i: Int, _ a: SIMD8<S>, _ b: SIMD8<S>, _ c: SIMD8<S>, _ e: SIMD8<S>) {
            let base = target + 4 * i * stride
            (a - c).store(to: base, lanes: lanes)
            (b + c).store(to: base + stride, lanes: lanes)
            (c - b).store(to: base + 2 * stride, lanes: lanes)
            (b - e).store(to: base + 3 * stride, lanes: lanes)
        }
        row(0, r00, r01, r02, r03); row(1, r10, r11, r12, r13)
        row(2, r20, r21, r22, r23); row(3, r30, r31, r32, r33)
    }

    /// Y = Aᵀ M A for every tile of `images`: the 2×2 outputs that fall inside the plane.
    @inlinable
    static func transformOutput<S: TensorScalar>(_ m: UnsafePointer<S>, stride: Int, images: Range<Int>,
                                                 _ g: ConvGeometry, _ tiles: Tiling, into out: UnsafeMutablePointer<S>) {
        let f = tiles.filters
        forEachOutputTile(images, g, tiles) { tile, offset, rowsInside, columnsInside in
            let corner = out + offset
            for filter in Swift.stride(from: 0, to: f, by: 8) {
                let lanes = Swift.min(8, f - filter)
                let y = transformOutput(m + tile * f + filter, stride: stride, lanes: lanes)
                y.0.store(to: corner + filter, lanes: lanes)
                if columnsInside == 2 { y.1.store(to: corner + f + filter, lanes: lanes) }
                if rowsInside == 2 {
                    y.2.store(to: corner + g.outputWidth * f + filter, lanes: lanes)
                    if columnsInside == 2 { y.3.store(to: corner + (g.outputWidth + 1) * f + filter, lanes: lanes) }
                }
            }
        }
    }

    /// Calls `body` for every output tile of `images` in order, with the tile's index in the
    /// chunk, the offset of its top-left output in the (N, H, W, F) tensor, and how many of its
    /// rows and columns lie inside the plane (an overhanging tile has 1).
    @inlinable @inline(__always)
    static func forEachOutputTile(_ images: Range<Int>, _ g: ConvGeometry, _ tiles: Tiling,
                                  _ body: (_ tile: Int, _ offset: Int, _ rowsInside: Int, _ columnsInside: Int) -> Void) {
        var tile = 0
        for image in images {
            for ty in 0..<tiles.rows {
                for tx in 0..<tiles.columns {
                    body(tile, ((image * g.outputHeight + 2 * ty) * g.outputWidth + 2 * tx) * tiles.filters,
                         Swift.min(2, g.outputHeight - 2 * ty), Swift.min(2, g.outputWidth - 2 * tx))
                    tile += 1
                }
            }
        }
    }

    /// Aᵀ M A for `lanes` filters, M's 16 positions `stride` apart: the 2×2 outputs in row
    /// order. Aᵀ = [1 1 1 0; 0 1 −1 −1].
    @inlinable @inline(__always)
    static func transformOutput<S: TensorScalar>(_ m: UnsafePointer<S>, stride: Int, lanes: Int)
        -> (SIMD8<S>, SIMD8<S>, SIMD8<S>, SIMD8<S>) {
        @inline(__always) func column(_ j: Int) -> (SIMD8<S>, SIMD8<S>) {
            let m0 = SIMD8<S>(loading: m + j * stride, lanes: lanes), m1 = SIMD8<S>(loading: m + (4 + j) * stride, lanes: lanes)
            let m2 = SIMD8<S>(loading: m + (8 + j) * stride, lanes: lanes), m3 = SIMD8<S>(loading: m + (12 + j) * stride, lanes: lanes)
            return (m0 + m1 + m2, m1 - m2 - m3)
        }
        let (s00, s10) = column(0), (s01, s11) = column(1), (s02, s12) = column(2), (s03, s13) = column(3)
        return (s00 + s01 + s02, s01 - s02 - s03, s10 + s11 + s12, s11 - s12 - s13)
    }
}
