/// The replicas of a data-parallel computation: processes (MPI ranks) or threads that each hold
/// a copy of the model and combine buffers with collective operations.
///
/// The library's distributed code (data-parallel training, synchronized batch norm, the
/// distributed grid search and nearest-neighbour search) is written against this protocol alone.
/// `Communicator` (CS231nDistributed) implements it over MPI, `LocalReplicas` over threads in one
/// process. Every replica calls the same collectives in the same order with the same counts.
public protocol ReplicaGroup: AnyObject, Sendable {
    /// This replica's number, in 0..<size. Rank 0 leads: it writes files and prints.
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `values` (the same count on every replica) by their element-wise sum over the
    /// replicas, accumulated in Double in rank order, 0 + 1 + 2 + …: every replica gets the same
    /// bits, run after run, whatever the transport or the collective algorithm.
    func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Float>) throws
    func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// Copies `root`'s bytes over every replica's (the same count on every replica).
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws
}

extension ReplicaGroup {
    public var isLeader: Bool { rank == 0 }

    /// This replica's share of `count` items: the rank-th of `size` contiguous, nearly equal
    /// ranges (the first `count % size` one item longer).
    public func share(of count: Int) -> Range<Int> { Parallel.chunkRange(rank, of: size, count: count) }

    /// `sumInRankOrder` on an array of Float or Double.
    public func sumInRankOrder<S: TensorScalar>(_ values: inout [S]) throws {
        try values.withUnsafeMutableBufferPointer { buffer in
            if S.self == Float.self {
                try buffer.withMemoryRebound(to: Float.self) { try sumInRankOrder($0) }
            } else if S.self == Double.self {
                try buffer.withMemoryRebound(to: Double.self) { try sumInRankOrder($0) }
            } else {
                throw TensorError.invalidArgument(operation: "ReplicaGroup.sumInRankOrder", detail: "only Float and Double are summed, not \(S.self)")
            }
        }
    }

    /// The sum of each count over the replicas (exact: Double holds integers up to 2⁵³).
    public func sumInRankOrder(counts: [Int]) throws -> [Int] {
        var values = counts.map(Double.init)
        try sumInRankOrder(&values)
        return values.map { Int($0) }
    }

    /// `root`'s array on every replica, whatever each of the others passed (an empty one will do).
    public func broadcast<T: BitwiseCopyable>(_ values: [T], from root: Int) throws -> [T] {
        var count = [UInt64(values.count)]
        try count.withUnsafeMutableBytes { try broadcast($0, from: root) }
        guard count[0] > 0 else { return [] }
        var result = rank == root ? values : [T](unsafeUninitializedCapacity: Int(count[0])) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: 0)
            initialized = buffer.count
        }
        try result.withUnsafeMutableBytes { try broadcast($0, from: root) }
        return result
    }

    /// `root`'s tensor on every replica; the others' shapes and values are replaced.
    public func broadcast<S: TensorScalar>(_ tensor: inout Tensor<S>, from root: Int) throws {
        let shape = try broadcast(tensor.shape.map(UInt64.init), from: root).map(Int.init)
        if shape != tensor.shape { tensor = Tensor(uninitializedShape: shape) }
        try tensor.withUnsafeMutableBufferPointer { try broadcast(UnsafeMutableRawBufferPointer($0), from: root) }
    }
}

/// The arithmetic of `sumInRankOrder`, shared by its implementations so that they agree to the
/// bit: each element accumulated in Double over the contributions in rank order.
package enum RankOrderSum {
    /// out[i] = Σ_r contributions(r)[i] for r = 0, 1, …, accumulated in Double, written as `S`.
    /// `scratch` holds `count` Doubles.
    static func sum<S: TensorScalar>(replicas: Int, count: Int, contribution: (Int) -> UnsafePointer<S>,
                                             scratch: UnsafeMutablePointer<Double>, into out: UnsafeMutablePointer<S>) {
        let first = contribution(0)
        for i in 0..<count { scratch[i] = Double(first[i]) }
        for replica in 1..<Swift.max(1, replicas) {
            let values = contribution(replica)
            for i in 0..<count { scratch[i] += Double(values[i]) }
        }
        for i in 0..<count { out[i] = S(scratch[i]) }
    }

    package static func sum(replicas: Int, count: Int, contribution: (Int) -> UnsafePointer<Float>,
                            into out: UnsafeMutablePointer<Float>) {
        withScratch(count) { sum(replicas: replicas, count: count, contribution: contribution, scratch: $0, into: out) }
    }

    package static func sum(replicas: Int, count: Int, contribution: (Int) -> UnsafePointer<Double>,
                            into out: UnsafeMutablePointer<Double>) {
        withScratch(count) { sum(replicas: replicas, count: count, contribution: contribution, scratch: $0, into: out) }
    }

    private static func withScratch(_ count: Int, _ body: (UnsafeMutablePointer<Double>) -> Void) {
        let scratch = UnsafeMutablePointer<Double>.allocate(capacity: Swift.max(1, count))
        defer { scratch.deallocate() }
        body(scratch)
    }
}
