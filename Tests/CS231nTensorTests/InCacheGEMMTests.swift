import Testing
@testable import CS231nTensor

/// The unpacked GEMM under the Winograd convolutions: right against a naive sum, and the same
/// bits whatever vector width computes a column (so a CPU with AVX-512 and one without train
/// the same numbers).
struct InCacheGEMMTests {
    /// Shapes like W6's Winograd products (tiles × C · C × F, and the filter gradient's C × F
    /// over tiles), and awkward ones: rows not a multiple of 6 or 8, columns not of 8, k of 1.
    static let shapes = [(64, 64, 24), (64, 24, 64), (64, 256, 250), (24, 64, 256), (252, 40, 5), (1, 3, 1), (13, 47, 9)]

    func product<S: TensorScalar>(_ m: Int, _ n: Int, _ k: Int, transposeA: Bool, accumulate: Bool, _: S.Type,
                                  by gemm: (GemmCall<S>) -> Void) -> (got: [S], expected: [Double]) {
        var rng = RandomGenerator(seed: UInt64(m * 10_000 + n * 100 + k))
        let a = Tensor<S>.randn(transposeA ? [k, m] : [m, k], using: &rng), b = Tensor<S>.randn([k, n], using: &rng)
        let start = Tensor<S>.randn([m, n], using: &rng)
        var c = accumulate ? start : Tensor<S>(shape: [m, n], repeating: .nan)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            gemm(GemmCall(transposeA: transposeA, m: m, n: n, k: k, a: pa.baseAddress!, lda: transposeA ? m : k,
                          b: pb.baseAddress!, ldb: n, beta: accumulate ? 1 : 0, c: pc.baseAddress!, ldc: n))
        } } }
        let av = a.scalars, bv = b.scalars, cv = start.scalars
        var expected = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = accumulate ? Double(cv[i * n + j]) : 0
                for p in 0..<k { sum += Double(transposeA ? av[p * m + i] : av[i * k + p]) * Double(bv[p * n + j]) }
                expected[i * n + j] = sum
            }
        }
        return (c.scalars, expected)
    }

    func checkAgainstNaive<S: TensorScalar>(_: S.Type, tolerance: Double) {
        for (m, n, k) in Self.shapes {
            for transposeA in [false, true] {
                for accumulate in [false, true] {
                    let (got, expected) = product(m, n, k, transposeA: transposeA, accumulate: accumulate, S.self) { GEMM.runInCache($0) }
                    let worst = zip(got, expected).map { Swift.abs(Double($0) - $1) / (1 + Swift.abs($1)) }.max()!
                    #expect(worst < tolerance, "m=\(m) n=\(n) k=\(k) ᵀ=\(transposeA) β=\(accumulate): error \(worst)")
                }
            }
        }
    }

    @Test func floatAgainstNaive() { checkAgainstNaive(Float.self, tolerance: 1e-4) }
    @Test func doubleAgainstNaive() { checkAgainstNaive(Double.self, tolerance: 1e-13) }

    /// The CPU's widest path, and AVX-512's split of the columns run on any CPU (8-row tiles of
    /// 16 lanes, then the 6-row ones of 8), against 2-lane vectors, which leave odd columns to
    /// the scalar path.
    @Test func everyVectorWidthGivesTheSameBits() {
        for (m, n, k) in Self.shapes {
            for transposeA in [false, true] {
                let widest = product(m, n, k, transposeA: transposeA, accumulate: true, Float.self) { Float.inCacheGemm($0) }.got
                let split = product(m, n, k, transposeA: transposeA, accumulate: true, Float.self) { call in
                    let wide = call.n / 16 * 16
                    InCacheGEMM.multiply(call, columns: 0..<wide, vector: SIMD16<Float>.self, tileRows: InCacheGEMM.wideTileRows)
                    InCacheGEMM.multiply(call, columns: wide..<call.n, vector: SIMD8<Float>.self)
                }.got
                let narrow = product(m, n, k, transposeA: transposeA, accumulate: true, Float.self) {
                    InCacheGEMM.multiply($0, columns: 0..<$0.n, vector: SIMD2<Float>.self)
                }.got
                #expect(widest == narrow, "m=\(m) n=\(n) k=\(k) ᵀ=\(transposeA) (\(GemmISA.current.rawValue))")
                #expect(split == narrow, "AVX-512's split, m=\(m) n=\(n) k=\(k) ᵀ=\(transposeA)")
                let widestDouble = product(m, n, k, transposeA: transposeA, accumulate: false, Double.self) { Double.inCacheGemm($0) }.got
                let narrowDouble = product(m, n, k, transposeA: transposeA, accumulate: false, Double.self) {
                    InCacheGEMM.multiply($0, columns: 0..<$0.n, vector: SIMD2<Double>.self)
                }.got
                #expect(widestDouble == narrowDouble, "Double m=\(m) n=\(n) k=\(k) ᵀ=\(transposeA)")
            }
        }
    }

    /// A product the kernel does not compute (alpha 2, B transposed) still runs, through `GEMM.run`.
    @Test func otherProductsFallBackToRun() {
        let a = Tensor<Double>(shape: [2, 2], repeating: 1), b = Tensor<Double>(shape: [2, 2], repeating: 3)
        var c = Tensor<Double>(shape: [2, 2], repeating: 0)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
            GEMM.runInCache(GemmCall(transposeB: true, m: 2, n: 2, k: 2, alpha: 2, a: pa.baseAddress!, lda: 2,
                                     b: pb.baseAddress!, ldb: 2, c: pc.baseAddress!, ldc: 2))
        } } }
        #expect(c.scalars == [12, 12, 12, 12])
    }
}
