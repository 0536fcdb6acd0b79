/// Matrix multiply on the platform BLAS, or the Swift fallback where none is loaded.
public enum GEMM {
    /// Runs one GEMM call on the best backend.
    public static func run<S: TensorScalar>(_ call: GemmCall<S>) {
        // BLAS rejects leading dimensions of 0, which empty operands produce: those need no BLAS.
        guard call.m > 0, call.n > 0, call.k > 0, BLAS.backend != .swiftFallback else {
            S.swiftGemm(call)
            return
        }
        let flops = 2.0 * Double(call.m) * Double(call.n) * Double(call.k)
        guard BLAS.backend == .openBLAS, flops >= parallelThreshold, !Parallel.isInsideParallelLoop else {
            _ = S.platformGemm(call)
            return
        }
        // Split C into blocks of rows (or columns, when it is wide) of a fixed size, spread over
        // the cores; each block is one single-threaded BLAS call on the matching rows of op(A)
        // or columns of op(B). The block edges do not depend on the core count, so neither do
        // the results: BLAS kernels round differently at different tile positions.
        let alongRows = call.m >= call.n
        let extent = alongRows ? call.m : call.n
        let blocks = (extent + splitBlock - 1) / splitBlock
        let shared = UnsafeSendable(call)
        Parallel.forEachChunk(blocks) { chunk in
            for block in chunk {
                let range = (block * splitBlock)..<Swift.min(extent, (block + 1) * splitBlock)
                var piece = shared.value
                if alongRows {
                    piece.m = range.count
                    piece.a += range.lowerBound * (piece.transposeA ? 1 : piece.lda)
                    piece.c += range.lowerBound * piece.ldc
                } else {
                    piece.n = range.count
                    piece.b += range.lowerBound * (piece.transposeB ? piece.ldb : 1)
                    piece.c += range.lowerBound
                }
                _ = S.platformGemm(piece)
            }
        }
    }

    /// Runs one product whose operands fit in the L2 cache on the calling thread, without
    /// packing (`InCacheGEMM`), where that kernel computes it; otherwise as `run`. Each element
    /// of C is then the same chain of fused multiply-adds on every CPU.
    public static func runInCache<S: TensorScalar>(_ call: GemmCall<S>) {
        guard InCacheGEMM.computes(call) else { return run(call) }
        S.inCacheGemm(call)
    }

    /// Rows (or columns) of C per BLAS call when a product is split over the cores.
    static let splitBlock = 512

    /// Products below this many FLOPs run as one call: splitting them costs more than it saves.
    static let parallelThreshold = 4.0e6
}

/// "(200×3072)" or "(200×3072)ᵀ".
func describeOperand(_ shape: [Int], transposed: Bool) -> String {
    describeShape(shape) + (transposed ? "ᵀ" : "")
}

/// op(A)·op(B) for 2-D tensors, op being the transpose where asked.
public func matmul<S: TensorScalar>(_ a: Tensor<S>, _ b: Tensor<S>,
                                    transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor<S> {
    let (m, n, _) = try gemmDimensions(a, transposeA, b, transposeB, operation: "matmul")
    var c = Tensor<S>(uninitializedShape: [m, n])
    try gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: &c, alpha: 1, beta: 0)
    return c
}

/// C = alpha·op(A)·op(B) + beta·C, in place: the hot-path form that reuses C's buffer.
public func gemm<S: TensorScalar>(_ a: Tensor<S>, transposeA: Bool = false, _ b: Tensor<S>,
                                  transposeB: Bool = false, into c: inout Tensor<S>,
                                  alpha: S = 1, beta: S = 0) throws {
    let (m, n, k) = try gemmDimensions(a, transposeA, b, transposeB, operation: "gemm")
    guard c.shape == [m, n] else {
        throw TensorError.shapeMismatch(operation: "gemm", detail:
            "\(describeOperand(a.shape, transposed: transposeA)) · \(describeOperand(b.shape, transposed: transposeB)) "
            + "is (\(m)×\(n)) but the output is \(describeShape(c.shape))")
    }
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                GEMM.run(GemmCall(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                  alpha: alpha, a: pa.baseAddress!, lda: Swift.max(1, a.shape[1]),
                                  b: pb.baseAddress!, ldb: Swift.max(1, b.shape[1]),
                                  beta: beta, c: pc.baseAddress!, ldc: Swift.max(1, n)))
            }
        }
    }
}

func gemmDimensions<S>(_ a: Tensor<S>, _ transposeA: Bool, _ b: Tensor<S>, _ transposeB: Bool,
                       operation: String) throws -> (m: Int, n: Int, k: Int) {
    let written = "\(describeOperand(a.shape, transposed: transposeA)) · \(describeOperand(b.shape, transposed: transposeB))"
    guard a.rank == 2, b.rank == 2 else {
        throw TensorError.shapeMismatch(operation: operation, detail: "\(written): both operands must be 2-D")
    }
    let (m, ka) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let (kb, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    guard ka == kb else {
        throw TensorError.shapeMismatch(operation: operation,
                                        detail: "\(written): inner dimensions \(ka) and \(kb) differ")
    }
    return (m, n, ka)
}
