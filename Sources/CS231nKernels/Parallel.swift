import Dispatch
import Foundation

/// Parallel loops over batch items or rows, sized to the core count. The loops are the
/// package's own machinery; only the worker count is public.
///
/// Two rules keep the cores from being oversubscribed: a loop started inside another runs
/// serially, and BLAS always runs single-threaded, its large products split over the cores by
/// `GEMM.run` itself (see `BLAS`).
public enum Parallel {
    /// Worker count: `CS231N_THREADS` when set; otherwise the active cores, shared out among
    /// the ranks an MPI launcher started on this machine, so that they do not oversubscribe it.
    public static let coreCount: Int = {
        let environment = ProcessInfo.processInfo.environment
        if let text = environment["CS231N_THREADS"], let n = Int(text), n > 0 {
            return n
        }
        let ranksHere = (environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? environment["MPI_LOCALNRANKS"]).flatMap { Int($0) } ?? 1
        return Swift.max(1, ProcessInfo.processInfo.activeProcessorCount / Swift.max(1, ranksHere))
    }()

    private static let nesting = ThreadLocalFlag()

    /// Splits 0..<count into at most `coreCount` contiguous ranges of at least `minimumChunk`
    /// items and runs `body` on each, in parallel. Returns when all are done.
    @usableFromInline
    package static func forEachChunk(_ count: Int, minimumChunk: Int = 1,
                                    _ body: @Sendable (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = Swift.min(coreCount, Swift.max(1, count / Swift.max(1, minimumChunk)))
        if chunks == 1 || nesting.isSet {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            nesting.isSet = true
            defer { nesting.isSet = false }
            body(chunkRange(chunk, of: chunks, count: count))
        }
    }

    /// True on a worker of a parallel loop, where further loops run serially.
    package static var isInsideParallelLoop: Bool { nesting.isSet }

    /// Runs `body(i)` for every i in 0..<count, in parallel chunks.
    @inlinable
    package static func forEach(_ count: Int, minimumChunk: Int = 1, _ body: @Sendable (Int) -> Void) {
        forEachChunk(count, minimumChunk: minimumChunk) { range in
            for i in range { body(i) }
        }
    }

    /// The `index`-th of `parts` nearly equal contiguous ranges covering 0..<count.
    @inlinable
    package static func chunkRange(_ index: Int, of parts: Int, count: Int) -> Range<Int> {
        let base = count / parts, extra = count % parts
        let start = index * base + Swift.min(index, extra)
        return start..<(start + base + (index < extra ? 1 : 0))
    }
}

/// A per-thread boolean (Foundation's thread dictionary is too slow for a hot flag).
final class ThreadLocalFlag: @unchecked Sendable {
    private var key = pthread_key_t()
    init() { pthread_key_create(&key, nil) }
    var isSet: Bool {
        get { pthread_getspecific(key) != nil }
        set { pthread_setspecific(key, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }
}

/// Hands a raw pointer to parallel workers that write disjoint ranges of it.
@usableFromInline
package struct SendablePointer<Scalar>: @unchecked Sendable {
    @usableFromInline package let base: UnsafeMutablePointer<Scalar>
    @inlinable package init(_ base: UnsafeMutablePointer<Scalar>) { self.base = base }
}

/// Read-only counterpart of `SendablePointer`.
@usableFromInline
package struct SendableConstPointer<Scalar>: @unchecked Sendable {
    @usableFromInline package let base: UnsafePointer<Scalar>
    @inlinable package init(_ base: UnsafePointer<Scalar>) { self.base = base }
}

/// Carries a value that is safe to share because workers only read it.
@usableFromInline
package struct UnsafeSendable<Value>: @unchecked Sendable {
    @usableFromInline package let value: Value
    @inlinable package init(_ value: Value) { self.value = value }
}
