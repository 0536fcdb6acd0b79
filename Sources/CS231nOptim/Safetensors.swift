import CS231nTensor
import Foundation

/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
/// {string: string}}, then the raw little-endian tensor bytes, back to back. PyTorch, numpy and
/// the safetensors library read it; parsing here checks every field so a torn or corrupted file
/// is reported, never trusted.
public struct SafetensorsFile: Sendable, Equatable {
    public enum DType: String, Sendable, CaseIterable {
        case f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64", u8 = "U8"

        public var size: Int {
            switch self {
            case .u8: return 1
            case .f32: return 4
            case .f64, .i64, .u64: return 8
            }
        }
    }

    public struct Entry: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        /// The tensor's bytes, little-endian, row-major.
        public var bytes: [UInt8]
    }

    /// Tensors in file order.
    public private(set) var names: [String] = []
    public private(set) var entries: [String: Entry] = [:]
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
        precondition(bytes.count == shape.reduce(1, *) * dtype.size,
                     "safetensors: \(name) has \(bytes.count) bytes for \(describeShape(shape)) \(dtype.rawValue)")
        if entries[name] == nil { names.append(name) }
        entries[name] = Entry(dtype: dtype, shape: shape, bytes: bytes)
    }

    public mutating func add<S: TensorScalar>(_ name: String, _ tensor: Tensor<S>) {
        let dtype: DType = S.self == Double.self ? .f64 : .f32
        let bytes = tensor.withUnsafeBufferPointer { Array(UnsafeRawBufferPointer($0)) }
        add(name, dtype: dtype, shape: tensor.shape, bytes: bytes)
    }

    /// The tensor called `name` as `S`, converting from F32 or F64.
    public func tensor<S: TensorScalar>(_ name: String, as _: S.Type = S.self) -> Tensor<S>? {
        guard let entry = entries[name] else { return nil }
        var result = Tensor<S>(uninitializedShape: entry.shape)
        entry.bytes.withUnsafeBytes { raw in
            result.withUnsafeMutableBufferPointer { out in
                switch entry.dtype {
                case .f32: for i in 0..<out.count { out[i] = S(Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian)) }
                case .f64: for i in 0..<out.count { out[i] = S(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian)) }
                case .i64: for i in 0..<out.count { out[i] = S(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
                case .u64: for i in 0..<out.count { out[i] = S(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
                case .u8: for i in 0..<out.count { out[i] = S(raw[i]) }
                }
            }
        }
        return result
    }

    /// The metadata key holding the CRC-32 of the data section, which parsing verifies.
    public static let checksumKey = "data_crc32"

    /// The file's bytes; the header is padded with spaces to a multiple of 8, as the reference
    /// writer does, so the data section stays aligned. The data's CRC-32 goes in the metadata.
    public func serialized() -> [UInt8] {
        var metadata = metadata
        var crc: UInt32 = 0
        for name in names { crc = CRC32.checksum(entries[name]!.bytes, continuing: crc) }
        metadata[Self.checksumKey] = String(format: "%08x", crc)
        var header: [String: Any] = [:]
        var offset = 0
        for name in names {
            let entry = entries[name]!
            header[name] = ["dtype": entry.dtype.rawValue, "shape": entry.shape,
                            "data_offsets": [offset, offset + entry.bytes.count]] as [String: Any]
            offset += entry.bytes.count
        }
        header["__metadata__"] = metadata
        var json = Array((try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data())
        while json.count % 8 != 0 { json.append(0x20) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
        bytes += json
        for name in names { bytes += entries[name]!.bytes }
        return bytes
    }

    /// Parses a whole file, naming `path` and the first thing wrong in any error.
    public init(parsing bytes: [UInt8], path: String) throws {
        func corrupt(_ detail: String) -> CheckpointError { .corrupt(path: path, detail: detail) }
        guard bytes.count >= 8 else {
            throw corrupt("it is \(bytes.count) bytes long, too short for the 8-byte header length (the file is truncated)")
        }
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw corrupt("the header length \(headerLength) runs past the end of the file (\(bytes.count) bytes; the file is truncated or not safetensors)")
        }
        let dataStart = 8 + Int(headerLength)
        guard headerLength >= 2, bytes[8] == UInt8(ascii: "{"),
              let object = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])),
              let header = object as? [String: Any] else {
            throw corrupt("the \(headerLength)-byte header at offset 8 is not a JSON object")
        }
        if let meta = header["__metadata__"] {
            guard let strings = meta as? [String: String] else { throw corrupt("__metadata__ is not a map of strings to strings") }
            metadata = strings
        }
        let dataLength = bytes.count - dataStart
        var spans: [(name: String, begin: Int, end: Int)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let fields = value as? [String: Any], let dtypeName = fields["dtype"] as? String,
                  let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int], offsets.count == 2 else {
                throw corrupt("the header entry for tensor \"\(name)\" lacks dtype, shape or data_offsets")
            }
            guard let dtype = DType(rawValue: dtypeName) else { throw corrupt("tensor \"\(name)\" has unsupported dtype \(dtypeName)") }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw corrupt("tensor \"\(name)\" has shape \(shape) and data offsets \(offsets)")
            }
            guard offsets[1] <= dataLength else {
                throw corrupt("tensor \"\(name)\" needs bytes \(offsets[0])..<\(offsets[1]) of the data section, which holds only \(dataLength) (the file is truncated)")
            }
            let expected = shape.reduce(1, *) * dtype.size
            guard offsets[1] - offsets[0] == expected else {
                throw corrupt("tensor \"\(name)\" of shape \(describeShape(shape)) \(dtypeName) needs \(expected) bytes but its data offsets span \(offsets[1] - offsets[0])")
            }
            spans.append((name, offsets[0], offsets[1]))
            entries[name] = Entry(dtype: dtype, shape: shape, bytes: Array(bytes[(dataStart + offsets[0])..<(dataStart + offsets[1])]))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expectedBegin = 0
        for span in spans {
            guard span.begin == expectedBegin else {
                throw corrupt("tensor \"\(span.name)\" starts at byte \(span.begin) of the data section, expected \(expectedBegin) (tensors overlap or leave a gap)")
            }
            expectedBegin = span.end
        }
        guard expectedBegin == dataLength else {
            throw corrupt("the tensors cover \(expectedBegin) bytes but the data section holds \(dataLength)")
        }
        names = spans.map(\.name)
        if let stored = metadata[Self.checksumKey] {
            let computed = String(format: "%08x", CRC32.checksum(bytes[dataStart...]))
            guard stored == computed else {
                throw corrupt("the data section's CRC-32 is \(computed) but the header records \(stored): tensor bytes were changed or damaged")
            }
            metadata[Self.checksumKey] = nil
        }
    }

    /// Reads and parses the file at `path`.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileManager.default.fileExists(atPath: path)
                ? CheckpointError.unreadable(path: path, reason: "permission denied or not a regular file")
                : CheckpointError.unreadable(path: path, reason: "no such file")
        }
        try self.init(parsing: Array(data), path: path)
    }
}
