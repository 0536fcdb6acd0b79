/// A portable, cache-blocked SIMD GEMM: the fallback when no BLAS library is present.
///
/// Written by hand because no Swift package offers a GEMM, and linking a C BLAS at build time
/// would make it a build dependency. The structure is BLIS's (Goto's algorithm): B is packed
/// into KC×NC panels of NR-wide slivers that stay in L3/L2, A into MC×KC blocks of MR-tall
/// slivers that stay in L2/L1, and a 6×(2 vectors) register tile accumulates with FMA. Packing
/// reads A and B through general strides, so transposed operands cost nothing extra.
public enum SwiftGEMM {
    @usableFromInline static let mr = 6
    @usableFromInline static let kc = 256
    @usableFromInline static let mc = 96
    @usableFromInline static let nc = 2048

    /// C = alpha·op(A)·op(B) + beta·C, parallel over blocks of C, with the register tile made
    /// of vectors `V` (SIMD8<Float> for AVX2, SIMD16<Float> for AVX-512). Inlinable so that
    /// each caller specialises it for the instruction set its own module is compiled for.
    @inlinable
    public static func gemm<V: SIMD & Sendable>(_ call: GemmCall<V.Scalar>, vector: V.Type) where V.Scalar: BinaryFloatingPoint & Sendable {
        typealias S = V.Scalar
        scale(call)
        guard call.m > 0, call.n > 0, call.k > 0, call.alpha != 0 else { return }
        let vectorWidth = V.scalarCount
        let nr = 2 * vectorWidth
        // Element (i, p) of op(A) is a[i·rowStrideA + p·colStrideA]; likewise (p, j) of op(B).
        let (rowStrideA, colStrideA) = call.transposeA ? (1, call.lda) : (call.lda, 1)
        let (rowStrideB, colStrideB) = call.transposeB ? (1, call.ldb) : (call.ldb, 1)
        let packedB = UnsafeMutablePointer<S>.allocate(capacity: kc * (nc + nr))
        defer { packedB.deallocate() }
        let a = SendableConstPointer(call.a), b = SendableConstPointer(call.b)
        let c = SendablePointer(call.c), bPanel = SendablePointer(packedB)
        let (m, ldc, alpha) = (call.m, call.ldc, call.alpha)

        for jc in stride(from: 0, to: call.n, by: nc) {
            let ncCur = Swift.min(nc, call.n - jc)
            let slivers = (ncCur + nr - 1) / nr
            for pc in stride(from: 0, to: call.k, by: kc) {
                let kcCur = Swift.min(kc, call.k - pc)
                packB(b.base + pc * rowStrideB + jc * colStrideB, rowStride: rowStrideB,
                      colStride: colStrideB, k: kcCur, n: ncCur, nr: nr, into: packedB)
                // Work items are (row block, group of column slivers). With few row blocks the
                // columns are split too, so small-M products still use every core.
                let rowBlocks = (m + mc - 1) / mc
                let groups = rowBlocks >= Parallel.coreCount ? 1 : Swift.min(slivers, Parallel.coreCount)
                Parallel.forEachChunk(rowBlocks * groups) { items in
                    let packedA = UnsafeMutablePointer<S>.allocate(capacity: mc * kc)
                    defer { packedA.deallocate() }
                    var packedBlock = -1
                    for item in items {
                        let block = item / groups, group = item % groups
                        let ic = block * mc, mcCur = Swift.min(mc, m - ic)
                        if block != packedBlock {
                            packA(a.base + ic * rowStrideA + pc * colStrideA, rowStride: rowStrideA,
                                  colStride: colStrideA, m: mcCur, k: kcCur, into: packedA)
                            packedBlock = block
                        }
                        let sliverRange = Parallel.chunkRange(group, of: groups, count: slivers)
                        for sliver in sliverRange {
                            let jr = sliver * nr
                            for ir in stride(from: 0, to: mcCur, by: mr) {
                                microKernel(V.self, k: kcCur, a: packedA + ir * kcCur,
                                            b: bPanel.base + jr * kcCur,
                                            c: c.base + (ic + ir) * ldc + jc + jr, ldc: ldc, alpha: alpha,
                                            rows: Swift.min(mr, mcCur - ir), cols: Swift.min(nr, ncCur - jr))
                            }
                        }
                    }
                }
            }
        }
    }

    /// C = beta·C, with beta = 0 overwriting (so NaNs in an uninitialised C never leak through).
    @inlinable
    static func scale<S: BinaryFloatingPoint>(_ call: GemmCall<S>) {
        guard call.beta != 1 else { return }
        for i in 0..<call.m {
            let row = call.c + i * call.ldc
            if call.beta == 0 {
                row.update(repeating: 0, count: call.n)
            } else {
                for j in 0..<call.n { row[j] *= call.beta }
            }
        }
    }

    /// Packs an m×k block of A into MR-tall slivers, each stored k-major (MR values per step),
    /// zero-padded to a whole sliver.
    @inlinable @inline(__always)
    static func packA<S: BinaryFloatingPoint>(_ a: UnsafePointer<S>, rowStride: Int, colStride: Int,
                                       m: Int, k: Int, into packed: UnsafeMutablePointer<S>) {
        var out = packed
        for ir in stride(from: 0, to: m, by: mr) {
            let rows = Swift.min(mr, m - ir)
            for p in 0..<k {
                let column = a + ir * rowStride + p * colStride
                for r in 0..<mr { out[r] = r < rows ? column[r * rowStride] : 0 }
                out += mr
            }
        }
    }

    /// Packs a k×n panel of B into NR-wide slivers, each stored k-major, zero-padded.
    @inlinable @inline(__always)
    static func packB<S: BinaryFloatingPoint>(_ b: UnsafePointer<S>, rowStride: Int, colStride: Int,
                                       k: Int, n: Int, nr: Int, into packed: UnsafeMutablePointer<S>) {
        var out = packed
        for jr in stride(from: 0, to: n, by: nr) {
            let cols = Swift.min(nr, n - jr)
            if cols == nr && colStride == 1 {
                for p in 0..<k {
                    out.update(from: b + p * rowStride + jr, count: nr)
                    out += nr
                }
            } else {
                for p in 0..<k {
                    let row = b + p * rowStride + jr * colStride
                    for j in 0..<nr { out[j] = j < cols ? row[j * colStride] : 0 }
                    out += nr
                }
            }
        }
    }

    /// C[0..<rows, 0..<cols] += alpha · (packed A sliver)·(packed B sliver), with the 6×2-vector
    /// tile held in twelve registers.
    @inlinable @inline(__always)
    static func microKernel<V: SIMD>(_: V.Type, k: Int, a: UnsafePointer<V.Scalar>, b: UnsafePointer<V.Scalar>,
                                     c: UnsafeMutablePointer<V.Scalar>, ldc: Int, alpha: V.Scalar,
                                     rows: Int, cols: Int) where V.Scalar: BinaryFloatingPoint {
        let w = V.scalarCount
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        var pa = a, pb = UnsafeRawPointer(b)
        let step = 2 * w * MemoryLayout<V.Scalar>.stride
        for _ in 0..<k {
            let b0 = pb.loadUnaligned(as: V.self)
            let b1 = pb.loadUnaligned(fromByteOffset: w * MemoryLayout<V.Scalar>.stride, as: V.self)
            var av = V(repeating: pa[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = V(repeating: pa[1])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = V(repeating: pa[2])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = V(repeating: pa[3])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            av = V(repeating: pa[4])
            c40 = c40.addingProduct(av, b0); c41 = c41.addingProduct(av, b1)
            av = V(repeating: pa[5])
            c50 = c50.addingProduct(av, b0); c51 = c51.addingProduct(av, b1)
            pa += 6
            pb += step
        }
        storeRow(0, c00, c01); storeRow(1, c10, c11); storeRow(2, c20, c21)
        storeRow(3, c30, c31); storeRow(4, c40, c41); storeRow(5, c50, c51)

        @inline(__always)
        func storeRow(_ r: Int, _ x0: V, _ x1: V) {
            guard r < rows else { return }
            if cols == 2 * w {
                let row = UnsafeMutableRawPointer(c + r * ldc)
                let byteOffset = w * MemoryLayout<V.Scalar>.stride
                row.storeBytes(of: row.loadUnaligned(as: V.self).addingProduct(alpha, x0), as: V.self)
                row.storeBytes(of: row.loadUnaligned(fromByteOffset: byteOffset, as: V.self)
                    .addingProduct(alpha, x1), toByteOffset: byteOffset, as: V.self)
            } else {
                let row = c + r * ldc
                for j in 0..<cols { row[j] += alpha * (j < w ? x0[j] : x1[j - w]) }
            }
        }
    }
}
