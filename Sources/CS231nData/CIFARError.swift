/// What was wrong with a CIFAR-10 folder, file or archive, and where.
public enum CIFARError: Error, Equatable, CustomStringConvertible {
    case missingDirectory(path: String)
    case missingFiles(directory: String, missing: [String])
    case unreadableFile(path: String, reason: String)
    case badFileSize(path: String, size: Int)
    case badLabel(path: String, record: Int, label: Int)
    case malformedMeta(path: String, detail: String)
    case tooLarge(path: String, detail: String)

    static let layout = "a cifar-10-batches-bin folder holding data_batch_1.bin … data_batch_5.bin, "
        + "test_batch.bin and batches.meta.txt"
    static let remedy = "Run `cs231n data download cifar10`, or download \(CIFAR10.archiveURL) by hand "
        + "and unpack it (tar xzf cifar-10-binary.tar.gz) so that the files lie in that folder; "
        + "or pass --data-dir / set CS231N_DATA_DIR to where they are."

    public var description: String {
        switch self {
        case .missingDirectory(let path):
            return "CIFAR-10 folder not found: \(path). Expected \(CIFARError.layout). \(CIFARError.remedy)"
        case .missingFiles(let directory, let missing):
            return "CIFAR-10 folder \(directory) lacks \(missing.joined(separator: ", ")). "
                + "Expected \(CIFARError.layout). \(CIFARError.remedy)"
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .badFileSize(let path, let size):
            let records = size / CIFAR10.recordSize
            let nearest = records > 0 ? "\(records * CIFAR10.recordSize) or \((records + 1) * CIFAR10.recordSize)"
                : "\(CIFAR10.recordSize)"
            return "\(path) is \(size) bytes; a CIFAR-10 batch is a positive multiple of \(CIFAR10.recordSize) bytes "
                + "(one label byte + 3072 pixel bytes per image; the official batches are \(CIFAR10.officialBatchSize) bytes), "
                + "so expected \(nearest): the file is truncated or not a CIFAR-10 batch"
        case .badLabel(let path, let record, let label):
            return "\(path): record \(record) (byte offset \(record * CIFAR10.recordSize)) has label \(label); "
                + "CIFAR-10 labels are 0...9"
        case .tooLarge(let path, let detail):
            return "\(path) cannot be loaded: \(detail)"
        case .malformedMeta(let path, let detail):
            return "malformed CIFAR-10 meta file \(path): \(detail); expected the 10 class names, one per line"
        }
    }
}
