/// Vector loads and stores at any element address, for the hand-written kernels: unaligned,
/// and with a lane count for the partial vector at the end of a row.
extension SIMD {
    /// The `Self.scalarCount` scalars at `p`, which need no alignment.
    @inlinable @inline(__always)
    package init(loading p: UnsafePointer<Scalar>) {
        self = UnsafeRawPointer(p).loadUnaligned(as: Self.self)
    }

    /// The first `lanes` scalars at `p`, zeros in the lanes after them: a row's last, partial
    /// vector, read without touching memory past its end.
    @inlinable @inline(__always)
    package init(loading p: UnsafePointer<Scalar>, lanes: Int) {
        if lanes == Self.scalarCount {
            self.init(loading: p)
            return
        }
        self.init()
        for lane in 0..<lanes { self[lane] = p[lane] }
    }

    /// Writes all lanes to `p`, which needs no alignment.
    @inlinable @inline(__always)
    package func store(to p: UnsafeMutablePointer<Scalar>) {
        UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self)
    }

    /// Writes the first `lanes` lanes to `p` and nothing past them.
    @inlinable @inline(__always)
    package func store(to p: UnsafeMutablePointer<Scalar>, lanes: Int) {
        if lanes == Self.scalarCount {
            store(to: p)
            return
        }
        for lane in 0..<lanes { p[lane] = self[lane] }
    }
}
