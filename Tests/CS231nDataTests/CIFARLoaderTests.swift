import CS231nData
import Foundation
import Testing

@Suite struct CIFARLoaderTests {
    @Test func loadsTrainingAndTestBatchesInFileOrder() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        Fixtures.writeFolder(folder, perBatch: 3, testCount: 4)

        let train = try CIFAR10.load(directory: folder.path, train: true)
        #expect(train == Fixtures.images(count: 15))
        #expect(train.classNames == Fixtures.classNames)
        let test = try CIFAR10.load(directory: folder.path, train: false)
        #expect(test == Fixtures.images(count: 4, offset: 1000))
        #expect(CIFAR10.hasTestBatch(directory: folder.path))
    }

    @Test func convertsToRowsAndImagesOnRequest() throws {
        let images = Fixtures.images(count: 2)
        let rows = images.rows(Float.self)
        #expect(rows.shape == [2, 3072])
        #expect(rows[1, 5] == Float(images.pixels[3072 + 5]))
        let cube = images.images(Double.self)
        #expect(cube.shape == [2, 3, 32, 32])
        // CHW: channel 2, row 3, column 4 of image 1.
        #expect(cube[1, 2, 3, 4] == Double(images.pixels[3072 + 2 * 1024 + 3 * 32 + 4]))
    }

    @Test func missingFolderNamesWhatWasExpected() {
        let path = NSTemporaryDirectory() + "no-such-cifar-folder"
        #expect(throws: CIFARError.missingDirectory(path: path)) {
            try CIFAR10.load(directory: path, train: true)
        }
        let message = "\(CIFARError.missingDirectory(path: path))"
        #expect(message.contains(path) && message.contains("data_batch_1.bin") && message.contains("cs231n data download"))
        #expect(!CIFAR10.hasTestBatch(directory: path))
    }

    @Test func missingFilesAreListed() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        Fixtures.writeFolder(folder)
        try FileManager.default.removeItem(atPath: folder.file("data_batch_3.bin"))
        try FileManager.default.removeItem(atPath: folder.file("batches.meta.txt"))
        #expect(throws: CIFARError.missingFiles(directory: folder.path,
                                                missing: ["data_batch_3.bin", "batches.meta.txt"])) {
            try CIFAR10.load(directory: folder.path, train: true)
        }
        try FileManager.default.removeItem(atPath: folder.file("test_batch.bin"))
        #expect(!CIFAR10.hasTestBatch(directory: folder.path))
    }

    @Test(arguments: [3073 * 2 + 5, 100, 0])
    func fileSizeNotAMultipleOfTheRecordIsNamed(size: Int) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        Fixtures.writeFolder(folder)
        folder.write([UInt8](repeating: 1, count: size), to: "data_batch_2.bin")
        let expected = CIFARError.badFileSize(path: folder.file("data_batch_2.bin"), size: size)
        #expect(throws: expected) { try CIFAR10.load(directory: folder.path, train: true) }
        #expect("\(expected)".contains("data_batch_2.bin is \(size) bytes"))
    }

    /// A sparse batch whose size is a multiple of the record but far beyond a batch (found by
    /// hand: it used to abort on a 123 GB allocation) is refused before anything is allocated.
    @Test func batchTooLargeToBeOneIsRefusedBeforeAllocating() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        Fixtures.writeFolder(folder)
        let records = CIFAR10.maximumRecordsPerFile + 1
        #expect(truncate(folder.file("data_batch_5.bin"), off_t(records * CIFAR10.recordSize)) == 0)
        let expected = CIFARError.tooLarge(path: folder.file("data_batch_5.bin"), detail: "it holds \(records) records, "
                                           + "more than the \(CIFAR10.maximumRecordsPerFile) a batch file may hold")
        #expect(throws: expected) { try CIFAR10.load(directory: folder.path, train: true) }
    }

    @Test func labelAboveNineNamesFileAndRecord() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        Fixtures.writeFolder(folder, perBatch: 6)
        var records = try #require(folder.read("data_batch_4.bin"))
        records[4 * CIFAR10.recordSize] = 12
        records[5 * CIFAR10.recordSize] = 200
        folder.write(records, to: "data_batch_4.bin")
        let expected = CIFARError.badLabel(path: folder.file("data_batch_4.bin"), record: 4, label: 12)
        #expect(throws: expected) { try CIFAR10.load(directory: folder.path, train: true) }
        #expect("\(expected)".contains("record 4") && "\(expected)".contains("label 12"))
    }

    @Test(arguments: [
        ("airplane\nautomobile\nbird\n", "found 3 class names"),
        ("a\nb\n\nc\nd\ne\nf\ng\nh\ni\nj\n", "line 3 is blank"),
        ("a\nb\nc\nd\ne\nf\ng\nh\ni\na\n", "a class name appears twice"),
        ("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n", "found 11 class names"),
    ])
    func malformedMetaFileIsReported(contents: String, detail: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        Fixtures.writeFolder(folder)
        folder.write(Array(contents.utf8), to: "batches.meta.txt")
        #expect(throws: CIFARError.malformedMeta(path: folder.file("batches.meta.txt"), detail: detail)) {
            try CIFAR10.load(directory: folder.path, train: false)
        }
    }

    @Test func binaryMetaFileIsReported() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        Fixtures.writeFolder(folder)
        folder.write([0xFF, 0xFE, 0x00, 0x81], to: "batches.meta.txt")
        #expect(throws: CIFARError.malformedMeta(path: folder.file("batches.meta.txt"), detail: "it is not UTF-8 text")) {
            try CIFAR10.load(directory: folder.path, train: true)
        }
    }

    @Test func writtenFolderReadsBack() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let train = Fixtures.images(count: 12), test = Fixtures.images(count: 3, offset: 50)
        try CIFAR10.writeFolder(train: train, test: test, to: folder.path)
        #expect(try CIFAR10.load(directory: folder.path, train: true) == train)
        #expect(try CIFAR10.load(directory: folder.path, train: false) == test)
        // Twelve images in five batches, split as np.array_split does: 3, 3, 2, 2, 2.
        #expect(folder.read("data_batch_1.bin")?.count == 3 * CIFAR10.recordSize)
        #expect(folder.read("data_batch_5.bin")?.count == 2 * CIFAR10.recordSize)
    }
}

@Suite struct CIFARUntrustedFileTests {
    @Test(arguments: ["\r\n", "\r"])
    func metaFileWithWindowsOrOldMacLineEndingsLoads(lineEnd: String) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        Fixtures.writeFolder(folder)
        folder.write(Array((Fixtures.classNames.joined(separator: lineEnd) + lineEnd).utf8), to: "batches.meta.txt")
        #expect(try CIFAR10.load(directory: folder.path, train: false).classNames == Fixtures.classNames)
    }

    @Test func batchOfTheWrongSizeNamesTheFileAndTheSizeExpected() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        Fixtures.writeFolder(folder)
        folder.write([UInt8](repeating: 0, count: 2 * CIFAR10.recordSize + 5), to: CIFAR10.testFile)
        do {
            _ = try CIFAR10.load(directory: folder.path, train: false)
            Issue.record("a torn batch was accepted")
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix(folder.file(CIFAR10.testFile) + " is 6151 bytes"), "\(message)")
            #expect(message.contains("expected 6146 or 9219"), "\(message)")
        }
    }
}
