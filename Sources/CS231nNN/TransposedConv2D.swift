/// Transposed convolution (the notes' "reverse strided convolution", also called fractionally
/// strided or, wrongly, deconvolution): each input value scales a filter that is added onto the
/// output at stride S. Inputs (N, Cin, H, W), filters (Cin, Cout, KH, KW) as PyTorch's
/// `ConvTranspose2d`, one bias per output channel; the output is
/// (N, Cout, S·(H − 1) + KH − 2P, S·(W − 1) + KW − 2P).
///
/// It is the adjoint of the convolution whose output has this layer's input shape: its forward
/// is that convolution's input-gradient pass (GEMM then col2im), and its backward that
/// convolution's forward and filter gradient, all by `Conv2D`'s kernels with its geometry.
public enum TransposedConv2D {
    public struct Cache<S: TensorScalar>: Sendable {
        public var x: Tensor<S>
        /// The filters (Cin, Cout, KH, KW).
        public var w: Tensor<S>
        /// The convolution that maps this layer's output shape back to its input shape.
        public var geometry: ConvGeometry

        @inlinable
        public init(x: Tensor<S>, w: Tensor<S>, geometry: ConvGeometry) {
            self.x = x; self.w = w; self.geometry = geometry
        }
    }

    /// S·(in − 1) + K − 2P, or an error naming the layer and the numbers when it is below 1.
    public static func outputSize(layer: String = "TransposedConv2D", axis: String, input: Int, kernel: Int,
                                  stride: Int, padding: Int) throws -> Int {
        let size = stride * (input - 1) + kernel - 2 * padding
        guard size >= 1 else {
            throw TensorError.invalidArgument(operation: layer,
                detail: "\(axis): S·(in − 1) + K − 2P = \(stride)·(\(input) − 1) + \(kernel) − 2·\(padding) = \(size) < 1")
        }
        return size
    }

    /// The geometry for filters shaped `weights` (Cin, Cout, KH, KW) over inputs (N, Cin, H, W)
    /// or (Cin, H, W): `outputHeight`/`outputWidth` of the result are the input's H and W, and
    /// `height`/`width` are this layer's output size.
    public static func geometry(layer: String = "TransposedConv2D", input: [Int], weights: [Int],
                                stride: Int = 1, padding: Int = 0) throws -> ConvGeometry {
        guard input.count == 3 || input.count == 4 else {
            throw TensorError.shapeMismatch(operation: layer, detail: "input \(describeShape(input)) is not (N×C×H×W) or (C×H×W)")
        }
        let image = Array(input.suffix(3))
        guard weights.count == 4, weights[1] > 0, weights[0] == image[0] else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "filters \(describeShape(weights)) are not (\(image[0])×Cout×KH×KW) for input \(describeShape(input))")
        }
        guard stride >= 1, padding >= 0, image[1] > 0, image[2] > 0 else {
            throw TensorError.invalidArgument(operation: layer,
                detail: "stride \(stride) must be at least 1, padding \(padding) not negative, and the input not empty")
        }
        let height = try outputSize(layer: layer, axis: "height", input: image[1], kernel: weights[2], stride: stride, padding: padding)
        let width = try outputSize(layer: layer, axis: "width", input: image[2], kernel: weights[3], stride: stride, padding: padding)
        return try ConvGeometry(layer: layer, channels: weights[1], height: height, width: width,
                                kernelHeight: weights[2], kernelWidth: weights[3], stride: stride, padding: padding)
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, stride: Int = 1, padding: Int = 0,
                                  layer: String = "TransposedConv2D") throws -> (out: Tensor<S>, cache: Cache<S>) {
        let g = try geometry(layer: layer, input: x.shape, weights: w.shape, stride: stride, padding: padding)
        _ = try checkInput(x, w, b, g)
        var out = Conv2D.inputGradientByCol2im(x, w, g)
        let (planes, plane) = (x.shape[0] * g.channels, g.inputPlane)
        out.withUnsafeMutableBufferPointer { ob in
            b.withUnsafeBufferPointer { bb in
                for p in 0..<planes {
                    let bias = bb[p % g.channels], values = ob.baseAddress! + p * plane
                    for j in 0..<plane { values[j] += bias }
                }
            }
        }
        return (out, Cache(x: x, w: w, geometry: g))
    }

    /// dx (N, Cin, H, W), dw (Cin, Cout, KH, KW), db (Cout), by the convolution's own passes:
    /// dx is the convolution of dout, and dw the convolution's filter gradient for input dout
    /// and upstream gradient x.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws
        -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>) {
        let g = cache.geometry
        let expected = [cache.x.shape[0], g.channels, g.height, g.width]
        guard dout.shape == expected else {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "upstream gradient \(describeShape(dout.shape)) for output \(describeShape(expected))")
        }
        let (dx, convolution) = try Conv2D.forward(dout, cache.w, nil, geometry: g)
        let dw = try Conv2D.backward(cache.x, convolution, needs: .weights).dw!
        let db = try dout.sum(axis: 0).reshaped([g.channels, g.inputPlane]).sum(axis: 1)
        return (dx, dw, db)
    }

    /// The definition as loops: out[n, co, y·S − P + ky, x·S − P + kx] += x[n, ci, y, x] ·
    /// w[ci, co, ky, kx], wherever that lands inside the output.
    @inlinable
    public static func forwardNaive<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, stride: Int = 1, padding: Int = 0,
                                       layer: String = "TransposedConv2D") throws -> (out: Tensor<S>, cache: Cache<S>) {
        let g = try geometry(layer: layer, input: x.shape, weights: w.shape, stride: stride, padding: padding)
        let n = try checkInput(x, w, b, g)
        var out = Tensor<S>(uninitializedShape: [n, g.channels, g.height, g.width])
        out.withUnsafeMutableBufferPointer { os in
            b.withUnsafeBufferPointer { bs in
                for i in 0..<n {
                    for c in 0..<g.channels { for j in 0..<g.inputPlane { os[(i * g.channels + c) * g.inputPlane + j] = bs[c] } }
                }
            }
            x.withUnsafeBufferPointer { xs in
                w.withUnsafeBufferPointer { ws in
                    g.forEachTransposedTap(batch: n, inputs: w.shape[0]) { xIndex, wIndex, outIndex in
                        os[outIndex] += xs[xIndex] * ws[wIndex]
                    }
                }
            }
        }
        return (out, Cache(x: x, w: w, geometry: g))
    }

    @inlinable
    public static func backwardNaive<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws
        -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>) {
        let g = cache.geometry, n = cache.x.shape[0]
        guard dout.shape == [n, g.channels, g.height, g.width] else {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "upstream gradient \(describeShape(dout.shape)) for output \(describeShape([n, g.channels, g.height, g.width]))")
        }
        var dx = Tensor<S>.zeros(cache.x.shape), dw = Tensor<S>.zeros(cache.w.shape)
        let db = try dout.sum(axis: 0).reshaped([g.channels, g.inputPlane]).sum(axis: 1)
        cache.x.withUnsafeBufferPointer { xs in
            cache.w.withUnsafeBufferPointer { ws in
                dout.withUnsafeBufferPointer { ds in
                    dx.withUnsafeMutableBufferPointer { dxs in
                        dw.withUnsafeMutableBufferPointer { dws in
                            g.forEachTransposedTap(batch: n, inputs: cache.w.shape[0]) { xIndex, wIndex, outIndex in
                                dxs[xIndex] += ds[outIndex] * ws[wIndex]
                                dws[wIndex] += ds[outIndex] * xs[xIndex]
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, db)
    }

    /// Checks x against the geometry and b is (Cout); returns N.
    @inlinable
    static func checkInput<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, _ g: ConvGeometry) throws -> Int {
        guard x.rank == 4 else {
            throw TensorError.shapeMismatch(operation: g.layer, detail: "input \(describeShape(x.shape)) is not (N×C×H×W)")
        }
        guard b.shape == [g.channels] else {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "bias \(describeShape(b.shape)) is not (\(g.channels)) for filters \(describeShape(w.shape))")
        }
        return x.shape[0]
    }
}

extension ConvGeometry {
    /// body(index into x, index into w, index into the output) for every product of the
    /// transposed convolution whose target lies inside the output (not in the cropped padding).
    /// Input value (i, ci, y, x) meets exactly the taps of the convolution's output (y, x) of
    /// filter ci, the output playing the convolution's input: `forEachTap` read the other way.
    @inlinable
    func forEachTransposedTap(batch: Int, inputs: Int, _ body: (Int, Int, Int) -> Void) {
        for i in 0..<batch {
            for ci in 0..<inputs {
                for iy in 0..<outputHeight {
                    for ix in 0..<outputWidth {
                        let xIndex = ((i * inputs + ci) * outputHeight + iy) * outputWidth + ix
                        forEachTap(i, ci, iy, ix) { outIndex, wIndex in body(xIndex, wIndex, outIndex) }
                    }
                }
            }
        }
    }
}
