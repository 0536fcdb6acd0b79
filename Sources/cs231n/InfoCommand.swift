import ArgumentParser
import CS231n

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Print the version, the BLAS backend, thread counts and CPU features.")

    @Flag(name: .long, help: "Print as JSON lines.")
    var json = false

    func run() throws {
        let facts: [(String, String)] = [
            ("version", Toolkit.version),
            ("blas_backend", BLAS.backend.rawValue),
            ("blas_library", BLAS.libraryPath ?? "none (OpenBLAS not found; using the Swift GEMM)"),
            ("blas_threads", String(BLAS.threads)),
            ("swift_gemm_isa", GemmISA.current.rawValue),
            ("worker_threads", String(Parallel.coreCount)),
            ("cpu", CPUInfo.modelName),
            ("cpu_features", CPUInfo.features.joined(separator: " ")),
            ("compiled_for", CPUInfo.compiledFor),
        ] + (try DistributedRun.infoFacts())
        guard DistributedRun.isLeader else { return }
        if json {
            for (key, value) in facts {
                print("{\"command\":\"info\",\"metric\":\(JSONValue.quote(key)),\"value\":\(JSONValue.quote(value))}")
            }
        } else {
            print("swift-cs231n \(Toolkit.version)")
            for (key, value) in facts.dropFirst() {
                print("  \(key.replacingOccurrences(of: "_", with: " ").padding(toLength: 16, withPad: " ", startingAt: 0)) \(value)")
            }
        }
    }
}
