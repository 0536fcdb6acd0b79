import CS231nTensor

/// zlib streams (RFC 1950): the compressed data inside a PNG.
public enum Zlib {
    public static func compress(_ data: [UInt8]) -> [UInt8] {
        let adler = Adler32.checksum(data)
        // CMF 0x78: deflate with a 32 KiB window; FLG 0x01 makes the header a multiple of 31.
        return [0x78, 0x01] + Deflate.compress(data) + (0..<4).map { UInt8(truncatingIfNeeded: adler >> (24 - 8 * $0)) }
    }

    /// The inflated data, at most `limit` bytes (`Gzip.defaultLimit`), checked against its Adler-32.
    public static func decompress(_ data: [UInt8], source: String, limit: Int = Gzip.defaultLimit) throws -> [UInt8] {
        try data.withUnsafeBytes { bytes in
            guard bytes.count >= 6 else { throw ArchiveError.truncated(source: source, detail: "no zlib header") }
            guard bytes[0] & 0x0F == 8, (Int(bytes[0]) << 8 | Int(bytes[1])) % 31 == 0, bytes[1] & 0x20 == 0 else {
                throw ArchiveError.corrupt(source: source, offset: 0, detail: "not a zlib stream")
            }
            var inflater = Inflater(bytes, from: 2, source: source, limit: limit)
            try inflater.run()
            let end = inflater.endOffset
            guard end + 4 <= bytes.count else {
                throw ArchiveError.truncated(source: source, detail: "the Adler-32 checksum is missing")
            }
            let stored = (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(bytes[end + $1]) }
            guard stored == Adler32.checksum(inflater.output) else {
                throw ArchiveError.corrupt(source: source, offset: end, detail: "Adler-32 checksum mismatch")
            }
            return inflater.output
        }
    }
}

/// gzip files (RFC 1952), such as the CIFAR-10 archive. The bytes are untrusted: header fields
/// are checked against the end of the data before they are used, reserved flags are refused, and
/// the output is capped; the checks are explicit comparisons that hold in release builds too.
public enum Gzip {
    /// The most bytes `decompress` produces unless told otherwise: 512 MiB, nearly three times
    /// the CIFAR-10 archive's contents (184 MB), so that a small file of zeros cannot fill the
    /// memory (a refused bomb peaks at about three times the limit while its output grows).
    public static let defaultLimit = 1 << 29

    public static func compress(_ data: [UInt8]) -> [UInt8] {
        func littleEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        return [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255] + Deflate.compress(data)
            + littleEndian(CRC32.checksum(data)) + littleEndian(UInt32(truncatingIfNeeded: data.count))
    }

    /// The decompressed contents of every member, checked against their CRC-32 and size, at
    /// most `limit` bytes in all.
    public static func decompress(_ data: UnsafeRawBufferPointer, source: String, limit: Int = defaultLimit) throws -> [UInt8] {
        var output = [UInt8]()
        var offset = 0
        repeat {
            let member: [UInt8]
            do { member = try decompressMember(data, at: &offset, source: source, limit: limit - output.count) } catch ArchiveError.tooLarge {
                throw ArchiveError.tooLarge(source: source, limit: limit)
            }
            if output.isEmpty { output = member } else { output += member }
        } while offset < data.count && data[offset] == 0x1F
        return output
    }

    private static func decompressMember(_ data: UnsafeRawBufferPointer, at offset: inout Int,
                                         source: String, limit: Int) throws -> [UInt8] {
        let start = offset
        func need(_ count: Int, _ what: String) throws {
            guard count <= data.count - offset else {
                throw ArchiveError.truncated(source: source, detail: "the file ends inside the gzip \(what)")
            }
        }
        func skipZeroTerminated() throws {
            while true {
                try need(1, "header")
                offset += 1
                if data[offset - 1] == 0 { return }
            }
        }
        try need(10, "header")
        guard data[offset] == 0x1F, data[offset + 1] == 0x8B else {
            throw ArchiveError.corrupt(source: source, offset: offset, detail: "not gzip data (bad magic bytes)")
        }
        guard data[offset + 2] == 8 else {
            throw ArchiveError.corrupt(source: source, offset: offset + 2, detail: "unknown gzip compression method")
        }
        let flags = data[offset + 3]
        guard flags & 0xE0 == 0 else {
            throw ArchiveError.corrupt(source: source, offset: offset + 3,
                detail: "reserved gzip flag bits are set (flags 0x\(String(flags, radix: 16))); RFC 1952 requires them to be zero")
        }
        offset += 10
        if flags & 4 != 0 {
            try need(2, "header")
            let extra = Int(data[offset]) | Int(data[offset + 1]) << 8
            offset += 2
            try need(extra, "header's extra field of \(extra) bytes")
            offset += extra
        }
        if flags & 8 != 0 { try skipZeroTerminated() }
        if flags & 16 != 0 { try skipZeroTerminated() }
        if flags & 2 != 0 {
            try need(2, "header")
            let stored = UInt16(data[offset]) | UInt16(data[offset + 1]) << 8
            let computed = UInt16(truncatingIfNeeded: CRC32.checksum(UnsafeRawBufferPointer(rebasing: data[start..<offset])))
            guard stored == computed else {
                throw ArchiveError.corrupt(source: source, offset: offset, detail: "the gzip header fails its CRC-16")
            }
            offset += 2
        }
        let expectedSize = data.count >= 4
            ? (0..<4).reduce(0) { $0 | Int(data[data.count - 4 + $1]) << (8 * $1) } : 0
        var inflater = Inflater(data, from: offset, source: source, limit: limit,
                                expectedSize: start == 0 ? expectedSize : 0)
        try inflater.run()
        offset = inflater.endOffset
        try need(8, "trailer")
        func word(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(data[at + $1]) << (8 * UInt32($1)) } }
        guard word(offset) == CRC32.checksum(inflater.output) else {
            throw ArchiveError.corrupt(source: source, offset: offset, detail: "CRC-32 mismatch: the data is damaged")
        }
        guard word(offset + 4) == UInt32(truncatingIfNeeded: inflater.output.count) else {
            throw ArchiveError.corrupt(source: source, offset: offset + 4, detail: "the stored length does not match")
        }
        offset += 8
        return inflater.output
    }
}
