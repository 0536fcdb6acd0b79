// Elementwise arithmetic and math. Tensor–tensor operators broadcast and throw on shapes that
// cannot meet; tensor–scalar operators cannot fail. The `+=` family works in place.
//
// Comparisons (max, min, clamp, masks) are plain scalar loops: LLVM vectorises them into
// vmaxps/blends, while generic `SIMD8<Scalar>` comparisons compile lane by lane with branches,
// measured 50× slower even after specialisation.

extension Tensor {
    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try broadcasting(a, b, operation: "add", { $0 + $1 }, { $0 + $1 }) }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try broadcasting(a, b, operation: "subtract", { $0 - $1 }, { $0 - $1 }) }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try broadcasting(a, b, operation: "multiply", { $0 * $1 }, { $0 * $1 }) }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try broadcasting(a, b, operation: "divide", { $0 / $1 }, { $0 / $1 }) }

    public static func += (a: inout Tensor, b: Tensor) throws { try a.formBroadcasting(b, operation: "add", { $0 + $1 }, { $0 + $1 }) }
    public static func -= (a: inout Tensor, b: Tensor) throws { try a.formBroadcasting(b, operation: "subtract", { $0 - $1 }, { $0 - $1 }) }
    public static func *= (a: inout Tensor, b: Tensor) throws { try a.formBroadcasting(b, operation: "multiply", { $0 * $1 }, { $0 * $1 }) }
    public static func /= (a: inout Tensor, b: Tensor) throws { try a.formBroadcasting(b, operation: "divide", { $0 / $1 }, { $0 / $1 }) }

    /// Elementwise maximum of two tensors, broadcast.
    public static func maximum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try broadcasting(a, b, operation: "maximum", nil, { $0 < $1 ? $1 : $0 })
    }

    /// Elementwise minimum of two tensors, broadcast.
    public static func minimum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try broadcasting(a, b, operation: "minimum", nil, { $0 > $1 ? $1 : $0 })
    }

    // MARK: Scalars

    public static func + (a: Tensor, s: Scalar) -> Tensor { a.map({ $0 + s }, { $0 + s }) }
    public static func - (a: Tensor, s: Scalar) -> Tensor { a.map({ $0 - s }, { $0 - s }) }
    public static func * (a: Tensor, s: Scalar) -> Tensor { a.map({ $0 * s }, { $0 * s }) }
    public static func / (a: Tensor, s: Scalar) -> Tensor { a.map({ $0 / s }, { $0 / s }) }
    public static func + (s: Scalar, a: Tensor) -> Tensor { a + s }
    public static func - (s: Scalar, a: Tensor) -> Tensor { a.map({ s - $0 }, { s - $0 }) }
    public static func * (s: Scalar, a: Tensor) -> Tensor { a * s }
    public static func / (s: Scalar, a: Tensor) -> Tensor { a.map({ s / $0 }, { s / $0 }) }
    public static prefix func - (a: Tensor) -> Tensor { a.map({ -$0 }, { -$0 }) }

    public static func += (a: inout Tensor, s: Scalar) { a.mapInPlace({ $0 + s }, { $0 + s }) }
    public static func -= (a: inout Tensor, s: Scalar) { a.mapInPlace({ $0 - s }, { $0 - s }) }
    public static func *= (a: inout Tensor, s: Scalar) { a.mapInPlace({ $0 * s }, { $0 * s }) }
    public static func /= (a: inout Tensor, s: Scalar) { a.mapInPlace({ $0 / s }, { $0 / s }) }

    // MARK: Math

    public func exp() -> Tensor { map(Scalar.exp) }
    public func log() -> Tensor { map(Scalar.log) }
    public func sqrt() -> Tensor { map({ $0.squareRoot() }, { $0.squareRoot() }) }
    public func pow(_ exponent: Scalar) -> Tensor {
        if exponent == 2 { return map({ $0 * $0 }, { $0 * $0 }) }
        return map { Scalar.pow($0, exponent) }
    }
    public func abs() -> Tensor { map { Swift.abs($0) } }
    /// max(x, s) elementwise: `maximum(0)` is ReLU.
    public func maximum(_ s: Scalar) -> Tensor { map { $0 < s ? s : $0 } }
    public func minimum(_ s: Scalar) -> Tensor { map { $0 > s ? s : $0 } }
    public func clamped(min low: Scalar, max high: Scalar) -> Tensor {
        map { $0 < low ? low : ($0 > high ? high : $0) }
    }

    // MARK: Comparisons to masks (1 where true, 0 where false)

    public static func .> (a: Tensor, s: Scalar) -> Tensor { a.map { $0 > s ? 1 : 0 } }
    public static func .< (a: Tensor, s: Scalar) -> Tensor { a.map { $0 < s ? 1 : 0 } }
    public static func .>= (a: Tensor, s: Scalar) -> Tensor { a.map { $0 >= s ? 1 : 0 } }
    public static func .<= (a: Tensor, s: Scalar) -> Tensor { a.map { $0 <= s ? 1 : 0 } }
    public static func .== (a: Tensor, s: Scalar) -> Tensor { a.map { $0 == s ? 1 : 0 } }
    public static func .> (a: Tensor, b: Tensor) throws -> Tensor {
        try broadcasting(a, b, operation: "greater", nil, { $0 > $1 ? 1 : 0 })
    }
    public static func .== (a: Tensor, b: Tensor) throws -> Tensor {
        try broadcasting(a, b, operation: "equal", nil, { $0 == $1 ? 1 : 0 })
    }

    // MARK: Maps

    /// A new tensor of f applied to each element (SIMD8 for the bulk, scalar for the tail).
    @inlinable
    public func map(_ vectorOp: (SIMD8<Scalar>) -> SIMD8<Scalar>, _ scalarOp: (Scalar) -> Scalar) -> Tensor {
        var out = Tensor(uninitializedShape: shape)
        withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                unaryKernel(source.count, target.baseAddress!, source.baseAddress!, vectorOp, scalarOp)
            }
        }
        return out
    }

    /// A new tensor of f applied to each element, for functions with no SIMD form (exp, log).
    @inlinable
    public func map(_ scalarOp: (Scalar) -> Scalar) -> Tensor {
        var out = Tensor(uninitializedShape: shape)
        withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for i in 0..<source.count { target[i] = scalarOp(source[i]) }
            }
        }
        return out
    }

    @inlinable
    public mutating func mapInPlace(_ vectorOp: (SIMD8<Scalar>) -> SIMD8<Scalar>, _ scalarOp: (Scalar) -> Scalar) {
        withUnsafeMutableBufferPointer { buffer in
            unaryKernel(buffer.count, buffer.baseAddress!, UnsafePointer(buffer.baseAddress!), vectorOp, scalarOp)
        }
    }

    @inlinable
    public mutating func mapInPlace(_ scalarOp: (Scalar) -> Scalar) {
        withUnsafeMutableBufferPointer { buffer in
            for i in 0..<buffer.count { buffer[i] = scalarOp(buffer[i]) }
        }
    }
}

@inlinable @inline(__always)
func unaryKernel<S: TensorScalar>(_ n: Int, _ out: UnsafeMutablePointer<S>, _ source: UnsafePointer<S>,
                                  _ vectorOp: (SIMD8<S>) -> SIMD8<S>, _ scalarOp: (S) -> S) {
    let rawOut = UnsafeMutableRawPointer(out), rawIn = UnsafeRawPointer(source)
    let size = MemoryLayout<S>.stride
    var i = 0
    while i + 8 <= n {
        rawOut.storeBytes(of: vectorOp(rawIn.loadUnaligned(fromByteOffset: i * size, as: SIMD8<S>.self)),
                          toByteOffset: i * size, as: SIMD8<S>.self)
        i += 8
    }
    while i < n { out[i] = scalarOp(source[i]); i += 1 }
}
