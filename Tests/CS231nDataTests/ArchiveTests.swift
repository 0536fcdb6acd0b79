import CS231nData
import Foundation
import Testing

@Suite struct CompressionTests {
    static func sample(_ kind: Int, count: Int) -> [UInt8] {
        var rng = RandomGenerator(seed: UInt64(kind))
        switch kind {
        case 0: return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 1: return (0..<count).map { UInt8(truncatingIfNeeded: $0 / 300) }
        case 2: return (0..<count).map { i in UInt8(truncatingIfNeeded: i % 7 == 0 ? Int(rng.next() % 5) : i % 13) }
        default: return [UInt8](repeating: 42, count: count)
        }
    }

    @Test(arguments: [(0, 0), (0, 1), (0, 70_000), (1, 200_000), (2, 90_000), (3, 100_000), (2, 258 * 3 + 1)])
    func deflateRoundTrips(kind: Int, count: Int) throws {
        let data = Self.sample(kind, count: count)
        let zlib = Zlib.compress(data)
        #expect(try Zlib.decompress(zlib, source: "test") == data)
        let gzip = Gzip.compress(data)
        #expect(try gzip.withUnsafeBytes { try Gzip.decompress($0, source: "test") } == data)
        if kind == 3 || kind == 1 { #expect(zlib.count < count / 20 + 64, "repetitive data must shrink") }
    }

    /// A dynamic-Huffman stream made by Python's zlib (level 9) from 700 bytes:
    /// `bytes((i*i*7 + i//3) % 23 + 97 for i in range(700))`.
    @Test func inflatesAStreamFromZlibItself() throws {
        let stream: [UInt8] = [
            120, 218, 237, 204, 193, 17, 192, 32, 8, 0, 176, 89, 105, 69, 225, 20, 196, 67, 97, 253, 110, 209,
            151, 25, 32, 64, 213, 195, 30, 80, 215, 132, 185, 87, 193, 83, 64, 38, 153, 190, 13, 152, 227, 13,
            162, 68, 24, 130, 131, 119, 90, 70, 87, 94, 214, 122, 53, 107, 194, 126, 196, 23, 54, 184, 201, 77,
            254, 79, 62, 57, 187, 39, 84,
        ]
        let expected = (0..<700).map { (i: Int) -> UInt8 in
            let value: Int = (i * i * 7 + i / 3) % 23 + 97
            return UInt8(value)
        }
        #expect(try Zlib.decompress(stream, source: "python zlib") == expected)
    }

    @Test func checksumsMatchKnownValues() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(Adler32.checksum(Array("Wikipedia".utf8)) == 0x11E6_0398)
        #expect(MD5.hexDigest([]) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(MD5.hexDigest(Array("abc".utf8)) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(MD5.hexDigest(Array("The quick brown fox jumps over the lazy dog".utf8))
                == "9e107d9d372bb6826bd81d3542a419d6")
        let long = Self.sample(0, count: 100_003)
        var pieces = MD5()
        for start in stride(from: 0, to: long.count, by: 777) { pieces.update(Array(long[start..<min(long.count, start + 777)])) }
        #expect(pieces.finalize() == MD5.hexDigest(long))
    }

    @Test func corruptStreamsGiveErrorsNotCrashes() {
        let data = Self.sample(2, count: 20_000)
        let gzip = Gzip.compress(data)
        var flipped = gzip
        flipped[gzip.count / 2] ^= 0x5A
        #expect(throws: ArchiveError.self) { try flipped.withUnsafeBytes { try Gzip.decompress($0, source: "x.gz") } }
        let short = Array(gzip.prefix(gzip.count / 2))
        #expect(throws: ArchiveError.self) { try short.withUnsafeBytes { try Gzip.decompress($0, source: "x.gz") } }
        let notGzip = Array("hello, this is not gzip".utf8)
        #expect(throws: ArchiveError.corrupt(source: "x.gz", offset: 0, detail: "not gzip data (bad magic bytes)")) {
            try notGzip.withUnsafeBytes { try Gzip.decompress($0, source: "x.gz") }
        }
        // Every truncation point fails cleanly.
        for cut in stride(from: 0, to: gzip.count, by: max(1, gzip.count / 97)) {
            let prefix = Array(gzip.prefix(cut))
            #expect(throws: ArchiveError.self) { try prefix.withUnsafeBytes { try Gzip.decompress($0, source: "x.gz") } }
        }
    }
}

@Suite struct CIFARArchiveTests {
    @Test func tarListsEntriesWithSizesAndOffsets() throws {
        let tar = Tar.archive([("a/one.txt", Array("hello".utf8)), ("a/two.bin", [UInt8](repeating: 7, count: 600))])
        let entries = try tar.withUnsafeBytes { try Tar.entries($0, source: "t.tar") }
        #expect(entries.map(\.path) == ["a/one.txt", "a/two.bin"])
        #expect(entries.map(\.size) == [5, 600])
        #expect(Array(tar[entries[0].offset..<(entries[0].offset + 5)]) == Array("hello".utf8))
        var damaged = tar
        damaged[10] ^= 1
        #expect(throws: ArchiveError.self) { try damaged.withUnsafeBytes { try Tar.entries($0, source: "t.tar") } }
        let cut = Array(tar.prefix(700))
        #expect(throws: ArchiveError.self) { try cut.withUnsafeBytes { try Tar.entries($0, source: "t.tar") } }
    }

    @Test func loadsStraightFromTheArchive() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        folder.write(Fixtures.archive(), to: CIFAR10.archiveName)
        let archive = folder.file(CIFAR10.archiveName)
        #expect(try CIFAR10.load(directory: archive, train: true) == Fixtures.images(count: 15))
        #expect(try CIFAR10.load(archive: archive, train: false) == Fixtures.images(count: 4, offset: 1000))
    }

    @Test func extractsEveryFileIntoTheFolder() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        folder.write(Fixtures.archive(), to: CIFAR10.archiveName)
        let target = folder.file("cache/cifar-10-batches-bin")
        let written = try CIFAR10.extract(archive: folder.file(CIFAR10.archiveName), to: target)
        #expect(written.count == 8)
        #expect(try CIFAR10.load(directory: target, train: true) == Fixtures.images(count: 15))
        #expect(try CIFAR10.load(directory: target, train: false) == Fixtures.images(count: 4, offset: 1000))
        #expect(FileManager.default.contents(atPath: target + "/readme.html") == Data("<html></html>".utf8))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: target).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test func installChecksTheDigestFirst() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let bytes = Fixtures.archive()
        folder.write(bytes, to: CIFAR10.archiveName)
        let archive = folder.file(CIFAR10.archiveName), target = folder.file("out")
        #expect(throws: DownloadError.checksumMismatch(path: archive, expected: CIFAR10.archiveMD5,
                                                       actual: MD5.hexDigest(bytes))) {
            try CIFAR10.install(archive: archive, md5: CIFAR10.archiveMD5, into: target)
        }
        #expect(!FileManager.default.fileExists(atPath: target))
        try CIFAR10.install(archive: archive, md5: MD5.hexDigest(bytes), into: target)
        #expect(try CIFAR10.load(directory: target, train: true).count == 15)
    }

    @Test func corruptOrShortArchivesAreRejectedWithoutWriting() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let bytes = Fixtures.archive()
        var damaged = bytes
        damaged[bytes.count / 2] ^= 0xFF
        let cases: [(String, [UInt8])] = [("damaged.tar.gz", damaged), ("short.tar.gz", Array(bytes.prefix(bytes.count - 100))),
                                          ("empty.tar.gz", []), ("text.tar.gz", Array("not an archive".utf8))]
        for (name, contents) in cases {
            folder.write(contents, to: name)
            let target = folder.file("out-" + name)
            #expect(throws: ArchiveError.self, "\(name)") { try CIFAR10.extract(archive: folder.file(name), to: target) }
            #expect(!FileManager.default.fileExists(atPath: target), "\(name)")
        }
        let message = "\(ArchiveError.truncated(source: "x.tar.gz", detail: "the compressed data ends mid-stream"))"
        #expect(message.contains("x.tar.gz is truncated"))
    }

    @Test func archiveWithoutABatchNamesIt() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        folder.write(Fixtures.archive(leaving: "data_batch_5.bin"), to: "partial.tar.gz")
        let archive = folder.file("partial.tar.gz")
        #expect(throws: CIFARError.missingFiles(directory: archive + ":cifar-10-batches-bin", missing: ["data_batch_5.bin"])) {
            try CIFAR10.load(archive: archive, train: true)
        }
    }

    @Test func unreachableServerLeavesNothingBehindAndSaysWhatToDo() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let target = folder.file("cifar-10-batches-bin")
        // Port 9 (discard) on the loopback interface: refused at once, no network needed.
        do {
            try CIFAR10.download(into: target, from: "http://127.0.0.1:9/cifar-10-binary.tar.gz")
            Issue.record("the download should have failed")
        } catch let error as CIFARDownloadError {
            guard case .unreachable = error.underlying else {
                Issue.record("expected an unreachable error, got \(error.underlying)")
                return
            }
            let message = "\(error)"
            #expect(message.contains("--archive") && message.contains(target) && message.contains(CIFAR10.archiveMD5))
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(left.isEmpty, "found \(left)")
    }
}
