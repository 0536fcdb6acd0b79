import CS231nKernels

/// The Swift GEMMs with 512-bit vectors. This module alone is compiled for AVX-512; callers
/// must check that the CPU has it (`CS231nTensor` does) before calling in.
public enum AVX512GEMM {
    public static func sgemm(_ call: GemmCall<Float>) { SwiftGEMM.gemm(call, vector: SIMD16<Float>.self) }
    public static func dgemm(_ call: GemmCall<Double>) { SwiftGEMM.gemm(call, vector: SIMD8<Double>.self) }

    /// `InCacheGEMM` over `columns`, with 16 Floats a vector.
    public static func sgemmInCache(_ call: GemmCall<Float>, columns: Range<Int>) {
        InCacheGEMM.multiply(call, columns: columns, vector: SIMD16<Float>.self, tileRows: InCacheGEMM.wideTileRows)
    }

    /// `InCacheGEMM` over `columns`, with 8 Doubles a vector.
    public static func dgemmInCache(_ call: GemmCall<Double>, columns: Range<Int>) {
        InCacheGEMM.multiply(call, columns: columns, vector: SIMD8<Double>.self, tileRows: InCacheGEMM.wideTileRows)
    }
}
