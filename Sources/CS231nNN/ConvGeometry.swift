/// The shape arithmetic of a window sliding over (C, H, W) images: a convolution's filters or a
/// pooling window. Built when a net is built, so a bad combination fails before any compute with
/// the layer's name and the numbers, as the course requires ((W − F + 2P)/S + 1 must be an integer).
public struct ConvGeometry: Sendable, Equatable, CustomStringConvertible {
    /// The layer's name in error messages, e.g. "conv1" or "Conv2D".
    public var layer: String
    public var channels: Int, height: Int, width: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var stride: Int, padding: Int
    public var outputHeight: Int, outputWidth: Int

    public init(layer: String, channels: Int, height: Int, width: Int,
                kernelHeight: Int, kernelWidth: Int, stride: Int = 1, padding: Int = 0) throws {
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
        self.stride = stride; self.padding = padding
        outputHeight = try ConvGeometry.outputSize(layer: layer, axis: "height", input: height,
                                                   kernel: kernelHeight, stride: stride, padding: padding)
        outputWidth = try ConvGeometry.outputSize(layer: layer, axis: "width", input: width,
                                                  kernel: kernelWidth, stride: stride, padding: padding)
    }

    /// (input − kernel + 2·padding) / stride + 1, or an error that shows the sum when it does not
    /// come out as a positive integer.
    public static func outputSize(layer: String, axis: String, input: Int, kernel: Int,
                                  stride: Int, padding: Int) throws -> Int {
        let span = input - kernel + 2 * padding
        let formula = "(W − F + 2P)/S + 1 = (\(input) − \(kernel) + 2·\(padding))/\(stride) + 1"
        guard span >= 0 else {
            throw TensorError.invalidArgument(operation: layer,
                detail: "\(axis): the \(kernel)-wide window does not fit: \(formula) = \(span)/\(stride) + 1 < 1")
        }
        guard span % stride == 0 else {
            let exact = Double(span) / Double(stride) + 1
            throw TensorError.invalidArgument(operation: layer,
                detail: "\(axis): \(formula) = \(exact) is not an integer; change the padding or the stride")
        }
        return span / stride + 1
    }

    public var inputShape: [Int] { [channels, height, width] }
    /// Rows of the im2col matrix: one per (channel, ky, kx).
    public var patchSize: Int { channels * kernelHeight * kernelWidth }
    public var inputPlane: Int { height * width }
    public var outputPlane: Int { outputHeight * outputWidth }

    public var description: String {
        "\(layer): (\(channels)×\(height)×\(width)) → \(outputHeight)×\(outputWidth), window \(kernelHeight)×\(kernelWidth), stride \(stride), pad \(padding)"
    }

    /// Checks that x is (N, C, H, W) with this geometry's C, H, W and returns N.
    @inlinable
    public func batchSize(of x: [Int], role: String = "input") throws -> Int {
        guard x.count == 4, Array(x.dropFirst()) == inputShape else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "\(role) \(describeShape(x)) is not (N×\(channels)×\(height)×\(width))")
        }
        return x[0]
    }

    /// Checks an upstream gradient is (N, channels, Ho, Wo).
    @inlinable
    func checkUpstream(_ dout: [Int], batch: Int, channels outputChannels: Int) throws {
        let expected = [batch, outputChannels, outputHeight, outputWidth]
        guard dout == expected else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "upstream gradient \(describeShape(dout)) for output \(describeShape(expected))")
        }
    }
}

// MARK: - im2col and col2im for one image

extension ConvGeometry {
    /// Writes the (C·KH·KW) × (Ho·Wo) patch matrix of one (C, H, W) image, rows ordered
    /// (c, ky, kx) as CS231n's `im2col`, zeros where a window reaches into the padding.
    @inlinable
    public func im2col<S: TensorScalar>(_ image: UnsafePointer<S>, into columns: UnsafeMutablePointer<S>) {
        let (ho, wo) = (outputHeight, outputWidth)
        var row = columns
        for c in 0..<channels {
            let plane = image + c * inputPlane
            for ky in 0..<kernelHeight {
                for kx in 0..<kernelWidth {
                    let (first, last) = validOutputColumns(kx)
                    for oy in 0..<ho {
                        let target = row + oy * wo
                        let iy = oy * stride - padding + ky
                        guard iy >= 0, iy < height, first < last else {
                            target.update(repeating: 0, count: wo)
                            continue
                        }
                        let source = plane + iy * width - padding + kx
                        if first > 0 { target.update(repeating: 0, count: first) }
                        if stride == 1 {
                            (target + first).update(from: source + first, count: last - first)
                        } else {
                            for ox in first..<last { target[ox] = source[ox * stride] }
                        }
                        if last < wo { (target + last).update(repeating: 0, count: wo - last) }
                    }
                    row += ho * wo
                }
            }
        }
    }

    /// Adds a patch matrix back onto one (C, H, W) image: the adjoint of `im2col`, where
    /// overlapping windows sum. The caller zeroes the image first.
    @inlinable
    public func col2im<S: TensorScalar>(_ columns: UnsafePointer<S>, into image: UnsafeMutablePointer<S>) {
        let (ho, wo) = (outputHeight, outputWidth)
        var row = columns
        for c in 0..<channels {
            let plane = image + c * inputPlane
            for ky in 0..<kernelHeight {
                for kx in 0..<kernelWidth {
                    let (first, last) = validOutputColumns(kx)
                    for oy in 0..<ho where first < last {
                        let iy = oy * stride - padding + ky
                        guard iy >= 0, iy < height else { continue }
                        let source = row + oy * wo
                        let target = plane + iy * width - padding + kx
                        if stride == 1 {
                            ConvKernels.add(source + first, into: target + first, count: last - first)
                        } else {
                            for ox in first..<last { target[ox * stride] += source[ox] }
                        }
                    }
                    row += ho * wo
                }
            }
        }
    }

    /// The output columns first..<last whose window column kx lands inside the image.
    @inlinable
    func validOutputColumns(_ kx: Int) -> (Int, Int) {
        let offset = kx - padding
        // ox·stride + offset ≥ 0 and < width.
        let first = offset >= 0 ? 0 : (-offset + stride - 1) / stride
        let last = width - offset <= 0 ? 0 : Swift.min(outputWidth, (width - offset + stride - 1) / stride)
        return (Swift.min(first, last), last)
    }
}

/// Small SIMD loops on raw buffers shared by the convolution and pooling layers.
@usableFromInline
enum ConvKernels {
    /// target[i] += source[i].
    @inlinable
    static func add<S: TensorScalar>(_ source: UnsafePointer<S>, into target: UnsafeMutablePointer<S>, count: Int) {
        var i = 0
        while i + 8 <= count {
            store(load(target + i) + load(source + i), target + i)
            i += 8
        }
        while i < count { target[i] += source[i]; i += 1 }
    }

    /// Σ values[0..<count], with eight SIMD accumulators' worth of lanes.
    @inlinable
    static func sum<S: TensorScalar>(_ values: UnsafePointer<S>, count: Int) -> S {
        var accumulator = SIMD8<S>.zero
        var i = 0
        while i + 8 <= count {
            accumulator += load(values + i)
            i += 8
        }
        var total = accumulator.sum()
        while i < count { total += values[i]; i += 1 }
        return total
    }

    /// values[i] = max(values[i], 0). A plain loop: LLVM vectorises it to vmaxps, while a
    /// generic SIMD8 `.<` comparison is lowered lane by lane.
    @inlinable
    static func relu<S: TensorScalar>(_ values: UnsafeMutablePointer<S>, count: Int) {
        for i in 0..<count where values[i] < 0 { values[i] = 0 }
    }

    @inlinable @inline(__always)
    static func load<S: TensorScalar>(_ p: UnsafePointer<S>) -> SIMD8<S> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<S>.self)
    }

    @inlinable @inline(__always)
    static func load<S: TensorScalar>(_ p: UnsafeMutablePointer<S>) -> SIMD8<S> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<S>.self)
    }

    @inlinable @inline(__always)
    static func store<S: TensorScalar>(_ v: SIMD8<S>, _ p: UnsafeMutablePointer<S>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<S>.self)
    }
}
