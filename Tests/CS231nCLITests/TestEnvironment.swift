import Foundation

/// What the end-to-end tests need from the machine, checked once. A test that lacks one is
/// reported as skipped (`.enabled(if:)`), never as passed; `.ci/run` installs all of them.
enum TestEnvironment {
    /// The `cs231n` tool built next to this test bundle.
    static let tool = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cs231n")

    static let toolIsBuilt = FileManager.default.isExecutableFile(atPath: tool.path)

    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A Python that imports torch: the peers' virtualenv (../shared/peers/setup.sh), else python3.
    static let pythonWithTorch: String? = {
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        return [home + "/.venv-peers/bin/python", "/usr/bin/python3"].first { path in
            guard FileManager.default.isExecutableFile(atPath: path) else { return false }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = ["-c", "import torch"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return false }
            process.waitUntilExit()
            return process.terminationStatus == 0
        }
    }()

    static let toolMissing = "the cs231n tool is not built next to the tests"
}
