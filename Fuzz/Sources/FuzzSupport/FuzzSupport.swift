@_exported import CS231n
import Foundation

/// The fuzzer's input as bytes.
public func fuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
    Array(UnsafeBufferPointer(start: data, count: size))
}

/// Edits of the JSON headers of the project's formats, for seeds ("valid files with edited
/// headers") and for the harnesses' checksum fix-ups.
public enum HeaderEdits {
    /// A safetensors file with its JSON header replaced by `edit`'s result; tensor bytes kept.
    public static func safetensors(_ bytes: [UInt8], _ edit: (inout [String: Any]) -> Void) -> [UInt8]? {
        guard let (header, data) = safetensorsParts(bytes) else { return nil }
        var edited = header
        edit(&edited)
        guard var json = try? [UInt8](JSONSerialization.data(withJSONObject: edited, options: [.sortedKeys])) else { return nil }
        while json.count % 8 != 0 { json.append(0x20) }
        var result: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { result += $0 }
        return result + json + data
    }

    /// The header object and the data section of a safetensors file, or nil.
    public static func safetensorsParts(_ bytes: [UInt8]) -> ([String: Any], ArraySlice<UInt8>)? {
        guard bytes.count >= 8 else { return nil }
        let length = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= UInt64(bytes.count - 8),
              let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + Int(length))])) as? [String: Any] else {
            return nil
        }
        return (header, bytes[(8 + Int(length))...])
    }

    /// A compressed model with its JSON header replaced by `edit`'s result and its CRC-32 redone.
    public static func compressedModel(_ bytes: [UInt8], _ edit: (inout [String: Any], ArraySlice<UInt8>) -> Void) -> [UInt8]? {
        guard bytes.count >= 24, Array(bytes[0..<8]) == CompressedModel.magic else { return nil }
        let length = bytes[8..<16].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= UInt64(bytes.count - 24),
              var header = try? JSONSerialization.jsonObject(with: Data(bytes[24..<(24 + Int(length))])) as? [String: Any] else {
            return nil
        }
        let data = bytes[(24 + Int(length))...]
        edit(&header, data)
        guard let json = try? [UInt8](JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) else { return nil }
        var result = Array(bytes[0..<8])
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { result += $0 }
        withUnsafeBytes(of: CRC32.checksum(json).littleEndian) { result += $0 }
        return result + [0, 0, 0, 0] + json + data
    }
}

/// Structure-aware help for the fuzzer: the same input with its checksums made right, so that
/// mutations of sizes and offsets reach the code behind the checksum checks.
public enum ChecksumFixups {
    /// A safetensors file whose `data_crc32` metadata matches its data section. The eight hex
    /// digits are patched in place (no JSON is rewritten, which keeps each execution fast).
    public static func safetensors(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 8 else { return nil }
        let length = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= UInt64(bytes.count - 8) else { return nil }
        let dataStart = 8 + Int(length)
        let key = Array("\"\(SafetensorsFile.checksumKey)\":\"".utf8)
        guard let at = bytes[8..<dataStart].firstRange(of: key)?.upperBound, at + 8 <= dataStart else { return nil }
        var fixed = bytes
        let digits = Array(String(format: "%08x", CRC32.checksum(bytes[dataStart...])).utf8)
        fixed.replaceSubrange(at..<(at + 8), with: digits)
        return fixed == bytes ? nil : fixed
    }

    /// A compressed model whose header CRC and every in-range section CRC are right.
    public static func compressedModel(_ bytes: [UInt8]) -> [UInt8]? {
        HeaderEdits.compressedModel(bytes) { header, data in
            guard var sections = header["sections"] as? [[String: Any]] else { return }
            for index in sections.indices {
                guard let offset = sections[index]["offset"] as? Int, let length = sections[index]["length"] as? Int,
                      offset >= 0, length >= 0, offset <= data.count, length <= data.count - offset else { continue }
                let start = data.startIndex + offset
                sections[index]["crc32"] = Int(CRC32.checksum(data[start..<(start + length)]))
            }
            header["sections"] = sections
        }
    }

    /// A tar archive whose header checksums are right, header by header while sizes parse.
    public static func tar(_ bytes: [UInt8]) -> [UInt8] {
        var archive = bytes
        var offset = 0
        while offset + 512 <= archive.count, archive[offset..<(offset + 512)].contains(where: { $0 != 0 }) {
            for i in 148..<156 { archive[offset + i] = 0x20 }
            let sum = archive[offset..<(offset + 512)].reduce(0) { $0 + Int($1) }
            let digits = Array(String(sum, radix: 8).utf8)
            guard digits.count <= 6 else { break }
            for (i, digit) in ([UInt8](repeating: 0x30, count: 6 - digits.count) + digits + [0, 0x20]).enumerated() {
                archive[offset + 148 + i] = digit
            }
            let field = archive[(offset + 124)..<(offset + 136)].prefix { $0 >= 0x30 && $0 <= 0x37 }
            guard let size = Int(String(decoding: field, as: UTF8.self), radix: 8) else { break }
            offset += 512 + (size + 511) / 512 * 512
        }
        return archive
    }
}
