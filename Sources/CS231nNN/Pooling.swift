/// Max pooling over ph×pw windows moved by a stride, over NCHW or channels-last (NHWC) inputs.
///
/// The gradient goes to the first largest element of each window (in row-major order), in
/// every kernel. The layout picks the kernel:
/// - NCHW, plane by plane (2×2 windows that tile in a loop the compiler vectorises); the
///   backward finds each window's maximum again from the input and the pooled output, so the
///   forward stores no indices.
/// - NHWC, pixel by pixel over contiguous channel vectors; the forward records each output's
///   winning tap (one byte), so the backward needs no input. Convolutions fuse this kernel into
///   their epilogue.
public enum MaxPool2D {
    public struct Cache<S: TensorScalar>: Sendable {
        public var inputShape: [Int]
        public var out: Tensor<S>
        public var geometry: ConvGeometry
        /// The input, for the NCHW kernel.
        public var x: Tensor<S>?
        /// The tap (ky·KW + kx) of its window that won each output, per output pixel and
        /// channel, for the NHWC kernel.
        public var winners: [UInt8]?

        @inlinable
        public init(inputShape: [Int], out: Tensor<S>, geometry: ConvGeometry, x: Tensor<S>? = nil, winners: [UInt8]? = nil) {
            self.inputShape = inputShape; self.out = out; self.geometry = geometry; self.x = x; self.winners = winners
        }
    }

    /// The geometry of a pool over inputs shaped (N, C, H, W) or (C, H, W) — (N, H, W, C) or
    /// (H, W, C) channels last — checked when the net is built. `.floor` rounding drops the rows
    /// and columns that do not fill a last window.
    public static func geometry(layer: String = "MaxPool2D", input: [Int], poolHeight: Int = 2, poolWidth: Int = 2,
                                stride: Int = 2, layout: ImageLayout = .nchw,
                                rounding: ConvGeometry.Rounding = .exact) throws -> ConvGeometry {
        try poolGeometry(layer: layer, input: input, poolHeight: poolHeight, poolWidth: poolWidth, stride: stride,
                         layout: layout, rounding: rounding)
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>, poolHeight: Int = 2, poolWidth: Int = 2, stride: Int = 2,
                                  layout: ImageLayout = .nchw, layer: String = "MaxPool2D") throws -> (out: Tensor<S>, cache: Cache<S>) {
        let g = try geometry(layer: layer, input: x.shape, poolHeight: poolHeight, poolWidth: poolWidth, stride: stride,
                             layout: layout)
        return try forward(x, geometry: g)
    }

    /// The forward with a geometry built ahead, by the kernel of its layout.
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, geometry g: ConvGeometry) throws -> (out: Tensor<S>, cache: Cache<S>) {
        _ = try g.batchSize(of: x.shape)
        guard g.layout == .nchw else {
            guard g.kernelHeight * g.kernelWidth <= 256 else {
                throw TensorError.invalidArgument(operation: g.layer,
                    detail: "a channels-last pool window has at most 256 taps, not \(g.kernelHeight)×\(g.kernelWidth)")
            }
            return forwardChannelsLast(x, geometry: g)
        }
        return forwardChannelsFirst(x, geometry: g)
    }

    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> Tensor<S> {
        let g = cache.geometry
        let n = try g.batchSize(of: cache.inputShape)
        try g.checkUpstream(dout.shape, batch: n, channels: g.channels)
        return g.layout == .nchw ? backwardChannelsFirst(dout, cache) : backwardChannelsLast(dout, cache, relu: nil)
    }

    // MARK: - Naive reference

    /// The definition as loops over NCHW inputs, the reference for the kernels.
    @inlinable
    public static func forwardNaive<S>(_ x: Tensor<S>, poolHeight: Int = 2, poolWidth: Int = 2, stride: Int = 2,
                                       layer: String = "MaxPool2D") throws -> (out: Tensor<S>, cache: Cache<S>) {
        try forwardNaive(x, geometry: geometry(layer: layer, input: x.shape, poolHeight: poolHeight, poolWidth: poolWidth,
                                               stride: stride))
    }

    @inlinable
    static func forwardNaive<S>(_ x: Tensor<S>, geometry g: ConvGeometry) throws -> (out: Tensor<S>, cache: Cache<S>) {
        let n = try g.batchSize(of: x.shape)
        var out = Tensor<S>(uninitializedShape: [n, g.channels, g.outputHeight, g.outputWidth])
        x.withUnsafeBufferPointer { xs in
            out.withUnsafeMutableBufferPointer { os in
                for p in 0..<(n * g.channels) {
                    for oy in 0..<g.outputHeight {
                        for ox in 0..<g.outputWidth {
                            os[(p * g.outputHeight + oy) * g.outputWidth + ox] = xs[g.naiveArgmax(xs, p, oy, ox)]
                        }
                    }
                }
            }
        }
        return (out, Cache(inputShape: x.shape, out: out, geometry: g, x: x))
    }

    @inlinable
    public static func backwardNaive<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> Tensor<S> {
        let g = cache.geometry
        let n = try g.batchSize(of: cache.inputShape)
        try g.checkUpstream(dout.shape, batch: n, channels: g.channels)
        var dx = Tensor<S>.zeros(cache.inputShape)
        cache.x!.withUnsafeBufferPointer { xs in
            dout.withUnsafeBufferPointer { ds in
                dx.withUnsafeMutableBufferPointer { dxs in
                    for p in 0..<(n * g.channels) {
                        for oy in 0..<g.outputHeight {
                            for ox in 0..<g.outputWidth {
                                dxs[g.naiveArgmax(xs, p, oy, ox)] += ds[(p * g.outputHeight + oy) * g.outputWidth + ox]
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    // MARK: - Whole batches by the kernels

    /// Parallel over the planes.
    @inlinable
    static func forwardChannelsFirst<S>(_ x: Tensor<S>, geometry g: ConvGeometry) -> (out: Tensor<S>, cache: Cache<S>) {
        let n = x.shape[0]
        var out = Tensor<S>(uninitializedShape: g.outputShape(batch: n, channels: g.channels))
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                let input = SendableConstPointer(xb.baseAddress!), output = SendablePointer(ob.baseAddress!)
                Parallel.forEachChunk(n * g.channels, minimumChunk: Swift.max(1, 8192 / g.inputPlane)) { planes in
                    for p in planes {
                        g.maxPoolPlane(input.base + p * g.inputPlane, into: output.base + p * g.outputPlane)
                    }
                }
            }
        }
        return (out, Cache(inputShape: x.shape, out: out, geometry: g, x: x))
    }

    @inlinable
    static func backwardChannelsFirst<S>(_ dout: Tensor<S>, _ cache: Cache<S>) -> Tensor<S> {
        let g = cache.geometry, n = cache.inputShape[0]
        var dx = Tensor<S>(uninitializedShape: cache.inputShape)
        cache.x!.withUnsafeBufferPointer { xb in
            cache.out.withUnsafeBufferPointer { ob in
                dout.withUnsafeBufferPointer { db in
                    dx.withUnsafeMutableBufferPointer { dxb in
                        let input = SendableConstPointer(xb.baseAddress!), output = SendableConstPointer(ob.baseAddress!)
                        let upstream = SendableConstPointer(db.baseAddress!), target = SendablePointer(dxb.baseAddress!)
                        Parallel.forEachChunk(n * g.channels, minimumChunk: Swift.max(1, 8192 / g.inputPlane)) { planes in
                            for p in planes {
                                g.maxUnpoolPlane(input.base + p * g.inputPlane, pooled: output.base + p * g.outputPlane,
                                                 upstream: upstream.base + p * g.outputPlane, into: target.base + p * g.inputPlane)
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Parallel over the rows of output pixels.
    @inlinable
    static func forwardChannelsLast<S>(_ x: Tensor<S>, geometry g: ConvGeometry) -> (out: Tensor<S>, cache: Cache<S>) {
        let n = x.shape[0], c = g.channels
        var out = Tensor<S>(uninitializedShape: g.outputShape(batch: n, channels: c))
        // maxPoolPixels writes every tap, so the array starts uninitialized.
        let count = out.count
        var winners = [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                winners.withUnsafeMutableBufferPointer { wb in
                    let input = SendableConstPointer(xb.baseAddress!), output = SendablePointer(ob.baseAddress!)
                    let taps = SendablePointer(wb.baseAddress!)
                    Parallel.forEachChunk(n * g.outputHeight) { rows in
                        for row in rows {
                            let (image, py) = row.quotientAndRemainder(dividingBy: g.outputHeight)
                            let offset = row * g.outputWidth * c
                            g.maxPoolPixelRow(input.base + image * g.imageSize, row: py, into: output.base + offset,
                                              channelStride: 1, pixelStride: c, winners: taps.base + offset, best: nil)
                        }
                    }
                }
            }
        }
        return (out, Cache(inputShape: x.shape, out: out, geometry: g, winners: winners))
    }

    /// dx of upstream `dout`; with `relu`, the pooled input was a ReLU's output and its backward
    /// rule is applied on the way (the winner of a window was positive exactly when the pooled
    /// value is).
    @inlinable
    static func backwardChannelsLast<S>(_ dout: Tensor<S>, _ cache: Cache<S>, relu: ReLUBackwardRule?) -> Tensor<S> {
        let g = cache.geometry, n = cache.inputShape[0], c = g.channels
        var dx = Tensor<S>(uninitializedShape: cache.inputShape)
        dout.withUnsafeBufferPointer { db in
            cache.out.withUnsafeBufferPointer { ob in
                cache.winners!.withUnsafeBufferPointer { wb in
                    dx.withUnsafeMutableBufferPointer { dxb in
                        let upstream = SendableConstPointer(db.baseAddress!), pooled = SendableConstPointer(ob.baseAddress!)
                        let taps = SendableConstPointer(wb.baseAddress!), target = SendablePointer(dxb.baseAddress!)
                        Parallel.forEachChunk(n) { images in
                            let gradient = UnsafeMutablePointer<S>.allocate(capacity: 2 * c)
                            defer { gradient.deallocate() }
                            for image in images {
                                let offset = image * g.outputPlane * c
                                g.maxUnpoolPixels(upstream.base + offset, pooled: pooled.base + offset, channelStride: 1,
                                                  pixelStride: c, winners: taps.base + offset, relu: relu,
                                                  into: target.base + image * g.imageSize, gradient: gradient)
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
