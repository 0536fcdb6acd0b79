import Foundation

/// Open MPI's C library, found at run time.
///
/// libmpi is `dlopen`ed rather than linked, as OpenBLAS is, so the package builds and its tests
/// pass on machines without MPI, and the one `cs231n` binary runs both alone and under
/// `mpirun`. No Swift MPI package is kept up, so the dozen C functions used are declared here.
///
/// Only Open MPI is bound. Its handles (`MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`, …) are the
/// addresses of global objects in libmpi, which `dlsym` finds; MPICH and its derivatives
/// (Intel MPI, MVAPICH, Cray MPICH) define them as integer constants of another C type, so every
/// signature would differ. Such a libmpi is refused with a message rather than half supported.
public struct MPILibrary: @unchecked Sendable {
    /// The file loaded.
    public let path: String
    /// `MPI_Get_library_version`: "Open MPI v4.1.4, package: …".
    public let version: String
    let functions: Functions
    let handles: Handles

    /// The launcher's view of this process, from the environment variables it sets: the rank,
    /// the size and the ranks on this node. Nil when no MPI launcher started this process.
    public struct Launch: Sendable, Equatable {
        public var rank: Int
        public var size: Int
        public var localSize: Int?
        /// The variable that told (OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_SIZE).
        public var evidence: String

        public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Launch? {
            let number = { (key: String) in environment[key].flatMap { Int($0) } }
            if let size = number("OMPI_COMM_WORLD_SIZE"), let rank = number("OMPI_COMM_WORLD_RANK") {
                return Launch(rank: rank, size: size, localSize: number("OMPI_COMM_WORLD_LOCAL_SIZE"), evidence: "OMPI_COMM_WORLD_SIZE=\(size)")
            }
            if let rank = number("PMIX_RANK") {
                return Launch(rank: rank, size: number("PMIX_SIZE") ?? 0, localSize: nil, evidence: "PMIX_RANK=\(rank)")
            }
            if let size = number("PMI_SIZE"), let rank = number("PMI_RANK") {
                return Launch(rank: rank, size: size, localSize: number("MPI_LOCALNRANKS"), evidence: "PMI_SIZE=\(size)")
            }
            return nil
        }
    }

    /// Loads libmpi: `CS231N_MPI_LIBRARY` when set, else the usual names of Open MPI's library.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MPILibrary {
        if let path = environment["CS231N_MPI_LIBRARY"] { return try load(path: path) }
        var failures: [String] = []
        for name in ["libmpi.so.40", "libmpi.so", "libmpi.40.dylib", "libmpi.dylib"] {
            do { return try load(path: name) } catch MPIError.libraryNotFound(_, let reason) { failures.append(reason) }
        }
        throw MPIError.libraryNotFound(path: "libmpi.so.40", reason: failures.first ?? "not found")
    }

    /// Loads the libmpi at `path` (a file or a name the dynamic loader resolves).
    public static func load(path: String) throws -> MPILibrary {
        // RTLD_GLOBAL: Open MPI's own plug-ins, which it dlopens in turn, resolve libmpi's symbols.
        guard let handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL) else {
            throw MPIError.libraryNotFound(path: path, reason: dlerror().map { String(cString: $0) } ?? "dlopen failed")
        }
        guard dlsym(handle, "MPI_Init_thread") != nil else {
            throw MPIError.notMPI(path: path)
        }
        let versionFunction: VersionFunction = try symbol(handle, "MPI_Get_library_version", path: path)
        let version = Self.libraryVersion(versionFunction)
        guard dlsym(handle, "ompi_mpi_comm_world") != nil else {
            throw MPIError.unsupportedImplementation(path: path, version: version)
        }
        return MPILibrary(path: path, version: version, functions: try Functions(handle, path: path),
                          handles: try Handles(handle, path: path))
    }

    /// The implementation's name and version: the first part of the library version string.
    public var implementation: String {
        String(version.split(separator: ",").first ?? Substring(version)).trimmingCharacters(in: .whitespaces)
    }

    static func libraryVersion(_ function: VersionFunction) -> String {
        var text = [CChar](repeating: 0, count: 8192), length: Int32 = 0
        guard function(&text, &length) == 0 else { return "unknown version" }
        return String(decoding: text.prefix(Int(length)).prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func symbol<T>(_ handle: UnsafeMutableRawPointer, _ name: String, path: String) throws -> T {
        guard let address = dlsym(handle, name) else { throw MPIError.missingSymbol(path: path, name: name) }
        return unsafeBitCast(address, to: T.self)
    }

    // MARK: The C interface (Open MPI's ABI: handles are pointers)

    typealias Handle = UnsafeMutableRawPointer
    typealias VersionFunction = @convention(c) (UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Int32

    /// Open MPI's predefined handles: the addresses of its global objects.
    struct Handles {
        let world, float, double, byte, int32, sum, max, errorsReturn: Handle

        init(_ library: UnsafeMutableRawPointer, path: String) throws {
            func address(_ name: String) throws -> Handle {
                guard let pointer = dlsym(library, name) else { throw MPIError.missingSymbol(path: path, name: name) }
                return pointer
            }
            world = try address("ompi_mpi_comm_world")
            float = try address("ompi_mpi_float")
            double = try address("ompi_mpi_double")
            byte = try address("ompi_mpi_byte")
            int32 = try address("ompi_mpi_int")
            sum = try address("ompi_mpi_op_sum")
            max = try address("ompi_mpi_op_max")
            errorsReturn = try address("ompi_mpi_errors_return")
        }
    }

    struct Functions {
        typealias Query = @convention(c) (UnsafeMutablePointer<Int32>) -> Int32
        typealias InitThread = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?, Int32,
                                               UnsafeMutablePointer<Int32>) -> Int32
        typealias CommQuery = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
        typealias SetErrorHandler = @convention(c) (Handle, Handle) -> Int32
        typealias Barrier = @convention(c) (Handle) -> Int32
        typealias Broadcast = @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
        typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
        /// Alltoall and Allgather: (send, count, type, receive, count, type, comm).
        typealias Exchange = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle,
                                             Handle) -> Int32
        typealias Allgatherv = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?,
                                               UnsafePointer<Int32>, UnsafePointer<Int32>, Handle, Handle) -> Int32
        typealias Gather = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle,
                                           Int32, Handle) -> Int32
        typealias Gatherv = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?,
                                            UnsafePointer<Int32>?, UnsafePointer<Int32>?, Handle, Int32, Handle) -> Int32
        typealias ErrorString = @convention(c) (Int32, UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Int32
        typealias Abort = @convention(c) (Handle, Int32) -> Int32
        typealias Finalize = @convention(c) () -> Int32
        typealias Clock = @convention(c) () -> Double

        let initialized, finalized: Query
        let initThread: InitThread
        let finalize: Finalize
        let commRank, commSize: CommQuery
        let setErrorHandler: SetErrorHandler
        let barrier: Barrier
        let broadcast: Broadcast
        let allreduce: Allreduce
        let alltoall, allgather: Exchange
        let allgatherv: Allgatherv
        let gather: Gather
        let gatherv: Gatherv
        let errorString: ErrorString
        let abort: Abort
        let wtime: Clock

        init(_ library: UnsafeMutableRawPointer, path: String) throws {
            func load<T>(_ name: String) throws -> T { try MPILibrary.symbol(library, name, path: path) }
            initialized = try load("MPI_Initialized")
            finalized = try load("MPI_Finalized")
            initThread = try load("MPI_Init_thread")
            finalize = try load("MPI_Finalize")
            commRank = try load("MPI_Comm_rank")
            commSize = try load("MPI_Comm_size")
            setErrorHandler = try load("MPI_Comm_set_errhandler")
            barrier = try load("MPI_Barrier")
            broadcast = try load("MPI_Bcast")
            allreduce = try load("MPI_Allreduce")
            alltoall = try load("MPI_Alltoall")
            allgather = try load("MPI_Allgather")
            allgatherv = try load("MPI_Allgatherv")
            gather = try load("MPI_Gather")
            gatherv = try load("MPI_Gatherv")
            errorString = try load("MPI_Error_string")
            abort = try load("MPI_Abort")
            wtime = try load("MPI_Wtime")
        }
    }

    /// The text of an MPI error code.
    func describe(_ code: Int32) -> String {
        var text = [CChar](repeating: 0, count: 8192), length: Int32 = 0
        guard functions.errorString(code, &text, &length) == 0 else { return "MPI error \(code)" }
        return String(decoding: text.prefix(Int(length)).prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// What went wrong finding or calling MPI.
public enum MPIError: Error, CustomStringConvertible, Equatable {
    case libraryNotFound(path: String, reason: String)
    case notMPI(path: String)
    case unsupportedImplementation(path: String, version: String)
    case missingSymbol(path: String, name: String)
    case launcherWithoutLibrary(evidence: String, reason: String)
    case threadSupport(provided: Int32)
    case call(function: String, code: Int32, message: String)
    case sizeMismatch(operation: String, detail: String)
    case tooLarge(operation: String, count: Int)

    public var description: String {
        switch self {
        case let .libraryNotFound(path, reason):
            return "MPI: cannot load \(path): \(reason)"
        case .notMPI(let path):
            return "MPI: \(path) has no MPI_Init_thread: it is not an MPI library"
        case let .unsupportedImplementation(path, version):
            return "MPI: \(path) is \(version), not Open MPI. cs231n binds Open MPI only (its handles are symbols "
                + "it finds at run time; MPICH's are integer constants of another type). Install Open MPI "
                + "(openmpi-bin, libopenmpi-dev), start with its mpirun, or point CS231N_MPI_LIBRARY at its libmpi."
        case let .missingSymbol(path, name):
            return "MPI: \(path) lacks \(name); cs231n needs Open MPI 3 or later"
        case let .launcherWithoutLibrary(evidence, reason):
            return "started by an MPI launcher (\(evidence)) but Open MPI's library cannot be loaded: \(reason). "
                + "Install libopenmpi-dev (or libopenmpi3) or set CS231N_MPI_LIBRARY to the path of libmpi.so."
        case .threadSupport(let provided):
            return "MPI: MPI_Init_thread gave thread level \(provided); cs231n needs MPI_THREAD_SERIALIZED (2)"
        case let .call(function, code, message):
            return "MPI: \(function) failed (error \(code)): \(message)"
        case let .sizeMismatch(operation, detail):
            return "MPI \(operation): \(detail)"
        case let .tooLarge(operation, count):
            return "MPI \(operation): \(count) elements exceed MPI's 32-bit counts (2³¹ − 1)"
        }
    }
}
