import CS231nTensor
import Foundation

/// The CIFAR-10 binary release (https://www.cs.toronto.edu/~kriz/cifar.html), read in the style
/// of torchvision's `CIFAR10(root:train:)`: a `cifar-10-batches-bin` folder or the official
/// `cifar-10-binary.tar.gz` archive.
///
/// Each batch file is a run of 3073-byte records: a label byte, then a 32×32 image as 1024 red,
/// 1024 green and 1024 blue bytes. `batches.meta.txt` names the classes, one per line.
public enum CIFAR10 {
    public static let recordSize = 1 + LabeledImages.imageSize
    public static let trainingFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFile = "test_batch.bin"
    public static let metaFile = "batches.meta.txt"
    public static let folderName = "cifar-10-batches-bin"
    public static let archiveName = "cifar-10-binary.tar.gz"
    public static let archiveURL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    public static let archiveMD5 = "c32a1d4ab5d03f1284b67883e8d87530"
    public static let classCount = 10
    /// Images in each official batch file.
    public static let imagesPerBatch = 10_000
    /// The official training set: the five training batches (50,000 images).
    public static let trainingCount = trainingFiles.count * imagesPerBatch
    /// The official test set: the one test batch (10,000 images).
    public static let testCount = imagesPerBatch
    /// The bytes of each official batch file: 10,000 records.
    public static let officialBatchSize = imagesPerBatch * recordSize
    /// The most records a batch file may hold: 100 times an official batch (about 3 GB), far
    /// above what `data export` writes. A larger file, such as a sparse one whose size is merely
    /// a multiple of 3073, is refused before anything is allocated.
    public static let maximumRecordsPerFile = 1_000_000

    /// `$CS231N_DATA_DIR` when set, else `~/.cache/cs231n/cifar-10-batches-bin`.
    public static var defaultDirectory: String {
        if let dir = ProcessInfo.processInfo.environment["CS231N_DATA_DIR"], !dir.isEmpty { return dir }
        return defaultCacheDirectory + "/" + folderName
    }

    /// Where downloads go: `~/.cache/cs231n` (honouring `$XDG_CACHE_HOME`).
    public static var defaultCacheDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/cs231n" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.cache/cs231n"
    }

    /// The five training batches (50,000 images) or the test batch (10,000), in file order.
    /// `directory` may also be the path of the `.tar.gz` archive itself.
    public static func load(directory: String, train: Bool) throws -> LabeledImages {
        if isArchivePath(directory) { return try load(archive: directory, train: train) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw CIFARError.missingDirectory(path: directory)
        }
        let names = train ? trainingFiles : [testFile]
        let missing = (names + [metaFile]).filter {
            !FileManager.default.fileExists(atPath: directory + "/" + $0)
        }
        if !missing.isEmpty { throw CIFARError.missingFiles(directory: directory, missing: missing) }

        let metaPath = directory + "/" + metaFile
        guard let metaBytes = FileManager.default.contents(atPath: metaPath) else {
            throw CIFARError.unreadableFile(path: metaPath, reason: "permission denied or not a file")
        }
        let classNames = try parseClassNames(Array(metaBytes), path: metaPath)
        let files = try names.map { try BatchFile(path: directory + "/" + $0) }
        return try readBatches(files, classNames: classNames)
    }

    /// The images of one batch file held in memory, its size and labels checked; `name` is what
    /// errors call it. `classNames` come from `parseClassNames`.
    public static func readBatch(_ bytes: UnsafeRawBufferPointer, name: String, classNames: [String]) throws -> LabeledImages {
        try readBatches([BatchFile(name: name, bytes: bytes)], classNames: classNames)
    }

    /// True when `directory` holds `test_batch.bin` (the mirror in ../shared/data has none).
    public static func hasTestBatch(directory: String) -> Bool {
        if isArchivePath(directory) { return FileManager.default.fileExists(atPath: directory) }
        return FileManager.default.fileExists(atPath: directory + "/" + testFile)
    }

    static func isArchivePath(_ path: String) -> Bool {
        path.hasSuffix(".tar.gz") || path.hasSuffix(".tgz")
    }

    /// The class names in a meta file: exactly ten non-empty lines (trailing blank lines allowed).
    public static func parseClassNames(_ bytes: [UInt8], path: String) throws -> [String] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CIFARError.malformedMeta(path: path, detail: "it is not UTF-8 text")
        }
        // "\r\n" is a single Character in Swift, so splitting on "\n" alone would leave a CRLF
        // file as one line; a lone "\r" ends a line in old Mac files.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .map { $0.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\r"))) }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        if let blank = lines.firstIndex(of: "") {
            throw CIFARError.malformedMeta(path: path, detail: "line \(blank + 1) is blank")
        }
        guard lines.count == classCount else {
            throw CIFARError.malformedMeta(path: path, detail: "found \(lines.count) class names")
        }
        if let odd = lines.firstIndex(where: { $0.unicodeScalars.contains { $0.value < 0x20 } }) {
            throw CIFARError.malformedMeta(path: path, detail: "line \(odd + 1) holds control characters")
        }
        if Set(lines).count != lines.count {
            throw CIFARError.malformedMeta(path: path, detail: "a class name appears twice")
        }
        return lines
    }

    /// Splits records into pixels and labels (files in parallel), then checks every label.
    static func readBatches(_ files: [BatchFile], classNames: [String]) throws -> LabeledImages {
        var offsets = [0]
        for file in files { offsets.append(offsets.last! + file.recordCount) }
        let starts = offsets
        let total = starts.last!
        let size = LabeledImages.imageSize
        let bytes = total * (size + MemoryLayout<Int>.size), memory = ProcessInfo.processInfo.physicalMemory
        guard UInt64(bytes) <= memory else {
            throw CIFARError.tooLarge(path: files.map(\.path).joined(separator: ", "), detail: "together they hold \(total) "
                                      + "images, \(bytes) bytes in memory, more than this machine's \(memory)")
        }
        var labels = [Int](repeating: 0, count: total)
        let pixels = try [UInt8](unsafeUninitializedCapacity: total * size) { buffer, initialized in
            let pixelBase = SendablePointer(buffer.baseAddress!)
            try labels.withUnsafeMutableBufferPointer { labelBuffer in
                let labelBase = SendablePointer(labelBuffer.baseAddress!)
                let failures = ErrorSlots(count: files.count)
                Parallel.forEach(files.count) { i in
                    do {
                        try files[i].read(pixels: pixelBase.base + starts[i] * size,
                                          labels: labelBase.base + starts[i])
                    } catch {
                        failures.set(i, error)
                    }
                }
                if let error = failures.first { throw error }
            }
            initialized = total * size
        }
        for (i, file) in files.enumerated() {
            if let record = (0..<file.recordCount).first(where: { labels[starts[i] + $0] >= classCount }) {
                throw CIFARError.badLabel(path: file.path, record: record, label: labels[starts[i] + record])
            }
        }
        return LabeledImages(pixels: pixels, labels: labels, classNames: classNames)
    }
}

/// One batch, on disk or already in memory (an archive member), whose size has been checked.
struct BatchFile: Sendable {
    let path: String
    let recordCount: Int
    private let memory: UnsafeSendable<UnsafeRawBufferPointer>?

    init(path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw CIFARError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        try self.init(path: path, size: Int(info.st_size), memory: nil)
    }

    /// A batch held in `bytes`, which must outlive the reading.
    init(name: String, bytes: UnsafeRawBufferPointer) throws {
        try self.init(path: name, size: bytes.count, memory: UnsafeSendable(bytes))
    }

    private init(path: String, size: Int, memory: UnsafeSendable<UnsafeRawBufferPointer>?) throws {
        guard size > 0, size % CIFAR10.recordSize == 0 else {
            throw CIFARError.badFileSize(path: path, size: size)
        }
        let recordCount = size / CIFAR10.recordSize
        guard recordCount <= CIFAR10.maximumRecordsPerFile else {
            throw CIFARError.tooLarge(path: path, detail: "it holds \(recordCount) records, more than the "
                                      + "\(CIFAR10.maximumRecordsPerFile) a batch file may hold")
        }
        self.path = path
        self.recordCount = recordCount
        self.memory = memory
    }

    /// Copies each record's pixels and label out. A file is read in pieces of whole records
    /// through one small buffer: a whole-file buffer costs as many page faults as the pixels.
    func read(pixels: UnsafeMutablePointer<UInt8>, labels: UnsafeMutablePointer<Int>) throws {
        if let memory {
            RecordParser.split(memory.value, recordCount: recordCount, pixels: pixels, labels: labels)
            return
        }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw CIFARError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        let piece = 256
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: piece * CIFAR10.recordSize, alignment: 64)
        defer { buffer.deallocate() }
        var record = 0
        while record < recordCount {
            let count = min(piece, recordCount - record)
            try readFully(descriptor, into: buffer.baseAddress!, byteCount: count * CIFAR10.recordSize)
            RecordParser.split(UnsafeRawBufferPointer(buffer), recordCount: count,
                               pixels: pixels + record * LabeledImages.imageSize, labels: labels + record)
            record += count
        }
    }

    private func readFully(_ descriptor: Int32, into target: UnsafeMutableRawPointer, byteCount: Int) throws {
        var done = 0
        while done < byteCount {
            let got = Foundation.read(descriptor, target + done, byteCount - done)
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw CIFARError.unreadableFile(
                    path: path, reason: got < 0 ? String(cString: strerror(errno)) : "file shrank while reading")
            }
            done += got
        }
    }
}

enum RecordParser {
    /// Copies `recordCount` records out of `bytes`. Labels are checked afterwards, serially, so
    /// the first bad record is the one reported whatever the thread count.
    static func split(_ bytes: UnsafeRawBufferPointer, recordCount: Int,
                      pixels: UnsafeMutablePointer<UInt8>, labels: UnsafeMutablePointer<Int>) {
        let source = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let size = LabeledImages.imageSize
        for record in 0..<recordCount {
            let start = source + record * CIFAR10.recordSize
            labels[record] = Int(start[0])
            (pixels + record * size).update(from: start + 1, count: size)
        }
    }
}

/// The first error thrown by any worker of a parallel loop, by worker index.
final class ErrorSlots: @unchecked Sendable {
    private var errors: [Error?]
    private let lock = NSLock()
    init(count: Int) { errors = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ error: Error) { lock.withLock { errors[index] = error } }
    var first: Error? { lock.withLock { errors.compactMap { $0 }.first } }
}
