import ArgumentParser
import CS231n
import Foundation

/// The standard workloads of BENCHMARKS.md, with the peers run in the same sitting on request.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run the standard workloads (W0…) and print median, min and max, with ratios to peers.")

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        case W0
        case W1
        case W2
        case W3
        case W4
        case W5
        case W6
        /// The collectives of data-parallel training, under mpirun.
        case MPI
    }

    @Argument(help: "Workloads to run: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")).")
    var workloads: [Workload]

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Timed repetitions (after one warm-up).")
    var repeats = 5

    @Option(name: .long, parsing: .upToNextOption, help: "W0 matrix sizes.")
    var sizes: [Int] = [1024, 2048, 4096]

    @Option(name: .long, help: "Peers to run in the same sitting, comma-separated (numpy, torch).")
    var peers = ""

    @Option(name: .long, help: "Folder of the peer scripts.")
    var peersDir = "../shared/peers"

    @Option(name: .long, help: "CIFAR-10 folder for W1…W6 (default: $CS231N_DATA_DIR or ~/.cache/cs231n/cifar-10-batches-bin).")
    var dataDir: String?

    @Option(name: .customLong("w6-steps"), help: "W6 timed training steps (after 3 warm-up steps), as the peer's STEPS.")
    var w6Steps = 20

    @Option(name: .customLong("w2-queries"), help: "W2 queries (the first N of the evaluation split); time is scaled to 10,000.")
    var w2Queries = 1000

    func validate() throws {
        try OptionRange.check(repeats, in: 1...1_000, "--repeats")
        try OptionRange.check(w6Steps, in: 1...10_000, "--w6-steps")
        try OptionRange.check(w2Queries, in: 1...Dataset.maximumBuiltinCount, "--w2-queries")
        // An n×n GEMM holds three n² matrices: 16384 is 3 GiB of Float.
        for size in sizes { try OptionRange.check(size, in: 1...16_384, "--sizes") }
    }

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        let peerNames = peers.split(separator: ",").map(String.init)
        if let coreType = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], BLAS.backend == .openBLAS {
            printer.say("note: OPENBLAS_CORETYPE=\(coreType) pins OpenBLAS to that kernel; the peers run without it. "
                        + "For like-for-like ratios run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE cs231n bench …")
        }
        for workload in workloads {
            switch workload {
            case .W0: try benchGEMM(printer: printer, peerNames: peerNames)
            case .W1: try benchKNNSmall(printer: printer, peerNames: peerNames)
            case .W2: try benchNearestNeighbourFull(printer: printer, peerNames: peerNames, queryCount: w2Queries)
            case .W3: try benchLinear(printer: printer, peerNames: peerNames)
            case .W4: try benchTwoLayerNet(printer: printer, peerNames: peerNames)
            case .W5: try benchConvNet(printer: printer, peerNames: peerNames)
            case .W6: try benchModernConvNet(printer: printer, peerNames: peerNames)
            case .MPI: try benchCollectives(printer: printer)
            }
        }
    }

    /// Trains `solver`, data-parallel under mpirun (each rank its share of every batch), saying
    /// each epoch's seconds and val accuracy (epoch numbers as wide as the last one's); returns
    /// the seconds of each epoch, which time the training loop only, as the peers do.
    func trainTimingEpochs<M: Model>(_ solver: inout Solver<M>, printer: ResultPrinter) throws -> [Double] {
        solver.dataParallel = try DistributedRun.world().map(DataParallel.init)
        var epochSeconds: [Double] = []
        let epochFormat = "  epoch %\(String(solver.options.epochs).count)d: %.2f s, val acc %.1f%%"
        solver.onEvent = { event in
            guard case .epochEnd(let epoch, _, let val, let seconds, _) = event else { return }
            epochSeconds.append(seconds)
            printer.say(String(format: epochFormat, epoch, seconds, 100 * val))
        }
        try solver.train()
        return epochSeconds
    }

    /// Measured fp32 FMA peak of the 2-core reference machine (BENCHMARKS.md).
    static let peakGFLOPS = 192.0

    func benchGEMM(printer: ResultPrinter, peerNames: [String]) throws {
        printer.say("W0: sgemm C = A·B, fp32, 1 warm-up + median of \(repeats); peak \(Int(Self.peakGFLOPS)) GFLOP/s")
        var backends: [(String, (GemmCall<Float>) -> Void)] = [(BLAS.Backend.swiftFallback.rawValue, { Float.swiftGemm($0) })]
        if BLAS.backend != .swiftFallback { backends.append((BLAS.backend.rawValue, { GEMM.run($0) })) }
        var ours: [String: [Int: Double]] = [:]
        printer.say("backend".padded(22) + String(format: "%6@ %10@ %10@ %10@ %8@", "n", "median", "min", "max", "of peak"))
        for n in sizes {
            var rng = RandomGenerator(seed: common.seed)
            let a = Tensor<Float>.randn([n, n], using: &rng), b = Tensor<Float>.randn([n, n], using: &rng)
            var c = Tensor<Float>.zeros([n, n])
            for (name, gemm) in backends {
                let timing = a.withUnsafeBufferPointer { pa in
                    b.withUnsafeBufferPointer { pb in
                        c.withUnsafeMutableBufferPointer { pc in
                            TimingSummary.measure(repeats: repeats) {
                                gemm(GemmCall(m: n, n: n, k: n, a: pa.baseAddress!, lda: n, b: pb.baseAddress!, ldb: n,
                                              c: pc.baseAddress!, ldc: n))
                            }
                        }
                    }
                }
                let flop = 2 * pow(Double(n), 3)
                let median = flop / timing.median / 1e9
                ours[name, default: [:]][n] = median
                printer.say(name.padded(22) + String(format: "%6d %10.1f %10.1f %10.1f %7.0f%%", n, median,
                                   flop / timing.max / 1e9, flop / timing.min / 1e9, 100 * median / Self.peakGFLOPS))
                printer.figure([("workload", "W0"), ("backend", .string(name)), ("n", .int(n)),
                                ("min", .double(flop / timing.max / 1e9)), ("max", .double(flop / timing.min / 1e9)),
                                ("percent_of_peak", .double(100 * median / Self.peakGFLOPS))],
                               metric: "gflops", value: median)
            }
        }
        if let blas = ours[BLAS.backend.rawValue], BLAS.backend != .swiftFallback,
           let fallback = ours[BLAS.Backend.swiftFallback.rawValue] {
            for n in sizes {
                let ratio = fallback[n]! / blas[n]!
                printer.say(String(format: "fallback / %@ at n=%d: %.2f", BLAS.backend.rawValue as NSString, n, ratio))
                printer.figure([("workload", "W0"), ("n", .int(n)), ("of", .string("fallback/\(BLAS.backend.rawValue)"))],
                               metric: "ratio", value: ratio)
            }
        }
        let runner = PeerRunner(peersDirectory: peersDir)
        for peer in peerNames {
            let result = try runner.run(script: "w0_gemm.py", peer: peer, log: printer.say)
            guard let perSize = result["sizes"] as? [String: [String: Any]] else { continue }
            for n in sizes {
                guard let peerFigure = perSize[String(n)]?["gflops_median"] as? Double else { continue }
                printer.figure([("workload", "W0"), ("peer", .string(peer)), ("n", .int(n))], metric: "gflops", value: peerFigure)
                for (name, figures) in ours.sorted(by: { $0.key < $1.key }) {
                    guard let mine = figures[n] else { continue }
                    printer.say(String(format: "%@ / %@ at n=%d: %.1f / %.1f GFLOP/s = %.2f×", name as NSString, peer as NSString,
                                       n, mine, peerFigure, mine / peerFigure))
                    printer.figure([("workload", "W0"), ("backend", .string(name)), ("peer", .string(peer)), ("n", .int(n))],
                                   metric: "ratio", value: mine / peerFigure)
                }
            }
        }
    }
}

extension String {
    /// Left-aligned in a column of `width` characters.
    func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
