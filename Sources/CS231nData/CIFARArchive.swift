import CS231nTensor
import Foundation

extension CIFAR10 {
    /// Loads straight from `cifar-10-binary.tar.gz` (decompressing it whole in memory).
    public static func load(archive path: String, train: Bool) throws -> LabeledImages {
        let members = try ArchiveMembers(path: path)
        return try members.load(train: train)
    }

    /// Unpacks the archive's batches and meta file into `directory` after checking them all;
    /// each file appears there complete or not at all. Returns the paths written.
    @discardableResult
    public static func extract(archive path: String, to directory: String) throws -> [String] {
        let members = try ArchiveMembers(path: path)
        _ = try members.load(train: true)
        _ = try members.load(train: false)
        try FileSystem.createDirectory(atPath: directory)
        return try (trainingFiles + [testFile, metaFile, "readme.html"]).compactMap { name in
            guard let bytes = members.contents(name) else { return nil }
            let target = directory + "/" + name
            try AtomicFile.write(Array(bytes), to: target)
            return target
        }
    }
}

/// The decompressed archive and the CIFAR-10 files in it, found by their base names.
struct ArchiveMembers {
    let path: String
    let tarData: [UInt8]
    let entries: [String: TarEntry]

    init(path: String) throws {
        guard let compressed = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw CIFARError.unreadableFile(path: path, reason: "permission denied or not a file")
            }
            throw CIFARError.missingFiles(directory: (path as NSString).deletingLastPathComponent,
                                          missing: [(path as NSString).lastPathComponent])
        }
        self.path = path
        tarData = try compressed.withUnsafeBytes { try Gzip.decompress($0, source: path) }
        let list = try tarData.withUnsafeBytes { try Tar.entries($0, source: path) }
        var byName = [String: TarEntry]()
        for entry in list where entry.isRegularFile {
            let components = entry.path.split(separator: "/")
            guard components.count == 2, components[0] == Substring(CIFAR10.folderName) else { continue }
            byName[String(components[1])] = entry
        }
        entries = byName
    }

    func contents(_ name: String) -> ArraySlice<UInt8>? {
        entries[name].map { tarData[$0.offset..<($0.offset + $0.size)] }
    }

    func memberName(_ name: String) -> String { "\(path):\(CIFAR10.folderName)/\(name)" }

    func load(train: Bool) throws -> LabeledImages {
        let names = train ? CIFAR10.trainingFiles : [CIFAR10.testFile]
        let missing = (names + [CIFAR10.metaFile]).filter { entries[$0] == nil }
        if !missing.isEmpty {
            throw CIFARError.missingFiles(directory: "\(path):\(CIFAR10.folderName)", missing: missing)
        }
        let classNames = try CIFAR10.parseClassNames(Array(contents(CIFAR10.metaFile)!),
                                                     path: memberName(CIFAR10.metaFile))
        return try tarData.withUnsafeBytes { archive in
            let files = try names.map { name in
                let entry = entries[name]!
                return try BatchFile(name: memberName(name), bytes: UnsafeRawBufferPointer(
                    rebasing: archive[entry.offset..<(entry.offset + entry.size)]))
            }
            return try CIFAR10.readBatches(files, classNames: classNames)
        }
    }
}
