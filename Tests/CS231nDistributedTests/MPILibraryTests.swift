import CS231nDistributed
import Foundation
import Testing

/// Finding MPI: the launcher's environment, and the libraries accepted or refused.
struct MPILibraryTests {
    @Test func theLauncherIsKnownByItsEnvironment() {
        typealias Launch = MPILibrary.Launch
        #expect(Launch.fromEnvironment([:]) == nil)
        #expect(Launch.fromEnvironment(["SLURM_PROCID": "0"]) == nil, "srun without MPI is not a launcher")
        let openMPI = Launch.fromEnvironment(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"])
        #expect(openMPI?.rank == 2 && openMPI?.size == 4 && openMPI?.localSize == 2)
        #expect(Launch.fromEnvironment(["PMI_SIZE": "3", "PMI_RANK": "1"])?.size == 3)
    }

    @Test(.enabled(if: Communicator.launch == nil, "the tests run outside mpirun"))
    func aProcessStartedAloneHasNoWorldAndLoadsNothing() throws {
        #expect(try Communicator.world() == nil)
        #expect(Communicator.started == nil)
    }

    static let notMPI = ["/usr/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/aarch64-linux-gnu/libm.so.6", "/usr/lib/libSystem.B.dylib"]
        .first { FileManager.default.fileExists(atPath: $0) }

    @Test(.enabled(if: notMPI != nil, "needs a system library that is not MPI"))
    func aLibraryThatIsNotMPIIsRefusedByName() throws {
        let path = try #require(Self.notMPI)
        #expect(throws: MPIError.notMPI(path: path)) { _ = try MPILibrary.load(path: path) }
        #expect(throws: MPIError.self) { _ = try MPILibrary.load(path: "/nonexistent/libmpi.so") }
    }

    @Test(.enabled(if: (try? MPILibrary.load()) != nil, "needs Open MPI's libmpi"))
    func openMPIIsFoundWithItsVersion() throws {
        let library = try MPILibrary.load()
        #expect(library.implementation.hasPrefix("Open MPI v"), "\(library.version)")
    }

    @Test func theRefusalOfOtherImplementationsSaysWhatToDo() {
        let message = MPIError.unsupportedImplementation(path: "libmpi.so.12", version: "MPICH Version: 4.0").description
        #expect(message.contains("MPICH") && message.contains("Open MPI only") && message.contains("CS231N_MPI_LIBRARY"))
    }
}
