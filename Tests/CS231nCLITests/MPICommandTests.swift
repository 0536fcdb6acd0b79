import CS231n
import Foundation
import Testing

/// Where `mpirun` is, when Open MPI is installed.
let mpirun: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun", "/opt/homebrew/bin/mpirun"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }
let mpirunAvailable = mpirun != nil && FileManager.default.isExecutableFile(atPath: ReportRenderingTests.tool.path)

/// The tool under `mpirun -np 2` over TCP against the tool alone: the same numbers, an error on
/// one rank stopping all, a killed rank leaving a checkpoint that resumes to the same result.
@Suite(.serialized, .enabled(if: mpirunAvailable, "needs Open MPI's mpirun and the cs231n tool built next to the tests"))
struct MPICommandTests {
    /// mpirun's options: TCP even between ranks of one machine (the network path), and the
    /// permissions CI containers need.
    static let launch = ["--oversubscribe", "--allow-run-as-root", "--mca", "btl", "tcp,self"]

    /// Runs the tool alone (`ranks` nil) or under mpirun; returns the status and stdout + stderr.
    /// A run that outlives `timeout` seconds is stopped, and reported by its status.
    static func run(_ arguments: [String], ranks: Int? = nil, timeout: Double = 300,
                    whileRunning: ((Process) throws -> Void)? = nil) throws -> (Int32, String) {
        let process = Process()
        if let ranks {
            process.executableURL = URL(fileURLWithPath: mpirun!)
            process.arguments = launch + ["-np", String(ranks), ReportRenderingTests.tool.path] + arguments
        } else {
            process.executableURL = ReportRenderingTests.tool
            process.arguments = arguments
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-mpi-output-\(UUID().uuidString)")
        #expect(FileManager.default.createFile(atPath: output.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        process.environment = ProcessInfo.processInfo.environment.merging(["CS231N_NO_PROGRESS": "1"]) { $1 }
        try process.run()
        try whileRunning?(process)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8))
    }

    static func folder(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-mpi-\(name)-\(getpid())")
    }

    static func parameters(_ checkpoint: URL) throws -> [String: [Float]] {
        let file = try Checkpoint.read(checkpoint.path)
        return Dictionary(uniqueKeysWithValues: file.names.filter { $0.hasPrefix("params.") }.map { ($0, file.tensor($0, as: Float.self)!.scalars) })
    }

    /// The values of the figures named `metric`, only those of `split` when one is given.
    static func figures(_ output: String, metric: String, split: String? = nil) -> [Double] {
        output.split(separator: "\n").filter { line in
            line.contains("\"metric\":\"\(metric)\"") && split.map { line.contains("\"split\":\"\($0)\"") } ?? true
        }.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["value"] as? Double
        }
    }

    @Test func infoNamesTheImplementationAndEveryRank() throws {
        let (status, output) = try Self.run(["info"], ranks: 2)
        #expect(status == 0 && output.contains("Open MPI") && output.contains("2 ranks") && output.contains("mpi rank 1"), "\(output)")
        #expect(output.components(separatedBy: "swift-cs231n").count == 2, "only rank 0 prints: \(output)")
    }

    /// One epoch of W4's two-layer net and of W5's conv net on the built-in images.
    @Test(arguments: [["--model", "two-layer", "--hidden", "32"],
                      ["--model", "three-layer-convnet", "--filters", "4", "--hidden", "16", "--batch-size", "64"]])
    func twoRanksTrainAsOneProcessAndRepeatToTheBit(model: [String]) throws {
        let runs = ["alone", "ranks-a", "ranks-b"].map { Self.folder("train-\(model[1])-\($0)") }
        defer { for url in runs { try? FileManager.default.removeItem(at: url) } }
        let train = ["train"] + model + ["--dataset", "builtin", "--num-train", "600", "--num-val", "100", "--epochs", "1", "--json"]
        var outputs: [String] = []
        for (index, folder) in runs.enumerated() {
            let (status, output) = try Self.run(train + ["-o", folder.path], ranks: index == 0 ? nil : 2)
            #expect(status == 0, "\(output)")
            outputs.append(output)
        }
        let (alone, first, second) = try (Self.parameters(runs[0].appendingPathComponent("model.safetensors")),
                                          Self.parameters(runs[1].appendingPathComponent("model.safetensors")),
                                          Self.parameters(runs[2].appendingPathComponent("model.safetensors")))
        #expect(first == second, "two 2-rank runs differ")
        for (name, values) in alone {
            let scale = values.map { abs($0) }.max() ?? 1
            let difference = zip(values, first[name]!).map { abs($0 - $1) }.max() ?? 0
            #expect(difference <= 1e-5 * scale, "\(name): \(difference) against a scale of \(scale)")
        }
        #expect(Self.figures(outputs[0], metric: "accuracy", split: "val") == Self.figures(outputs[1], metric: "accuracy", split: "val"))
        // The epoch's val accuracy and the final one, once each: only rank 0 prints.
        #expect(outputs[1].components(separatedBy: "\"split\":\"val\"").count == 3, "only rank 0 prints: \(outputs[1])")
    }

    @Test func gridSearchOnTwoRanksPrintsTheTableAndWritesTheModelOfOneProcess() throws {
        let runs = ["alone", "ranks"].map { Self.folder("linear-\($0)") }
        defer { for url in runs { try? FileManager.default.removeItem(at: url) } }
        let linear = ["linear", "--dataset", "builtin", "--num-train", "500", "--num-val", "100", "--iters", "100",
                      "--lr", "1e-7,5e-7,1e-6", "--reg", "1e2,1e3"]
        var tables: [[String]] = []
        for (index, folder) in runs.enumerated() {
            let (status, output) = try Self.run(linear + ["-o", folder.path], ranks: index == 0 ? nil : 2)
            #expect(status == 0, "\(output)")
            // Rows without their last column, the seconds each took.
            tables.append(output.split(separator: "\n").filter { $0.hasPrefix("1.0e-") || $0.hasPrefix("5.0e-") || $0.hasPrefix("best") }
                .map { $0.replacingOccurrences(of: #"\d+\.\d\d s"#, with: "", options: .regularExpression) })
        }
        #expect(tables[0].count == 7 && tables[0] == tables[1], "\(tables)")
        let models = try runs.map { try Data(contentsOf: $0.appendingPathComponent("svm-raw.safetensors")) }
        #expect(models[0] == models[1], "the best model files differ")
    }

    @Test func nearestNeighboursOnTwoRanksPredictAsOneProcess() throws {
        let knn = ["knn", "--full", "--dataset", "builtin", "--num-train", "1500", "--metric", "l1", "--k", "1,3", "--json"]
        let (statusAlone, alone) = try Self.run(knn)
        let (statusRanks, ranks) = try Self.run(knn, ranks: 2)
        #expect(statusAlone == 0 && statusRanks == 0, "\(alone)\n\(ranks)")
        #expect(Self.figures(alone, metric: "accuracy") == Self.figures(ranks, metric: "accuracy") && !Self.figures(alone, metric: "accuracy").isEmpty)
    }

    @Test func aMissingCheckpointFolderStopsEveryRankBeforeTraining() throws {
        let out = Self.folder("error")
        defer { try? FileManager.default.removeItem(at: out) }
        // The checkpoint's folder is checked before training, on every rank: the job ends at once
        // with the folder named, and no rank is left waiting.
        let (status, output) = try Self.run(["train", "--dataset", "builtin", "--num-train", "200", "--num-val", "40", "--hidden", "8",
                                             "--epochs", "3", "-o", out.path, "--checkpoint", "/nonexistent/folder/model.safetensors"],
                                            ranks: 2, timeout: 120)
        #expect(status != 0 && output.contains("the folder /nonexistent/folder does not exist"), "\(output)")
        #expect(!output.contains("epoch 1/3"), "refused before training: \(output)")
    }

    @Test func anErrorOnOneRankStopsEveryRankWithItsMessage() throws {
        let out = Self.folder("error-mid-run")
        defer { try? FileManager.default.removeItem(at: out) }
        // Only rank 0 writes checkpoints. Once its first one is written (the ranks are training),
        // a file takes the place of the checkpoint's folder: rank 0's next write fails while
        // rank 1 goes on.
        let folder = out.appendingPathComponent("checkpoints"), checkpoint = folder.appendingPathComponent("model.safetensors")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let (status, output) = try Self.run(["train", "--dataset", "builtin", "--num-train", "2000", "--num-val", "40", "--hidden", "8",
                                             "--batch-size", "10", "--epochs", "50", "-o", out.path, "--checkpoint", checkpoint.path],
                                            ranks: 2, timeout: 120) { process in
            while process.isRunning && !FileManager.default.fileExists(atPath: checkpoint.path) { usleep(2_000) }
            try FileManager.default.removeItem(at: folder)
            #expect(FileManager.default.createFile(atPath: folder.path, contents: Data()))
        }
        #expect(status != 0 && output.contains("rank 0 of 2") && output.contains(checkpoint.path), "\(output)")
    }

    /// The process of `rank` among mpirun's children, from their environment (Linux's /proc).
    static func rankProcess(_ rank: Int, of launcher: Process) -> pid_t? {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(launcher.processIdentifier)/task")) ?? []
        let children = tasks.flatMap { task in
            ((try? String(contentsOfFile: "/proc/\(launcher.processIdentifier)/task/\(task)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { pid_t($0) }
        }
        return children.first { child in
            let environment = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(child)/environ"))) ?? Data()
            return environment.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=\(rank)" }
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/environ"), "finds the rank's process in /proc"))
    func aKilledRankEndsTheJobAndItsLastCheckpointResumesToTheSameResult() throws {
        let whole = Self.folder("kill-whole"), killed = Self.folder("kill-killed"), regrouped = Self.folder("kill-regrouped")
        defer { for url in [whole, killed, regrouped] { try? FileManager.default.removeItem(at: url) } }
        let train = ["train", "--dataset", "builtin", "--num-train", "2000", "--num-val", "200", "--hidden", "50", "--epochs", "4"]
        let (wholeStatus, wholeOutput) = try Self.run(train + ["-o", whole.path], ranks: 2)
        #expect(wholeStatus == 0, "\(wholeOutput)")
        let checkpoint = killed.appendingPathComponent("model.safetensors")
        var victim: pid_t?
        let (status, output) = try Self.run(train + ["-o", killed.path], ranks: 2) { launcher in
            let deadline = Date().addingTimeInterval(120)
            while !FileManager.default.fileExists(atPath: checkpoint.path) && launcher.isRunning && Date() < deadline { usleep(20_000) }
            victim = Self.rankProcess(1, of: launcher)
            if let victim { kill(victim, SIGKILL) }
        }
        #expect(victim != nil, "rank 1's process was not found")
        #expect(status != 0 && output.contains("rank 1"), "\(output)")
        let epoch = try Checkpoint.read(checkpoint.path).metadata["solver.epoch"].flatMap { Int($0) } ?? 0
        #expect(epoch >= 1 && epoch < 4, "the job went on to epoch \(epoch) after rank 1 was killed")
        try FileManager.default.copyItem(at: killed, to: regrouped)
        let (resumeStatus, resumeOutput) = try Self.run(train + ["-o", killed.path, "--resume"], ranks: 2)
        #expect(resumeStatus == 0, "\(resumeOutput)")
        let expected = try Self.parameters(whole.appendingPathComponent("model.safetensors"))
        #expect(try Self.parameters(checkpoint) == expected)
        // Three ranks go on from the same checkpoint: the same gradients up to rounding.
        let (regroupedStatus, regroupedOutput) = try Self.run(train + ["-o", regrouped.path, "--resume"], ranks: 3)
        #expect(regroupedStatus == 0, "\(regroupedOutput)")
        for (name, values) in try Self.parameters(regrouped.appendingPathComponent("model.safetensors")) {
            let scale = values.map { abs($0) }.max() ?? 1
            let difference = zip(values, expected[name]!).map { abs($0 - $1) }.max() ?? 0
            #expect(difference <= 1e-4 * scale, "\(name): \(difference) against a scale of \(scale)")
        }
    }
}
