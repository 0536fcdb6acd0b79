import FuzzSupport

/// Tar headers from anyone: every entry listed must lie inside the archive. Each input is also
/// tried with its header checksums made right, so that edited sizes reach the checks.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTar(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = fuzzInput(data, size)
    for candidate in [bytes, ChecksumFixups.tar(bytes)] {
        candidate.withUnsafeBytes { archive in
            guard let entries = try? Tar.entries(archive, source: "fuzz.tar") else { return }
            for entry in entries {
                precondition(entry.offset >= 0 && entry.size >= 0 && entry.size <= archive.count - entry.offset,
                             "entry \(entry.path) at \(entry.offset)+\(entry.size) outside the \(archive.count)-byte archive")
                _ = archive[entry.offset..<(entry.offset + entry.size)].reduce(0, &+)
            }
        }
    }
    return 0
}
