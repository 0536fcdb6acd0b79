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
        for row in 0..<rows {
            let line = data + row * columns
            var j = 0
            while j + 8 <= columns {
                store(load(sums + j) + load(line + j), sums + j)
                j += 8
            }
            while j < columns { sums[j] += line[j]; j += 1 }
        }
    }

    /// out[i] = factor · source[i].
    @inlinable
    static func scale<S: TensorScalar>(_ source: UnsafePointer<S>, by factor: S,
                                       into out: UnsafeMutablePointer<S>, count: Int) {
        let x = SendableConstPointer(source), o = SendablePointer(out)
        Parallel.forEachChunk(count, minimumChunk: 1 << 16) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                store(load(x.base + i) * factor, o.base + i)
                i += 8
            }
            while i < range.upperBound { o.base[i] = x.base[i] * factor; i += 1 }
        }
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

extension Tensor {
    /// The tensor viewed as (N, D): N = the first dimension, D = the product of the rest, as
    /// CS231n's affine layer reshapes its input.
    @inlinable
    var rowsAndColumns: (rows: Int, columns: Int) {
        (shape.first ?? 1, shape.dropFirst().reduce(1, *))
    }
}
