// Reshape, transpose/permute (copies), slicing along the first axis, gather, concatenate.

extension Tensor {
    /// The same elements in a new shape; one dimension may be -1 and is then inferred.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var resolved = newShape
        let inferred = newShape.indices.filter { newShape[$0] == -1 }
        guard inferred.count <= 1, newShape.allSatisfy({ $0 >= -1 }) else {
            throw TensorError.invalidArgument(operation: "reshape", detail: "bad target shape \(describeShape(newShape))")
        }
        let known = try Tensor.checkedCount(shape: newShape.filter { $0 != -1 })
        if let axis = inferred.first {
            guard known > 0, count % known == 0 else {
                throw TensorError.shapeMismatch(operation: "reshape",
                                                detail: "\(describeShape(shape)) cannot become \(describeShape(newShape))")
            }
            resolved[axis] = count / known
        }
        let resolvedCount = try Tensor.checkedCount(shape: resolved)
        guard resolvedCount == count else {
            throw TensorError.shapeMismatch(operation: "reshape",
                                            detail: "\(describeShape(shape)) has \(count) elements, \(describeShape(newShape)) has \(resolvedCount)")
        }
        var result = self
        result.setShapeUnchecked(resolved)
        return result
    }

    /// Collapses all axes after the first: (N, C, H, W) → (N, C·H·W).
    public func flattenedRows() -> Tensor {
        var result = self
        result.setShapeUnchecked([shape.first ?? 1, shape.dropFirst().reduce(1, *)])
        return result
    }

    /// The matrix transpose of a 2-D tensor (a copy, blocked for the cache).
    public func transposed() throws -> Tensor {
        guard rank == 2 else {
            throw TensorError.invalidArgument(operation: "transpose", detail: "needs a 2-D tensor, got \(describeShape(shape))")
        }
        return try permuted([1, 0])
    }

    /// Axes reordered: result axis i is input axis `axes[i]` (NumPy's `transpose(axes)`), copied.
    public func permuted(_ axes: [Int]) throws -> Tensor {
        guard axes.count == rank, Set(axes) == Set(0..<rank) else {
            throw TensorError.invalidArgument(operation: "permute",
                                              detail: "\(axes) is not a permutation of the axes of \(describeShape(shape))")
        }
        let newShape = axes.map { shape[$0] }
        var inputStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inputStrides[i] = inputStrides[i + 1] * shape[i + 1] }
        let strides = axes.map { inputStrides[$0] }
        var out = Tensor(uninitializedShape: newShape)
        guard count > 0 else { return out }
        withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                let src = source.baseAddress!
                if rank == 2 {
                    // Tiles of 32×32 keep both the reads and the writes in cache.
                    let rows = newShape[0], cols = newShape[1]
                    for i0 in stride(from: 0, to: rows, by: 32) {
                        for j0 in stride(from: 0, to: cols, by: 32) {
                            for i in i0..<Swift.min(i0 + 32, rows) {
                                for j in j0..<Swift.min(j0 + 32, cols) {
                                    target[i * cols + j] = src[i * strides[0] + j * strides[1]]
                                }
                            }
                        }
                    }
                    return
                }
                let innerLength = newShape[rank - 1], innerStride = strides[rank - 1]
                var index = [Int](repeating: 0, count: rank)
                var offset = 0, written = 0
                while written < target.count {
                    for j in 0..<innerLength { target[written + j] = src[offset + j * innerStride] }
                    written += innerLength
                    var axis = rank - 2
                    while axis >= 0 {
                        index[axis] += 1
                        offset += strides[axis]
                        if index[axis] < newShape[axis] { break }
                        offset -= strides[axis] * newShape[axis]
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return out
    }

    /// Items `range` along the first axis (rows of a matrix, images of a batch), copied.
    public func slice(_ range: Range<Int>) throws -> Tensor {
        guard rank >= 1, range.lowerBound >= 0, range.upperBound <= shape[0] else {
            throw TensorError.invalidArgument(operation: "slice",
                                              detail: "range \(range) is outside the first axis of \(describeShape(shape))")
        }
        return itemsAlongFirstAxis(count: range.count) { source, target, itemSize in
            // The items lie one after another: one copy.
            target.update(from: source + range.lowerBound * itemSize, count: range.count * itemSize)
        }
    }

    /// The items at `indices` along the first axis, in that order (NumPy's `x[idx]`).
    public func gather(_ indices: [Int]) throws -> Tensor {
        guard rank >= 1 else {
            throw TensorError.invalidArgument(operation: "gather", detail: "needs at least one axis")
        }
        if let bad = indices.first(where: { $0 < 0 || $0 >= shape[0] }) {
            throw TensorError.invalidArgument(operation: "gather",
                                              detail: "index \(bad) is out of range for the first axis of \(describeShape(shape))")
        }
        return itemsAlongFirstAxis(count: indices.count) { source, target, itemSize in
            for (row, index) in indices.enumerated() {
                (target + row * itemSize).update(from: source + index * itemSize, count: itemSize)
            }
        }
    }

    /// A new tensor of `count` items along the first axis, each shaped as this tensor's items,
    /// which `copy(source, target, itemSize)` fills from this tensor's elements.
    private func itemsAlongFirstAxis(
        count: Int, _ copy: (UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>, _ itemSize: Int) -> Void
    ) -> Tensor {
        let itemSize = shape.dropFirst().reduce(1, *)
        var newShape = shape
        newShape[0] = count
        var out = Tensor(uninitializedShape: newShape)
        withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in copy(source.baseAddress!, target.baseAddress!, itemSize) }
        }
        return out
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concatenate(_ tensors: [Tensor], axis: Int = 0) throws -> Tensor {
        guard let first = tensors.first else {
            throw TensorError.invalidArgument(operation: "concatenate", detail: "no tensors to join")
        }
        let axis = try first.normalizedAxis(axis, operation: "concatenate")
        for t in tensors where t.rank != first.rank || t.shape.indices.contains(where: { $0 != axis && t.shape[$0] != first.shape[$0] }) {
            throw TensorError.shapeMismatch(operation: "concatenate", detail:
                "\(describeShape(first.shape)) and \(describeShape(t.shape)) differ outside axis \(axis)")
        }
        var newShape = first.shape
        newShape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
        let outer = first.shape[..<axis].reduce(1, *)
        let inner = first.shape[(axis + 1)...].reduce(1, *)
        var out = Tensor(uninitializedShape: newShape)
        out.withUnsafeMutableBufferPointer { target in
            var offset = 0
            let rowLength = newShape[axis] * inner
            for t in tensors {
                let piece = t.shape[axis] * inner
                t.withUnsafeBufferPointer { source in
                    for o in 0..<outer where piece > 0 {
                        (target.baseAddress! + o * rowLength + offset).update(from: source.baseAddress! + o * piece, count: piece)
                    }
                }
                offset += piece
            }
        }
        return out
    }
}
