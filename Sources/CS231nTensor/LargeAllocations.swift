#if canImport(Glibc)
import Glibc

// mallopt is not exported by Swift's Glibc module.
@_silgen_name("mallopt") private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// glibc serves blocks of 128 KiB and more (up to 32 MiB as it adapts) with mmap and unmaps
/// them on free, so each training step's fresh activations fault their pages in again:
/// about a tenth of a W6 step went to the kernel zeroing pages. Serving every block from the
/// heap and never trimming it lets the next step reuse the pages the last one freed.
public enum LargeAllocations {
    /// Applies the settings once per process; later calls return the first answer. The
    /// `Solver` calls it when created; a training loop of one's own calls it at start-up,
    /// before the first large allocation. Returns whether the allocator took the settings
    /// (always false where the C library is not glibc).
    @discardableResult
    public static func keepInProcess() -> Bool { applied }

    private static let applied: Bool = {
        #if canImport(Glibc)
        let noMmap = mallopt(-4 /* M_MMAP_MAX */, 0)
        let noTrim = mallopt(-1 /* M_TRIM_THRESHOLD */, Int32.max)
        return noMmap == 1 && noTrim == 1
        #else
        return false
        #endif
    }()
}
