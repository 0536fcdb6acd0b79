import Foundation
@_exported import CS231nKernels
import CS231nKernelsAVX512

/// The element types a `Tensor` can hold: `Float` for training and `Double` for gradient checks.
/// Everything numeric in the project is written once, generically over this protocol.
public protocol TensorScalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable, LosslessStringConvertible
where RawSignificand: FixedWidthInteger {
    /// The safetensors / NumPy name of the type ("F32", "F64").
    static var dtypeName: String { get }
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func erf(_ x: Self) -> Self
    /// Calls the platform BLAS gemm for this type; returns false when no BLAS is loaded.
    static func platformGemm(_ call: GemmCall<Self>) -> Bool
    /// The Swift GEMM for this type, with the widest vectors the CPU runs.
    static func swiftGemm(_ call: GemmCall<Self>)
    /// `InCacheGEMM` for this type, with the widest vectors the CPU runs.
    static func inCacheGemm(_ call: GemmCall<Self>)
}

extension Float: TensorScalar {
    public static var dtypeName: String { "F32" }
    @inlinable public static func exp(_ x: Float) -> Float { Foundation.expf(x) }
    @inlinable public static func log(_ x: Float) -> Float { Foundation.logf(x) }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { Foundation.powf(x, y) }
    @inlinable public static func tanh(_ x: Float) -> Float { Foundation.tanhf(x) }
    @inlinable public static func erf(_ x: Float) -> Float { Foundation.erff(x) }
    public static func platformGemm(_ call: GemmCall<Float>) -> Bool { BLAS.sgemm(call) }
    public static func swiftGemm(_ call: GemmCall<Float>) {
        if GemmISA.current == .avx512 {
            AVX512GEMM.sgemm(call)
        } else {
            SwiftGEMM.gemm(call, vector: SIMD8<Float>.self)
        }
    }
    public static func inCacheGemm(_ call: GemmCall<Float>) {
        // The 512-bit tiles take the columns in whole vectors, the 256-bit ones the rest: the
        // same sums either way (see InCacheGEMM).
        let wide = GemmISA.current == .avx512 ? call.n / 16 * 16 : 0
        if wide > 0 { AVX512GEMM.sgemmInCache(call, columns: 0..<wide) }
        InCacheGEMM.multiply(call, columns: wide..<call.n, vector: SIMD8<Float>.self)
    }
}

extension Double: TensorScalar {
    public static var dtypeName: String { "F64" }
    @inlinable public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inlinable public static func pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
    @inlinable public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inlinable public static func erf(_ x: Double) -> Double { Foundation.erf(x) }
    public static func platformGemm(_ call: GemmCall<Double>) -> Bool { BLAS.dgemm(call) }
    public static func swiftGemm(_ call: GemmCall<Double>) {
        if GemmISA.current == .avx512 {
            AVX512GEMM.dgemm(call)
        } else {
            SwiftGEMM.gemm(call, vector: SIMD4<Double>.self)
        }
    }
    public static func inCacheGemm(_ call: GemmCall<Double>) {
        let wide = GemmISA.current == .avx512 ? call.n / 8 * 8 : 0
        if wide > 0 { AVX512GEMM.dgemmInCache(call, columns: 0..<wide) }
        InCacheGEMM.multiply(call, columns: wide..<call.n, vector: SIMD4<Double>.self)
    }
}


/// The instruction set the Swift GEMM uses: AVX-512 where the CPU reports it (unless
/// `CS231N_GEMM_ISA=avx2`), else the 256-bit kernels every other target is built for.
public enum GemmISA: String, Sendable {
    case avx2 = "AVX2+FMA", avx512 = "AVX-512", portable = "portable SIMD"

    public static let current: GemmISA = {
        #if arch(x86_64)
        if ProcessInfo.processInfo.environment["CS231N_GEMM_ISA"]?.lowercased() == "avx2" { return .avx2 }
        return CPUInfo.features.contains("avx512f") ? .avx512 : .avx2
        #else
        return .portable
        #endif
    }()
}
