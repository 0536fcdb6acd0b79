import CS231nData
import Foundation
import Testing

/// Compressed streams and archives from anyone: bounded output, RFC 1952's rules, sizes that
/// cannot wrap.
@Suite struct UntrustedArchiveTests {
    func gunzip(_ bytes: [UInt8], limit: Int = Gzip.defaultLimit) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try Gzip.decompress($0, source: "x.gz", limit: limit) }
    }

    @Test func inflateStopsAtItsLimit() throws {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        let gzip = Gzip.compress(zeros)
        #expect(gzip.count < 20_000, "zeros compress about 1000:1")
        #expect(try gunzip(gzip, limit: 1 << 20) == zeros)
        #expect(throws: ArchiveError.tooLarge(source: "x.gz", limit: (1 << 20) - 1)) { try gunzip(gzip, limit: (1 << 20) - 1) }
        // The limit holds across members.
        #expect(throws: ArchiveError.tooLarge(source: "x.gz", limit: 1 << 20)) { try gunzip(gzip + gzip, limit: 1 << 20) }
        #expect(throws: ArchiveError.tooLarge(source: "z", limit: 1000)) { try Zlib.decompress(Zlib.compress(zeros), source: "z", limit: 1000) }
        #expect("\(ArchiveError.tooLarge(source: "x.gz", limit: 1000))".hasPrefix("x.gz inflates to more than 1000 bytes"))
        // A stored block is refused before it is copied.
        let stored = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255, 1, 0xFF, 0xFF, 0, 0] + [UInt8](repeating: 7, count: 65_535) + [UInt8](repeating: 0, count: 8)
        #expect(throws: ArchiveError.tooLarge(source: "x.gz", limit: 100)) { try gunzip(stored, limit: 100) }
    }

    @Test func reservedFlagBitsAreRefused() {
        for bit in 5...7 {
            var gzip = Gzip.compress([1, 2, 3])
            gzip[3] |= UInt8(1 << bit)
            #expect(throws: ArchiveError.corrupt(source: "x.gz", offset: 3,
                detail: "reserved gzip flag bits are set (flags 0x\(String(1 << bit, radix: 16))); RFC 1952 requires them to be zero")) {
                try gunzip(gzip)
            }
        }
    }

    @Test func headerFieldsAreBoundsChecked() throws {
        let body = Array(Gzip.compress([1, 2, 3]).dropFirst(10))
        let header: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255]
        func withFlags(_ flags: UInt8, _ fields: [UInt8]) -> [UInt8] {
            var h = header
            h[3] = flags
            return h + fields + body
        }
        // FEXTRA of 65535 bytes in a 40-byte file.
        #expect(throws: ArchiveError.truncated(source: "x.gz", detail: "the file ends inside the gzip header's extra field of 65535 bytes")) {
            try gunzip(withFlags(4, [0xFF, 0xFF]))
        }
        #expect(try gunzip(withFlags(4, [2, 0, 9, 9])) == [1, 2, 3])
        #expect(try gunzip(withFlags(8 | 16, Array("name\0comment\0".utf8))) == [1, 2, 3])
        #expect(throws: ArchiveError.self) { try gunzip(header.enumerated().map { $0.offset == 3 ? 8 : $0.element } + Array("no end".utf8)) }
        // FHCRC: the low 16 bits of the header's CRC-32.
        var h = header
        h[3] = 2
        let crc = CRC32.checksum(h)
        #expect(try gunzip(h + [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF)] + body) == [1, 2, 3])
        #expect(throws: ArchiveError.corrupt(source: "x.gz", offset: 10, detail: "the gzip header fails its CRC-16")) {
            try gunzip(h + [UInt8(crc & 0xFF) ^ 1, UInt8(crc >> 8 & 0xFF)] + body)
        }
    }

    @Test func tarSizesCannotRunPastTheArchive() {
        var archive = Tar.archive([("a.txt", [1, 2, 3])])
        // The largest 11-digit octal size, with the header checksum recomputed.
        for (i, byte) in "77777777777".utf8.enumerated() { archive[124 + i] = byte }
        for i in 148..<156 { archive[i] = 32 }
        let sum = archive[0..<512].reduce(0) { $0 + Int($1) }
        for (i, byte) in (String(sum, radix: 8).leftPadded(6) + "\0 ").utf8.enumerated() { archive[148 + i] = byte }
        #expect(throws: ArchiveError.truncated(source: "t.tar", detail: "tar entry a.txt needs 8589934591 bytes but the data ends first")) {
            try archive.withUnsafeBytes { try Tar.entries($0, source: "t.tar") }
        }
    }

    @Test func pngDimensionsCannotWrap() {
        var png = PNGImage(width: 2, height: 2, colorType: .rgb, fill: RGB(1, 2, 3)).encoded()
        // IHDR's width and height (bytes 16..<24) set to 2^32 − 1, with the chunk CRC recomputed.
        for i in 16..<24 { png[i] = 0xFF }
        let crc = CRC32.checksum(png[12..<29])
        for i in 0..<4 { png[29 + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(i))) }
        #expect(throws: ArchiveError.corrupt(source: "PNG data", offset: 16,
                                             detail: "a 4294967295×4294967295 picture is larger than the \(Gzip.defaultLimit) bytes allowed")) {
            try PNGImage.decode(png)
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }
}
