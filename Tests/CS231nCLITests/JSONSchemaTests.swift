import Foundation
import Testing

/// The `--json` convention of every command: stdout holds only JSON lines, each one object
/// with a string "metric" and a numeric "value", and an accuracy is always
/// `"metric":"accuracy"` with the split it was measured on.
@Suite(.serialized, .enabled(if: TestEnvironment.toolIsBuilt, "\(TestEnvironment.toolMissing)"))
struct JSONSchemaTests {
    static let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-json-\(getpid())")
    static let data = ["--dataset", "builtin", "--num-train", "200", "--num-val", "50"]

    /// Runs the tool and returns its exit status, its stdout and its stderr, kept apart.
    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = TestEnvironment.tool
        process.arguments = arguments
        let errors = folder.appendingPathComponent("stderr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: errors.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: errors) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), try String(contentsOf: errors, encoding: .utf8))
    }

    /// Each line of `stdout` as a figure, with what is wrong with those that break the convention.
    static func violations(in stdout: String) -> [String] {
        stdout.split(separator: "\n").compactMap { line -> String? in
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                return "not a JSON object: \(line)"
            }
            guard let metric = object["metric"] as? String else { return "no string \"metric\": \(line)" }
            guard object["value"] is Double else { return "no numeric \"value\": \(line)" }
            if metric.hasSuffix("_accuracy") { return "an accuracy named \(metric) instead of accuracy with a split: \(line)" }
            if metric == "accuracy", !["train", "val", "test", "cv"].contains(object["split"] as? String ?? "") {
                return "an accuracy without a split of train, val, test or cv: \(line)"
            }
            return nil
        }
    }

    @Test func everyCommandPrintsFiguresWithAMetricAndANumericValue() throws {
        defer { try? FileManager.default.removeItem(at: Self.folder) }
        let out = Self.folder.path
        let checkpoint = Self.folder.appendingPathComponent("model.safetensors").path
        let commands: [[String]] = [
            ["info"],
            ["data", "info"] + Self.data,
            ["knn", "--train", "100", "--test", "20", "--k", "1,3", "--folds", "2", "-o", out] + Self.data,
            ["linear", "--iters", "20", "--lr", "1e-7", "--reg", "1e3", "--no-save"] + Self.data,
            ["train", "--model", "three-layer-convnet", "--filters", "4", "--hidden", "12", "--batch-size", "50", "--epochs", "2", "-o", out] + Self.data,
            ["evaluate", checkpoint, "-o", out],
            ["visualize", "filters", checkpoint, "-o", Self.folder.appendingPathComponent("filters.png").path],
            ["gradcheck", "affine"],
        ]
        for arguments in commands {
            let command = arguments.prefix(2).joined(separator: " ")
            let (status, stdout, stderr) = try Self.run(arguments + ["--json"])
            #expect(status == 0, "\(command): \(stderr)")
            #expect(!stdout.isEmpty, "\(command) printed no figure")
            #expect(Self.violations(in: stdout).isEmpty, "\(command): \(Self.violations(in: stdout))")
        }
    }

    @Test func theCheckRejectsTheOldAccuracyNames() {
        #expect(!Self.violations(in: #"{"workload":"W4","metric":"val_accuracy","value":0.5}"#).isEmpty)
        #expect(!Self.violations(in: #"{"command":"train","metric":"accuracy","value":0.5}"#).isEmpty)
        #expect(!Self.violations(in: #"{"command":"info","metric":"version","value":"1.0"}"#).isEmpty)
        #expect(Self.violations(in: #"{"command":"train","split":"val","metric":"accuracy","value":0.5}"#).isEmpty)
    }
}
