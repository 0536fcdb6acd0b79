import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that could not be read or written, by `Access`: the path and what failed, as a
/// sentence. One type serves both directions, so their messages keep the same form.
public struct FileAccessError<Access: FileAccess>: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "cannot \(Access.verb) \(path): \(reason)" }
}

/// Which way a `FileAccessError` failed; its `verb` starts the message.
public protocol FileAccess: Sendable {
    static var verb: String { get }
}

/// Writing a file (`FileWriteError`).
public enum FileWriting: FileAccess { public static var verb: String { "write" } }

/// Reading a file (`FileReadError`).
public enum FileReading: FileAccess { public static var verb: String { "read" } }

/// A file that could not be written: the path and what failed, as a sentence.
public typealias FileWriteError = FileAccessError<FileWriting>

/// A file that could not be read: the path and what failed, as a sentence.
public typealias FileReadError = FileAccessError<FileReading>

/// Writes files so that a reader, a crash or a power cut sees the old contents or all of the
/// new ones, never a torn mix. Checkpoints, models, pictures, reports and caches all go through
/// this one writer.
public enum AtomicFile {
    /// Writes `bytes` to `path`: a temporary file `.<name>.tmp-<pid>-<n>` in the same folder
    /// (a rename is atomic only within one file system), write, fsync the file, rename it over
    /// `path`, fsync the folder so that the rename itself is on disk. Temporary files that
    /// killed writes of the same target left behind are removed first (`StaleTemporaries`).
    /// Errors name the path and the step that failed; on any error the temporary file is
    /// removed and `path` keeps its old contents.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let (folder, name) = FileSystem.split(path)
        guard !name.isEmpty, name != ".", name != ".." else {
            throw FileWriteError(path: path, reason: "the path names a folder, not a file")
        }
        try checkNameLength(name, path: path)
        let temporary = StaleTemporaries.begin(folder: folder, name: name)
        defer { StaleTemporaries.end(temporary) }
        func failure(_ step: String, _ code: Int32 = errno) -> FileWriteError {
            FileWriteError(path: path, reason: "\(step): \(FileSystem.explain(code, folder: folder))")
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("cannot create a temporary file in \(folder)") }
        var failed: FileWriteError?
        let written = bytes.withUnsafeBytes { FileSystem.writeAll(descriptor, $0) }
        if written.count < bytes.count {
            failed = failure("the write stopped after \(written.count) of \(bytes.count) bytes", written.error)
        } else if fsync(descriptor) != 0 {
            failed = failure("cannot flush the data to disk")
        }
        if close(descriptor) != 0, failed == nil { failed = failure("cannot close the temporary file") }
        if failed == nil, rename(temporary, path) != 0 {
            failed = failure("cannot move the temporary file \(temporary) over it")
        }
        if let failed {
            unlink(temporary)
            throw failed
        }
        // Without this the rename may be lost in a power cut even though the data is on disk.
        // File systems that cannot sync a folder say EINVAL; their renames are durable already.
        let folderDescriptor = open(folder, O_RDONLY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            defer { close(folderDescriptor) }
            if fsync(folderDescriptor) != 0, errno != EINVAL {
                throw failure("the file was written but its folder \(folder) cannot be flushed to disk")
            }
        }
    }
}

extension AtomicFile {
    /// Throws the error `write(_:to:)` would throw for a missing, unwritable or mistaken
    /// destination (no such folder, a folder in the way), without writing: a long run checks
    /// where its results go before it starts.
    public static func checkWritable(_ path: String) throws {
        let (folder, name) = FileSystem.split(path)
        var info = stat()
        guard !name.isEmpty, name != ".", name != "..", stat(path, &info) != 0 || info.st_mode & S_IFMT != S_IFDIR else {
            throw FileWriteError(path: path, reason: "a folder of that name is in the way")
        }
        try checkNameLength(name, path: path)
        func failure(_ code: Int32) -> FileWriteError {
            FileWriteError(path: path, reason: "cannot create a temporary file in \(folder): \(FileSystem.explain(code, folder: folder))")
        }
        guard stat(folder, &info) == 0 else { throw failure(errno) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw failure(ENOTDIR) }
        guard access(folder, W_OK | X_OK) == 0 else { throw failure(errno) }
    }

    /// The longest file name `write` takes, in bytes: file systems allow 255, and the temporary
    /// file's name adds up to 37 (`.` before it, `.tmp-<pid>-<n>` after it).
    public static let longestName = 218

    static func checkNameLength(_ name: String, path: String) throws {
        guard name.utf8.count <= longestName else {
            throw FileWriteError(path: path, reason: "the file name is \(name.utf8.count) bytes long; at most \(longestName) are "
                                 + "allowed (the temporary file written beside it needs the rest of the 255 a file system allows)")
        }
    }
}

/// Small file-system operations whose errors are sentences naming the path, never a raw
/// `NSError` dump.
public enum FileSystem {
    /// Creates `path` and any missing parent folders. An existing folder is fine; an existing
    /// file in the way is named.
    public static func createDirectory(atPath path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if mkdir(prefix, 0o755) == 0 { continue }
            let code = errno
            var info = stat()
            if code == EEXIST || code == EISDIR || code == EROFS || code == EACCES, stat(prefix, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else {
                    throw FileWriteError(path: path, reason: "cannot create the folder: \(prefix) exists and is not a folder")
                }
                continue
            }
            throw FileWriteError(path: path, reason: "cannot create the folder \(prefix): \(explain(code, folder: prefix))")
        }
    }

    /// The whole contents of the regular file at `path`. Anything else (a folder, a FIFO, a
    /// device such as /dev/zero) is refused rather than read without end.
    public static func contents(atPath path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw FileReadError(path: path, reason: errno == ENOENT ? "no such file" : String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw FileReadError(path: path, reason: String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw FileReadError(path: path, reason: info.st_mode & S_IFMT == S_IFDIR ? "it is a folder" : "it is not a regular file")
        }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + done, size - done) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw FileReadError(path: path, reason: got < 0 ? String(cString: strerror(errno))
                    : "the file shrank from \(size) to \(done) bytes while it was read")
            }
            done += got
        }
        return bytes
    }

    /// (folder, last component): "a/b.png" → ("a", "b.png"), "b.png" → (".", "b.png").
    static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }

    /// Writes until done or an error; returns the bytes written and the errno that stopped it.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> (count: Int, error: Int32) {
        var written = 0
        while written < bytes.count {
            let n = write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                return (written, errno)
            }
            written += n
        }
        return (written, 0)
    }

    /// The usual causes in words; anything else as the C library says it.
    static func explain(_ code: Int32, folder: String) -> String {
        switch code {
        case ENOENT: return "the folder \(folder) does not exist"
        case ENOTDIR: return "a part of \(folder) is not a folder"
        case EACCES, EPERM: return "permission denied in \(folder)"
        case ENOSPC: return "the disk is full"
        case EDQUOT: return "the disk quota is used up"
        case EROFS: return "the file system is read-only"
        case EISDIR: return "a folder of that name is in the way"
        default: return String(cString: strerror(code))
        }
    }
}
