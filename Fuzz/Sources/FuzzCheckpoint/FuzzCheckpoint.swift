import FuzzSupport

/// The checkpoint loader, model configuration included: read, rebuild the model from its best
/// and its latest weights, read the histories. Each input is also tried with its data CRC-32
/// made right.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = fuzzInput(data, size)
    for candidate in [bytes, ChecksumFixups.safetensors(bytes)].compactMap({ $0 }) {
        guard let file = try? Checkpoint.read(parsing: candidate, path: "fuzz.safetensors") else { continue }
        _ = Checkpoint.history(file)
        _ = try? Checkpoint.loadModel(from: file, path: "fuzz.safetensors", as: Float.self)
        if file.names.contains(where: { $0.hasPrefix("best.") }) {
            _ = try? Checkpoint.loadModel(from: file, path: "fuzz.safetensors", as: Float.self, latest: true)
        }
    }
    return 0
}
