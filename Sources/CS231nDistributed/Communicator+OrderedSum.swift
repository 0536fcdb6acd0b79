import CS231nTensor

extension Communicator {
    /// Buffers up to this many elements take the one-collective path of `orderedSum`.
    static let shortSumLimit = 4096

    /// `sumInRankOrder` over MPI. MPI only moves bytes here; the additions are made by each rank
    /// in rank order, so the result does not depend on the algorithm MPI picks for a size, a
    /// rank count or a transport (`MPI_Allreduce` guarantees that only within one setting).
    ///
    /// Long buffers move as a ring allreduce does, 2·(p − 1)/p of the buffer in and out per
    /// rank: an all-to-all hands rank j the j-th segment of every rank's buffer, rank j adds
    /// them, and an all-gather hands every rank every sum. Short ones, bound by latency, take
    /// one all-gather of whole buffers, each rank adding all of them: the same additions in the
    /// same order, so the same bits.
    func orderedSum<S: TensorScalar>(
        _ values: UnsafeMutableBufferPointer<S>, type: MPILibrary.Handle,
        add: (_ replicas: Int, _ count: Int, _ contribution: (Int) -> UnsafePointer<S>, _ out: UnsafeMutablePointer<S>) -> Void
    ) throws {
        let n = values.count, p = size
        guard p > 1, n > 0, let base = values.baseAddress else { return }
        if n <= Self.shortSumLimit {
            let gathered = UnsafeMutablePointer<S>.allocate(capacity: n * p)
            defer { gathered.deallocate() }
            let count = Int32(n)
            try call("MPI_Allgather") { functions.allgather(base, count, type, gathered, count, type, handles.world) }
            add(p, n, { UnsafePointer(gathered + $0 * n) }, base)
            return
        }
        let segment = (n + p - 1) / p, padded = segment * p != n
        let count = try Self.count(segment, "MPI_Alltoall")
        _ = try Self.count(segment * p, "MPI_Alltoall")
        // A buffer that splits evenly is sent and gathered in place; another is padded with zeros.
        let whole = padded ? UnsafeMutablePointer<S>.allocate(capacity: segment * p) : base
        let receive = UnsafeMutablePointer<S>.allocate(capacity: segment * p)
        let sums = UnsafeMutablePointer<S>.allocate(capacity: segment)
        defer {
            if padded { whole.deallocate() }
            receive.deallocate()
            sums.deallocate()
        }
        if padded {
            whole.update(from: base, count: n)
            (whole + n).update(repeating: 0, count: segment * p - n)
        }
        try call("MPI_Alltoall") { functions.alltoall(whole, count, type, receive, count, type, handles.world) }
        add(p, segment, { UnsafePointer(receive + $0 * segment) }, sums)
        try call("MPI_Allgather") { functions.allgather(sums, count, type, whole, count, type, handles.world) }
        if padded { base.update(from: whole, count: n) }
    }
}
