import FuzzSupport

/// CIFAR-10 batches and meta files: the first byte × 4 is the length of the meta text that
/// follows, the rest is one batch. A batch must throw or give whole, labelled images.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIFAR(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = fuzzInput(data, size)
    let metaEnd = Swift.min(size, 1 + 4 * Int(bytes[0]))
    let names = (try? CIFAR10.parseClassNames(Array(bytes[1..<metaEnd]), path: "batches.meta.txt"))
        ?? (0..<CIFAR10.classCount).map { "class\($0)" }
    let batch = Array(bytes[metaEnd...])
    let images = batch.withUnsafeBytes { try? CIFAR10.readBatch($0, name: "data_batch_1.bin", classNames: names) }
    if let images {
        precondition(images.count * CIFAR10.recordSize == batch.count && images.labels.allSatisfy { (0..<10).contains($0) })
        _ = images.rows(Float.self)
    }
    return 0
}
