/// Average pooling over ph×pw windows moved by a stride.
public enum AvgPool2D {
    public struct Cache: Sendable {
        public var inputShape: [Int]
        public var geometry: ConvGeometry

        @inlinable
        public init(inputShape: [Int], geometry: ConvGeometry) { self.inputShape = inputShape; self.geometry = geometry }
    }

    public static func geometry(layer: String = "AvgPool2D", input: [Int], poolHeight: Int = 2,
                                poolWidth: Int = 2, stride: Int = 2) throws -> ConvGeometry {
        try poolGeometry(layer: layer, input: input, poolHeight: poolHeight, poolWidth: poolWidth, stride: stride)
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>, poolHeight: Int = 2, poolWidth: Int = 2, stride: Int = 2,
                                  layer: String = "AvgPool2D") throws -> (out: Tensor<S>, cache: Cache) {
        let g = try geometry(layer: layer, input: x.shape, poolHeight: poolHeight, poolWidth: poolWidth, stride: stride)
        let n = try g.batchSize(of: x.shape)
        var out = Tensor<S>(uninitializedShape: [n, g.channels, g.outputHeight, g.outputWidth])
        let scale = 1 / S(g.kernelHeight * g.kernelWidth)
        forEachPlane(n * g.channels, g, reading: x, every: g.inputPlane, writing: &out, every: g.outputPlane) { plane, output in
            var o = output
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    var sum: S = 0
                    for ky in 0..<g.kernelHeight {
                        let row = plane + (oy * g.stride + ky) * g.width + ox * g.stride
                        for kx in 0..<g.kernelWidth { sum += row[kx] }
                    }
                    o.pointee = sum * scale
                    o += 1
                }
            }
        }
        return (out, Cache(inputShape: x.shape, geometry: g))
    }

    /// Each input gets dout/(ph·pw) from every window that covered it.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache) throws -> Tensor<S> {
        let g = cache.geometry
        let n = try g.batchSize(of: cache.inputShape)
        try g.checkUpstream(dout.shape, batch: n, channels: g.channels)
        var dx = Tensor<S>.zeros(cache.inputShape)
        let scale = 1 / S(g.kernelHeight * g.kernelWidth)
        forEachPlane(n * g.channels, g, reading: dout, every: g.outputPlane, writing: &dx, every: g.inputPlane) { upstream, plane in
            var d = upstream
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    let share = d.pointee * scale
                    for ky in 0..<g.kernelHeight {
                        let row = plane + (oy * g.stride + ky) * g.width + ox * g.stride
                        for kx in 0..<g.kernelWidth { row[kx] += share }
                    }
                    d += 1
                }
            }
        }
        return dx
    }

    /// Calls `body` with each of the `count` planes of `source` (`sourcePlane` scalars apart) and
    /// the matching plane of `target` (`targetPlane` apart), in parallel over the planes: the
    /// plane loop the forward and backward passes share. `body` runs once per plane and keeps
    /// the window loops, so they stay plain loops.
    @inlinable
    static func forEachPlane<S>(_ count: Int, _ g: ConvGeometry, reading source: Tensor<S>, every sourcePlane: Int,
                                writing target: inout Tensor<S>, every targetPlane: Int,
                                _ body: @Sendable (UnsafePointer<S>, UnsafeMutablePointer<S>) -> Void) {
        withSendablePointers(writing: &target, reading: source) { output, input in
            Parallel.forEachChunk(count, minimumChunk: Swift.max(1, 8192 / g.inputPlane)) { planes in
                for p in planes { body(input.base + p * sourcePlane, output.base + p * targetPlane) }
            }
        }
    }
}

/// The mean of each channel's plane, (N, C, H, W) → (N, C): the head that replaces large
/// fully-connected layers (Lin et al. 2014, "Network in Network").
public enum GlobalAvgPool {
    public struct Cache: Sendable {
        public var inputShape: [Int]

        @inlinable
        public init(inputShape: [Int]) { self.inputShape = inputShape }
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>, layer: String = "GlobalAvgPool") throws -> (out: Tensor<S>, cache: Cache) {
        guard x.rank == 4, x.shape[2] * x.shape[3] > 0 else {
            throw TensorError.shapeMismatch(operation: layer, detail: "input \(describeShape(x.shape)) is not (N×C×H×W)")
        }
        let (planes, size) = (x.shape[0] * x.shape[1], x.shape[2] * x.shape[3])
        var out = Tensor<S>(uninitializedShape: [x.shape[0], x.shape[1]])
        let scale = 1 / S(size)
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                for p in 0..<planes { ob[p] = RowKernels.sum(xb.baseAddress! + p * size, count: size) * scale }
            }
        }
        return (out, Cache(inputShape: x.shape))
    }

    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache, layer: String = "GlobalAvgPool") throws -> Tensor<S> {
        guard dout.shape == Array(cache.inputShape.prefix(2)) else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "upstream gradient \(describeShape(dout.shape)) for output \(describeShape(Array(cache.inputShape.prefix(2))))")
        }
        let size = cache.inputShape[2] * cache.inputShape[3]
        var dx = Tensor<S>(uninitializedShape: cache.inputShape)
        let scale = 1 / S(size)
        dout.withUnsafeBufferPointer { db in
            dx.withUnsafeMutableBufferPointer { dxb in
                for p in 0..<db.count { (dxb.baseAddress! + p * size).update(repeating: db[p] * scale, count: size) }
            }
        }
        return dx
    }
}

/// A pooling window: the convolution geometry without padding, over inputs (N, C, H, W) or
/// (C, H, W), or the channels-last (N, H, W, C) or (H, W, C).
func poolGeometry(layer: String, input: [Int], poolHeight: Int, poolWidth: Int, stride: Int, layout: ImageLayout = .nchw,
                  rounding: ConvGeometry.Rounding = .exact) throws -> ConvGeometry {
    guard input.count == 3 || input.count == 4 else {
        throw TensorError.shapeMismatch(operation: layer,
            detail: "input \(describeShape(input)) is not \(layout == .nchw ? "(N×C×H×W) or (C×H×W)" : "(N×H×W×C) or (H×W×C)")")
    }
    let image = Array(input.suffix(3))
    let (channels, height, width) = layout == .nchw ? (image[0], image[1], image[2]) : (image[2], image[0], image[1])
    return try ConvGeometry(layer: layer, channels: channels, height: height, width: width, kernelHeight: poolHeight,
                            kernelWidth: poolWidth, stride: stride, layout: layout, rounding: rounding)
}
