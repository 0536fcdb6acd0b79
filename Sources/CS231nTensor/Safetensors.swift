import Foundation

/// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
/// {string: string}}, then the raw little-endian tensor bytes, back to back. PyTorch, numpy and
/// the safetensors library read it. Checkpoints, compressed models expanded to floats and the
/// linear models are all this one format, read and written by this one codec.
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

        /// The dtype that stores `S` without conversion.
        public static func of<S: TensorScalar>(_: S.Type) -> DType { S.self == Double.self ? .f64 : .f32 }
    }

    public struct Entry: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        /// The tensor's bytes, little-endian, row-major.
        public var bytes: [UInt8]
    }

    /// Tensors in file order.
    public internal(set) var names: [String] = []
    public internal(set) var entries: [String: Entry] = [:]
    public var metadata: [String: String] = [:]

    public init() {}

    /// Adds (or replaces) a tensor given as raw little-endian bytes, which must be exactly
    /// `shape`'s element count × the dtype's size.
    public mutating func add(_ name: String, dtype: DType, shape: [Int], bytes: [UInt8]) throws {
        guard name != "__metadata__" else {
            throw SafetensorsError.invalidTensor(name: name, detail: "the name __metadata__ is reserved for the metadata")
        }
        guard let count = Self.byteCount(shape: shape, dtype: dtype) else {
            throw SafetensorsError.invalidTensor(name: name,
                detail: "has shape \(describeShape(shape)), which is negative or larger than a tensor may be")
        }
        guard bytes.count == count else {
            throw SafetensorsError.invalidTensor(name: name,
                detail: "\(bytes.count) bytes cannot hold \(describeShape(shape)) \(dtype.rawValue), which needs \(count)")
        }
        if entries[name] == nil { names.append(name) }
        entries[name] = Entry(dtype: dtype, shape: shape, bytes: bytes)
    }

    /// Adds (or replaces) a tensor, stored as F32 or F64 like its scalars.
    public mutating func add<S: TensorScalar>(_ name: String, _ tensor: Tensor<S>) {
        let bytes = tensor.withUnsafeBufferPointer { values in
            var bytes = [UInt8](repeating: 0, count: values.count * MemoryLayout<S>.size)
            bytes.withUnsafeMutableBytes { raw in
                for (i, value) in values.enumerated() {
                    if S.self == Double.self {
                        raw.storeBytes(of: Double(value).bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self)
                    } else {
                        raw.storeBytes(of: Float(value).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                    }
                }
            }
            return bytes
        }
        if entries[name] == nil { names.append(name) }
        entries[name] = Entry(dtype: .of(S.self), shape: tensor.shape, bytes: bytes)
    }

    /// The tensor called `name` converted to `S` from whatever dtype it is stored in, or nil
    /// when the file has none.
    public func tensor<S: TensorScalar>(_ name: String, as _: S.Type = S.self) -> Tensor<S>? {
        guard let entry = entries[name] else { return nil }
        // Parsing and `add(_:dtype:shape:bytes:)` keep entries within `Tensor<Double>`'s limit
        // (a tensor added as itself was already within its own), so the size check holds here.
        var result = Tensor<S>(uninitializedShape: entry.shape)
        entry.bytes.withUnsafeBytes { raw in
            result.withUnsafeMutableBufferPointer { out in
                switch entry.dtype {
                case .f32: for i in 0..<out.count { out[i] = S(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))) }
                case .f64: for i in 0..<out.count { out[i] = S(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
                case .i64: for i in 0..<out.count { out[i] = S(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
                case .u64: for i in 0..<out.count { out[i] = S(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
                case .u8: for i in 0..<out.count { out[i] = S(raw[i]) }
                }
            }
        }
        return result
    }

    /// The tensor called `name`, which must be stored as `S` (F32 for Float, F64 for Double) and
    /// have exactly `shape`; otherwise an error that names the file, the tensor, what it holds
    /// and what was expected. `path` is only for the message.
    public func tensor<S: TensorScalar>(named name: String, as _: S.Type, shape: [Int], path: String) throws -> Tensor<S> {
        guard let entry = entries[name] else { throw SafetensorsError.missingTensor(path: path, name: name) }
        let expected = DType.of(S.self)
        guard entry.dtype == expected, entry.shape == shape else {
            throw SafetensorsError.unexpectedTensor(path: path, name: name,
                detail: "is \(describeShape(entry.shape)) \(entry.dtype.rawValue), expected \(describeShape(shape)) \(expected.rawValue)")
        }
        return tensor(name, as: S.self)!
    }

    /// The metadata key holding the CRC-32 of the data section, which parsing verifies.
    public static let checksumKey = "data_crc32"

    /// The file's bytes; the header is padded with spaces to a multiple of 8, as the reference
    /// writer does, so the data section stays aligned. The data's CRC-32 goes in the metadata.
    public func serialized() -> [UInt8] {
        var metadata = metadata
        var crc = CRC32()
        for name in names { crc.update(entries[name]!.bytes) }
        metadata[Self.checksumKey] = String(format: "%08x", crc.value)
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

    /// Writes the file atomically (`AtomicFile`).
    public func write(to path: String) throws { try AtomicFile.write(serialized(), to: path) }

    /// Reads and parses the file at `path`.
    public init(contentsOf path: String) throws {
        let bytes: [UInt8]
        do { bytes = try FileSystem.contents(atPath: path) } catch let error as FileReadError {
            throw SafetensorsError.unreadable(path: path, reason: error.reason)
        }
        try self.init(parsing: bytes, path: path)
    }

    /// `shape`'s element count × `dtype.size`, or nil when a dimension is negative or the tensor
    /// is larger than `Tensor<Double>.maximumByteCount` allows, so that any entry converts to any
    /// `Tensor`. The arithmetic reports overflow explicitly and holds in every build mode.
    static func byteCount(shape: [Int], dtype: DType) -> Int? {
        (try? Tensor<Double>.checkedCount(shape: shape)).map { $0 * dtype.size }
    }
}

/// What was wrong with a safetensors file or tensor: the file, the tensor, the byte offset and
/// what was expected.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    /// The bytes are not a valid file; `offset` is the byte of the file where the problem lies.
    case corrupt(path: String, offset: Int, detail: String)
    /// A tensor the caller needs is absent.
    case missingTensor(path: String, name: String)
    /// A tensor is not of the dtype or shape the caller demands.
    case unexpectedTensor(path: String, name: String, detail: String)
    /// A tensor given to the writer does not hold what its shape says.
    case invalidTensor(name: String, detail: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .corrupt(let path, _, _), .missingTensor(let path, _), .unexpectedTensor(let path, _, _):
            return "\(path): \(detail)"
        case .invalidTensor: return "safetensors: \(detail)"
        }
    }

    /// The message without the path, for formats built on safetensors that name the file in
    /// their own words.
    public var detail: String {
        switch self {
        case .unreadable(_, let reason): return reason
        case .corrupt(_, let offset, let detail): return "at byte \(offset), \(detail)"
        case .missingTensor(_, let name): return "there is no tensor \"\(name)\""
        case .unexpectedTensor(_, let name, let detail), .invalidTensor(let name, let detail):
            return "tensor \"\(name)\" \(detail)"
        }
    }
}
