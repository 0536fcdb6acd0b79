/// How a batch of images lies in memory.
public enum ImageLayout: String, Sendable, CaseIterable, Equatable {
    /// (N, C, H, W): each channel's plane is contiguous, as the course and PyTorch store images.
    case nchw
    /// (N, H, W, C), "channels last": each pixel's channels are contiguous, so per-channel work
    /// runs along rows and a window's pixels unroll by copying whole channel vectors.
    case nhwc

    /// `x`, a batch in this layout, rearranged into `target`.
    @inlinable
    public func convert<S: TensorScalar>(_ x: Tensor<S>, to target: ImageLayout) throws -> Tensor<S> {
        guard x.rank == 4 else {
            throw TensorError.shapeMismatch(operation: "ImageLayout",
                detail: "input \(describeShape(x.shape)) is not a batch of images (\(self == .nchw ? "N×C×H×W" : "N×H×W×C"))")
        }
        guard target != self else { return x }
        let (n, a, b, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        // NCHW → NHWC transposes each image's (C × H·W) matrix; NHWC → NCHW its (H·W × C) one.
        let (outer, inner) = self == .nchw ? (a, b * c) : (a * b, c)
        var out = Tensor<S>(uninitializedShape: self == .nchw ? [n, b, c, a] : [n, c, a, b])
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                let source = SendableConstPointer(xb.baseAddress!), target = SendablePointer(ob.baseAddress!)
                Parallel.forEachChunk(n, minimumChunk: 16) { images in
                    for image in images {
                        ImageLayout.transpose(source.base + image * outer * inner, rows: outer, columns: inner,
                                              into: target.base + image * outer * inner)
                    }
                }
            }
        }
        return out
    }

    /// out (columns × rows) = the transpose of `matrix` (rows × columns).
    @inlinable
    static func transpose<S>(_ matrix: UnsafePointer<S>, rows: Int, columns: Int, into out: UnsafeMutablePointer<S>) {
        for r in 0..<rows {
            for c in 0..<columns { out[c * rows + r] = matrix[r * columns + c] }
        }
    }
}

/// The shape arithmetic of a window sliding over images: a convolution's filters or a pooling
/// window, over inputs in either layout. Built when a net is built, so a bad combination fails
/// before any compute with the layer's name and the numbers, as the course requires
/// ((W − F + 2P)/S + 1 must be an integer, unless `rounding` is `.floor`).
public struct ConvGeometry: Sendable, Equatable, CustomStringConvertible {
    /// How the output size treats a window that does not fit the last stride.
    public enum Rounding: Sendable, Equatable {
        /// (W − F + 2P)/S must be an integer: the course's rule for convolutions and pools.
        case exact
        /// Rows and columns that do not fill a last window are dropped (PyTorch's pools: 31 → 15).
        case floor
    }

    /// The layer's name in error messages, e.g. "conv1" or "Conv2D".
    public var layer: String
    public var channels: Int, height: Int, width: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var stride: Int, padding: Int
    public var outputHeight: Int, outputWidth: Int
    /// The layout of the inputs and outputs.
    public var layout: ImageLayout

    public init(layer: String, channels: Int, height: Int, width: Int, kernelHeight: Int, kernelWidth: Int,
                stride: Int = 1, padding: Int = 0, layout: ImageLayout = .nchw, rounding: Rounding = .exact) throws {
        func fail(_ detail: String) -> TensorError { .invalidArgument(operation: layer, detail: detail) }
        guard channels > 0, height > 0, width > 0 else {
            throw fail("input (\(channels)×\(height)×\(width)) must have positive channels, height and width")
        }
        guard kernelHeight > 0, kernelWidth > 0 else {
            throw fail("window \(kernelHeight)×\(kernelWidth) must be at least 1×1")
        }
        guard stride > 0 else { throw fail("stride \(stride) must be at least 1") }
        guard padding >= 0 else { throw fail("padding \(padding) must not be negative") }
        self.layer = layer
        self.channels = channels; self.height = height; self.width = width
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.padding = padding; self.layout = layout
        outputHeight = try ConvGeometry.outputSize(layer: layer, axis: "height", input: height, kernel: kernelHeight,
                                                   stride: stride, padding: padding, rounding: rounding)
        outputWidth = try ConvGeometry.outputSize(layer: layer, axis: "width", input: width, kernel: kernelWidth,
                                                  stride: stride, padding: padding, rounding: rounding)
    }

    /// (input − kernel + 2·padding) / stride + 1, or an error that shows the sum when the window
    /// does not fit or, with `.exact`, when it does not come out as an integer.
    public static func outputSize(layer: String, axis: String, input: Int, kernel: Int, stride: Int, padding: Int,
                                  rounding: Rounding = .exact) throws -> Int {
        let span = input - kernel + 2 * padding
        let formula = "(W − F + 2P)/S + 1 = (\(input) − \(kernel) + 2·\(padding))/\(stride) + 1"
        guard span >= 0 else {
            throw TensorError.invalidArgument(operation: layer,
                detail: "\(axis): the \(kernel)-wide window does not fit: \(formula) = \(span)/\(stride) + 1 < 1")
        }
        guard span % stride == 0 || rounding == .floor else {
            let exact = Double(span) / Double(stride) + 1
            throw TensorError.invalidArgument(operation: layer,
                detail: "\(axis): \(formula) = \(exact) is not an integer; change the padding or the stride")
        }
        return span / stride + 1
    }

    /// One image's shape in the layout: (C, H, W) or (H, W, C).
    public var inputShape: [Int] { layout == .nchw ? [channels, height, width] : [height, width, channels] }
    /// A batch of `batch` outputs with `channels` channels each, in the layout.
    public func outputShape(batch: Int, channels outputChannels: Int) -> [Int] {
        layout == .nchw ? [batch, outputChannels, outputHeight, outputWidth] : [batch, outputHeight, outputWidth, outputChannels]
    }
    /// Elements of one window over every channel: a row of the im2col matrix.
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    public var inputPlane: Int { height * width }
    public var outputPlane: Int { outputHeight * outputWidth }
    /// Windows that tile the plane: each input lies in at most one window.
    public var windowsTile: Bool { stride == kernelHeight && stride == kernelWidth && padding == 0 }

    public var description: String {
        "\(layer): (\(inputShape.map(String.init).joined(separator: "×"))) → \(outputHeight)×\(outputWidth), "
            + "window \(kernelHeight)×\(kernelWidth), stride \(stride), pad \(padding)\(layout == .nhwc ? ", channels last" : "")"
    }

    /// Checks that x is a batch of this geometry's images in its layout and returns N.
    @inlinable
    public func batchSize(of x: [Int], role: String = "input") throws -> Int {
        guard x.count == 4, Array(x.dropFirst()) == inputShape else {
            let expected = layout == .nchw ? "(N×\(channels)×\(height)×\(width))" : "(N×\(height)×\(width)×\(channels)), channels last"
            throw TensorError.shapeMismatch(operation: layer, detail: "\(role) \(describeShape(x)) is not \(expected)")
        }
        return x[0]
    }

    /// Checks an upstream gradient has the output's shape.
    @inlinable
    func checkUpstream(_ dout: [Int], batch: Int, channels outputChannels: Int) throws {
        let expected = outputShape(batch: batch, channels: outputChannels)
        guard dout == expected else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "upstream gradient \(describeShape(dout)) for output \(describeShape(expected))")
        }
    }

    /// The same windows over the same images in the other layout.
    @inlinable
    func inLayout(_ target: ImageLayout) -> ConvGeometry {
        var g = self
        g.layout = target
        return g
    }
}
