import CS231nTensor
import Foundation

extension CIFAR10 {
    /// The images as CIFAR-10 binary records: label byte, then the CHW pixels.
    public static func records(_ images: LabeledImages) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: images.count * recordSize)
        for index in 0..<images.count {
            precondition((0..<256).contains(images.labels[index]),
                         "CIFAR10.records: label \(images.labels[index]) does not fit a byte")
            bytes[index * recordSize] = UInt8(images.labels[index])
            bytes.replaceSubrange((index * recordSize + 1)..<((index + 1) * recordSize),
                                  with: images.imageBytes(index))
        }
        return bytes
    }

    /// Writes a folder in the official layout: the training images cut into five batches
    /// (`data_batch_1.bin` …), `test_batch.bin` when `test` is given, and `batches.meta.txt`.
    /// Each file is written atomically. The built-in dataset exported this way can be read by
    /// any CIFAR-10 reader, the peer scripts included.
    public static func writeFolder(train: LabeledImages, test: LabeledImages?, to directory: String) throws {
        guard train.count >= trainingFiles.count else {
            throw TensorError.invalidArgument(operation: "CIFAR10.writeFolder",
                detail: "need at least \(trainingFiles.count) training images for \(trainingFiles.count) batches, got \(train.count)")
        }
        try FileSystem.createDirectory(atPath: directory)
        let ranges = try LabeledImages.foldRanges(count: train.count, k: trainingFiles.count)
        for (name, range) in zip(trainingFiles, ranges) {
            try AtomicFile.write(records(train.slice(range)), to: directory + "/" + name)
        }
        if let test { try AtomicFile.write(records(test), to: directory + "/" + testFile) }
        try AtomicFile.write(Array((train.classNames.joined(separator: "\n") + "\n").utf8),
                             to: directory + "/" + metaFile)
    }
}
