import Testing
@testable import CS231nTensor

/// matmul for all four transpose combinations against a naive triple loop, at awkward sizes,
/// on the platform BLAS (when loaded) and on the Swift GEMM, in Float and Double.
struct MatMulTests {
    func naive<S: TensorScalar>(_ a: Tensor<S>, _ ta: Bool, _ b: Tensor<S>, _ tb: Bool) -> [Double] {
        let m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1]
        let n = tb ? b.shape[0] : b.shape[1]
        var c = [Double](repeating: 0, count: m * n)
        let av = a.scalars, bv = b.scalars
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let x = ta ? av[p * m + i] : av[i * k + p]
                    let y = tb ? bv[j * k + p] : bv[p * n + j]
                    sum += Double(x) * Double(y)
                }
                c[i * n + j] = sum
            }
        }
        return c
    }

    func operands<S: TensorScalar>(_ m: Int, _ n: Int, _ k: Int, _ ta: Bool, _ tb: Bool,
                                   _: S.Type) -> (Tensor<S>, Tensor<S>) {
        var rng = RandomGenerator(seed: UInt64(m * 1000 + n * 10 + k))
        return (Tensor<S>.randn(ta ? [k, m] : [m, k], using: &rng), Tensor<S>.randn(tb ? [n, k] : [k, n], using: &rng))
    }

    func check<S: TensorScalar>(_: S.Type, tolerance: Double, gemm: (GemmCall<S>) -> Void) {
        for (m, n, k) in [(1, 1, 1), (3, 17, 129), (257, 3, 17), (17, 129, 257), (129, 257, 3), (129, 129, 129)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let (a, b) = operands(m, n, k, ta, tb, S.self)
                    let expected = naive(a, ta, b, tb)
                    // Start from garbage with beta = 0 (must be overwritten), then check beta = 1 accumulation.
                    var c = Tensor<S>(shape: [m, n], repeating: .nan)
                    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                        gemm(GemmCall(transposeA: ta, transposeB: tb, m: m, n: n, k: k, a: pa.baseAddress!, lda: a.shape[1],
                                      b: pb.baseAddress!, ldb: b.shape[1], beta: 0, c: pc.baseAddress!, ldc: n))
                        gemm(GemmCall(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 2, a: pa.baseAddress!, lda: a.shape[1],
                                      b: pb.baseAddress!, ldb: b.shape[1], beta: 1, c: pc.baseAddress!, ldc: n))
                    } } }
                    let worst = zip(c.scalars, expected).map { Swift.abs(Double($0) - 3 * $1) / (1 + Swift.abs(3 * $1)) }.max()!
                    #expect(worst < tolerance, "m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb): error \(worst)")
                }
            }
        }
    }

    @Test func platformFloat() { check(Float.self, tolerance: 1e-4) { GEMM.run($0) } }
    @Test func platformDouble() { check(Double.self, tolerance: 1e-12) { GEMM.run($0) } }
    @Test func swiftGemmFloat() { check(Float.self, tolerance: 1e-4) { Float.swiftGemm($0) } }
    @Test func swiftGemmDouble() { check(Double.self, tolerance: 1e-12) { Double.swiftGemm($0) } }
    @Test func swiftGemmAVX2Float() { check(Float.self, tolerance: 1e-4) { SwiftGEMM.gemm($0, vector: SIMD8<Float>.self) } }
    @Test func swiftGemmAVX2Double() { check(Double.self, tolerance: 1e-12) { SwiftGEMM.gemm($0, vector: SIMD4<Double>.self) } }

    @Test func fallbackEqualsBLASOnLargeProduct() throws {
        var rng = RandomGenerator(seed: 7)
        let a = Tensor<Float>.randn([300, 700], using: &rng), b = Tensor<Float>.randn([700, 500], using: &rng)
        let viaRun = try matmul(a, b)
        var viaSwift = Tensor<Float>.zeros([300, 500])
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in viaSwift.withUnsafeMutableBufferPointer { pc in
            Float.swiftGemm(GemmCall(m: 300, n: 500, k: 700, a: pa.baseAddress!, lda: 700, b: pb.baseAddress!, ldb: 500,
                                     c: pc.baseAddress!, ldc: 500))
        } } }
        let diff = try (viaRun - viaSwift).abs().max()
        #expect(diff < 1e-3, "BLAS (\(BLAS.backend.rawValue)) and Swift GEMM differ by \(diff)")
    }

    @Test func matmulAPIAndEmptyOperands() throws {
        let a = try Tensor<Double>(shape: [2, 2], scalars: [1, 2, 3, 4])
        #expect(try matmul(a, a).scalars == [7, 10, 15, 22])
        #expect(try matmul(a, a, transposeA: true).scalars == [10, 14, 14, 20])
        #expect(try matmul(a, a, transposeB: true).scalars == [5, 11, 11, 25])
        #expect(try matmul(Tensor<Double>.zeros([3, 0]), Tensor<Double>.zeros([0, 2])).scalars == [0, 0, 0, 0, 0, 0])
        var c = Tensor<Double>.ones([2, 2])
        try gemm(a, a, into: &c, alpha: 1, beta: 1)
        #expect(c.scalars == [8, 11, 16, 23])
        var wrong = Tensor<Double>.zeros([3, 2])
        #expect(throws: TensorError.self) { try gemm(a, a, into: &wrong) }
    }
}
