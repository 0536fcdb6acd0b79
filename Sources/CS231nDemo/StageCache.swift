import CS231n
import Foundation

/// Stores each finished demo stage's report section under a key made from everything that
/// decides its result (dataset, seed, hyper-parameters, toolkit version). A rerun whose key
/// matches reuses the section instead of recomputing; a killed run resumes at the first stage
/// that has no stored section. Entries are written atomically, so a kill never leaves a torn one.
struct StageCache {
    let directory: URL

    init(directory: URL) throws {
        self.directory = directory
        try FileSystem.createDirectory(atPath: directory.path)
    }

    struct Entry: Codable {
        var key: String
        var section: ReportSection
    }

    /// A stable key for the stage's inputs: FNV-1a over the sorted "name=value" lines.
    static func key(stage: String, inputs: [String: String]) -> String {
        let text = ([stage, Toolkit.version] + inputs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
            .joined(separator: "\n")
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return String(hash, radix: 16)
    }

    private func url(for stage: String) -> URL { directory.appendingPathComponent("\(stage).json") }

    /// The stored section when its key matches, else nil (missing, stale or unreadable entries
    /// are simply recomputed).
    func lookup(stage: String, key: String) -> ReportSection? {
        guard let data = try? Data(contentsOf: url(for: stage)),
              let entry = try? JSONDecoder().decode(Entry.self, from: data), entry.key == key else { return nil }
        return entry.section
    }

    func store(stage: String, key: String, section: ReportSection) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(Array(encoder.encode(Entry(key: key, section: section))), to: url(for: stage).path)
    }

    func clear() throws {
        if FileManager.default.fileExists(atPath: directory.path) {
            try FileManager.default.removeItem(at: directory)
        }
        try FileSystem.createDirectory(atPath: directory.path)
    }
}
