/// The convolutional layer (a cross-correlation, as every framework computes it): inputs
/// (N, C, H, W), or (N, H, W, C) channels last; F filters (F, C, KH, KW) in either case; one
/// optional bias per filter; stride S and zero padding P. The output is
/// (N, F, (H − KH + 2P)/S + 1, (W − KW + 2P)/S + 1) in the input's layout.
///
/// An epilogue fuses what usually follows a convolution into its pass over the output: the
/// bias, a ReLU or GELU, and a max pool (CS231n's conv-ReLU-pool sandwich, whose ReLU then
/// costs no pass of its own: its backward rides on the pool's).
///
/// One function, several algorithms. `forwardNaive`/`backwardNaive` are the definition as
/// loops, the reference everything else is tested against. `forward` picks an algorithm by
/// `algorithm(for:filters:scalar:)`, a rule of the scalar type and the geometry:
///
/// | case (first that holds)                                   | Float         | Double     |
/// |-----------------------------------------------------------|---------------|------------|
/// | F a multiple of 16 and C ≤ 4 (a first layer over colours)  | `direct`      | `im2col`   |
/// | 3×3 window, stride 1, padding 1, output ≥ 7×7              | `winograd4x4` | `winograd` |
/// | the same, output ≥ 5×5                                     | `winograd`    | `winograd` |
/// | the same, output 3 or 4 a side (one tile of F(4×4))         | `winograd4x4` | `im2col`   |
/// | anything else                                             | `im2col`      | `im2col`   |
///
/// - `im2col`: each image's zero-padded patches unrolled into a matrix (one row per output
///   pixel) and multiplied with the packed filters in one GEMM.
/// - `winograd`: Winograd's F(2×2, 3×3), 16 GEMMs over the tiles of a chunk of images, 2.25×
///   fewer multiplications; runs channels last (NCHW inputs are transposed around it).
/// - `winograd4x4`: F(4×4, 3×3), 36 GEMMs, 4× fewer multiplications. Its transforms round more,
///   so the rule takes it for Float only, where it stays within 1e-4 (relative) of the Double
///   reference; Double, the reference type, keeps F(2×2, 3×3). On a 5×5 or 6×6 plane both
///   tiles need as many multiplications, and F(2×2)'s transforms are cheaper.
/// - `direct`: a register-tiled loop over the padded image, no patch matrix: where K = C·KH·KW
///   is small, unrolling and packing would cost as much as the multiply.
///
/// Any algorithm can be forced, for a test or a benchmark: pass `algorithm:`, or run code under
/// `withAlgorithm(_:_:)`. Every algorithm runs in both scalar types; the gradients of each are
/// checked against the naive Double reference.
///
/// The input gradient of a stride-1 convolution with a square window is itself a convolution
/// (of the upstream gradient padded by K − 1 − P, with the filters flipped in space and their
/// channel axes swapped), which channels-last backward passes run through the forward's own
/// algorithm; other cases add the patch-matrix gradient back onto the image (col2im).
public enum Conv2D {
    public enum Algorithm: String, Sendable, CaseIterable, Equatable {
        /// The definition as loops: `forwardNaive`, and the reference layers for the epilogue.
        case naive
        /// Patches unrolled into a matrix and multiplied with the filters in one GEMM.
        case im2col
        /// Winograd's minimal filtering F(2×2, 3×3): 3×3 windows, stride 1, padding 1.
        case winograd
        /// Winograd's F(4×4, 3×3), for the same windows.
        case winograd4x4
        /// A register tile of 4 pixels × 16 filters over the padded image: F a multiple of 16.
        case direct

        /// Whether this is one of the Winograd tiles, which share their requirements.
        @inlinable public var isWinograd: Bool { self == .winograd || self == .winograd4x4 }
    }

    /// What the layer does to the convolution's output before handing it on.
    public struct Epilogue: Sendable, Equatable {
        public var activation: Activation
        /// A max pool over the activations, in the convolution's layout.
        public var pool: ConvGeometry?

        public init(activation: Activation = .none, pool: ConvGeometry? = nil) {
            self.activation = activation; self.pool = pool
        }
    }

    /// What the backward pass reads.
    public struct Cache<S: TensorScalar>: Sendable {
        /// The input (shared with the caller, not copied) and the filters (F, C, KH, KW).
        public var x: Tensor<S>, w: Tensor<S>
        public var hasBias: Bool
        public var geometry: ConvGeometry
        public var algorithm: Algorithm
        public var epilogue: Epilogue
        /// The activation's output before the pool, when there is an activation: positive where
        /// the ReLU passed, and the feature maps inspection shows. In `activationLayout`.
        public var activations: Tensor<S>?
        /// The GELU's derivative at its input (convolution + bias), computed with the forward.
        public var gelu: GELU.Cache<S>?
        public var activationLayout: ImageLayout
        public var pool: MaxPool2D.Cache<S>?
        /// The layer's output.
        public var out: Tensor<S>

        @inlinable
        init(x: Tensor<S>, w: Tensor<S>, hasBias: Bool, geometry: ConvGeometry, algorithm: Algorithm, epilogue: Epilogue) {
            self.x = x; self.w = w; self.hasBias = hasBias; self.geometry = geometry
            self.algorithm = algorithm; self.epilogue = epilogue; activationLayout = geometry.layout
            out = Tensor(uninitializedShape: [0])
        }

        /// The activations (N, F, H, W) or (N, H, W, F) in `layout`, e.g. to look at the maps.
        @inlinable
        public func activations(in layout: ImageLayout) throws -> Tensor<S>? {
            try activations.map { try activationLayout.convert($0, to: layout) }
        }

        /// This cache as if the layer ended at its activation, for a backward pass that starts
        /// there (a gradient placed at the feature maps before the pool).
        @inlinable
        public func beforePool() throws -> Cache<S> {
            guard epilogue.pool != nil else { return self }
            guard let activations else {
                throw TensorError.invalidArgument(operation: geometry.layer,
                    detail: "the activations before the pool are kept only when the layer has an activation")
            }
            var cache = self
            cache.epilogue.pool = nil
            cache.pool = nil
            cache.out = try activationLayout.convert(activations, to: geometry.layout)
            return cache
        }
    }

    /// The geometry of filters shaped `weights` (F, C, KH, KW) sliding over inputs shaped
    /// (N, C, H, W) or (C, H, W) — (N, H, W, C) or (H, W, C) channels last: call it when a net is
    /// built to reject bad sizes early.
    public static func geometry(layer: String = "Conv2D", input: [Int], weights: [Int], stride: Int = 1,
                                padding: Int = 0, layout: ImageLayout = .nchw) throws -> ConvGeometry {
        guard input.count == 3 || input.count == 4 else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "input \(describeShape(input)) is not (N×C×H×W) or (C×H×W)\(layout == .nhwc ? ", channels last" : "")")
        }
        let image = Array(input.suffix(3))
        let (channels, height, width) = layout == .nchw ? (image[0], image[1], image[2]) : (image[2], image[0], image[1])
        guard weights.count == 4, weights[0] > 0, weights[1] == channels else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "filters \(describeShape(weights)) are not (F×\(channels)×KH×KW) for input \(describeShape(input))")
        }
        return try ConvGeometry(layer: layer, channels: channels, height: height, width: width, kernelHeight: weights[2],
                                kernelWidth: weights[3], stride: stride, padding: padding, layout: layout)
    }

    // MARK: - The rule

    /// The algorithm `forward` runs for filters of count `filters` over `g` in scalar `S` when
    /// none is forced (the table in `Conv2D`'s documentation).
    @inlinable
    public static func algorithm<S: TensorScalar>(for g: ConvGeometry, filters: Int, scalar _: S.Type) -> Algorithm {
        if S.self == Float.self && filters % DirectConv.tileFilters == 0 && g.channels <= 4 { return .direct }
        guard WinogradConv.computes(g) else { return .im2col }
        // One 4×4 tile covers an output of 3 or 4 a side: 36 multiplications a channel pair where
        // im2col needs 81 to 144. On 5×5 and 6×6, F(2×2)'s nine tiles need as many as F(4×4)'s four.
        let (shortSide, longSide) = (Swift.min(g.outputHeight, g.outputWidth), Swift.max(g.outputHeight, g.outputWidth))
        if S.self == Float.self && (shortSide >= 7 || (shortSide >= 3 && longSide <= 4)) { return .winograd4x4 }
        if g.outputHeight >= 5 && g.outputWidth >= 5 { return .winograd }
        return .im2col
    }

    /// Why `algorithm` cannot compute `g` with `filters` filters, or nil when it can.
    public static func unavailability(of algorithm: Algorithm, for g: ConvGeometry, filters: Int) -> String? {
        switch algorithm {
        case .winograd where !WinogradConv.computes(g), .winograd4x4 where !WinogradConv.computes(g):
            return "Winograd \(algorithm == .winograd ? "F(2×2, 3×3)" : "F(4×4, 3×3)") needs a 3×3 window with stride 1 "
                + "and padding 1, not \(g.kernelHeight)×\(g.kernelWidth) with stride \(g.stride) and padding \(g.padding)"
        case .direct where filters % DirectConv.tileFilters != 0:
            return "the direct kernel needs a multiple of \(DirectConv.tileFilters) filters, not \(filters)"
        case .naive, .im2col, .winograd, .winograd4x4, .direct: return nil
        }
    }

    /// The algorithm `withAlgorithm` asks for in the code it runs.
    @TaskLocal public static var preferredAlgorithm: Algorithm?

    /// Runs `body` with every convolution in it using `algorithm` where that can compute the
    /// layer (and the rule elsewhere): to time or test one algorithm inside a whole net.
    public static func withAlgorithm<R>(_ algorithm: Algorithm, _ body: () throws -> R) rethrows -> R {
        try $preferredAlgorithm.withValue(algorithm, operation: body)
    }

    /// The forced algorithm, checked; else the preferred one where it can run; else the rule.
    @inlinable
    static func choose<S: TensorScalar>(_ forced: Algorithm?, _ g: ConvGeometry, filters: Int, _: S.Type) throws -> Algorithm {
        if let forced {
            if let reason = unavailability(of: forced, for: g, filters: filters) {
                throw TensorError.invalidArgument(operation: g.layer, detail: reason)
            }
            return forced
        }
        if let preferred = preferredAlgorithm, unavailability(of: preferred, for: g, filters: filters) == nil { return preferred }
        return algorithm(for: g, filters: filters, scalar: S.self)
    }
}
