/// How the ReLU passes a gradient back. The two non-standard rules are the ones the
/// visualisation of what a net learned needs (Zeiler & Fergus 2014; Springenberg et al. 2015).
public enum ReLUBackwardRule: String, Sendable, CaseIterable {
    /// The true gradient: dout where the input was positive.
    case standard
    /// Deconvnet: max(dout, 0), whatever the input was.
    case deconvnet
    /// Guided backpropagation: dout where both the input and dout are positive.
    case guided
}

/// The cache of an element-wise activation (ReLU, GELU): its input, where the backward takes
/// the derivative (for the ReLU, the input's sign gates the gradient).
public struct ActivationInputCache<S: TensorScalar>: Sendable {
    public var x: Tensor<S>

    @inlinable
    public init(x: Tensor<S>) { self.x = x }
}

/// out = max(x, 0).
public enum ReLU {
    public typealias Cache<S: TensorScalar> = ActivationInputCache<S>

    @inlinable
    public static func forward<S>(_ x: Tensor<S>) -> (out: Tensor<S>, cache: Cache<S>) {
        (x.maximum(0), Cache(x: x))
    }

    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>,
                                   rule: ReLUBackwardRule = .standard) throws -> Tensor<S> {
        try backward(dout, gate: cache.x, rule: rule)
    }

    /// The backward gated by any tensor positive exactly where the input was: the input
    /// itself, or the ReLU's output (which the fused affine-ReLU keeps instead).
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, gate: Tensor<S>,
                                   rule: ReLUBackwardRule = .standard) throws -> Tensor<S> {
        guard dout.shape == gate.shape else {
            throw TensorError.shapeMismatch(operation: "ReLU.backward",
                detail: "upstream gradient \(describeShape(dout.shape)) for input \(describeShape(gate.shape))")
        }
        switch rule {
        case .deconvnet:
            return dout.maximum(0)
        case .standard, .guided:
            var dx = rule == .guided ? dout.maximum(0) : dout
            gate.withUnsafeBufferPointer { g in
                dx.withUnsafeMutableBufferPointer { d in
                    RowKernels.zeroWhereNotPositive(d.baseAddress!, gate: g.baseAddress!, count: d.count)
                }
            }
            return dx
        }
    }

    /// d[i] passed back through the ReLU by `rule`, `gate` positive exactly where its input
    /// was: the same as `backward`, on raw buffers and the calling thread.
    @inlinable
    static func gate<S: TensorScalar>(_ d: UnsafeMutablePointer<S>, by gate: UnsafePointer<S>, count: Int, rule: ReLUBackwardRule) {
        switch rule {
        case .standard: for i in 0..<count { d[i] = gate[i] <= 0 ? 0 : d[i] }
        case .guided: for i in 0..<count { d[i] = gate[i] <= 0 || d[i] < 0 ? 0 : d[i] }
        case .deconvnet: for i in 0..<count { d[i] = d[i] < 0 ? 0 : d[i] }
        }
    }
}

/// out = x where x > 0, slope·x elsewhere.
public enum LeakyReLU {
    public struct Cache<S: TensorScalar>: Sendable {
        public var x: Tensor<S>
        public var slope: S

        @inlinable
        public init(x: Tensor<S>, slope: S) { self.x = x; self.slope = slope }
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>, slope: S = 0.01) -> (out: Tensor<S>, cache: Cache<S>) {
        let out = x.map({ $0.replacing(with: $0 * slope, where: $0 .<= 0) }, { $0 > 0 ? $0 : $0 * slope })
        return (out, Cache(x: x, slope: slope))
    }

    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> Tensor<S> {
        guard dout.shape == cache.x.shape else {
            throw TensorError.shapeMismatch(operation: "LeakyReLU.backward",
                detail: "upstream gradient \(describeShape(dout.shape)) for input \(describeShape(cache.x.shape))")
        }
        let slope = cache.slope
        return try Tensor.broadcasting(dout, cache.x, operation: "LeakyReLU.backward",
                                       { $0.replacing(with: $0 * slope, where: $1 .<= 0) },
                                       { $1 > 0 ? $0 : $0 * slope })
    }
}
