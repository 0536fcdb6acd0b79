import CS231nData
import Foundation
import Testing

/// A fresh folder under the system temporary directory, removed by `remove()`.
struct TemporaryFolder {
    let path: String

    init(_ name: String = #function) {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        path = NSTemporaryDirectory() + "cs231n-data-\(safe)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ bytes: [UInt8], to name: String) {
        #expect(FileManager.default.createFile(atPath: file(name), contents: Data(bytes)))
    }

    func read(_ name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: file(name)).map { Array($0) }
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

enum Fixtures {
    static let classNames = ["airplane", "automobile", "bird", "cat", "deer",
                             "dog", "frog", "horse", "ship", "truck"]

    /// `count` images whose bytes encode their index, so any mix-up shows.
    static func images(count: Int, offset: Int = 0) -> LabeledImages {
        var pixels = [UInt8](repeating: 0, count: count * LabeledImages.imageSize)
        for i in 0..<count {
            for j in 0..<LabeledImages.imageSize {
                pixels[i * LabeledImages.imageSize + j] = UInt8(truncatingIfNeeded: (i + offset) * 31 + j * 7)
            }
        }
        return LabeledImages(pixels: pixels, labels: (0..<count).map { ($0 + offset) % 10 },
                             classNames: classNames)
    }

    static var meta: [UInt8] { Array((classNames.joined(separator: "\n") + "\n\n").utf8) }

    /// The official layout with `perBatch` images in each training batch and `testCount` in the test batch.
    static func writeFolder(_ folder: TemporaryFolder, perBatch: Int = 3, testCount: Int = 4) {
        for (b, name) in CIFAR10.trainingFiles.enumerated() {
            folder.write(CIFAR10.records(images(count: perBatch, offset: b * perBatch)), to: name)
        }
        folder.write(CIFAR10.records(images(count: testCount, offset: 1000)), to: CIFAR10.testFile)
        folder.write(meta, to: CIFAR10.metaFile)
    }

    /// A `cifar-10-binary.tar.gz` with the same contents as `writeFolder`.
    static func archive(perBatch: Int = 3, testCount: Int = 4, leaving omitted: String? = nil) -> [UInt8] {
        var files = CIFAR10.trainingFiles.enumerated().map { b, name in
            ("cifar-10-batches-bin/" + name, CIFAR10.records(images(count: perBatch, offset: b * perBatch)))
        }
        files.append(("cifar-10-batches-bin/" + CIFAR10.testFile,
                      CIFAR10.records(images(count: testCount, offset: 1000))))
        files.append(("cifar-10-batches-bin/" + CIFAR10.metaFile, meta))
        files.append(("cifar-10-batches-bin/readme.html", Array("<html></html>".utf8)))
        return Gzip.compress(Tar.archive(files.filter { !$0.0.hasSuffix("/" + (omitted ?? "-")) }))
    }
}
