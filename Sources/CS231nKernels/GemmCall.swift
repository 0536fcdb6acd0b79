/// One general matrix multiply, C = alpha·op(A)·op(B) + beta·C, on row-major buffers with
/// leading dimensions, exactly the arguments of `cblas_?gemm(CblasRowMajor, …)`.
public struct GemmCall<Scalar: BinaryFloatingPoint> {
    public var transposeA: Bool, transposeB: Bool
    public var m: Int, n: Int, k: Int
    public var alpha: Scalar, beta: Scalar
    public var a: UnsafePointer<Scalar>, lda: Int
    public var b: UnsafePointer<Scalar>, ldb: Int
    public var c: UnsafeMutablePointer<Scalar>, ldc: Int

    public init(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
                alpha: Scalar = 1, a: UnsafePointer<Scalar>, lda: Int,
                b: UnsafePointer<Scalar>, ldb: Int,
                beta: Scalar = 0, c: UnsafeMutablePointer<Scalar>, ldc: Int) {
        self.transposeA = transposeA; self.transposeB = transposeB
        self.m = m; self.n = n; self.k = k; self.alpha = alpha; self.beta = beta
        self.a = a; self.lda = lda; self.b = b; self.ldb = ldb; self.c = c; self.ldc = ldc
    }
}
