/// NumPy broadcasting: shapes are aligned on the right, and a dimension of 1 (or a missing one)
/// stretches to match the other. Anything else is an error that names both shapes.
public func broadcastShape(_ a: [Int], _ b: [Int], operation: String) throws -> [Int] {
    let rank = Swift.max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        guard da == db || da == 1 || db == 1 else {
            throw TensorError.shapeMismatch(operation: operation, detail:
                "\(describeShape(a)) and \(describeShape(b)) cannot broadcast (axis \(i): \(da) vs \(db))")
        }
        result[i] = da == 1 ? db : da
    }
    return result
}

/// Element strides that read `shape` as if it had `target`'s shape: 0 along stretched axes.
@usableFromInline
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: target.count)
    var step = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let axis = i + target.count - shape.count
        strides[axis] = shape[i] == 1 && target[axis] != 1 ? 0 : step
        step *= shape[i]
    }
    return strides
}

/// Walks `outShape` row by row (all axes but the last), handing each row's start offsets in
/// `a` and `b` to `row`. The inner axis strides are passed once: each is 0 or 1.
@inlinable
func forEachBroadcastRow(outShape: [Int], aStrides: [Int], bStrides: [Int],
                         _ row: (_ outOffset: Int, _ aOffset: Int, _ bOffset: Int) -> Void) {
    let rank = outShape.count
    guard rank > 1 else { row(0, 0, 0); return }
    let inner = outShape[rank - 1]
    var index = [Int](repeating: 0, count: rank - 1)
    var outOffset = 0, aOffset = 0, bOffset = 0
    let rows = outShape.dropLast().reduce(1, *)
    for _ in 0..<rows {
        row(outOffset, aOffset, bOffset)
        outOffset += inner
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1
            aOffset += aStrides[axis]
            bOffset += bStrides[axis]
            if index[axis] < outShape[axis] { break }
            aOffset -= aStrides[axis] * outShape[axis]
            bOffset -= bStrides[axis] * outShape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}

/// out[i] = op(a[i·sa], b[i·sb]) for i in 0..<n, with sa, sb ∈ {0, 1}; SIMD8 where both walk.
@inlinable @inline(__always)
func binaryRowKernel<S: TensorScalar>(
    _ n: Int, _ out: UnsafeMutablePointer<S>, _ a: UnsafePointer<S>, _ sa: Int,
    _ b: UnsafePointer<S>, _ sb: Int,
    _ vectorOp: ((SIMD8<S>, SIMD8<S>) -> SIMD8<S>)?, _ scalarOp: (S, S) -> S
) {
    var i = 0
    guard let vectorOp else {
        // Comparison-based ops: a plain loop that LLVM vectorises itself.
        if sa == 1 && sb == 1 {
            for j in 0..<n { out[j] = scalarOp(a[j], b[j]) }
        } else {
            for j in 0..<n { out[j] = scalarOp(a[j * sa], b[j * sb]) }
        }
        return
    }
    let raOut = UnsafeMutableRawPointer(out), ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    let size = MemoryLayout<S>.stride
    switch (sa, sb) {
    case (1, 1):
        while i + 8 <= n {
            let v = vectorOp(ra.loadUnaligned(fromByteOffset: i * size, as: SIMD8<S>.self),
                             rb.loadUnaligned(fromByteOffset: i * size, as: SIMD8<S>.self))
            raOut.storeBytes(of: v, toByteOffset: i * size, as: SIMD8<S>.self)
            i += 8
        }
    case (1, 0):
        let vb = SIMD8<S>(repeating: b[0])
        while i + 8 <= n {
            let v = vectorOp(ra.loadUnaligned(fromByteOffset: i * size, as: SIMD8<S>.self), vb)
            raOut.storeBytes(of: v, toByteOffset: i * size, as: SIMD8<S>.self)
            i += 8
        }
    case (0, 1):
        let va = SIMD8<S>(repeating: a[0])
        while i + 8 <= n {
            let v = vectorOp(va, rb.loadUnaligned(fromByteOffset: i * size, as: SIMD8<S>.self))
            raOut.storeBytes(of: v, toByteOffset: i * size, as: SIMD8<S>.self)
            i += 8
        }
    default:
        break
    }
    while i < n {
        out[i] = scalarOp(a[i * sa], b[i * sb])
        i += 1
    }
}

extension Tensor {
    /// op(a, b) elementwise under broadcasting.
    @inlinable
    public static func broadcasting(
        _ a: Tensor, _ b: Tensor, operation: String,
        _ vectorOp: ((SIMD8<Scalar>, SIMD8<Scalar>) -> SIMD8<Scalar>)?, _ scalarOp: (Scalar, Scalar) -> Scalar
    ) throws -> Tensor {
        if a.shape == b.shape {
            var out = Tensor(uninitializedShape: a.shape)
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    out.withUnsafeMutableBufferPointer { po in
                        binaryRowKernel(po.count, po.baseAddress!, pa.baseAddress!, 1, pb.baseAddress!, 1,
                                        vectorOp, scalarOp)
                    }
                }
            }
            return out
        }
        let shape = try broadcastShape(a.shape, b.shape, operation: operation)
        var out = Tensor(uninitializedShape: shape)
        out.withUnsafeMutableBufferPointer { po in
            broadcastInto(po.baseAddress!, shape: shape, a, b, vectorOp, scalarOp)
        }
        return out
    }

    /// Writes op(a, b) broadcast to `shape` into `out` (which may alias `a`'s storage when `a`
    /// already has that shape: each element is read before it is written).
    @inlinable
    static func broadcastInto(
        _ out: UnsafeMutablePointer<Scalar>, shape: [Int], _ a: Tensor, _ b: Tensor,
        _ vectorOp: ((SIMD8<Scalar>, SIMD8<Scalar>) -> SIMD8<Scalar>)?, _ scalarOp: (Scalar, Scalar) -> Scalar
    ) {
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        let aStrides = broadcastStrides(a.shape, to: shape)
        let bStrides = broadcastStrides(b.shape, to: shape)
        let inner = shape.last ?? 1
        let sa = aStrides.last ?? 0, sb = bStrides.last ?? 0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                forEachBroadcastRow(outShape: shape.isEmpty ? [1] : shape, aStrides: aStrides,
                                    bStrides: bStrides) { o, ao, bo in
                    binaryRowKernel(inner, out + o, pa.baseAddress! + ao, sa, pb.baseAddress! + bo, sb,
                                    vectorOp, scalarOp)
                }
            }
        }
    }

    /// self = op(self, other), with `other` broadcast to self's shape.
    @inlinable
    public mutating func formBroadcasting(
        _ other: Tensor, operation: String,
        _ vectorOp: ((SIMD8<Scalar>, SIMD8<Scalar>) -> SIMD8<Scalar>)?, _ scalarOp: (Scalar, Scalar) -> Scalar
    ) throws {
        let shape = try broadcastShape(self.shape, other.shape, operation: operation)
        guard shape == self.shape else {
            throw TensorError.shapeMismatch(operation: operation, detail:
                "\(describeShape(other.shape)) broadcasts \(describeShape(self.shape)) up to \(describeShape(shape)); "
                + "an in-place result must keep the left shape")
        }
        makeUnique()
        Tensor.broadcastInto(storage.pointer, shape: shape, self, other, vectorOp, scalarOp)
    }
}
