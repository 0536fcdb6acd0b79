import CS231nKernels

/// Winograd's minimal filtering F(2×2, 3×3) for the 3×3, padding-1, stride-1 convolutions of
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
public enum WinogradConv {
    /// 4×4 input patch per 2×2 output tile.
    @usableFromInline static let positions = 16

    /// Whether `g` is a convolution this file computes, and one where it beats im2col: 3×3,
    /// padding 1 on a plane of at least 5×5 (on a 3×3 plane 16 tiles positions serve 9 pixels).
    @inlinable
    public static func applies(to g: ChannelsLastConv.Geometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.paddingY == 1 && g.paddingX == 1
            && g.outputHeight >= 5 && g.outputWidth >= 5
    }

    /// The filters (F, C, 3, 3) transformed, U = G g Gᵀ, as 16 matrices (C × F). With
    /// `flipped`, those of the input-gradient convolution: flipped in space, channel axes
    /// swapped (16 matrices F × C), so that `forward` computes the input gradient.
    @inlinable
    public static func transformFilters<S: TensorScalar>(_ w: Tensor<S>, filters f: Int, channels c: Int,
                                                          flipped: Bool) -> Tensor<S> {
        let (rows, columns) = flipped ? (f, c) : (c, f)
        var u = Tensor<S>(uninitializedShape: [positions, rows, columns])
        w.withUnsafeBufferPointer { source in
            u.withUnsafeMutableBufferPointer { target in
                let half = S(0.5)
                let target = target.baseAddress!
                for filter in 0..<f {
                    for channel in 0..<c {
                        let g = source.baseAddress! + (filter * c + channel) * 9
                        // k(y, x), flipped in both axes for the input gradient.
                        @inline(__always) func k(_ y: Int, _ x: Int) -> S { flipped ? g[(2 - y) * 3 + 2 - x] : g[y * 3 + x] }
                        // G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1] on a column of three.
                        @inline(__always) func gTimes(_ a: S, _ b: S, _ e: S) -> (S, S, S, S) {
                            (a, half * (a + b + e), half * (a - b + e), e)
                        }
                        let column0 = gTimes(k(0, 0), k(1, 0), k(2, 0)), column1 = gTimes(k(0, 1), k(1, 1), k(2, 1))
                        let column2 = gTimes(k(0, 2), k(1, 2), k(2, 2))
                        let entry = target + (flipped ? filter * columns + channel : channel * columns + filter)
                        @inline(__always) func row(_ i: Int, _ a: S, _ b: S, _ e: S) {
                            let (u0, u1, u2, u3) = gTimes(a, b, e)
                            entry[(4 * i) * rows * columns] = u0
                            entry[(4 * i + 1) * rows * columns] = u1
                            entry[(4 * i + 2) * rows * columns] = u2
                            entry[(4 * i + 3) * rows * columns] = u3
                        }
                        row(0, column0.0, column1.0, column2.0); row(1, column0.1, column1.1, column2.1)
                        row(2, column0.2, column1.2, column2.2); row(3, column0.3, column1.3, column2.3)
                    }
                }
            }
        }
        return u
    }

    /// out (N, H, W, F) = x ⋆ w for geometry `g` (which `applies`), with filters transformed by
    /// `transformFilters`. Chunks of images run in parallel, each with its own transform buffers
    /// and 16 single-threaded GEMMs; every output is written by one chunk, so the result does
    /// not depend on the thread count.
    @inlinable
    public static func forward<S: TensorScalar>(_ x: Tensor<S>, transformedFilters u: Tensor<S>,
                                                geometry g: ChannelsLastConv.Geometry) throws -> Tensor<S> {
        let n = try g.batchSize(of: x.shape)
        guard applies(to: g), u.shape == [positions, g.channels, g.filters] else {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "Winograd F(2×2, 3×3) needs a 3×3 padding-1 conv on ≥ 5×5 and filters (16×\(g.channels)×\(g.filters)); "
                    + "got \(g.kernelHeight)×\(g.kernelWidth) padding \(g.paddingY) on \(g.height)×\(g.width), filters \(describeShape(u.shape))")
        }
        var out = Tensor<S>(uninitializedShape: g.outputShape(batch: n))
        guard n > 0 else { return out }
        let tiles = Tiling(g)
        let perChunk = Swift.max(1, (256 + tiles.perImage - 1) / tiles.perImage)
        let chunks = (n + perChunk - 1) / perChunk
        let (c, f) = (g.channels, g.filters)
        x.withUnsafeBufferPointer { xb in
            u.withUnsafeBufferPointer { ub in
                out.withUnsafeMutableBufferPointer { ob in
                    let input = SendableConstPointer(xb.baseAddress!), filters = SendableConstPointer(ub.baseAddress!)
                    let output = SendablePointer(ob.baseAddress!)
                    Parallel.forEachChunk(chunks) { chunkRange in
                        let rows = perChunk * tiles.perImage
                        let v = UnsafeMutablePointer<S>.allocate(capacity: positions * rows * c)
                        let m = UnsafeMutablePointer<S>.allocate(capacity: positions * rows * f)
                        let zeros = UnsafeMutablePointer<S>.allocate(capacity: c)
                        zeros.initialize(repeating: 0, count: c)
                        defer { v.deallocate(); m.deallocate(); zeros.deallocate() }
                        for chunk in chunkRange {
                            let images = (chunk * perChunk)..<Swift.min(n, (chunk + 1) * perChunk)
                            let count = images.count * tiles.perImage
                            transformInput(input.base, images: images, g, tiles, zeros: zeros, into: v, stride: rows * c)
                            for p in 0..<positions {
                                GEMM.run(GemmCall(m: count, n: f, k: c, a: v + p * rows * c, lda: c,
                                                  b: filters.base + p * c * f, ldb: f, c: m + p * rows * f, ldc: f))
                            }
                            transformOutput(m, stride: rows * f, images: images, g, tiles, into: output.base)
                        }
                    }
                }
            }
        }
        return out
    }

    /// dw (F, C, 3, 3) of upstream `dout` (N, H, W, F), the adjoint of `forward`: the input
    /// tiles' V and the upstream tiles' dM = A dY Aᵀ give dU = Σ_tiles Vᵀ·dM at each of the 16
    /// positions (16 GEMMs per chunk), and dw = Gᵀ dU G. The chunks are split into a fixed number
    /// of blocks with their own sums, added in order, so the result does not depend on the
    /// thread count.
    @inlinable
    public static func filterGradient<S: TensorScalar>(_ x: Tensor<S>, _ dout: Tensor<S>,
                                                       geometry g: ChannelsLastConv.Geometry) throws -> Tensor<S> {
        let n = try g.batchSize(of: x.shape)
        guard applies(to: g), dout.shape == g.outputShape(batch: n) else {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "Winograd F(2×2, 3×3) needs a 3×3 padding-1 conv on ≥ 5×5 and an upstream gradient "
                    + "\(describeShape(g.outputShape(batch: n))); got \(g.kernelHeight)×\(g.kernelWidth) padding \(g.paddingY) "
                    + "on \(g.height)×\(g.width), upstream \(describeShape(dout.shape))")
        }
        let (c, f) = (g.channels, g.filters), blockSize = positions * c * f
        let tiles = Tiling(g)
        let perChunk = Swift.max(1, (256 + tiles.perImage - 1) / tiles.perImage)
        let chunks = (n + perChunk - 1) / perChunk, blocks = Swift.max(1, Swift.min(chunks, Conv2D.reductionBlocks))
        let partials = UnsafeMutablePointer<S>.allocate(capacity: blocks * blockSize)
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: blocks * blockSize)
        x.withUnsafeBufferPointer { xb in
            dout.withUnsafeBufferPointer { db in
                let input = SendableConstPointer(xb.baseAddress!), upstream = SendableConstPointer(db.baseAddress!)
                let sums = SendablePointer(partials)
                Parallel.forEachChunk(blocks) { blockRange in
                    let rows = perChunk * tiles.perImage
                    let v = UnsafeMutablePointer<S>.allocate(capacity: positions * rows * c)
                    let dm = UnsafeMutablePointer<S>.allocate(capacity: positions * rows * f)
                    let zeros = UnsafeMutablePointer<S>.allocate(capacity: c)
                    zeros.initialize(repeating: 0, count: c)
                    defer { v.deallocate(); dm.deallocate(); zeros.deallocate() }
                    for block in blockRange {
                        for chunk in Parallel.chunkRange(block, of: blocks, count: chunks) {
                            let images = (chunk * perChunk)..<Swift.min(n, (chunk + 1) * perChunk)
                            let count = images.count * tiles.perImage
                            transformInput(input.base, images: images, g, tiles, zeros: zeros, into: v, stride: rows * c)
                            transformOutputGradient(upstream.base, images: images, g, tiles, into: dm, stride: rows * f)
                            for p in 0..<positions {
                                GEMM.run(GemmCall(transposeA: true, m: c, n: f, k: count, a: v + p * rows * c, lda: c,
                                                  b: dm + p * rows * f, ldb: f, beta: 1,
                                                  c: sums.base + block * blockSize + p * c * f, ldc: f))
                            }
                        }
                    }
                }
            }
        }
        for block in 1..<blocks { ConvKernels.add(partials + block * blockSize, into: partials, count: blockSize) }
        return untransformFilterGradient(partials, filters: f, channels: c)
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
                                                         _ g: ChannelsLastConv.Geometry, _ tiles: Tiling,
                                                         into dm: UnsafeMutablePointer<S>, stride: Int) {
        let f = g.filters
        forEachOutputTile(images, g, tiles) { tile, offset, rowsInside, columnsInside in
            let corner = dout + offset
            for filter in Swift.stride(from: 0, to: f, by: 8) {
                let lanes = Swift.min(8, f - filter)
                let y00 = load(corner + filter, lanes)
                let y01 = columnsInside == 2 ? load(corner + f + filter, lanes) : .zero
                let y10 = rowsInside == 2 ? load(corner + g.outputWidth * f + filter, lanes) : .zero
                let y11 = rowsInside == 2 && columnsInside == 2 ? load(corner + (g.outputWidth + 1) * f + filter, lanes) : .zero
                // A = Aᵀᵀ down the rows: (y0, y0 + y1, y0 − y1, −y1), then along the columns.
                let base = dm + tile * f + filter
                @inline(__always) func row(_ i: Int, _ t0: SIMD8<S>, _ t1: SIMD8<S>) {
                    store(t0, base + 4 * i * stride, lanes)
                    store(t0 + t1, base + (4 * i + 1) * stride, lanes)
                    store(t0 - t1, base + (4 * i + 2) * stride, lanes)
                    store(-t1, base + (4 * i + 3) * stride, lanes)
                }
                row(0, y00, y01)
                row(1, y00 + y10, y01 + y11)
                row(2, y00 - y10, y01 - y11)
                row(3, -y10, -y11)
            }
        }
    }

    /// How a plane splits into 2×2 output tiles (the last row or column may overhang).
    @usableFromInline
    struct Tiling: Sendable {
        @usableFromInline let rows: Int, columns: Int
        @usableFromInline var perImage: Int { rows * columns }
        @inlinable init(_ g: ChannelsLastConv.Geometry) {
            rows = (g.outputHeight + 1) / 2
            columns = (g.outputWidth + 1) / 2
        }
    }

    /// V = Bᵀ d B for every tile of `images` and every channel: position p of tile t lands at
    /// v[p·stride + t·C + c]. Pixels outside the plane (the padding, and beyond an overhanging
    /// tile) read as zeros.
    @inlinable
    static func transformInput<S: TensorScalar>(_ x: UnsafePointer<S>, images: Range<Int>, _ g: ChannelsLastConv.Geometry,
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
            let d0 = load(d[j] + channel, lanes), d1 = load(d[4 + j] + channel, lanes)
            let d2 = load(d[8 + j] + channel, lanes), d3 = load(d[12 + j] + channel, lanes)
            return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
        }
        let (r00, r10, r20, r30) = column(0), (r01, r11, r21, r31) = column(1)
        let (r02, r12, r22, r32) = column(2), (r03, r13, r23, r33) = column(3)
        @inline(__always) func row(_ i: Int, _ a: SIMD8<S>, _ b: SIMD8<S>, _ c: SIMD8<S>, _ e: SIMD8<S>) {
            let base = target + 4 * i * stride
            store(a - c, base, lanes)
            store(b + c, base + stride, lanes)
            store(c - b, base + 2 * stride, lanes)
            store(b - e, base + 3 * stride, lanes)
        }
        row(0, r00, r01, r02, r03); row(1, r10, r11, r12, r13)
        row(2, r20, r21, r22, r23); row(3, r30, r31, r32, r33)
    }

    /// Y = Aᵀ M A for every tile of `images`: the 2×2 outputs that fall inside the plane.
    @inlinable
    static func transformOutput<S: TensorScalar>(_ m: UnsafePointer<S>, stride: Int, images: Range<Int>,
                                                 _ g: ChannelsLastConv.Geometry, _ tiles: Tiling, into out: UnsafeMutablePointer<S>) {
        let f = g.filters
        forEachOutputTile(images, g, tiles) { tile, offset, rowsInside, columnsInside in
            let corner = out + offset
            for filter in Swift.stride(from: 0, to: f, by: 8) {
                let lanes = Swift.min(8, f - filter)
                let y = transformOutput(m + tile * f + filter, stride: stride, lanes: lanes)
                store(y.0, corner + filter, lanes)
                if columnsInside == 2 { store(y.1, corner + f + filter, lanes) }
                if rowsInside == 2 {
                    store(y.2, corner + g.outputWidth * f + filter, lanes)
                    if columnsInside == 2 { store(y.3, corner + (g.outputWidth + 1) * f + filter, lanes) }
                }
            }
        }
    }

    /// Calls `body` for every output tile of `images` in order, with the tile's index in the
    /// chunk, the offset of its top-left output in the (N, H, W, F) tensor, and how many of its
    /// rows and columns lie inside the plane (an overhanging tile has 1).
    @inlinable @inline(__always)
    static func forEachOutputTile(_ images: Range<Int>, _ g: ChannelsLastConv.Geometry, _ tiles: Tiling,
                                  _ body: (_ tile: Int, _ offset: Int, _ rowsInside: Int, _ columnsInside: Int) -> Void) {
        var tile = 0
        for image in images {
            for ty in 0..<tiles.rows {
                for tx in 0..<tiles.columns {
                    body(tile, ((image * g.outputHeight + 2 * ty) * g.outputWidth + 2 * tx) * g.filters,
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
            let m0 = load(m + j * stride, lanes), m1 = load(m + (4 + j) * stride, lanes)
            let m2 = load(m + (8 + j) * stride, lanes), m3 = load(m + (12 + j) * stride, lanes)
            return (m0 + m1 + m2, m1 - m2 - m3)
        }
        let (s00, s10) = column(0), (s01, s11) = column(1), (s02, s12) = column(2), (s03, s13) = column(3)
        return (s00 + s01 + s02, s01 - s02 - s03, s10 + s11 + s12, s11 - s12 - s13)
    }

    /// 8 values, or the first `lanes` with zeros after them.
    @inlinable @inline(__always)
    static func load<S: TensorScalar>(_ p: UnsafePointer<S>, _ lanes: Int) -> SIMD8<S> {
        if lanes == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<S>.self) }
        var v = SIMD8<S>.zero
        for lane in 0..<lanes { v[lane] = p[lane] }
        return v
    }

    @inlinable @inline(__always)
    static func store<S: TensorScalar>(_ v: SIMD8<S>, _ p: UnsafeMutablePointer<S>, _ lanes: Int) {
        if lanes == 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<S>.self); return }
        for lane in 0..<lanes { p[lane] = v[lane] }
    }
}
