import CS231nNN
import CS231nOptim
import Foundation

/// Writing and reading `CompressedModel`'s bytes. Section offsets in the header count from the
/// start of the data (just after the header); errors name the absolute byte in the file.
extension CompressedModel {
    public func serialized() -> [UInt8] {
        var sections: [(name: String, shape: [Int]?, bytes: [UInt8])] = []
        var headerLayers: [CompressedHeader.Layer] = []
        for layer in layers {
            let positions = layer.positions
            let positionBits = RelativeIndex.bestBits(positions)
            let codes = RelativeIndex.encode(positions, bits: positionBits)
            sections.append((layer.name + ".codebook", nil, Self.littleEndianBytes(layer.codebook)))
            sections.append((layer.name + ".positions", nil, BitPacking.pack(codes, bits: positionBits)))
            sections.append((layer.name + ".clusters", nil, BitPacking.pack(positions.map { Int(layer.assignments[$0]) }, bits: layer.bits)))
            headerLayers.append(.init(name: layer.name, shape: layer.shape, bits: layer.bits, codebookSize: layer.codebook.count,
                                      nonzeros: positions.count, positionBits: positionBits, positionEntries: codes.count))
        }
        for (name, tensor) in dense { sections.append((name, tensor.shape, Self.littleEndianBytes(tensor.scalars))) }
        var offset = 0
        let headerSections = sections.map { section -> CompressedHeader.Section in
            defer { offset += section.bytes.count }
            return .init(name: section.name, shape: section.shape, offset: offset, length: section.bytes.count,
                         crc32: CRC32.checksum(section.bytes))
        }
        let header = CompressedHeader(formatVersion: Self.formatVersion, model: configuration, metadata: metadata,
                                      layers: headerLayers, sections: headerSections)
        let json = Array(Checkpoint.encode(header).utf8)
        var bytes = Self.magic
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: CRC32.checksum(json).littleEndian) { bytes += $0 }
        bytes += [0, 0, 0, 0]
        bytes += json
        for section in sections { bytes += section.bytes }
        return bytes
    }

    /// Parses a whole file, checking every length, offset and checksum, and that it expands into
    /// the model its header describes; any error names `path` and the offending byte. The model
    /// the header describes must expand to at most `maximumExpandedBytes` of float32 tensors
    /// (1 GiB by default; pruned weights take no room in the file, so its size cannot bound them).
    ///
    /// Every size here is untrusted: the checks are explicit comparisons arranged so that no sum
    /// or product can wrap, which hold in release builds too (-Ounchecked removes `precondition`
    /// and overflow traps).
    public init(parsing bytes: [UInt8], path: String, maximumExpandedBytes: Int = 1 << 30) throws {
        func corrupt(_ offset: Int, _ detail: String) -> CompressedModelError { .corrupt(path: path, offset: offset, detail: detail) }
        let prefix = Self.prefixLength
        guard bytes.count >= prefix else {
            throw corrupt(bytes.count, "the file is \(bytes.count) bytes, shorter than its \(prefix)-byte prefix (magic, header length, header CRC-32): it is truncated")
        }
        guard Array(bytes[0..<8]) == Self.magic else {
            throw corrupt(0, "it does not start with \(String(decoding: Self.magic, as: UTF8.self)), so it is not a compressed model")
        }
        let headerLength = Self.load(UInt64.self, bytes, at: 8)
        guard headerLength <= UInt64(bytes.count - prefix) else {
            throw corrupt(8, "the header length \(headerLength) runs past the end of the file (\(bytes.count) bytes): it is truncated")
        }
        let dataStart = prefix + Int(headerLength)
        let recordedCRC = Self.load(UInt32.self, bytes, at: 16), headerCRC = CRC32.checksum(bytes[prefix..<dataStart])
        guard recordedCRC == headerCRC else {
            throw corrupt(prefix, "the header (bytes \(prefix)..<\(dataStart)) fails its CRC-32 (recorded \(Self.hex(recordedCRC)), computed \(Self.hex(headerCRC))): it was damaged")
        }
        let header: CompressedHeader
        do { header = try JSONDecoder().decode(CompressedHeader.self, from: Data(bytes[prefix..<dataStart])) } catch {
            throw corrupt(prefix, "the header is not a compressed-model header: \(describeJSONError(error, json: Data(bytes[prefix..<dataStart])))")
        }
        guard header.formatVersion == Self.formatVersion else {
            throw corrupt(prefix, "format version \(header.formatVersion); this reader knows version \(Self.formatVersion)")
        }
        var sections = try Self.sections(header, bytes, dataStart: dataStart, path: path)
        let shapes: ModelShapes
        do { shapes = try ModelShapes(header.model) } catch {
            throw corrupt(prefix, "the header's model configuration does not describe a model: \(error)")
        }
        guard shapes.elementCount <= maximumExpandedBytes / 4 else {
            throw corrupt(prefix, "the \(header.model.kind) model of the header expands to \(shapes.elementCount) float32 values, "
                          + "more than the \(maximumExpandedBytes) bytes allowed")
        }
        func section(_ name: String, length: Int) throws -> (start: Int, bytes: ArraySlice<UInt8>) {
            guard let found = sections.removeValue(forKey: name) else { throw corrupt(prefix, "the header lists no section \(name)") }
            guard found.bytes.count == length else {
                throw corrupt(found.start, "section \(name) holds \(found.bytes.count) bytes where its layer needs \(length)")
            }
            return (found.start, found.bytes)
        }
        var layers: [SharedLayer<Float>] = []
        for layer in header.layers {
            guard let expected = shapes.parameters[layer.name], layer.shape == expected else {
                throw corrupt(prefix, "layer \(layer.name) has shape \(layer.shape) but the header's \(header.model.kind) model has "
                              + (shapes.parameters[layer.name].map { "\($0) there" } ?? "no parameter of that name"))
            }
            let count = try Tensor<Float>.checkedCount(shape: layer.shape)
            guard (1...8).contains(layer.bits), (1...8).contains(layer.positionBits),
                  (0...(1 << layer.bits)).contains(layer.codebookSize), (0...count).contains(layer.nonzeros),
                  layer.positionEntries >= layer.nonzeros else {
                throw corrupt(prefix, "layer \(layer.name) has inconsistent sizes: shape \(layer.shape), \(layer.bits)-bit indices into \(layer.codebookSize) values, \(layer.nonzeros) non-zeros in \(layer.positionEntries) \(layer.positionBits)-bit positions")
            }
            let codebook = try section(layer.name + ".codebook", length: 4 * layer.codebookSize)
            let positionSection = try section(layer.name + ".positions", length: BitPacking.byteCount(layer.positionEntries, bits: layer.positionBits))
            let clusterSection = try section(layer.name + ".clusters", length: BitPacking.byteCount(layer.nonzeros, bits: layer.bits))
            let codes = BitPacking.unpack(positionSection.bytes, count: layer.positionEntries, bits: layer.positionBits)
            let positions: [Int]
            switch RelativeIndex.decode(codes, bits: layer.positionBits, limit: count) {
            case .success(let decoded): positions = decoded
            case .failure(let failure):
                throw corrupt(positionSection.start + failure.entry * layer.positionBits / 8,
                              "layer \(layer.name): position code \(failure.entry) reaches weight \(failure.position), beyond its \(count) weights")
            }
            guard positions.count == layer.nonzeros else {
                throw corrupt(positionSection.start, "layer \(layer.name): the positions name \(positions.count) non-zero weights, the header \(layer.nonzeros)")
            }
            let clusters = BitPacking.unpack(clusterSection.bytes, count: layer.nonzeros, bits: layer.bits)
            var assignments = [Int32](repeating: SharedLayer<Float>.pruned, count: count)
            for (k, (position, cluster)) in zip(positions, clusters).enumerated() {
                guard cluster < layer.codebookSize else {
                    throw corrupt(clusterSection.start + k * layer.bits / 8, "layer \(layer.name): weight \(position) uses codebook entry \(cluster) of \(layer.codebookSize)")
                }
                assignments[position] = Int32(cluster)
            }
            layers.append(SharedLayer(name: layer.name, shape: layer.shape, codebook: Self.floats(codebook.bytes),
                                      assignments: assignments, bits: layer.bits))
        }
        var dense = ParameterStore<Float>()
        for section in header.sections where sections[section.name] != nil {
            let found = sections[section.name]!
            guard let shape = found.shape, let count = try? Tensor<Float>.checkedCount(shape: shape), found.bytes.count / 4 == count,
                  found.bytes.count % 4 == 0 else {
                throw corrupt(found.start, "section \(section.name) belongs to no layer and is not a float tensor of its stated shape \(found.shape.map { "\($0)" } ?? "(none)")")
            }
            dense[section.name] = try Tensor(shape: shape, scalars: Self.floats(found.bytes))
        }
        self.init(configuration: header.model, layers: layers, dense: dense, metadata: header.metadata)
        _ = try expandedModel(path: path)
    }

    /// The sections of the data, checked to follow each other from the start of the data to the
    /// end of the file with no gap, overlap or repeat, and against their CRC-32s. Offsets are
    /// compared with what remains of the file, never added first, so that a length near Int.max
    /// cannot wrap; an error's byte is where the section was expected, never negative.
    static func sections(_ header: CompressedHeader, _ bytes: [UInt8], dataStart: Int, path: String) throws
        -> [String: (start: Int, bytes: ArraySlice<UInt8>, shape: [Int]?)] {
        func corrupt(_ offset: Int, _ detail: String) -> CompressedModelError { .corrupt(path: path, offset: offset, detail: detail) }
        var sections: [String: (start: Int, bytes: ArraySlice<UInt8>, shape: [Int]?)] = [:]
        var expectedOffset = 0
        for section in header.sections {
            let start = dataStart + expectedOffset
            guard section.offset == expectedOffset, section.length >= 0, sections[section.name] == nil else {
                throw corrupt(start, "section \(section.name) starts at data offset \(section.offset) with length \(section.length), expected offset \(expectedOffset) and a length ≥ 0 (sections overlap, repeat or leave a gap)")
            }
            guard section.length <= bytes.count - start else {
                throw corrupt(bytes.count, "section \(section.name) needs \(section.length) bytes from byte \(start) but the file ends at byte \(bytes.count): it is truncated")
            }
            let end = start + section.length
            let crc = CRC32.checksum(bytes[start..<end])
            guard crc == section.crc32 else {
                throw corrupt(start, "section \(section.name) (bytes \(start)..<\(end)) fails its CRC-32 (recorded \(hex(section.crc32)), computed \(hex(crc))): bytes in that range were changed or damaged")
            }
            sections[section.name] = (start, bytes[start..<end], section.shape)
            expectedOffset += section.length
        }
        guard dataStart + expectedOffset == bytes.count else {
            throw corrupt(dataStart + expectedOffset, "\(bytes.count - dataStart - expectedOffset) bytes follow the last section")
        }
        return sections
    }

    static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 * values.count)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
        return bytes
    }

    static func floats(_ bytes: ArraySlice<UInt8>) -> [Float] {
        bytes.withUnsafeBytes { raw in
            (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }

    static func load<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    static func hex(_ value: UInt32) -> String { String(format: "%08x", value) }
}
