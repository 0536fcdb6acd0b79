import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FileSystem {
    /// Throws the error `createDirectory(atPath:)` would throw for `path` (a file in the way, a
    /// parent that cannot be written), without creating anything: a command checks where its
    /// results go before it does any work.
    public static func checkCreatable(directory path: String) throws {
        let path = path.isEmpty ? "." : path
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw FileWriteError(path: path, reason: "cannot create the folder: \(path) exists and is not a folder")
            }
            guard access(path, W_OK | X_OK) == 0 else {
                throw FileWriteError(path: path, reason: "cannot write into the folder: \(explain(errno, folder: path))")
            }
            return
        }
        // The nearest existing ancestor must be a folder this process may create entries in.
        var ancestor = path
        while true {
            ancestor = split(ancestor).folder
            if stat(ancestor, &info) == 0 { break }
            if ancestor == "/" || ancestor == "." { return }
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw FileWriteError(path: path, reason: "cannot create the folder: \(ancestor) exists and is not a folder")
        }
        guard access(ancestor, W_OK | X_OK) == 0 else {
            throw FileWriteError(path: path, reason: "cannot create the folder: \(explain(errno, folder: ancestor))")
        }
    }

    /// A Foundation file error (`NSError` of the Cocoa or POSIX domain) as a sentence naming the
    /// file and what went wrong, or nil for any other error. Foundation's own text ("Code=516
    /// …") is never shown.
    public static func sentence(for error: Error) -> String? {
        let error = error as NSError
        let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError
        let posix: Int32? = error.domain == NSPOSIXErrorDomain ? Int32(error.code)
            : underlying?.domain == NSPOSIXErrorDomain ? Int32(underlying!.code) : nil
        guard error.domain == NSCocoaErrorDomain || posix != nil else { return nil }
        let path = error.userInfo[NSFilePathErrorKey] as? String ?? (error.userInfo[NSURLErrorKey] as? URL)?.path ?? "a file"
        let reason: String
        switch (error.domain, error.code) {
        case (NSCocoaErrorDomain, CocoaError.fileWriteFileExists.rawValue): reason = "a file of that name already exists"
        case (NSCocoaErrorDomain, CocoaError.fileNoSuchFile.rawValue), (NSCocoaErrorDomain, CocoaError.fileReadNoSuchFile.rawValue):
            reason = "no such file or folder"
        case (NSCocoaErrorDomain, CocoaError.fileWriteOutOfSpace.rawValue): reason = "the disk is full"
        case (NSCocoaErrorDomain, CocoaError.fileWriteNoPermission.rawValue), (NSCocoaErrorDomain, CocoaError.fileReadNoPermission.rawValue):
            reason = "permission denied"
        case (NSCocoaErrorDomain, CocoaError.fileWriteVolumeReadOnly.rawValue): reason = "the file system is read-only"
        default: reason = posix.map { String(cString: strerror($0)) } ?? "the operation failed (file error \(error.code))"
        }
        return "\(path): \(reason)"
    }
}
