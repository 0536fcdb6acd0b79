import FuzzSupport

/// gzip, zlib and DEFLATE, and PNG (a zlib stream in chunks), on anything, with a 1 MiB output
/// cap; and the compressor on anything: what it writes must inflate back to the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGzip(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = fuzzInput(data, size)
    let limit = 1 << 20
    _ = bytes.withUnsafeBytes { try? Gzip.decompress($0, source: "fuzz.gz", limit: limit) }
    _ = try? Zlib.decompress(bytes, source: "fuzz.zlib", limit: limit)
    _ = try? PNGImage.decode(bytes, source: "fuzz.png")
    let gzip = Gzip.compress(bytes)
    precondition((try? gzip.withUnsafeBytes { try Gzip.decompress($0, source: "round trip") }) == bytes, "gzip round trip")
    return 0
}
