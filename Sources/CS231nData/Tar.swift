/// A file inside a tar archive: its path and where its bytes lie in the archive.
public struct TarEntry: Sendable, Equatable {
    public var path: String
    public var offset: Int
    public var size: Int
    public var isRegularFile: Bool
}

/// Reads ustar/GNU tar archives held in memory (no extraction of links or devices).
public enum Tar {
    static let blockSize = 512

    /// The entries in order, checking each header's checksum and that every file fits. The
    /// archive is untrusted: a size field holds at most 12 octal digits (< 2^36), and every
    /// size is compared with what remains of the archive before it is added to an offset, with
    /// explicit checks that hold in release builds too.
    public static func entries(_ archive: UnsafeRawBufferPointer, source: String) throws -> [TarEntry] {
        var entries = [TarEntry]()
        var offset = 0
        var longName: String?
        while true {
            guard blockSize <= archive.count - offset else {
                throw ArchiveError.truncated(source: source, detail: "the tar data ends at byte \(archive.count) "
                    + "without its end-of-archive marker")
            }
            let header = UnsafeRawBufferPointer(rebasing: archive[offset..<(offset + blockSize)])
            if header.allSatisfy({ $0 == 0 }) { return entries }
            try checkChecksum(header, offset: offset, source: source)
            guard let size = octal(header, 124, 12) else {
                throw ArchiveError.corrupt(source: source, offset: offset + 124, detail: "bad tar size field")
            }
            let dataStart = offset + blockSize
            guard size <= archive.count - dataStart else {
                throw ArchiveError.truncated(source: source,
                    detail: "tar entry \(name(header)) needs \(size) bytes but the data ends first")
            }
            let type = header[156]
            switch type {
            case UInt8(ascii: "L"):
                longName = text(UnsafeRawBufferPointer(rebasing: archive[dataStart..<(dataStart + size)]))
            case UInt8(ascii: "x"), UInt8(ascii: "g"):
                break
            default:
                let path = longName ?? name(header)
                longName = nil
                entries.append(TarEntry(path: path, offset: dataStart, size: size,
                                        isRegularFile: type == UInt8(ascii: "0") || type == 0))
            }
            offset = dataStart + (size + blockSize - 1) / blockSize * blockSize
        }
    }

    static func checkChecksum(_ header: UnsafeRawBufferPointer, offset: Int, source: String) throws {
        guard let stored = octal(header, 148, 8) else {
            throw ArchiveError.corrupt(source: source, offset: offset + 148, detail: "bad tar header checksum field")
        }
        var sum = 0
        for (i, byte) in header.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(byte) }
        guard sum == stored else {
            throw ArchiveError.corrupt(source: source, offset: offset,
                                       detail: "tar header checksum mismatch (not a tar archive, or damaged)")
        }
    }

    /// An octal number field, space or NUL terminated; at most `length` (≤ 12) digits, so the
    /// value stays below 8^12 = 2^36.
    static func octal(_ header: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> Int? {
        var value = 0, digits = 0
        for byte in header[start..<(start + length)] {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                value = value * 8 + Int(byte - UInt8(ascii: "0"))
                digits += 1
            case UInt8(ascii: " ") where digits == 0: continue
            case 0, UInt8(ascii: " "): return digits > 0 ? value : nil
            default: return nil
            }
        }
        return digits > 0 ? value : nil
    }

    static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The entry name, with the ustar prefix when there is one.
    static func name(_ header: UnsafeRawBufferPointer) -> String {
        let name = text(UnsafeRawBufferPointer(rebasing: header[0..<100]))
        let isUstar = text(UnsafeRawBufferPointer(rebasing: header[257..<262])) == "ustar"
        let prefix = isUstar ? text(UnsafeRawBufferPointer(rebasing: header[345..<500])) : ""
        return prefix.isEmpty ? name : prefix + "/" + name
    }

    /// A ustar archive of `files` (path, contents), for tests and for packing small data sets.
    public static func archive(_ files: [(String, [UInt8])]) -> [UInt8] {
        var output = [UInt8]()
        for (path, contents) in files {
            var header = [UInt8](repeating: 0, count: blockSize)
            func put(_ string: String, at start: Int) {
                for (i, byte) in string.utf8.enumerated() { header[start + i] = byte }
            }
            precondition(path.utf8.count < 100, "Tar.archive: path \(path) is too long for a plain header")
            put(path, at: 0)
            put("0000644", at: 100)
            put("0000000", at: 108)
            put("0000000", at: 116)
            put(String(contents.count, radix: 8).leftPadded(to: 11), at: 124)
            put("00000000000", at: 136)
            put("        ", at: 148)
            header[156] = UInt8(ascii: "0")
            put("ustar", at: 257)
            put("00", at: 263)
            let sum = header.reduce(0) { $0 + Int($1) }
            put(String(sum, radix: 8).leftPadded(to: 6), at: 148)
            header[154] = 0
            output += header
            output += contents
            output += [UInt8](repeating: 0, count: (blockSize - contents.count % blockSize) % blockSize)
        }
        return output + [UInt8](repeating: 0, count: 2 * blockSize)
    }
}
