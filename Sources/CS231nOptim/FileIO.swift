import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What can go wrong reading or writing a checkpoint; each message names the file.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case corrupt(path: String, detail: String)
    case incompatible(path: String, detail: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read checkpoint \(path): \(reason)"
        case .corrupt(let path, let detail): return "checkpoint \(path) is corrupt: \(detail)"
        case .incompatible(let path, let detail): return "checkpoint \(path) does not fit: \(detail)"
        case .unwritable(let path, let reason): return "cannot write \(path): \(reason)"
        }
    }
}

/// Writes `bytes` so that `path` holds either its old contents or all of the new ones, never a
/// torn mix: a temporary file in the same folder, fsync, rename over the target, fsync the folder.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent().path
    let temporary = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())"
    func failure(_ what: String) -> CheckpointError {
        .unwritable(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0 else { throw failure("cannot create \(temporary)") }
    var written = 0
    let ok = bytes.withUnsafeBytes { raw -> Bool in
        while written < raw.count {
            let n = write(descriptor, raw.baseAddress! + written, raw.count - written)
            if n < 0 { if errno == EINTR { continue }; return false }
            written += n
        }
        return true
    }
    guard ok, fsync(descriptor) == 0 else {
        let error = failure(ok ? "fsync failed" : "write failed after \(written) bytes")
        close(descriptor)
        unlink(temporary)
        throw error
    }
    close(descriptor)
    guard rename(temporary, path) == 0 else {
        let error = failure("cannot rename \(temporary) over it")
        unlink(temporary)
        throw error
    }
    // The rename itself is durable only once the folder's entry is on disk.
    let folderDescriptor = open(folder, O_RDONLY)
    if folderDescriptor >= 0 {
        _ = fsync(folderDescriptor)
        close(folderDescriptor)
    }
}

/// CRC-32 (IEEE 802.3, zlib's `crc32`), to detect a flipped byte in a checkpoint's data.
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum<C: Collection>(_ bytes: C, continuing previous: UInt32 = 0) -> UInt32 where C.Element == UInt8 {
        var crc = ~previous
        table.withUnsafeBufferPointer { t in
            for byte in bytes { crc = t[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return ~crc
    }
}
