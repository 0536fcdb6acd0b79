/// Stride-1 convolution of channels-last images (N, H, W, C), the layout of the modern CNN:
/// each pixel's channels are contiguous, so a whole chunk of images unrolls into one tall patch
/// matrix (rows = pixels, columns = (ky, kx, c)) by copying C-vectors, and one GEMM against the
/// filters gives the chunk's output already channels-last. Filters keep PyTorch's (F, C, KH, KW)
/// layout in the parameters and are repacked once per call.
///
/// The input gradient of a stride-1 convolution is itself a stride-1 convolution: the upstream
/// gradient, padded by K − 1 − P, correlated with the filters flipped in space and with their
/// two channel axes swapped. So the backward reuses the forward's kernel instead of a col2im
/// scatter.
public enum ChannelsLastConv {
    public struct Geometry: Sendable, Equatable {
        public let layer: String
        public let channels: Int, height: Int, width: Int
        public let filters: Int, kernelHeight: Int, kernelWidth: Int
        /// Zero padding above/below and left/right.
        public let paddingY: Int, paddingX: Int

        /// Checks that the window fits: output = H − KH + 2P + 1 must be positive, and P < K so
        /// that the input gradient is again a padded convolution.
        public init(layer: String, channels: Int, height: Int, width: Int, filters: Int, kernelHeight: Int,
                    kernelWidth: Int, paddingY: Int, paddingX: Int) throws {
            guard channels > 0, height > 0, width > 0, filters > 0, kernelHeight > 0, kernelWidth > 0 else {
                throw TensorError.shapeMismatch(operation: layer,
                    detail: "input \(height)×\(width)×\(channels) and \(filters) filters \(kernelHeight)×\(kernelWidth) must all be positive")
            }
            guard paddingY >= 0, paddingX >= 0, paddingY < kernelHeight, paddingX < kernelWidth else {
                throw TensorError.invalidArgument(operation: layer,
                    detail: "padding \(paddingY)×\(paddingX) must be ≥ 0 and smaller than the kernel \(kernelHeight)×\(kernelWidth)")
            }
            let outputHeight = height - kernelHeight + 2 * paddingY + 1, outputWidth = width - kernelWidth + 2 * paddingX + 1
            guard outputHeight > 0, outputWidth > 0 else {
                throw TensorError.shapeMismatch(operation: layer,
                    detail: "a \(kernelHeight)×\(kernelWidth) kernel with padding \(paddingY)×\(paddingX) does not fit a \(height)×\(width) input "
                        + "(output (H − KH + 2P) + 1 = \(outputHeight)×\(outputWidth))")
            }
            self.layer = layer
            self.channels = channels; self.height = height; self.width = width
            self.filters = filters; self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
            self.paddingY = paddingY; self.paddingX = paddingX
        }

        /// A K×K window with padding P on every side ("same" when P = (K − 1)/2).
        public init(layer: String, channels: Int, height: Int, width: Int, filters: Int, kernel: Int, padding: Int) throws {
            try self.init(layer: layer, channels: channels, height: height, width: width, filters: filters,
                          kernelHeight: kernel, kernelWidth: kernel, paddingY: padding, paddingX: padding)
        }

        public var outputHeight: Int { height - kernelHeight + 2 * paddingY + 1 }
        public var outputWidth: Int { width - kernelWidth + 2 * paddingX + 1 }
        public var inputPlane: Int { height * width }
        public var outputPlane: Int { outputHeight * outputWidth }
        /// Columns of the patch matrix: KH·KW·C.
        public var patchSize: Int { kernelHeight * kernelWidth * channels }
        public var filterShape: [Int] { [filters, channels, kernelHeight, kernelWidth] }

        public func inputShape(batch: Int) -> [Int] { [batch, height, width, channels] }
        public func outputShape(batch: Int) -> [Int] { [batch, outputHeight, outputWidth, filters] }

        /// The convolution that maps the output gradient to the input gradient.
        @inlinable
        public var inputGradient: Geometry {
            // Valid by construction: P < K, and its output is the input's H×W.
            try! Geometry(layer: layer, channels: filters, height: outputHeight, width: outputWidth, filters: channels,
                          kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                          paddingY: kernelHeight - 1 - paddingY, paddingX: kernelWidth - 1 - paddingX)
        }

        /// The batch size of `shape`, which must be (N, H, W, C) of this geometry.
        @inlinable
        public func batchSize(of shape: [Int], what: String = "input") throws -> Int {
            guard shape.count == 4, Array(shape.dropFirst()) == [height, width, channels] else {
                throw TensorError.shapeMismatch(operation: layer,
                    detail: "\(what) \(describeShape(shape)) is not (N×\(height)×\(width)×\(channels)), channels last")
            }
            return shape[0]
        }

        /// Images per GEMM: enough pixels (≥ 256 rows) to keep the multiply efficient on small planes.
        @inlinable
        var imagesPerChunk: Int { Swift.max(1, (256 + outputPlane - 1) / outputPlane) }

        /// Unrolls images `images` into `columns` (their output pixels × patchSize), zeros
        /// where the window hangs over the padding.
        @inlinable
        func im2col<S: TensorScalar>(_ input: UnsafePointer<S>, images: Range<Int>, into columns: UnsafeMutablePointer<S>) {
            let c = channels, rowLength = kernelWidth * c
            var row = columns
            for image in images {
                let source = input + image * inputPlane * c
                for oy in 0..<outputHeight {
                    for ox in 0..<outputWidth {
                        for ky in 0..<kernelHeight {
                            let iy = oy - paddingY + ky
                            let target = row + ky * rowLength
                            guard iy >= 0, iy < height else {
                                target.update(repeating: 0, count: rowLength)
                                continue
                            }
                            let firstX = ox - paddingX
                            if firstX >= 0 && firstX + kernelWidth <= width {
                                // The whole kernel row is inside: its KW pixels are contiguous.
                                target.update(from: source + (iy * width + firstX) * c, count: rowLength)
                                continue
                            }
                            for kx in 0..<kernelWidth {
                                let ix = firstX + kx
                                if ix >= 0 && ix < width {
                                    (target + kx * c).update(from: source + (iy * width + ix) * c, count: c)
                                } else {
                                    (target + kx * c).update(repeating: 0, count: c)
                                }
                            }
                        }
                        row += patchSize
                    }
                }
            }
        }
    }

    /// Filters (F, C, KH, KW) as the GEMM's right operand (KH·KW·C × F); with `flipped`, the
    /// input-gradient filters: spatially flipped, channel axes swapped (KH·KW·F × C).
    @inlinable
    public static func packFilters<S: TensorScalar>(_ w: Tensor<S>, _ g: Geometry, flipped: Bool = false) -> Tensor<S> {
        let (f, c, kh, kw) = (g.filters, g.channels, g.kernelHeight, g.kernelWidth)
        var packed = Tensor<S>(uninitializedShape: flipped ? [kh * kw * f, c] : [g.patchSize, f])
        w.withUnsafeBufferPointer { source in
            packed.withUnsafeMutableBufferPointer { target in
                for filter in 0..<f {
                    for channel in 0..<c {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                let value = source[((filter * c + channel) * kh + ky) * kw + kx]
                                if flipped {
                                    target[(((kh - 1 - ky) * kw + (kw - 1 - kx)) * f + filter) * c + channel] = value
                                } else {
                                    target[((ky * kw + kx) * c + channel) * f + filter] = value
                                }
                            }
                        }
                    }
                }
            }
        }
        return packed
    }

    /// out (N, OH, OW, F) = x ⋆ w, with packed filters; chunks of images in parallel, each an
    /// im2col into a per-thread buffer and one single-threaded GEMM.
    @inlinable
    public static func forward<S: TensorScalar>(_ x: Tensor<S>, packedFilters: Tensor<S>, geometry g: Geometry,
                                                into out: inout Tensor<S>) throws {
        let n = try g.batchSize(of: x.shape)
        guard packedFilters.shape == [g.patchSize, g.filters] else {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "packed filters \(describeShape(packedFilters.shape)) are not (\(g.patchSize)×\(g.filters))")
        }
        let shape = g.outputShape(batch: n)
        if out.shape != shape { out = Tensor(uninitializedShape: shape) }
        guard n > 0 else { return }
        let perChunk = g.imagesPerChunk, chunks = (n + perChunk - 1) / perChunk
        let (patch, plane, filters) = (g.patchSize, g.outputPlane, g.filters)
        x.withUnsafeBufferPointer { xb in
            packedFilters.withUnsafeBufferPointer { wb in
                out.withUnsafeMutableBufferPointer { ob in
                    let input = SendableConstPointer(xb.baseAddress!), weights = SendableConstPointer(wb.baseAddress!)
                    let output = SendablePointer(ob.baseAddress!)
                    Parallel.forEachChunk(chunks) { chunkRange in
                        let columns = UnsafeMutablePointer<S>.allocate(capacity: perChunk * plane * patch)
                        defer { columns.deallocate() }
                        for chunk in chunkRange {
                            let images = (chunk * perChunk)..<Swift.min(n, (chunk + 1) * perChunk)
                            g.im2col(input.base, images: images, into: columns)
                            GEMM.run(GemmCall(m: images.count * plane, n: filters, k: patch, a: columns, lda: patch,
                                              b: weights.base, ldb: filters, c: output.base + images.lowerBound * plane * filters,
                                              ldc: filters))
                        }
                    }
                }
            }
        }
    }

    /// out (N, OH, OW, F) = x ⋆ w from (F, C, KH, KW) filters: by Winograd where it applies
    /// (3×3, padding 1, planes of 5×5 or more), else by im2col.
    @inlinable
    public static func forward<S: TensorScalar>(_ x: Tensor<S>, _ w: Tensor<S>, geometry g: Geometry) throws -> Tensor<S> {
        try checkFilters(w, g)
        if WinogradConv.applies(to: g) {
            let u = WinogradConv.transformFilters(w, filters: g.filters, channels: g.channels, flipped: false)
            return try WinogradConv.forward(x, transformedFilters: u, geometry: g)
        }
        var out = Tensor<S>(uninitializedShape: [0])
        try forward(x, packedFilters: packFilters(w, g), geometry: g, into: &out)
        return out
    }

    /// dx (N, H, W, C) of upstream `dout` (N, OH, OW, F): the forward of the input-gradient geometry.
    @inlinable
    public static func inputGradient<S: TensorScalar>(_ dout: Tensor<S>, _ w: Tensor<S>, geometry g: Geometry) throws -> Tensor<S> {
        try checkFilters(w, g)
        let transposed = g.inputGradient
        if WinogradConv.applies(to: transposed) {
            let u = WinogradConv.transformFilters(w, filters: g.filters, channels: g.channels, flipped: true)
            return try WinogradConv.forward(dout, transformedFilters: u, geometry: transposed)
        }
        var dx = Tensor<S>(uninitializedShape: [0])
        try forward(dout, packedFilters: packFilters(w, g, flipped: true), geometry: transposed, into: &dx)
        return dx
    }

    /// dw (F, C, KH, KW) = Σ over pixels of patch ⊗ dout, by Winograd where it applies. The images are split into a fixed
    /// number of blocks, each accumulating its own (KH·KW·C × F) sum, and the blocks are added
    /// in order, so the result does not depend on the thread count.
    @inlinable
    public static func filterGradient<S: TensorScalar>(_ x: Tensor<S>, _ dout: Tensor<S>, geometry g: Geometry) throws -> Tensor<S> {
        let n = try g.batchSize(of: x.shape)
        guard dout.shape == g.outputShape(batch: n) else {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "upstream gradient \(describeShape(dout.shape)) is not \(describeShape(g.outputShape(batch: n)))")
        }
        if WinogradConv.applies(to: g) { return try WinogradConv.filterGradient(x, dout, geometry: g) }
        let (patch, plane, filters) = (g.patchSize, g.outputPlane, g.filters)
        let blockSize = patch * filters, blocks = Swift.max(1, Swift.min(n, Conv2D.reductionBlocks))
        let perChunk = g.imagesPerChunk
        let partials = UnsafeMutablePointer<S>.allocate(capacity: blocks * blockSize)
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: blocks * blockSize)
        x.withUnsafeBufferPointer { xb in
            dout.withUnsafeBufferPointer { db in
                let input = SendableConstPointer(xb.baseAddress!), upstream = SendableConstPointer(db.baseAddress!)
                let sums = SendablePointer(partials)
                Parallel.forEachChunk(blocks) { blockRange in
                    let columns = UnsafeMutablePointer<S>.allocate(capacity: perChunk * plane * patch)
                    defer { columns.deallocate() }
                    for block in blockRange {
                        let blockImages = Parallel.chunkRange(block, of: blocks, count: n)
                        for start in stride(from: blockImages.lowerBound, to: blockImages.upperBound, by: perChunk) {
                            let images = start..<Swift.min(blockImages.upperBound, start + perChunk)
                            g.im2col(input.base, images: images, into: columns)
                            GEMM.run(GemmCall(transposeA: true, m: patch, n: filters, k: images.count * plane, a: columns,
                                              lda: patch, b: upstream.base + start * plane * filters, ldb: filters,
                                              beta: 1, c: sums.base + block * blockSize, ldc: filters))
                        }
                    }
                }
            }
        }
        for block in 1..<blocks { ConvKernels.add(partials + block * blockSize, into: partials, count: blockSize) }
        var dw = Tensor<S>(uninitializedShape: g.filterShape)
        let (c, kh, kw) = (g.channels, g.kernelHeight, g.kernelWidth)
        dw.withUnsafeMutableBufferPointer { target in
            for filter in 0..<filters {
                for channel in 0..<c {
                    for ky in 0..<kh {
                        for kx in 0..<kw {
                            target[((filter * c + channel) * kh + ky) * kw + kx] = partials[((ky * kw + kx) * c + channel) * filters + filter]
                        }
                    }
                }
            }
        }
        return dw
    }

    @inlinable
    static func checkFilters<S>(_ w: Tensor<S>, _ g: Geometry) throws {
        guard w.shape == g.filterShape else {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "filters \(describeShape(w.shape)) are not \(describeShape(g.filterShape)) (F×C×KH×KW)")
        }
    }
}

/// NCHW ⇄ NHWC for whole batches.
public enum ChannelsLast {
    /// (N, C, H, W) → (N, H, W, C).
    @inlinable
    public static func fromNCHW<S: TensorScalar>(_ x: Tensor<S>) throws -> Tensor<S> {
        guard x.rank == 4 else {
            throw TensorError.shapeMismatch(operation: "ChannelsLast", detail: "input \(describeShape(x.shape)) is not (N×C×H×W)")
        }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var out = Tensor<S>(uninitializedShape: [n, h, w, c])
        permute(x, into: &out, images: n, outer: c, inner: h * w)
        return out
    }

    /// (N, H, W, C) → (N, C, H, W).
    @inlinable
    public static func toNCHW<S: TensorScalar>(_ x: Tensor<S>) throws -> Tensor<S> {
        guard x.rank == 4 else {
            throw TensorError.shapeMismatch(operation: "ChannelsLast", detail: "input \(describeShape(x.shape)) is not (N×H×W×C)")
        }
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var out = Tensor<S>(uninitializedShape: [n, c, h, w])
        permute(x, into: &out, images: n, outer: h * w, inner: c)
        return out
    }

    /// Transposes each image's (outer × inner) matrix.
    @inlinable
    static func permute<S: TensorScalar>(_ x: Tensor<S>, into out: inout Tensor<S>, images: Int, outer: Int, inner: Int) {
        let size = outer * inner
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                let source = SendableConstPointer(xb.baseAddress!), target = SendablePointer(ob.baseAddress!)
                Parallel.forEachChunk(images, minimumChunk: 16) { range in
                    for image in range {
                        let from = source.base + image * size, to = target.base + image * size
                        for o in 0..<outer {
                            for i in 0..<inner { to[i * outer + o] = from[o * inner + i] }
                        }
                    }
                }
            }
        }
    }
}
