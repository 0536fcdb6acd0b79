import CS231nData
import Foundation

/// Reads and writes the safetensors format (huggingface/safetensors), which numpy, PyTorch and
/// the `safetensors` package load directly: an 8-byte little-endian header length, a JSON header
/// naming each tensor's dtype, shape and byte range (plus string metadata under
/// "__metadata__"), then the raw little-endian data.
///
/// Internal: just what a linear model file needs. CS231nOptim's `SafetensorsFile` is the
/// general checkpoint format; this module sits below it and cannot use it.
enum Safetensors {
    /// Writes `tensors` (names unique) atomically: a temporary file renamed over `path`.
    static func write<S: TensorScalar>(_ tensors: [(name: String, tensor: Tensor<S>)],
                                              metadata: [String: String] = [:], to path: String) throws {
        guard Set(tensors.map(\.name)).count == tensors.count, !tensors.contains(where: { $0.name == "__metadata__" }) else {
            throw LinearClassifierError.badModelFile(path: path, detail: "tensor names must be unique and not __metadata__")
        }
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var payload = Data()
        for (name, tensor) in tensors {
            let begin = payload.count
            payload.append(littleEndianBytes(of: tensor))
            header[name] = ["dtype": S.dtypeName, "shape": tensor.shape, "data_offsets": [begin, payload.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(payload)
        try AtomicFile.write([UInt8](file), to: path)
    }

    /// The tensors of a safetensors file (F32 or F64, converted to `S`) and its metadata.
    static func read<S: TensorScalar>(_ path: String, as _: S.Type = S.self) throws
        -> (tensors: [String: Tensor<S>], metadata: [String: String]) {
        let bad = { (detail: String) in LinearClassifierError.badModelFile(path: path, detail: detail) }
        guard let file = FileManager.default.contents(atPath: path) else { throw bad("cannot read the file") }
        let bytes = [UInt8](file)
        guard bytes.count >= 8 else { throw bad("\(bytes.count) bytes is too short for the 8-byte header length") }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw bad("header length \(headerLength) at offset 0 runs past the end of the \(bytes.count)-byte file")
        }
        let dataStart = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])) as? [String: Any] else {
            throw bad("the header at offset 8 is not a JSON object")
        }
        let metadata = (header["__metadata__"] as? [String: String]) ?? [:]
        var tensors: [String: Tensor<S>] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
                  offsets.count == 2, shape.allSatisfy({ $0 >= 0 }) else {
                throw bad("tensor '\(name)': header entry needs dtype, shape and two data_offsets")
            }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F64": width = 8
            default: throw bad("tensor '\(name)': dtype \(dtype) is not supported (F32 or F64)")
            }
            let count = shape.reduce(1, *)
            let (begin, end) = (dataStart + offsets[0], dataStart + offsets[1])
            guard offsets[0] >= 0, end - begin == count * width, end <= bytes.count else {
                throw bad("tensor '\(name)': bytes \(offsets[0])..<\(offsets[1]) of the data (file offset \(begin)) "
                          + "do not hold \(describeShape(shape)) \(dtype) within the \(bytes.count)-byte file")
            }
            var tensor = Tensor<S>(uninitializedShape: shape)
            bytes.withUnsafeBytes { raw in
                tensor.withUnsafeMutableBufferPointer { out in
                    for k in 0..<count {
                        let at = begin + k * width
                        out[k] = width == 4
                            ? S(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
                            : S(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self))))
                    }
                }
            }
            tensors[name] = tensor
        }
        return (tensors, metadata)
    }

    private static func littleEndianBytes<S: TensorScalar>(of tensor: Tensor<S>) -> Data {
        let width = MemoryLayout<S>.size
        var data = Data(count: tensor.count * width)
        data.withUnsafeMutableBytes { raw in
            tensor.withUnsafeBufferPointer { values in
                for (k, value) in values.enumerated() {
                    if width == 4 {
                        raw.storeBytes(of: Float(value).bitPattern.littleEndian, toByteOffset: k * 4, as: UInt32.self)
                    } else {
                        raw.storeBytes(of: Double(value).bitPattern.littleEndian, toByteOffset: k * 8, as: UInt64.self)
                    }
                }
            }
        }
        return data
    }
}
