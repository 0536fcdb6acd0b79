import ArgumentParser
import CS231n

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Print the version, the BLAS backend, thread counts and CPU features.")

    @Flag(name: .long, help: "Print as JSON lines.")
    var json = false

    func run() throws {
        let facts: [(String, JSONValue)] = [
            ("version", .string(Toolkit.version)),
            ("blas_backend", .string(BLAS.backend.rawValue)),
            ("blas_library", .string(BLAS.libraryPath ?? "none (OpenBLAS not found; using the Swift GEMM)")),
            ("blas_threads", .int(BLAS.threads)),
            ("swift_gemm_isa", .string(GemmISA.current.rawValue)),
            ("worker_threads", .int(Parallel.coreCount)),
            ("cpu", .string(CPUInfo.modelName)),
            ("cpu_features", .string(CPUInfo.features.joined(separator: " "))),
            ("compiled_for", .string(CPUInfo.compiledFor)),
        ] + (try DistributedRun.infoFacts()).map { ($0, .string($1)) }
        guard DistributedRun.isLeader else { return }
        if json {
            // The figures are the numeric facts; the others say what machine they were measured on.
            let keys = [("command", "info")] + facts.filter { if case .string = $0.1 { true } else { false } }
            for case let (name, .int(count)) in facts {
                ResultPrinter(json: true).figure(keys, metric: name, value: Double(count))
            }
        } else {
            print("swift-cs231n \(Toolkit.version)")
            for (key, value) in facts.dropFirst() {
                let text = if case .string(let string) = value { string } else { value.description }
                print("  \(key.replacingOccurrences(of: "_", with: " ").padding(toLength: 16, withPad: " ", startingAt: 0)) \(text)")
            }
        }
    }
}
