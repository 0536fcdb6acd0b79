// Reductions along an axis (NumPy's `axis=`, negative axes count from the end) and over the
// whole tensor. A tensor is viewed as (outer, axis, inner) so both cases walk memory forwards.

extension Tensor {
    /// Resolves a possibly negative axis, or throws naming the shape.
    public func normalizedAxis(_ axis: Int, operation: String) throws -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0 && resolved < rank else {
            throw TensorError.invalidArgument(operation: operation,
                                              detail: "axis \(axis) is out of range for shape \(describeShape(shape))")
        }
        return resolved
    }

    @usableFromInline
    func axisLayout(_ axis: Int) -> (outer: Int, length: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    @usableFromInline
    func reducedShape(_ axis: Int, keepDims: Bool) -> [Int] {
        var result = shape
        if keepDims { result[axis] = 1 } else { result.remove(at: axis) }
        return result
    }

    /// Folds the axis with `combine`, starting from the first element along it.
    @inlinable
    func reduce(axis: Int, keepDims: Bool, operation: String,
                _ vectorOp: ((SIMD8<Scalar>, SIMD8<Scalar>) -> SIMD8<Scalar>)?,
                _ scalarOp: (Scalar, Scalar) -> Scalar) throws -> Tensor {
        let axis = try normalizedAxis(axis, operation: operation)
        let (outer, length, inner) = axisLayout(axis)
        guard length > 0 else {
            throw TensorError.invalidArgument(operation: operation,
                                              detail: "axis \(axis) of \(describeShape(shape)) is empty")
        }
        var out = Tensor(uninitializedShape: reducedShape(axis, keepDims: keepDims))
        withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                let src = source.baseAddress!, dst = target.baseAddress!
                for o in 0..<outer {
                    let block = src + o * length * inner
                    let result = dst + o * inner
                    if inner == 1 {
                        var acc = block[0]
                        for i in 1..<length { acc = scalarOp(acc, block[i]) }
                        result[0] = acc
                    } else {
                        result.update(from: block, count: inner)
                        for l in 1..<length {
                            binaryRowKernel(inner, result, UnsafePointer(result), 1, block + l * inner, 1,
                                            vectorOp, scalarOp)
                        }
                    }
                }
            }
        }
        return out
    }

    public func sum(axis: Int, keepDims: Bool = false) throws -> Tensor {
        try reduce(axis: axis, keepDims: keepDims, operation: "sum", { $0 + $1 }, { $0 + $1 })
    }

    public func mean(axis: Int, keepDims: Bool = false) throws -> Tensor {
        let resolved = try normalizedAxis(axis, operation: "mean")
        return try sum(axis: resolved, keepDims: keepDims) / Scalar(shape[resolved])
    }

    public func max(axis: Int, keepDims: Bool = false) throws -> Tensor {
        try reduce(axis: axis, keepDims: keepDims, operation: "max", nil, { $0 < $1 ? $1 : $0 })
    }

    public func min(axis: Int, keepDims: Bool = false) throws -> Tensor {
        try reduce(axis: axis, keepDims: keepDims, operation: "min", nil, { $0 > $1 ? $1 : $0 })
    }

    /// Population variance along the axis (NumPy's `var`, ddof = 0), computed in two passes.
    public func variance(axis: Int, keepDims: Bool = false) throws -> Tensor {
        let resolved = try normalizedAxis(axis, operation: "variance")
        let centred = try self - mean(axis: resolved, keepDims: true)
        return try centred.pow(2).mean(axis: resolved, keepDims: keepDims)
    }

    /// Index of the largest element along the axis; the first one on ties, as NumPy does.
    /// Returned in row-major order of the reduced shape.
    public func argmax(axis: Int) throws -> [Int] {
        let axis = try normalizedAxis(axis, operation: "argmax")
        let (outer, length, inner) = axisLayout(axis)
        guard length > 0 else {
            throw TensorError.invalidArgument(operation: "argmax", detail: "axis \(axis) of \(describeShape(shape)) is empty")
        }
        var result = [Int](repeating: 0, count: outer * inner)
        withUnsafeBufferPointer { source in
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * length * inner + i
                    var best = source[base], bestIndex = 0
                    for l in 1..<length where source[base + l * inner] > best {
                        best = source[base + l * inner]
                        bestIndex = l
                    }
                    result[o * inner + i] = bestIndex
                }
            }
        }
        return result
    }

    // MARK: Whole-tensor reductions

    public func sum() -> Scalar {
        withUnsafeBufferPointer { buffer in
            var acc = SIMD8<Scalar>(repeating: 0)
            let raw = UnsafeRawPointer(buffer.baseAddress!)
            var i = 0
            while i + 8 <= buffer.count {
                acc += raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Scalar>.stride, as: SIMD8<Scalar>.self)
                i += 8
            }
            var total = acc.sum()
            while i < buffer.count { total += buffer[i]; i += 1 }
            return total
        }
    }

    public func mean() -> Scalar { sum() / Scalar(Swift.max(count, 1)) }

    /// The largest element (NaN-free input assumed); -infinity for an empty tensor.
    public func max() -> Scalar { withUnsafeBufferPointer { $0.max() ?? -.infinity } }
    public func min() -> Scalar { withUnsafeBufferPointer { $0.min() ?? .infinity } }

    /// Σx², used by L2 regularisation.
    public func squaredSum() -> Scalar {
        withUnsafeBufferPointer { buffer in
            var acc = SIMD8<Scalar>(repeating: 0)
            let raw = UnsafeRawPointer(buffer.baseAddress!)
            var i = 0
            while i + 8 <= buffer.count {
                let v = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Scalar>.stride, as: SIMD8<Scalar>.self)
                acc = acc.addingProduct(v, v)
                i += 8
            }
            var total = acc.sum()
            while i < buffer.count { total += buffer[i] * buffer[i]; i += 1 }
            return total
        }
    }
}
