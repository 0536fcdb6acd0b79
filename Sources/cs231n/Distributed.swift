import ArgumentParser
import CS231n
import Foundation

/// How the tool runs under an MPI launcher (`mpirun -np N cs231n …`): `train`, `linear` and
/// `knn --full` share their work over the ranks, and only rank 0 prints and writes files.
/// Started alone, nothing is loaded and every command runs as it always has.
enum DistributedRun {
    /// What the launcher's environment says (nil alone), read without loading MPI.
    static let launch = Communicator.launch

    /// Rank 0, or a process started alone: the one that prints and writes.
    static var isLeader: Bool { (launch?.rank ?? 0) == 0 }

    /// The MPI world when a launcher started more than one rank, nil otherwise. Loads and
    /// starts MPI on the first call.
    static func world() throws -> Communicator? {
        guard let launch, launch.size != 1, let world = try Communicator.world(), world.size > 1 else { return nil }
        return world
    }

    /// Parses and runs the command. Ranks other than 0 draw no progress bars. Once MPI is
    /// started, an error on any rank stops every rank with its message (no rank is left waiting
    /// for a failed one), and a clean end finalizes MPI.
    static func main(_ command: CS231nCommand.Type) {
        if !isLeader { setenv("CS231N_NO_PROGRESS", "1", 1) }
        do {
            var parsed = try command.parseAsRoot()
            do { try parsed.run() } catch let error as ValidationError {
                // A problem found while running (in the data or a checkpoint) is not a mistake in
                // the arguments: its message alone, without the usage lines.
                throw ErrorMessage(text: error.message)
            }
        } catch {
            // A Foundation file error that escaped a library check is shown as a sentence.
            let error: Error = FileSystem.sentence(for: error).map { ErrorMessage(text: $0) } ?? error
            if let world = Communicator.started, world.size > 1 { world.abort(command.fullMessage(for: error)) }
            Communicator.started?.finalize()
            command.exit(withError: error)
        }
        Communicator.started?.finalize()
    }

    /// `cs231n info`'s lines about MPI: the library, and under a launcher the world and each
    /// rank's host and worker threads (gathered on rank 0).
    static func infoFacts() throws -> [(String, String)] {
        guard launch != nil else {
            let found = (try? MPILibrary.load()).map { "\($0.implementation) (\($0.path)); not started by mpirun" }
            return [("mpi", found ?? "no Open MPI library found (needed only under mpirun)")]
        }
        guard let world = try Communicator.world() else { return [("mpi", "started by a launcher, 1 rank")] }
        let mine = "host \(ProcessInfo.processInfo.hostName), worker threads \(Parallel.coreCount)"
        let ranks = try world.gather(Array(mine.utf8)) ?? []
        return [("mpi", world.library.version), ("mpi_world", "\(world.size) ranks")]
            + ranks.enumerated().map { ("mpi_rank_\($0)", String(decoding: $1, as: UTF8.self)) }
    }
}

/// `cs231n train`'s option for data-parallel training under mpirun.
struct DistributedTrainOptions: ParsableArguments {
    @Flag(help: "Under mpirun: batch norm normalises with the statistics of the global batch (its per-channel sums added over the ranks, forward and backward) instead of each rank's share (cnn).")
    var syncBn = false

    /// Makes `solver` data-parallel over the MPI world when there is one: each rank takes its
    /// share of every batch of the same global order, and the gradients are summed.
    func apply(to solver: inout Solver<AnyModel<Float>>, printer: ResultPrinter) throws {
        guard let world = try DistributedRun.world() else {
            if syncBn { printer.say("note: --sync-bn acts only under mpirun with several ranks") }
            return
        }
        solver.dataParallel = DataParallel(world)
        if syncBn {
            guard var cnn = solver.model.modernConvNet else {
                throw ValidationError("--sync-bn needs --model cnn (the net whose batch norm is shared over ranks)")
            }
            cnn.batchNormReplicas = world
            solver.model.modernConvNet = cnn
        }
        let batchNorm = solver.model.modernConvNet != nil || solver.model.configuration.normalization == .batchnorm
        printer.say("data-parallel over \(world.size) ranks (\(world.library.implementation)): about "
                    + "\(solver.options.batchSize / world.size) images of each batch per rank"
                    + (batchNorm ? (syncBn ? ", synchronized batch norm" : ", batch norm per rank") : ""))
    }
}

/// An error shown as its message alone: a Foundation file error in words (`FileSystem.sentence(for:)`), or a problem found while running.
struct ErrorMessage: Error, CustomStringConvertible {
    let text: String
    var description: String { text }
}
