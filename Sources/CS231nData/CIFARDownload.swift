import Foundation

extension CIFAR10 {
    /// True when `directory` holds every batch and the meta file, each of plausible size.
    public static func isComplete(directory: String) -> Bool {
        (trainingFiles + [testFile]).allSatisfy { name in
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name))?[.size]
            return (size as? NSNumber)?.intValue == officialBatchSize
        } && FileManager.default.fileExists(atPath: directory + "/" + metaFile)
    }

    /// Where `download` keeps the archive: next to the batches folder.
    public static func archivePath(forDirectory directory: String) -> String {
        let parent = (directory as NSString).deletingLastPathComponent
        return (parent.isEmpty ? "." : parent) + "/" + archiveName
    }

    /// Downloads the official archive next to `directory`, verifies its MD5 and unpacks it into
    /// `directory`. An archive already there with the right digest is reused. The archive is
    /// deleted afterwards unless `keepArchive`.
    public static func download(into directory: String, from url: String = archiveURL,
                                md5: String = archiveMD5, keepArchive: Bool = false,
                                progress: @escaping @Sendable (Int64, Int64?) -> Void = { _, _ in }) throws {
        let archive = archivePath(forDirectory: directory)
        try FileSystem.createDirectory(atPath: (archive as NSString).deletingLastPathComponent)
        let reusable = FileManager.default.fileExists(atPath: archive)
            && (try? Downloader.md5(ofFile: archive)) == md5.lowercased()
        if !reusable {
            guard let location = URL(string: url) else {
                throw DownloadError.unreachable(url: url, reason: "not a URL")
            }
            do {
                try Downloader.fetch(location, to: archive, md5: md5, progress: progress)
            } catch let error as DownloadError {
                throw CIFARDownloadError(underlying: error, directory: directory, archive: archive)
            }
        }
        try install(archive: archive, md5: nil, into: directory)
        if !keepArchive { unlink(archive) }
    }

    /// Unpacks an archive fetched by hand into `directory`, first checking its MD5 when given.
    public static func install(archive: String, md5: String?, into directory: String) throws {
        if let md5 {
            let actual = try Downloader.md5(ofFile: archive)
            guard actual == md5.lowercased() else {
                throw DownloadError.checksumMismatch(path: archive, expected: md5, actual: actual)
            }
        }
        try extract(archive: archive, to: directory)
    }
}

/// A failed CIFAR-10 download, with what to do by hand.
public struct CIFARDownloadError: Error, CustomStringConvertible {
    public var underlying: DownloadError
    public var directory: String
    public var archive: String

    public var description: String {
        "\(underlying).\nTo install CIFAR-10 by hand, fetch \(CIFAR10.archiveURL) on a machine with network "
            + "access (MD5 \(CIFAR10.archiveMD5)), then either\n"
            + "  cs231n data download cifar10 --archive PATH/\(CIFAR10.archiveName) --data-dir \(directory)\n"
            + "or unpack it (tar xzf \(CIFAR10.archiveName)) and put data_batch_1.bin … data_batch_5.bin, "
            + "test_batch.bin and batches.meta.txt in \(directory)"
    }
}
