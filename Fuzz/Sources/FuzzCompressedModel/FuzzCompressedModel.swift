import FuzzSupport

/// The `.cs231nz` reader on anything: it must throw or give a model that expands, converts to a
/// checkpoint, and writes and reads back the same layers. Each input is also tried with its
/// header and section CRC-32s made right, so that edited sizes and offsets reach the checks.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCompressedModel(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = fuzzInput(data, size)
    let cap = 1 << 22
    for candidate in [bytes, ChecksumFixups.compressedModel(bytes)].compactMap({ $0 }) {
        guard let model = try? CompressedModel(parsing: candidate, path: "fuzz.cs231nz", maximumExpandedBytes: cap) else { continue }
        _ = try? model.checkpointFile()
        // Compared as bytes: floats read from anywhere may be NaN, which == never matches.
        let written = model.serialized()
        guard let again = try? CompressedModel(parsing: written, path: "again", maximumExpandedBytes: cap),
              again.serialized() == written else {
            fatalError("a file that parsed does not write and read back the same")
        }
    }
    return 0
}
