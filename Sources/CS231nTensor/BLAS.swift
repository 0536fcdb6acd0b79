import Foundation
#if canImport(Accelerate)
import Accelerate
#endif

/// The platform BLAS, found at run time.
///
/// On Linux OpenBLAS is `dlopen`ed rather than linked, so the package builds and its tests pass
/// on machines without it; GEMM then falls back to `SwiftGEMM`. On macOS, Accelerate is always
/// there. Set `CS231N_BLAS=fallback` to force the Swift GEMM (benchmarks compare both).
///
/// OpenBLAS is held to one thread. Its pool, once woken, spins on the cores for a while after
/// each call, which starves the project's own parallel loops; toggling its thread count around
/// those loops was measured to halve their speed. So `GEMM.run` splits large products over the
/// cores itself, one single-threaded BLAS call per core, and nothing is ever oversubscribed.
public enum BLAS {
    public enum Backend: String, Sendable {
        case openBLAS = "OpenBLAS"
        case accelerate = "Accelerate"
        case swiftFallback = "Swift GEMM fallback"
    }

    /// The backend matmul uses.
    public static var backend: Backend { library?.backend ?? .swiftFallback }

    /// The file the backend was loaded from, or nil.
    public static var libraryPath: String? { library?.path }

    /// BLAS's own threads per call (1 for OpenBLAS; Accelerate manages its own).
    public static var threads: Int { library?.getThreads() ?? 1 }

    static func sgemm(_ call: GemmCall<Float>) -> Bool { run(library?.sgemm, call) }
    static func dgemm(_ call: GemmCall<Double>) -> Bool { run(library?.dgemm, call) }

    /// cblas_?gemm's parameters: order, transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc.
    private typealias CBLASGemm<S> = (Int32, Int32, Int32, Int32, Int32, Int32, S, UnsafePointer<S>, Int32,
                                      UnsafePointer<S>, Int32, S, UnsafeMutablePointer<S>, Int32) -> Void

    /// `call` through a CBLAS ?gemm, row-major (CblasRowMajor = 101, CblasNoTrans = 111,
    /// CblasTrans = 112); false when there is no library.
    private static func run<S: BinaryFloatingPoint>(_ gemm: CBLASGemm<S>?, _ call: GemmCall<S>) -> Bool {
        guard let gemm else { return false }
        gemm(101, call.transposeA ? 112 : 111, call.transposeB ? 112 : 111,
             Int32(call.m), Int32(call.n), Int32(call.k), call.alpha, call.a, Int32(call.lda),
             call.b, Int32(call.ldb), call.beta, call.c, Int32(call.ldc))
        return true
    }

    typealias SgemmFunction = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float,
        UnsafePointer<Float>, Int32, UnsafePointer<Float>, Int32, Float, UnsafeMutablePointer<Float>, Int32) -> Void
    typealias DgemmFunction = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Double,
        UnsafePointer<Double>, Int32, UnsafePointer<Double>, Int32, Double, UnsafeMutablePointer<Double>, Int32) -> Void

    struct Library: @unchecked Sendable {
        let backend: Backend
        let path: String
        let sgemm: SgemmFunction
        let dgemm: DgemmFunction
        let setThreads: (@convention(c) (Int32) -> Void)?
        let getThreadsFunction: (@convention(c) () -> Int32)?
        func getThreads() -> Int { getThreadsFunction.map { Int($0()) } ?? 1 }
    }

    static let library: Library? = loadLibrary()

    private static func loadLibrary() -> Library? {
        if ProcessInfo.processInfo.environment["CS231N_BLAS"]?.lowercased() == "fallback" { return nil }
        #if canImport(Accelerate)
        let sgemm: SgemmFunction = { order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
            cblas_sgemm(CBLAS_ORDER(rawValue: UInt32(order))!, CBLAS_TRANSPOSE(rawValue: UInt32(ta))!,
                        CBLAS_TRANSPOSE(rawValue: UInt32(tb))!, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        let dgemm: DgemmFunction = { order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
            cblas_dgemm(CBLAS_ORDER(rawValue: UInt32(order))!, CBLAS_TRANSPOSE(rawValue: UInt32(ta))!,
                        CBLAS_TRANSPOSE(rawValue: UInt32(tb))!, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        return Library(backend: .accelerate, path: "Accelerate.framework", sgemm: sgemm, dgemm: dgemm,
                       setThreads: nil, getThreadsFunction: nil)
        #else
        let candidates = ["libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0", "libopenblaso.so.0"]
        for name in candidates {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL),
                  let s = dlsym(handle, "cblas_sgemm"), let d = dlsym(handle, "cblas_dgemm") else { continue }
            let setThreads = dlsym(handle, "openblas_set_num_threads")
                .map { unsafeBitCast($0, to: (@convention(c) (Int32) -> Void).self) }
            let getThreads = dlsym(handle, "openblas_get_num_threads")
                .map { unsafeBitCast($0, to: (@convention(c) () -> Int32).self) }
            setThreads?(1)
            return Library(backend: .openBLAS, path: loadedPath(matching: "openblas") ?? name,
                           sgemm: unsafeBitCast(s, to: SgemmFunction.self),
                           dgemm: unsafeBitCast(d, to: DgemmFunction.self),
                           setThreads: setThreads, getThreadsFunction: getThreads)
        }
        return nil
        #endif
    }

    #if !canImport(Accelerate)
    /// The file a loaded library came from, read from the process's memory map.
    private static func loadedPath(matching fragment: String) -> String? {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return nil }
        return maps.split(separator: "\n").lazy
            .compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) }
            .first { $0.contains(fragment) }
    }
    #endif
}
