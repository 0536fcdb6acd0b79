/// A GEMM without packing, for products whose operands already sit in the L2 cache: the α²
/// per-position products of a Winograd chunk, (tiles × C)·(C × F) of 64 to a few hundred rows.
///
/// Written by hand because a BLAS call packs both operands again on every call. At these sizes
/// that copying is a large part of the call, and the filters are packed anew for every chunk of
/// tiles. Reading A and B where they lie costs nothing here: a strip of 6 or 8 rows of A and a
/// 2-vector sliver of B stay in L1 while the register tile runs over k. See docs/performance.md
/// for what it gives against OpenBLAS's kernels (there pinned to its AVX2 ones).
///
/// Every element of C is one chain of fused multiply-adds over k in order, started from zero
/// (and then added to C when `beta` is 1). The 2-vector, 1-vector and scalar paths compute the
/// same chain, so the result is the same bits whatever the vector width the CPU runs, and no
/// thread ever splits a sum.
public enum InCacheGEMM {
    /// Rows of C per register tile where 16 vector registers hold it (AVX2: 12 accumulators).
    public static let narrowTileRows = 6
    /// Rows of C per register tile where 32 vector registers hold it (AVX-512: 16 accumulators).
    public static let wideTileRows = 8

    /// Whether `call` is a product this kernel computes: alpha 1, beta 0 or 1, B not transposed.
    /// A may be transposed: it is read through strides either way.
    @inlinable
    public static func computes<S: BinaryFloatingPoint>(_ call: GemmCall<S>) -> Bool {
        call.alpha == 1 && (call.beta == 0 || call.beta == 1) && !call.transposeB
    }

    /// C[:, columns] = op(A)·B[:, columns] (+ C where beta is 1) for a `call` it `computes`, on
    /// the calling thread, with tiles of `tileRows` (`narrowTileRows` or `wideTileRows`) rows ×
    /// 2 vectors `V`, then × 1 vector, then single columns for what is left of `columns`.
    @inlinable
    public static func multiply<V: SIMD>(_ call: GemmCall<V.Scalar>, columns: Range<Int>, vector: V.Type,
                                         tileRows: Int = narrowTileRows) where V.Scalar: BinaryFloatingPoint {
        if tileRows == wideTileRows {
            multiply(call, columns: columns, vector: V.self, rows: wideTileRows)
        } else {
            multiply(call, columns: columns, vector: V.self, rows: narrowTileRows)
        }
    }

    @inlinable @inline(__always)
    static func multiply<V: SIMD>(_ call: GemmCall<V.Scalar>, columns: Range<Int>, vector: V.Type, rows tileRows: Int)
    where V.Scalar: BinaryFloatingPoint {
        let width = V.scalarCount
        // The tiles load and store whole vectors: a type with padding lanes (SIMD3) would touch
        // memory past the matrix.
        precondition(MemoryLayout<V>.size == width * MemoryLayout<V.Scalar>.stride, "InCacheGEMM needs unpadded vectors")
        // Element (i, p) of op(A) is a[i·rowStride + p·depthStride].
        let (rowStride, depthStride) = call.transposeA ? (1, call.lda) : (call.lda, 1)
        var column = columns.lowerBound
        while column + 2 * width <= columns.upperBound {
            rowStrips(call, tileRows, rowStride, column: column) { a, b, c, rows in
                tile(V.self, tileRows: tileRows, vectors: 2, k: call.k, a: a, rowStride: rowStride, depthStride: depthStride,
                     b: b, ldb: call.ldb, c: c, ldc: call.ldc, rows: rows, accumulate: call.beta == 1)
            }
            column += 2 * width
        }
        if column + width <= columns.upperBound {
            rowStrips(call, tileRows, rowStride, column: column) { a, b, c, rows in
                tile(V.self, tileRows: tileRows, vectors: 1, k: call.k, a: a, rowStride: rowStride, depthStride: depthStride,
                     b: b, ldb: call.ldb, c: c, ldc: call.ldc, rows: rows, accumulate: call.beta == 1)
            }
            column += width
        }
        for single in column..<columns.upperBound {
            for i in 0..<call.m {
                var sum = V.Scalar(0)
                for p in 0..<call.k {
                    sum = sum.addingProduct(call.a[i * rowStride + p * depthStride], call.b[p * call.ldb + single])
                }
                let target = call.c + i * call.ldc + single
                target.pointee = call.beta == 1 ? target.pointee + sum : sum
            }
        }
    }

    /// Calls `body` for each strip of up to `tileRows` rows of C at `column`, with the strip's
    /// first row of op(A), B's columns from `column` and C's corner.
    @inlinable @inline(__always)
    static func rowStrips<S>(_ call: GemmCall<S>, _ tileRows: Int, _ rowStride: Int, column: Int,
                             _ body: (UnsafePointer<S>, UnsafePointer<S>, UnsafeMutablePointer<S>, Int) -> Void) {
        for row in stride(from: 0, to: call.m, by: tileRows) {
            body(call.a + row * rowStride, call.b + column, call.c + row * call.ldc + column, Swift.min(tileRows, call.m - row))
        }
    }

    /// One register tile: `tileRows` (6 or 8) rows × `vectors` (1 or 2) vectors of C, summed
    /// over k. A strip of fewer rows reads its first row in place of the missing ones and stores
    /// only its own. `tileRows` is a constant where this is inlined, so the rows past it vanish.
    @inlinable @inline(__always)
    static func tile<V: SIMD>(_: V.Type, tileRows: Int, vectors: Int, k: Int, a: UnsafePointer<V.Scalar>, rowStride: Int,
                              depthStride: Int, b: UnsafePointer<V.Scalar>, ldb: Int, c: UnsafeMutablePointer<V.Scalar>,
                              ldc: Int, rows: Int, accumulate: Bool) where V.Scalar: BinaryFloatingPoint {
        @inline(__always) func rowStart(_ r: Int) -> UnsafePointer<V.Scalar> { r < rows ? a + r * rowStride : a }
        let a0 = rowStart(0), a1 = rowStart(1), a2 = rowStart(2), a3 = rowStart(3), a4 = rowStart(4), a5 = rowStart(5)
        let a6 = rowStart(6), a7 = rowStart(7), eight = tileRows == 8
        var c00 = V(), c10 = V(), c20 = V(), c30 = V(), c40 = V(), c50 = V(), c60 = V(), c70 = V()
        var c01 = V(), c11 = V(), c21 = V(), c31 = V(), c41 = V(), c51 = V(), c61 = V(), c71 = V()
        var depth = 0
        var pb = UnsafeRawPointer(b)
        let bStep = ldb * MemoryLayout<V.Scalar>.stride, second = MemoryLayout<V>.size
        if vectors == 2 {
            for _ in 0..<k {
                let b0 = pb.loadUnaligned(as: V.self), b1 = pb.loadUnaligned(fromByteOffset: second, as: V.self)
                var av = V(repeating: a0[depth]); c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
                av = V(repeating: a1[depth]); c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
                av = V(repeating: a2[depth]); c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
                av = V(repeating: a3[depth]); c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
                av = V(repeating: a4[depth]); c40 = c40.addingProduct(av, b0); c41 = c41.addingProduct(av, b1)
                av = V(repeating: a5[depth]); c50 = c50.addingProduct(av, b0); c51 = c51.addingProduct(av, b1)
                if eight {
                    av = V(repeating: a6[depth]); c60 = c60.addingProduct(av, b0); c61 = c61.addingProduct(av, b1)
                    av = V(repeating: a7[depth]); c70 = c70.addingProduct(av, b0); c71 = c71.addingProduct(av, b1)
                }
                depth += depthStride
                pb += bStep
            }
        } else {
            for _ in 0..<k {
                let b0 = pb.loadUnaligned(as: V.self)
                c00 = c00.addingProduct(V(repeating: a0[depth]), b0); c10 = c10.addingProduct(V(repeating: a1[depth]), b0)
                c20 = c20.addingProduct(V(repeating: a2[depth]), b0); c30 = c30.addingProduct(V(repeating: a3[depth]), b0)
                c40 = c40.addingProduct(V(repeating: a4[depth]), b0); c50 = c50.addingProduct(V(repeating: a5[depth]), b0)
                if eight {
                    c60 = c60.addingProduct(V(repeating: a6[depth]), b0); c70 = c70.addingProduct(V(repeating: a7[depth]), b0)
                }
                depth += depthStride
                pb += bStep
            }
        }
        @inline(__always) func store(_ r: Int, _ x0: V, _ x1: V) {
            guard r < rows else { return }
            let row = UnsafeMutableRawPointer(c + r * ldc)
            row.storeBytes(of: accumulate ? row.loadUnaligned(as: V.self) + x0 : x0, as: V.self)
            guard vectors == 2 else { return }
            row.storeBytes(of: accumulate ? row.loadUnaligned(fromByteOffset: second, as: V.self) + x1 : x1,
                           toByteOffset: second, as: V.self)
        }
        store(0, c00, c01); store(1, c10, c11); store(2, c20, c21)
        store(3, c30, c31); store(4, c40, c41); store(5, c50, c51)
        if eight { store(6, c60, c61); store(7, c70, c71) }
    }
}
