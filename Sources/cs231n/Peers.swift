import Foundation

/// Runs a peer script from `../shared/peers` (numpy, PyTorch, scikit-learn) in the same sitting
/// as our benchmark, so that ratios compare like with like, and reads the JSON it saves.
struct PeerRunner {
    let peersDirectory: String

    /// The peers' virtualenv python (made by `peers/setup.sh`), or nil when it is not installed.
    var python: String? {
        let venv = ProcessInfo.processInfo.environment["PEERS_VENV"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".venv-peers")
        let path = (venv as NSString).appendingPathComponent("bin/python")
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    enum PeerError: Error, CustomStringConvertible {
        case missing(String), failed(String)
        var description: String {
            switch self {
            case .missing(let s), .failed(let s): return s
            }
        }
    }

    /// Runs `script peer extra…` (or `script extra…` for a script that is one peer only) and
    /// returns the decoded JSON object the script saved.
    func run(script: String, peer: String, arguments: [String] = [], namesPeer: Bool = true,
             log: (String) -> Void) throws -> [String: Any] {
        guard let python else {
            throw PeerError.missing("peer \(peer): no virtualenv at ~/.venv-peers; run `eval \"$(\(peersDirectory)/setup.sh)\"` first")
        }
        let scriptPath = (peersDirectory as NSString).appendingPathComponent(script)
        guard FileManager.default.fileExists(atPath: scriptPath) else {
            throw PeerError.missing("peer \(peer): \(scriptPath) not found (use --peers-dir)")
        }
        let results = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-peers-\(getpid())")
        try FileManager.default.createDirectory(at: results, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: results) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [scriptPath] + (namesPeer ? [peer] : []) + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PEERS_RESULTS_DIR"] = results.path
        environment["OMP_NUM_THREADS"] = "2"; environment["OPENBLAS_NUM_THREADS"] = "2"; environment["MKL_NUM_THREADS"] = "2"
        environment["OPENBLAS_CORETYPE"] = nil; environment["OPENBLAS_L2_SIZE"] = nil
        environment["PYTHONUNBUFFERED"] = "1"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        log("running peer: \(script) \(peer) \(arguments.joined(separator: " "))")
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") { log("  | \(line)") }
        guard process.terminationStatus == 0 else {
            throw PeerError.failed("peer \(peer): \(script) exited with status \(process.terminationStatus)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: results.path).filter { $0.hasSuffix(".json") }
        guard let file = files.first,
              let object = try JSONSerialization.jsonObject(with: Data(contentsOf: results.appendingPathComponent(file))) as? [String: Any]
        else { throw PeerError.failed("peer \(peer): \(script) saved no results") }
        return object
    }
}
