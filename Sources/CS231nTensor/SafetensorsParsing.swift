import Foundation

// Reading a safetensors file that may come from anyone. Every size in it is untrusted: the checks
// below are explicit comparisons and `…ReportingOverflow` arithmetic that throw, so they hold in
// release builds too (which compile with -Ounchecked, removing `precondition` and overflow traps).
// Nothing is allocated for the tensors until the whole header has been checked.
extension SafetensorsFile {
    /// The largest header accepted, as the reference implementation (100 MB).
    public static let maximumHeaderLength = 100_000_000

    /// Parses a whole file. Before any tensor is copied it checks that the header length lies
    /// within the file, the header is a JSON object, every tensor has a known dtype, a
    /// non-negative shape whose byte size (overflow-checked) equals its [begin, end) range, and
    /// that the ranges lie in the data section, do not overlap and cover it exactly; then the
    /// data's CRC-32 when the metadata records one. Errors name `path`, the tensor, the byte of
    /// the file and what was expected.
    public init(parsing bytes: [UInt8], path: String) throws {
        func corrupt(_ offset: Int, _ detail: String) -> SafetensorsError { .corrupt(path: path, offset: offset, detail: detail) }
        guard bytes.count >= 8 else {
            throw corrupt(0, "the file is \(bytes.count) bytes long, too short for the 8-byte header length (it is truncated)")
        }
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw corrupt(0, "the header length \(headerLength) runs past the end of the file (\(bytes.count) bytes; it is truncated or not safetensors)")
        }
        guard headerLength <= UInt64(Self.maximumHeaderLength) else {
            throw corrupt(0, "the header length \(headerLength) exceeds the \(Self.maximumHeaderLength) bytes a header may have")
        }
        let dataStart = 8 + Int(headerLength)
        guard headerLength >= 2, bytes[8] == UInt8(ascii: "{"),
              let object = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])),
              let header = object as? [String: Any] else {
            throw corrupt(8, "the \(headerLength)-byte header is not a JSON object")
        }
        if let meta = header["__metadata__"] {
            guard let strings = meta as? [String: String] else { throw corrupt(8, "__metadata__ is not a map of strings to strings") }
            metadata = strings
        }
        let dataLength = bytes.count - dataStart
        var spans: [(name: String, entry: Entry, begin: Int, end: Int)] = []
        for (name, value) in header where name != "__metadata__" {
            let entry = try Self.headerEntry(name, value, dataLength: dataLength, dataStart: dataStart, path: path)
            spans.append((name, entry.entry, entry.begin, entry.end))
        }
        spans.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var covered = 0
        for span in spans {
            guard span.begin == covered else {
                throw corrupt(dataStart + span.begin, span.begin < covered
                    ? "tensor \"\(span.name)\" starts at data byte \(span.begin), inside the previous tensor, which ends at \(covered) (ranges overlap)"
                    : "tensor \"\(span.name)\" starts at data byte \(span.begin), expected \(covered): bytes \(covered)..<\(span.begin) belong to no tensor")
            }
            covered = span.end
        }
        guard covered == dataLength else {
            throw corrupt(dataStart + covered, "the tensors cover \(covered) bytes of the data section but it holds \(dataLength) (bytes belong to no tensor)")
        }
        if let stored = metadata[Self.checksumKey] {
            let computed = String(format: "%08x", CRC32.checksum(bytes[dataStart...]))
            guard stored == computed else {
                throw corrupt(dataStart, "the data section's CRC-32 is \(computed) but the header records \(stored): tensor bytes were changed or damaged")
            }
            metadata[Self.checksumKey] = nil
        }
        for span in spans {
            var entry = span.entry
            entry.bytes = Array(bytes[(dataStart + span.begin)..<(dataStart + span.end)])
            entries[span.name] = entry
        }
        names = spans.map(\.name)
    }

    /// One tensor's header entry, checked against the data section (bytes not yet copied).
    private static func headerEntry(_ name: String, _ value: Any, dataLength: Int, dataStart: Int, path: String) throws
        -> (entry: Entry, begin: Int, end: Int) {
        func corrupt(_ detail: String, at offset: Int = 8) -> SafetensorsError {
            .corrupt(path: path, offset: offset, detail: "tensor \"\(name)\" " + detail)
        }
        guard let fields = value as? [String: Any], let dtypeName = fields["dtype"] as? String,
              let shapeValue = fields["shape"], let offsetsValue = fields["data_offsets"] else {
            throw corrupt("lacks dtype, shape or data_offsets in the header")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw corrupt("has dtype \(dtypeName), expected one of \(DType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let shape = integers(shapeValue), shape.allSatisfy({ $0 >= 0 }) else {
            throw corrupt("has shape \(shapeValue), expected a list of non-negative integers")
        }
        guard let offsets = integers(offsetsValue), offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
            throw corrupt("has data_offsets \(offsetsValue), expected [begin, end] with 0 ≤ begin ≤ end")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard end <= dataLength else {
            throw corrupt("needs data bytes \(begin)..<\(end) but the data section holds only \(dataLength) (the file is truncated)",
                          at: dataStart + Swift.min(begin, dataLength))
        }
        guard let expected = byteCount(shape: shape, dtype: dtype) else {
            throw corrupt("has shape \(describeShape(shape)), more elements than a tensor may hold (\(Tensor<Double>.maximumByteCount) bytes)",
                          at: dataStart + begin)
        }
        guard end - begin == expected else {
            throw corrupt("of shape \(describeShape(shape)) \(dtypeName) needs \(expected) bytes but its data offsets \(begin)..<\(end) span \(end - begin)",
                          at: dataStart + begin)
        }
        return (Entry(dtype: dtype, shape: shape, bytes: []), begin, end)
    }

    /// A JSON array of integers that fit `Int` exactly (no fractions, no overflow), or nil.
    private static func integers(_ value: Any) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        result.reserveCapacity(array.count)
        for element in array {
            // Foundation's bridging gives an Int only when the number is one exactly.
            guard let number = element as? Int else { return nil }
            result.append(number)
        }
        return result
    }
}
