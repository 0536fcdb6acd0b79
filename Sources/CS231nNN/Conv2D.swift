/// The convolutional layer (a cross-correlation, as every framework computes it): NCHW inputs
/// (N, C, H, W), F filters (F, C, KH, KW), one bias per filter, stride S and zero padding P;
/// the output is (N, F, (H − KH + 2P)/S + 1, (W − KW + 2P)/S + 1).
///
/// Two implementations compute the same function: `forwardNaive`/`backwardNaive`, the
/// loops of the definition, kept as the reference; and `forward`/`backward`, which work one
/// image at a time in parallel over the batch, unrolling the image's patches into a matrix
/// (im2col) that stays in the core's cache and multiplying it with the filters in one GEMM.
public enum Conv2D {
    public struct Cache<S: TensorScalar>: Sendable {
        /// The input (shared with the caller, not copied).
        public var x: Tensor<S>
        /// The filters (F, C, KH, KW).
        public var w: Tensor<S>
        public var geometry: ConvGeometry

        @inlinable
        public init(x: Tensor<S>, w: Tensor<S>, geometry: ConvGeometry) {
            self.x = x; self.w = w; self.geometry = geometry
        }
    }

    /// The geometry of filters shaped `weights` (F, C, KH, KW) sliding over inputs shaped
    /// (N, C, H, W) or (C, H, W): call it when a net is built to reject bad sizes early.
    public static func geometry(layer: String = "Conv2D", input: [Int], weights: [Int],
                                stride: Int = 1, padding: Int = 0) throws -> ConvGeometry {
        guard input.count == 3 || input.count == 4 else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "input \(describeShape(input)) is not (N×C×H×W) or (C×H×W)")
        }
        let image = Array(input.suffix(3))
        guard weights.count == 4, weights[0] > 0, weights[1] == image[0] else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "filters \(describeShape(weights)) are not (F×\(image[0])×KH×KW) for input \(describeShape(input))")
        }
        return try ConvGeometry(layer: layer, channels: image[0], height: image[1], width: image[2],
                                kernelHeight: weights[2], kernelWidth: weights[3], stride: stride, padding: padding)
    }

    // MARK: - Fast path

    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, stride: Int = 1,
                                  padding: Int = 0, layer: String = "Conv2D") throws
        -> (out: Tensor<S>, cache: Cache<S>) {
        let geometry = try self.geometry(layer: layer, input: x.shape, weights: w.shape, stride: stride, padding: padding)
        var out = Tensor<S>(uninitializedShape: [0])
        try forward(x, w, b, geometry: geometry, into: &out)
        return (out, Cache(x: x, w: w, geometry: geometry))
    }

    /// The forward into a buffer the caller keeps between steps (reallocated only when its shape
    /// is wrong), with the bias and, when asked, the ReLU applied while each image's output is
    /// still in cache.
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, geometry: ConvGeometry,
                                  into out: inout Tensor<S>, relu: Bool = false) throws {
        let n = try geometry.batchSize(of: x.shape)
        let filters = try checkParameters(w, b, geometry)
        let shape = [n, filters, geometry.outputHeight, geometry.outputWidth]
        if out.shape != shape { out = Tensor(uninitializedShape: shape) }
        guard n > 0 else { return }
        let g = geometry, (patch, plane) = (geometry.patchSize, geometry.outputPlane)
        let imageSize = g.channels * g.inputPlane
        x.withUnsafeBufferPointer { xb in
            w.withUnsafeBufferPointer { wb in
                b.withUnsafeBufferPointer { bb in
                    out.withUnsafeMutableBufferPointer { ob in
                        let input = SendableConstPointer(xb.baseAddress!), weights = SendableConstPointer(wb.baseAddress!)
                        let bias = SendableConstPointer(bb.baseAddress!), output = SendablePointer(ob.baseAddress!)
                        Parallel.forEachChunk(n) { images in
                            let columns = g.isPointwise ? nil : UnsafeMutablePointer<S>.allocate(capacity: patch * plane)
                            defer { columns?.deallocate() }
                            for i in images {
                                let image = input.base + i * imageSize
                                let target = output.base + i * filters * plane
                                var patches = image
                                if let columns {
                                    g.im2col(image, into: columns)
                                    patches = UnsafePointer(columns)
                                }
                                for f in 0..<filters { (target + f * plane).update(repeating: bias.base[f], count: plane) }
                                GEMM.run(GemmCall(m: filters, n: plane, k: patch, a: weights.base, lda: patch,
                                                  b: patches, ldb: plane, beta: 1, c: target, ldc: plane))
                                if relu { ConvKernels.relu(target, count: filters * plane) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// dx (N, C, H, W), dw (F, C, KH, KW), db (F).
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws
        -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>) {
        var dx = Tensor<S>(uninitializedShape: cache.x.shape)
        var dw = Tensor<S>(uninitializedShape: cache.w.shape)
        var db = Tensor<S>(uninitializedShape: [cache.w.shape[0]])
        try gradients(dout, cache, dx: &dx, dw: &dw, db: &db)
        return (dx, dw, db)
    }

    /// dw + regularization·w and db only: the first layer of a net skips dx, which nothing
    /// upstream wants and which costs as much as the forward.
    @inlinable
    public static func parameterGradients<S>(_ dout: Tensor<S>, _ cache: Cache<S>, dw: inout Tensor<S>,
                                             db: inout Tensor<S>, regularization: S = 0) throws {
        try computeGradients(dout, cache, dx: nil, dw: &dw, db: &db, regularization: regularization)
    }

    /// All three gradients into buffers the caller keeps; dw gains regularization·w.
    @inlinable
    public static func gradients<S>(_ dout: Tensor<S>, _ cache: Cache<S>, dx: inout Tensor<S>,
                                    dw: inout Tensor<S>, db: inout Tensor<S>, regularization: S = 0) throws {
        if dx.shape != cache.x.shape { dx = Tensor(uninitializedShape: cache.x.shape) }
        try dx.withUnsafeMutableBufferPointer { target in
            try computeGradients(dout, cache, dx: target.baseAddress, dw: &dw, db: &db, regularization: regularization)
        }
    }

    /// The backward, one image at a time in parallel: dw gathers doutᵢ · colsᵢᵀ, and dx is
    /// col2im(Wᵀ · doutᵢ). The images are grouped into a fixed number of blocks, each summing
    /// its own dw and db, and the blocks are added in order, so the result does not depend on
    /// the thread count.
    @inlinable
    static func computeGradients<S>(_ dout: Tensor<S>, _ cache: Cache<S>, dx: UnsafeMutablePointer<S>?,
                                    dw: inout Tensor<S>, db: inout Tensor<S>, regularization: S) throws {
        let g = cache.geometry
        let n = try g.batchSize(of: cache.x.shape)
        let filters = cache.w.shape[0]
        try g.checkUpstream(dout.shape, batch: n, channels: filters)
        if dw.shape != cache.w.shape { dw = Tensor(uninitializedShape: cache.w.shape) }
        if db.shape != [filters] { db = Tensor(uninitializedShape: [filters]) }
        let (patch, plane, imageSize) = (g.patchSize, g.outputPlane, g.channels * g.inputPlane)
        let weightCount = filters * patch, blockSize = weightCount + filters
        let blocks = Swift.min(n, reductionBlocks)
        // Per block: its dwᵀ (K × F) then its db (F).
        let partials = UnsafeMutablePointer<S>.allocate(capacity: Swift.max(1, blocks * blockSize))
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: blocks * blockSize)
        let inputGradient = dx.map { SendablePointer($0) }
        cache.x.withUnsafeBufferPointer { xb in
            cache.w.withUnsafeBufferPointer { wb in
                dout.withUnsafeBufferPointer { upstreamBuffer in
                    let input = SendableConstPointer(xb.baseAddress!), weights = SendableConstPointer(wb.baseAddress!)
                    let upstream = SendableConstPointer(upstreamBuffer.baseAddress!)
                    let sums = SendablePointer(partials)
                    Parallel.forEachChunk(blocks) { blockRange in
                        let scratch = g.isPointwise ? nil : UnsafeMutablePointer<S>.allocate(capacity: 2 * patch * plane)
                        defer { scratch?.deallocate() }
                        for block in blockRange {
                            let dwBlock = sums.base + block * blockSize, dbBlock = dwBlock + weightCount
                            for i in Parallel.chunkRange(block, of: blocks, count: n) {
                                let image = input.base + i * imageSize
                                let d = upstream.base + i * filters * plane
                                var patches = image
                                if let scratch {
                                    g.im2col(image, into: scratch)
                                    patches = UnsafePointer(scratch)
                                }
                                // dwᵀ (K × F) += colsᵢ · doutᵢᵀ: faster than dw = doutᵢ · colsᵢᵀ for small F.
                                GEMM.run(GemmCall(transposeB: true, m: patch, n: filters, k: plane, a: patches, lda: plane,
                                                  b: d, ldb: plane, beta: 1, c: dwBlock, ldc: filters))
                                for f in 0..<filters { dbBlock[f] += ConvKernels.sum(d + f * plane, count: plane) }
                                guard let inputGradient else { continue }
                                let target = inputGradient.base + i * imageSize
                                guard let scratch else {
                                    GEMM.run(GemmCall(transposeA: true, m: patch, n: plane, k: filters, a: weights.base,
                                                      lda: patch, b: d, ldb: plane, c: target, ldc: plane))
                                    continue
                                }
                                let dcolumns = scratch + patch * plane
                                GEMM.run(GemmCall(transposeA: true, m: patch, n: plane, k: filters, a: weights.base,
                                                  lda: patch, b: d, ldb: plane, c: dcolumns, ldc: plane))
                                target.update(repeating: 0, count: imageSize)
                                g.col2im(UnsafePointer(dcolumns), into: target)
                            }
                        }
                    }
                }
            }
        }
        cache.w.withUnsafeBufferPointer { wb in
            dw.withUnsafeMutableBufferPointer { dwb in
                sumTransposedBlocks(partials, blocks: blocks, stride: blockSize, rows: patch, columns: filters,
                                    into: dwb.baseAddress!, plus: wb.baseAddress!, times: regularization)
            }
        }
        db.withUnsafeMutableBufferPointer { dbb in
            sumBlocks(partials + weightCount, blocks: blocks, stride: blockSize, count: filters,
                      into: dbb.baseAddress!, plus: nil, times: 0)
        }
    }

    /// Images per partial sum of the parameter gradients: fixed, so the sums never depend on
    /// the number of threads.
    @usableFromInline static let reductionBlocks = 8

    /// out[j] = factor·extra[j] + Σ_block partials[block·stride + j], blocks in order.
    @inlinable
    static func sumBlocks<S: TensorScalar>(_ partials: UnsafePointer<S>, blocks: Int, stride: Int, count: Int,
                                           into out: UnsafeMutablePointer<S>, plus extra: UnsafePointer<S>?, times factor: S) {
        for j in 0..<count { out[j] = extra.map { factor * $0[j] } ?? 0 }
        for block in 0..<blocks { ConvKernels.add(partials + block * stride, into: out, count: count) }
    }

    /// out (columns × rows) = factor·extra + the transpose of Σ_block partials (rows × columns),
    /// blocks in order: dw from its transposed per-block sums.
    @inlinable
    static func sumTransposedBlocks<S: TensorScalar>(_ partials: UnsafePointer<S>, blocks: Int, stride: Int, rows: Int,
                                                     columns: Int, into out: UnsafeMutablePointer<S>,
                                                     plus extra: UnsafePointer<S>?, times factor: S) {
        for j in 0..<(rows * columns) { out[j] = extra.map { factor * $0[j] } ?? 0 }
        for block in 0..<blocks {
            let transposed = partials + block * stride
            for r in 0..<rows {
                for c in 0..<columns { out[c * rows + r] += transposed[r * columns + c] }
            }
        }
    }

    /// Checks w is (F, C, KH, KW) for the geometry and b is (F); returns F.
    @inlinable
    static func checkParameters<S>(_ w: Tensor<S>, _ b: Tensor<S>, _ g: ConvGeometry) throws -> Int {
        guard w.rank == 4, w.shape[0] > 0, Array(w.shape.dropFirst()) == [g.channels, g.kernelHeight, g.kernelWidth] else {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "filters \(describeShape(w.shape)) are not (F×\(g.channels)×\(g.kernelHeight)×\(g.kernelWidth))")
        }
        guard b.shape == [w.shape[0]] else {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "bias \(describeShape(b.shape)) is not (\(w.shape[0])) for filters \(describeShape(w.shape))")
        }
        return w.shape[0]
    }
}

extension ConvGeometry {
    /// A 1×1 window with stride 1 and no padding: the image already is its patch matrix.
    @inlinable
    var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0 }
}

// MARK: - Naive reference

extension Conv2D {
    /// The definition as loops: out[n, f, y, x] = b[f] + Σ_{c, ky, kx} w[f, c, ky, kx] ·
    /// xpadded[n, c, y·S + ky, x·S + kx]. Slow; the reference the fast path is tested against.
    @inlinable
    public static func forwardNaive<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, stride: Int = 1,
                                       padding: Int = 0, layer: String = "Conv2D") throws
        -> (out: Tensor<S>, cache: Cache<S>) {
        let g = try geometry(layer: layer, input: x.shape, weights: w.shape, stride: stride, padding: padding)
        let n = try g.batchSize(of: x.shape)
        let filters = try checkParameters(w, b, g)
        var out = Tensor<S>(uninitializedShape: [n, filters, g.outputHeight, g.outputWidth])
        x.withUnsafeBufferPointer { xs in
            w.withUnsafeBufferPointer { ws in
                b.withUnsafeBufferPointer { bs in
                    out.withUnsafeMutableBufferPointer { os in
                        var o = 0
                        for i in 0..<n {
                            for f in 0..<filters {
                                for oy in 0..<g.outputHeight {
                                    for ox in 0..<g.outputWidth {
                                        var sum = bs[f]
                                        g.forEachTap(i, f, oy, ox) { xIndex, wIndex in sum += xs[xIndex] * ws[wIndex] }
                                        os[o] = sum
                                        o += 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (out, Cache(x: x, w: w, geometry: g))
    }

    /// Each output's upstream gradient flows back along the products that made it.
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
                                var o = 0
                                for i in 0..<n {
                                    for f in 0..<filters {
                                        for oy in 0..<g.outputHeight {
                                            for ox in 0..<g.outputWidth {
                                                let d = ds[o]
                                                dbs[f] += d
                                                g.forEachTap(i, f, oy, ox) { xIndex, wIndex in
                                                    dws[wIndex] += d * xs[xIndex]
                                                    dxs[xIndex] += d * ws[wIndex]
                                                }
                                                o += 1
                                            }
                                        }
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
    /// Calls body(flat index into x, flat index into w) for every filter tap of output (y, x) of
    /// filter f on image i that lands inside the image (taps on the padding contribute zero).
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
