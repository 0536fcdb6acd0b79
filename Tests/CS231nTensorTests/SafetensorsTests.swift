import CS231nTensor
import Foundation
import Testing

/// A safetensors file built by hand: `header` is the JSON text, `data` the data section.
func safetensorsBytes(header: String, data: [UInt8]) -> [UInt8] {
    var json = Array(header.utf8)
    while json.count % 8 != 0 { json.append(0x20) }
    var bytes: [UInt8] = []
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
    return bytes + json + data
}

@Suite struct SafetensorsTests {
    func sample() -> SafetensorsFile {
        var file = SafetensorsFile()
        file.add("weights", try! Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        file.add("history", Tensor<Double>([0.5, 0.25]))
        file.add("empty", Tensor<Float>.zeros([0, 4]))
        file.metadata["format"] = "test"
        return file
    }

    /// Expects parsing to fail with a message holding the path and every clue.
    func expectCorrupt(_ bytes: [UInt8], _ clues: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try SafetensorsFile(parsing: bytes, path: "edited.safetensors")
            Issue.record("the file was accepted", sourceLocation: sourceLocation)
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix("edited.safetensors: at byte "), "\(message)", sourceLocation: sourceLocation)
            for clue in clues { #expect(message.contains(clue), "\(message) lacks \(clue)", sourceLocation: sourceLocation) }
        }
    }

    @Test func roundTripsBitIdentically() throws {
        let file = sample()
        let bytes = file.serialized()
        let read = try SafetensorsFile(parsing: bytes, path: "x")
        #expect(read == file)
        #expect(read.serialized() == bytes)
        #expect(read.names == ["weights", "history", "empty"])
        #expect(read.tensor("history", as: Double.self)?.scalars == [0.5, 0.25])
        #expect(read.tensor("weights", as: Double.self)?.scalars == [1, 2, 3, 4, 5, 6], "F32 converts to Double")
    }

    @Test func demandedDtypeAndShapeAreChecked() throws {
        let file = sample()
        #expect(try file.tensor(named: "weights", as: Float.self, shape: [2, 3], path: "m.safetensors").scalars == [1, 2, 3, 4, 5, 6])
        #expect(throws: SafetensorsError.missingTensor(path: "m.safetensors", name: "bias")) {
            try file.tensor(named: "bias", as: Float.self, shape: [3], path: "m.safetensors")
        }
        #expect(throws: SafetensorsError.unexpectedTensor(path: "m.safetensors", name: "weights", detail: "is (2×3) F32, expected (3×2) F32")) {
            try file.tensor(named: "weights", as: Float.self, shape: [3, 2], path: "m.safetensors")
        }
        let wrongDtype = SafetensorsError.unexpectedTensor(path: "m.safetensors", name: "weights", detail: "is (2×3) F32, expected (2×3) F64")
        #expect(throws: wrongDtype) { try file.tensor(named: "weights", as: Double.self, shape: [2, 3], path: "m.safetensors") }
        #expect("\(wrongDtype)" == "m.safetensors: tensor \"weights\" is (2×3) F32, expected (2×3) F64")
    }

    @Test func writerRefusesBytesThatDoNotFitTheShape() {
        var file = SafetensorsFile()
        #expect(throws: SafetensorsError.self) { try file.add("x", dtype: .f32, shape: [3], bytes: [0, 0, 0, 0]) }
        #expect(throws: SafetensorsError.self) { try file.add("x", dtype: .u8, shape: [1 << 62, 1 << 62], bytes: []) }
        #expect(throws: SafetensorsError.self) { try file.add("__metadata__", dtype: .u8, shape: [1], bytes: [1]) }
    }

    @Test func wrappedShapeIsRefusedBeforeAnyAllocation() {
        // 2^62 + 3072 float32 values wrap to 3072 · 4 bytes when multiplied without a check.
        let data = [UInt8](repeating: 0, count: 3072 * 4)
        expectCorrupt(safetensorsBytes(header: #"{"mean":{"dtype":"F32","shape":[4611686018427390976],"data_offsets":[0,12288]}}"#, data: data),
                      ["tensor \"mean\"", "(4611686018427390976)", "more elements than a tensor may hold"])
        expectCorrupt(safetensorsBytes(header: #"{"m":{"dtype":"F64","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}"#, data: []),
                      ["tensor \"m\"", "more elements than a tensor may hold"])
        expectCorrupt(safetensorsBytes(header: #"{"m":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,0]}}"#, data: []),
                      ["tensor \"m\"", "non-negative integers"])
        expectCorrupt(safetensorsBytes(header: #"{"m":{"dtype":"F32","shape":[2.5],"data_offsets":[0,0]}}"#, data: []),
                      ["non-negative integers"])
        expectCorrupt(safetensorsBytes(header: #"{"m":{"dtype":"F32","shape":[18446744073709551617],"data_offsets":[0,0]}}"#, data: []),
                      ["non-negative integers"])
    }

    @Test func sizesAndRangesMustAgree() {
        let data = [UInt8](repeating: 0, count: 16)
        expectCorrupt(safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, data: data),
                      ["tensor \"a\" of shape (3) F32 needs 12 bytes", "0..<16 span 16"])
        expectCorrupt(safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,32]}}"#, data: data),
                      ["tensor \"a\"", "0..<32", "holds only 16", "truncated"])
        expectCorrupt(safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, data: data),
                      ["tensor \"a\"", "0 ≤ begin ≤ end"])
        expectCorrupt(safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: data),
                      ["tensor \"b\" starts at data byte 4, inside the previous tensor", "overlap"])
        expectCorrupt(safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#, data: data),
                      ["tensor \"b\" starts at data byte 12, expected 8", "belong to no tensor"])
        expectCorrupt(safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: data),
                      ["cover 8 bytes", "holds 16"])
    }

    @Test func dtypeMustBeKnown() {
        expectCorrupt(safetensorsBytes(header: #"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                      ["tensor \"a\" has dtype F16, expected one of F32, F64, I64, U64, U8"])
        expectCorrupt(safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]),
                      ["tensor \"a\" lacks dtype, shape or data_offsets"])
    }

    @Test func headerAndLengthsAreChecked() {
        let good = sample().serialized()
        expectCorrupt([1, 2, 3], ["3 bytes long", "truncated"])
        expectCorrupt(Array(good.prefix(40)), ["header length", "runs past the end"])
        var huge = good
        for i in 0..<8 { huge[i] = 0xFF }
        expectCorrupt(huge, ["header length 18446744073709551615", "runs past the end"])
        var notJSON = good
        for i in 8..<20 { notJSON[i] = UInt8(ascii: "x") }
        expectCorrupt(notJSON, ["at byte 8", "not a JSON object"])
        expectCorrupt(safetensorsBytes(header: #"{"__metadata__":{"a":1}}"#, data: []), ["__metadata__ is not a map of strings"])
        var flipped = good
        flipped[flipped.count - 40] ^= 1
        expectCorrupt(flipped, ["CRC-32"])
        expectCorrupt(Array(good.dropLast(4)), ["truncated"])
        let oversized = safetensorsBytes(header: "{}", data: []).prefix(8)
        var bigHeader = Array(oversized) + [UInt8](repeating: 0x20, count: SafetensorsFile.maximumHeaderLength + 8)
        bigHeader.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(SafetensorsFile.maximumHeaderLength + 8).littleEndian) { Array($0) })
        expectCorrupt(bigHeader, ["exceeds the 100000000 bytes"])
    }

    @Test func unreadableFilesSaySo() {
        #expect(throws: SafetensorsError.unreadable(path: "/no/such.safetensors", reason: "no such file")) {
            try SafetensorsFile(contentsOf: "/no/such.safetensors")
        }
        #expect(throws: SafetensorsError.unreadable(path: "/dev/zero", reason: "it is not a regular file")) {
            try SafetensorsFile(contentsOf: "/dev/zero")
        }
    }
}
