/// The row-parallel loops the layers are built from, on raw buffers.
///
/// Each kernel splits the rows of an (N, D) matrix over the cores when the work is large enough
/// to pay for it; sums and scaling walk each row with SIMD8 so the same code serves Float and
/// Double.
@usableFromInline
enum RowKernels {
    /// Rows per parallel chunk so that each chunk holds at least ~32k elements.
    @inlinable
    static func minimumRows(columns: Int) -> Int { Swift.max(1, 32_768 / Swift.max(1, columns)) }

    /// data[i, :] += bias, then max(·, 0) when `relu`: the affine epilogue, in place.
    @inlinable
    static func addBias<S: TensorScalar>(_ data: UnsafeMutablePointer<S>, rows: Int, columns: Int,
                                         bias: UnsafePointer<S>, relu: Bool) {
        let out = SendablePointer(data), b = SendableConstPointer(bias)
        Parallel.forEachChunk(rows, minimumChunk: minimumRows(columns: columns)) { range in
            // Plain loops, not SIMD8 compare-and-replace: generic SIMD8 comparisons compile lane
            // by lane (~50x slower), while these scalar loops auto-vectorise.
            for row in range {
                let line = out.base + row * columns
                if relu {
                    for j in 0..<columns {
                        let v = line[j] + b.base[j]
                        line[j] = v < 0 ? 0 : v
                    }
                } else {
                    for j in 0..<columns { line[j] += b.base[j] }
                }
            }
        }
    }

    /// grad[i] = 0 wherever gate[i] ≤ 0: the ReLU backward, gated by its input or output.
    @inlinable
    static func zeroWhereNotPositive<S: TensorScalar>(_ grad: UnsafeMutablePointer<S>,
                                                      gate: UnsafePointer<S>, count: Int) {
        let g = SendablePointer(grad), x = SendableConstPointer(gate)
        Parallel.forEachChunk(count, minimumChunk: 1 << 15) { range in
            for i in range { g.base[i] = x.base[i] <= 0 ? 0 : g.base[i] }
        }
    }

    /// sums[j] = Σᵢ data[i, j] (the bias gradient), or sums[j] += … when `accumulate`.
    @inlinable
    static func columnSums<S: TensorScalar>(_ data: UnsafePointer<S>, rows: Int, columns: Int,
                                            into sums: UnsafeMutablePointer<S>, accumulate: Bool = false) {
        if !accumulate { sums.initialize(repeating: 0, count: columns) }
        for row in 0..<rows { add(data + row * columns, into: sums, count: columns) }
    }

    /// out[i] = factor · source[i].
    @inlinable
    static func scale<S: TensorScalar>(_ source: UnsafePointer<S>, by factor: S,
                                       into out: UnsafeMutablePointer<S>, count: Int) {
        let x = SendableConstPointer(source), o = SendablePointer(out)
        Parallel.forEachChunk(count, minimumChunk: 1 << 16) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                (SIMD8<S>(loading: x.base + i) * factor).store(to: o.base + i)
                i += 8
            }
            while i < range.upperBound { o.base[i] = x.base[i] * factor; i += 1 }
        }
    }

    /// target[i] += source[i], on the calling thread.
    @inlinable
    static func add<S: TensorScalar>(_ source: UnsafePointer<S>, into target: UnsafeMutablePointer<S>, count: Int) {
        var i = 0
        while i + 8 <= count {
            (SIMD8<S>(loading: target + i) + SIMD8<S>(loading: source + i)).store(to: target + i)
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
            accumulator += SIMD8<S>(loading: values + i)
            i += 8
        }
        var total = accumulator.sum()
        while i < count { total += values[i]; i += 1 }
        return total
    }
}

extension Tensor {
    /// The tensor viewed as (N, D): N = the first dimension, D = the product of the rest, as
    /// CS231n's affine layer reshapes its input.
    @inlinable
    var rowsAndColumns: (rows: Int, columns: Int) {
        (shape.first ?? 1, shape.dropFirst().reduce(1, *))
    }
}

/// body(the base addresses of `tensors`, in order), each valid for the call: for kernels that
/// read many tensors at once, without a closure level per tensor.
@inlinable
func withBaseAddresses<S: TensorScalar, R>(_ tensors: [Tensor<S>], _ body: ([SendableConstPointer<S>]) -> R) -> R {
    var bases: [SendableConstPointer<S>] = []
    bases.reserveCapacity(tensors.count)
    func next(_ index: Int) -> R {
        guard index < tensors.count else { return body(bases) }
        return tensors[index].withUnsafeBufferPointer { buffer in
            bases.append(SendableConstPointer(buffer.baseAddress!))
            return next(index + 1)
        }
    }
    return next(0)
}
