import CS231nTensor
import Foundation

/// Replicas as threads of one process, with the collectives `Communicator` has over MPI and the
/// same arithmetic: distributed code can be tested without MPI, and a data-parallel loop tried
/// on one machine. The results equal a `Communicator`'s of the same size to the bit.
public enum LocalReplicas {
    /// Runs `body` on `count` threads, each given its replica, and returns their results in rank
    /// order. When a replica throws, the collectives of the others throw too (none waits
    /// forever), and the error of the lowest failing rank is rethrown.
    public static func run<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (any ReplicaGroup) throws -> T) throws -> [T] {
        precondition(count >= 1, "LocalReplicas.run needs at least one replica")
        let state = SharedState(size: count)
        let results = ResultSlots<T>(count)
        let done = DispatchGroup()
        for rank in 0..<count {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                do {
                    results.set(rank, .success(try body(LocalReplicaGroup(rank: rank, state: state))))
                } catch {
                    state.fail()
                    results.set(rank, .failure(error))
                }
            }
            thread.stackSize = 64 << 20
            thread.start()
        }
        done.wait()
        let outcomes = results.values()
        if let failure = outcomes.lazy.compactMap({ outcome -> Error? in
            if case .failure(let error) = outcome, !(error is LocalReplicaFailure) { return error }
            return nil
        }).first {
            throw failure
        }
        return try outcomes.map { try $0.get() }
    }
}

/// Thrown by the collectives of the replicas left when another one has failed.
public struct LocalReplicaFailure: Error, CustomStringConvertible {
    public var description: String { "another replica failed" }
}

final class LocalReplicaGroup: ReplicaGroup, @unchecked Sendable {
    let rank: Int
    var size: Int { state.size }
    let state: SharedState

    init(rank: Int, state: SharedState) {
        self.rank = rank
        self.state = state
    }

    func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try sum(values) { RankOrderSum.sum(replicas: $0, count: $1, contribution: $2, into: $3) }
    }

    func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try sum(values) { RankOrderSum.sum(replicas: $0, count: $1, contribution: $2, into: $3) }
    }

    /// Each replica posts its buffer and adds all of them into a private copy; a second barrier
    /// keeps any from overwriting its buffer before all have read it.
    private func sum<S: TensorScalar>(
        _ values: UnsafeMutableBufferPointer<S>,
        add: (Int, Int, (Int) -> UnsafePointer<S>, UnsafeMutablePointer<S>) -> Void
    ) throws {
        let n = values.count
        let result = UnsafeMutablePointer<S>.allocate(capacity: Swift.max(1, n))
        defer { result.deallocate() }
        state.post(rank, UnsafeMutableRawPointer(values.baseAddress))
        try state.barrier()
        if n > 0 {
            add(size, n, { UnsafePointer(self.state.posted($0)!.assumingMemoryBound(to: S.self)) }, result)
        }
        try state.barrier()
        if n > 0 { values.baseAddress!.update(from: result, count: n) }
    }

    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws {
        state.post(rank, bytes.baseAddress)
        try state.barrier()
        if rank != root, bytes.count > 0 {
            bytes.copyMemory(from: UnsafeRawBufferPointer(start: state.posted(root), count: bytes.count))
        }
        try state.barrier()
    }
}

/// The replicas' meeting point: a reusable barrier and one posted buffer per replica.
final class SharedState: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var arrived = 0, generation = 0, failed = false
    private var buffers: [UnsafeMutableRawPointer?]

    init(size: Int) {
        self.size = size
        buffers = Array(repeating: nil, count: size)
    }

    func post(_ rank: Int, _ buffer: UnsafeMutableRawPointer?) {
        condition.lock()
        buffers[rank] = buffer
        condition.unlock()
    }

    func posted(_ rank: Int) -> UnsafeMutableRawPointer? {
        condition.lock()
        defer { condition.unlock() }
        return buffers[rank]
    }

    func barrier() throws {
        condition.lock()
        defer { condition.unlock() }
        guard !failed else { throw LocalReplicaFailure() }
        let arrival = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
            return
        }
        while generation == arrival && !failed { condition.wait() }
        if generation == arrival { throw LocalReplicaFailure() }
    }

    func fail() {
        condition.lock()
        failed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Results written by the replica threads, read once all have finished.
final class ResultSlots<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<T, Error>?]

    init(_ count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<T, Error>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    func values() -> [Result<T, Error>] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0! }
    }
}
