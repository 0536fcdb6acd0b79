import CS231nTensor
import Foundation

/// The processes an MPI launcher (`mpirun`, `srun`) started, as MPI's `MPI_COMM_WORLD`: rank,
/// size and the collectives the library's distributed code needs. Errors come back as
/// `MPIError` (the communicator is set to `MPI_ERRORS_RETURN`), not as MPI's default abort.
///
/// Calls are serialized by a lock, so any thread may make them, one at a time; every rank must
/// make the same collective calls in the same order, as MPI requires.
public final class Communicator: ReplicaGroup, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public let library: MPILibrary
    let lock = NSLock()
    var functions: MPILibrary.Functions { library.functions }
    var handles: MPILibrary.Handles { library.handles }

    /// The world of this process: nil when no MPI launcher started it (then nothing is loaded
    /// and the caller runs alone, as without MPI); otherwise MPI is initialized on the first
    /// call, and the same communicator returned after.
    public static func world() throws -> Communicator? { try shared.get() }

    /// What the launcher's environment says, without loading or initializing anything.
    public static var launch: MPILibrary.Launch? { MPILibrary.Launch.fromEnvironment() }

    /// The world if a call to `world()` has started MPI, without starting it otherwise: what
    /// must be finalized, or aborted, at the end.
    public static var started: Communicator? {
        startedLock.lock()
        defer { startedLock.unlock() }
        return startedWorld
    }

    private static let shared = Result<Communicator?, any Error> { try start() }
    private static let startedLock = NSLock()
    nonisolated(unsafe) private static var startedWorld: Communicator?

    private static func start() throws -> Communicator? {
        guard let launch else { return nil }
        let library: MPILibrary
        do {
            library = try MPILibrary.load()
        } catch MPIError.libraryNotFound(_, let reason) {
            throw MPIError.launcherWithoutLibrary(evidence: launch.evidence, reason: reason)
        }
        let world = try Communicator(initializing: library)
        startedLock.lock()
        startedWorld = world
        startedLock.unlock()
        return world
    }

    private init(initializing library: MPILibrary) throws {
        self.library = library
        let functions = library.functions, handles = library.handles
        var initialized: Int32 = 0
        _ = functions.initialized(&initialized)
        if initialized == 0 {
            var provided: Int32 = 0
            let serialized: Int32 = 2
            let code = functions.initThread(nil, nil, serialized, &provided)
            guard code == 0 else { throw MPIError.call(function: "MPI_Init_thread", code: code, message: library.describe(code)) }
            guard provided >= serialized else { throw MPIError.threadSupport(provided: provided) }
        }
        _ = functions.setErrorHandler(handles.world, handles.errorsReturn)
        var rank: Int32 = 0, size: Int32 = 0
        _ = functions.commRank(handles.world, &rank)
        _ = functions.commSize(handles.world, &size)
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// Runs an MPI call under the lock, turning a failure into an `MPIError`.
    func call(_ name: String, _ body: () -> Int32) throws {
        lock.lock()
        let code = body()
        lock.unlock()
        guard code == 0 else { throw MPIError.call(function: name, code: code, message: library.describe(code)) }
    }

    static func count(_ n: Int, _ operation: String) throws -> Int32 {
        guard n <= Int(Int32.max) else { throw MPIError.tooLarge(operation: operation, count: n) }
        return Int32(n)
    }

    // MARK: Life cycle

    /// Ends MPI for this process (`MPI_Finalize`); every rank calls it once, last.
    public func finalize() {
        var finalized: Int32 = 0
        _ = functions.finalized(&finalized)
        if finalized == 0 { _ = functions.finalize() }
    }

    /// Prints "rank r of n: message" on stderr and stops every rank of the job (`MPI_Abort`),
    /// so that none is left waiting in a collective for a rank that has failed.
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data("cs231n: rank \(rank) of \(size): \(message); stopping all \(size) ranks\n".utf8))
        _ = functions.abort(handles.world, code)
        exit(code)
    }

    /// Runs `body`, then finalizes MPI; if `body` throws, aborts the job with its message.
    public func run(_ body: () throws -> Void) -> Never {
        do {
            try body()
        } catch {
            abort("\(error)")
        }
        finalize()
        exit(0)
    }

    /// Seconds on MPI's clock (`MPI_Wtime`).
    public var time: Double { functions.wtime() }

    // MARK: Collectives

    public func barrier() throws {
        try call("MPI_Barrier") { functions.barrier(handles.world) }
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws {
        let chunk = 1 << 30
        for start in stride(from: 0, to: bytes.count, by: chunk) {
            let length = Swift.min(chunk, bytes.count - start)
            try call("MPI_Bcast") {
                functions.broadcast(bytes.baseAddress! + start, Int32(length), handles.byte, Int32(root), handles.world)
            }
        }
    }

    /// MPI's own in-place `MPI_Allreduce` sum. Its order of additions is the implementation's
    /// (it depends on the algorithm chosen for the size and the transport), so results may differ
    /// in the last bits between runs on other machines or rank counts; `sumInRankOrder` does not.
    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try allreduce(UnsafeMutableRawPointer(values.baseAddress), values.count, handles.float)
    }

    public func allreduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try allreduce(UnsafeMutableRawPointer(values.baseAddress), values.count, handles.double)
    }

    private func allreduce(_ values: UnsafeMutableRawPointer?, _ count: Int, _ type: MPILibrary.Handle) throws {
        guard size > 1, count > 0 else { return }
        let n = try Self.count(count, "MPI_Allreduce")
        let inPlace = UnsafeRawPointer(bitPattern: 1)  // Open MPI's MPI_IN_PLACE
        try call("MPI_Allreduce") { functions.allreduce(inPlace, values, n, type, handles.sum, handles.world) }
    }

    public func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try orderedSum(values, type: handles.float) { RankOrderSum.sum(replicas: $0, count: $1, contribution: $2, into: $3) }
    }

    public func sumInRankOrder(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try orderedSum(values, type: handles.double) { RankOrderSum.sum(replicas: $0, count: $1, contribution: $2, into: $3) }
    }

    /// Every rank's values in rank order on every rank (`MPI_Allgather`), `values.count` each.
    public func allgather<T: BitwiseCopyable>(_ values: [T]) throws -> [T] {
        var gathered = [T](unsafeUninitializedCapacity: values.count * size) { _, initialized in initialized = values.count * size }
        let bytes = try Self.count(values.count * MemoryLayout<T>.stride, "MPI_Allgather")
        try values.withUnsafeBytes { send in
            try gathered.withUnsafeMutableBytes { receive in
                try call("MPI_Allgather") {
                    functions.allgather(send.baseAddress, bytes, handles.byte, receive.baseAddress, bytes, handles.byte, handles.world)
                }
            }
        }
        return gathered
    }

    /// Every rank's array, of any length, on every rank (`MPI_Allgatherv`), in rank order.
    public func allgatherv<T: BitwiseCopyable>(_ values: [T]) throws -> [[T]] {
        let counts = try allgather([Int32(try Self.count(values.count * MemoryLayout<T>.stride, "MPI_Allgatherv"))])
        let displacements = try Self.displacements(counts, "MPI_Allgatherv")
        var bytes = [UInt8](repeating: 0, count: counts.reduce(0) { $0 + Int($1) })
        try values.withUnsafeBytes { send in
            try bytes.withUnsafeMutableBytes { receive in
                try call("MPI_Allgatherv") {
                    functions.allgatherv(send.baseAddress, counts[rank], handles.byte, receive.baseAddress, counts, displacements,
                                         handles.byte, handles.world)
                }
            }
        }
        return Self.split(bytes, counts: counts, displacements: displacements)
    }

    /// Every rank's array, of any length, on `root` only (`MPI_Gatherv`); nil on the others.
    public func gather<T: BitwiseCopyable>(_ values: [T], root: Int = 0) throws -> [[T]]? {
        let length = try Self.count(values.count * MemoryLayout<T>.stride, "MPI_Gatherv")
        var counts = [Int32](repeating: 0, count: rank == root ? size : 1)
        try withUnsafePointer(to: length) { send in
            try counts.withUnsafeMutableBytes { receive in
                try call("MPI_Gather") {
                    functions.gather(send, 1, handles.int32, receive.baseAddress, 1, handles.int32, Int32(root), handles.world)
                }
            }
        }
        let displacements = rank == root ? try Self.displacements(counts, "MPI_Gatherv") : [0]
        var bytes = [UInt8](repeating: 0, count: rank == root ? counts.reduce(0) { $0 + Int($1) } : 0)
        try values.withUnsafeBytes { send in
            try bytes.withUnsafeMutableBytes { receive in
                try call("MPI_Gatherv") {
                    functions.gatherv(send.baseAddress, length, handles.byte, receive.baseAddress, counts, displacements,
                                      handles.byte, Int32(root), handles.world)
                }
            }
        }
        return rank == root ? Self.split(bytes, counts: counts, displacements: displacements) : nil
    }

    static func displacements(_ counts: [Int32], _ operation: String) throws -> [Int32] {
        var offsets: [Int32] = [], total = 0
        for count in counts {
            offsets.append(try Self.count(total, operation))
            total += Int(count)
        }
        _ = try Self.count(total, operation)
        return offsets
    }

    static func split<T: BitwiseCopyable>(_ bytes: [UInt8], counts: [Int32], displacements: [Int32]) -> [[T]] {
        zip(counts, displacements).map { count, offset in
            let elements = Int(count) / MemoryLayout<T>.stride
            return [T](unsafeUninitializedCapacity: elements) { buffer, initialized in
                bytes.withUnsafeBytes { source in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: source[Int(offset)..<(Int(offset) + Int(count))]))
                }
                initialized = elements
            }
        }
    }
}
