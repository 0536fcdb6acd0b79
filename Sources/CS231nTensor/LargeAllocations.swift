import Foundation
#if canImport(Glibc)
import Glibc

// mallopt is not exported by Swift's Glibc module.
@_silgen_name("mallopt") private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// Keeps the pages of large buffers in the process from one training step to the next.
///
/// A training step allocates the same large buffers every time: each layer's output and cache,
/// each gradient, the kernels' workspaces. Left to the C library, those pages go back to the
/// kernel and fault in again, zeroed, on the next step:
/// - glibc serves blocks of 128 KiB and more with mmap and unmaps them on free;
/// - served from the heap instead, the blocks of a step fall into different holes each time,
///   so the heap kept growing by about 120 MB a step for the first thirty steps of W6, every
///   new page faulted in and cleared (a quarter of a step's time).
///
/// So, once `keepInProcess()` is called, blocks of `recycledSize` bytes and more are recycled:
/// a freed block waits in a list for its own size (in whole pages), and the next request of
/// that size takes it back with its pages already in place. From the second step on, a
/// training loop's tensors reuse the last step's blocks (the kernels' own workspaces still come
/// from malloc). A block that has waited longer than `idleSeconds` goes back to the C library
/// at the next large allocation or free, and the library can then merge it for other sizes:
/// evaluation's batches do not keep their blocks through the next epoch of training, nor
/// training's through a long evaluation. At most `idleLimit` bytes wait at any time.
public enum LargeAllocations {
    /// Applies the settings once per process; later calls return the first answer. The
    /// `Solver` calls it when created; a training loop of one's own calls it at start-up,
    /// before the first large allocation. Returns whether the C library took its settings
    /// (always false where it is not glibc); the recycling applies either way.
    @discardableResult
    public static func keepInProcess() -> Bool { applied }

    /// The smallest block that is recycled: smaller ones the C library keeps well itself.
    public static let recycledSize = 256 << 10

    /// The most bytes that wait for reuse: a quarter of the memory, and at most 8 GiB.
    public static let idleLimit = Swift.min(Int(ProcessInfo.processInfo.physicalMemory / 4), 8 << 30)

    /// How long a freed block waits for a request of its size: several training steps.
    public static let idleSeconds = 5.0

    private static let applied: Bool = {
        recycler.enable()
        #if canImport(Glibc)
        let noMmap = mallopt(-4 /* M_MMAP_MAX */, 0)
        let noTrim = mallopt(-1 /* M_TRIM_THRESHOLD */, Int32.max)
        return noMmap == 1 && noTrim == 1
        #else
        return false
        #endif
    }()

    /// `byteCount` bytes aligned to 64, from the recycled blocks where one of that size waits.
    public static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = recycler.sizeClass(byteCount)
        return recycler.take(size) ?? .allocate(byteCount: size ?? byteCount, alignment: 64)
    }

    /// Gives back a block from `allocate(byteCount:)` with the same `byteCount`.
    public static func deallocate(_ block: UnsafeMutableRawPointer, byteCount: Int) {
        if !recycler.keep(block, size: recycler.sizeClass(byteCount)) { block.deallocate() }
    }

    private static let recycler = Recycler()

    /// The lists of freed blocks by size, behind a lock: tensors are freed on any thread.
    private final class Recycler: @unchecked Sendable {
        private struct Idle { var block: UnsafeMutableRawPointer, since: UInt64 }
        private let lock = NSLock()
        private var enabled = false
        private var idle: [Int: [Idle]] = [:]
        private var idleBytes = 0
        private var lastSweep: UInt64 = 0

        func enable() { lock.withLock { enabled = true } }

        /// Whole pages for a block that is recycled; nil for a small one.
        func sizeClass(_ byteCount: Int) -> Int? {
            byteCount >= LargeAllocations.recycledSize ? (byteCount + 4095) / 4096 * 4096 : nil
        }

        func take(_ size: Int?) -> UnsafeMutableRawPointer? {
            guard let size else { return nil }
            return lock.withLock {
                sweep()
                guard let entry = idle[size]?.popLast() else { return nil }
                idleBytes -= size
                return entry.block
            }
        }

        func keep(_ block: UnsafeMutableRawPointer, size: Int?) -> Bool {
            guard let size else { return false }
            return lock.withLock {
                sweep()
                guard enabled, idleBytes + size <= LargeAllocations.idleLimit else { return false }
                idle[size, default: []].append(Idle(block: block, since: DispatchTime.now().uptimeNanoseconds))
                idleBytes += size
                return true
            }
        }

        /// Frees the blocks that have waited longer than `idleSeconds`, looking at most once a
        /// second. Called with the lock held.
        private func sweep() {
            let now = DispatchTime.now().uptimeNanoseconds, second: UInt64 = 1_000_000_000
            guard now - lastSweep >= second else { return }
            lastSweep = now
            let limit = UInt64(LargeAllocations.idleSeconds * Double(second))
            for (size, entries) in idle {
                let fresh = entries.filter { now - $0.since <= limit }
                guard fresh.count < entries.count else { continue }
                entries.filter { now - $0.since > limit }.forEach { $0.block.deallocate() }
                idleBytes -= (entries.count - fresh.count) * size
                idle[size] = fresh.isEmpty ? nil : fresh
            }
        }
    }
}
