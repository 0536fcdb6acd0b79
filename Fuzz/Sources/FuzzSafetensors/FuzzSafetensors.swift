import FuzzSupport

/// The safetensors reader on anything: it must throw or give a file whose every tensor converts
/// and which writes and reads back the same. Each input is also tried with its data CRC-32 made
/// right, so that edits of the data reach the checks behind it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = fuzzInput(data, size)
    for candidate in [bytes, ChecksumFixups.safetensors(bytes)].compactMap({ $0 }) {
        guard let file = try? SafetensorsFile(parsing: candidate, path: "fuzz.safetensors") else { continue }
        for name in file.names {
            let entry = file.entries[name]!
            _ = file.tensor(name, as: Float.self)
            _ = try? file.tensor(named: name, as: Double.self, shape: entry.shape, path: "fuzz.safetensors")
        }
        guard let again = try? SafetensorsFile(parsing: file.serialized(), path: "again"), again == file else {
            fatalError("a file that parsed does not write and read back the same")
        }
    }
    return 0
}
