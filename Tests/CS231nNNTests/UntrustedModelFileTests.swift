import CS231nNN
import CS231nCompression
import CS231nOptim
import Foundation
import Testing

/// The bytes of a safetensors file with its JSON header changed by `edit` (tensor bytes kept).
func editingSafetensorsHeader(_ bytes: [UInt8], _ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
    let length = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    var header = try #require(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any])
    edit(&header)
    var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
    while json.count % 8 != 0 { json.append(0x20) }
    return withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json + bytes[(8 + length)...]
}

/// The bytes of a compressed model with its JSON header changed by `edit` and its CRC-32 redone.
func editingCompressedHeader(_ bytes: [UInt8], _ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
    let length = Int(bytes[8..<16].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    var header = try #require(JSONSerialization.jsonObject(with: Data(bytes[24..<(24 + length)])) as? [String: Any])
    edit(&header)
    let json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
    return Array(bytes[0..<8]) + withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        + withUnsafeBytes(of: CRC32.checksum(json).littleEndian) { Array($0) } + [0, 0, 0, 0] + json + bytes[(24 + length)...]
}

@Suite struct UntrustedCheckpointTests {
    func expectRefused(_ bytes: [UInt8], _ clues: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let file = try Checkpoint.read(parsing: bytes, path: "edited.safetensors")
            _ = try Checkpoint.loadModel(from: file, path: "edited.safetensors", as: Float.self)
            Issue.record("the checkpoint was accepted", sourceLocation: sourceLocation)
        } catch let error as CheckpointError {
            let message = error.description
            #expect(message.contains("checkpoint edited.safetensors"), "\(message)", sourceLocation: sourceLocation)
            for clue in clues { #expect(message.contains(clue), "\(message) lacks \(clue)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    func checkpoint() throws -> (Solver<FullyConnectedNet<Float>>, [UInt8]) {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (solver, path) = try CheckpointTests().trainedCheckpoint(folder)
        return (solver, try FileSystem.contents(atPath: path))
    }

    @Test func wrappedTensorShapesAreRefused() throws {
        let (_, bytes) = try checkpoint()
        for name in ["data.mean_image", "best.params.W1", "history.loss", "optimizer.W1.m"] {
            let edited = try editingSafetensorsHeader(bytes) { header in
                var entry = header[name] as! [String: Any]
                entry["shape"] = [(1 << 62) + (entry["shape"] as! [Int]).reduce(1, *)]
                header[name] = entry
            }
            expectRefused(edited, ["is corrupt", "at byte", "tensor \"\(name)\"", "more elements than a tensor may hold"])
        }
    }

    @Test func modelConfigurationMustMatchTheTensorsBeforeTheModelIsBuilt() throws {
        let (solver, bytes) = try checkpoint()
        let file = try Checkpoint.read(parsing: bytes, path: "x")
        func withConfiguration(_ change: (inout ModelConfiguration) -> Void) throws -> [UInt8] {
            var configuration = solver.model.configuration
            change(&configuration)
            var edited = file
            edited.metadata["model.config"] = configuration.jsonString()
            return edited.serialized()
        }
        expectRefused(try withConfiguration { $0.hiddenSizes = [1 << 62, 16] },
                      ["model.config does not describe a model", "hiddenSizes[0] is 4611686018427387904, outside the valid range 1...16777216"])
        expectRefused(try withConfiguration { $0.hiddenSizes = [100_000_000_000, 16] }, ["model.config does not describe a model"])
        // A size that is allocatable, but not what the file holds: refused before building.
        expectRefused(try withConfiguration { $0.hiddenSizes = [100_000, 16] },
                      ["does not fit", "tensor \"best.params.W1\" is (12×16) F32 but its model.config implies (12×100000)"])
        expectRefused(try withConfiguration { $0.normalization = .none }, ["does not fit", "best.params. tensors are"])
        expectRefused(try withConfiguration { $0.kind = "mystery" }, ["unknown model kind"])
    }

    @Test func resumeChecksTheOptimizerSlots() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (_, path) = try CheckpointTests().trainedCheckpoint(folder)
        var file = try Checkpoint.read(path)
        file.add("optimizer.W1.m", Tensor<Float>([1, 2]))
        try file.write(to: path)
        var solver = try SolverTests().makeSolver(epochs: 2)
        #expect(throws: CheckpointError.incompatible(path: path, detail: "tensor \"optimizer.W1.m\" is (2) but its parameter is (12×16)")) {
            try solver.resume(from: path)
        }
        file.add("optimizer.W9.m", Tensor<Float>([1, 2]))
        file.add("optimizer.W1.m", Tensor<Float>.zeros([12, 16]))
        try file.write(to: path)
        #expect(throws: CheckpointError.incompatible(path: path, detail: "tensor \"optimizer.W9.m\" is no adam slot of a parameter of the model")) {
            try solver.resume(from: path)
        }
    }
}

@Suite struct UntrustedCompressedModelTests {
    func expectRefused(_ bytes: [UInt8], _ clues: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try CompressedModel(parsing: bytes, path: "edited.cs231nz")
            Issue.record("the file was accepted", sourceLocation: sourceLocation)
        } catch let error as CompressedModelError {
            let message = error.description
            #expect(message.contains("edited.cs231nz is corrupt at byte ") && !message.contains("byte -"), "\(message)",
                    sourceLocation: sourceLocation)
            for clue in clues { #expect(message.contains(clue), "\(message) lacks \(clue)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    func edited(_ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        try editingCompressedHeader(DeepCompressionTests.compressedNet().0.serialized(), edit)
    }

    func editSection(_ index: Int, _ key: String, _ value: Any) throws -> [UInt8] {
        try edited { header in
            var sections = header["sections"] as! [[String: Any]]
            sections[index][key] = value
            header["sections"] = sections
        }
    }

    func editLayer(_ key: String, _ value: Any) throws -> [UInt8] {
        try edited { header in
            var layers = header["layers"] as! [[String: Any]]
            layers[0][key] = value
            header["layers"] = layers
        }
    }

    @Test func sectionLengthsAndOffsetsCannotWrap() throws {
        expectRefused(try editSection(0, "length", Int.max - 10), ["W1.codebook", "needs 9223372036854775797 bytes", "truncated"])
        expectRefused(try editSection(1, "length", Int.max), ["W1.positions", "truncated"])
        expectRefused(try editSection(0, "offset", Int.min + 1672), ["W1.codebook starts at data offset -9223372036854774136"])
        expectRefused(try editSection(0, "length", -5), ["W1.codebook", "a length ≥ 0"])
    }

    @Test func entryCountsCannotWrapTheBitPackingSize() throws {
        // 2^61 entries of 8 bits wrap to 0 bytes when multiplied without care.
        expectRefused(try editLayer("positionEntries", 1 << 61), ["section W1.positions holds", "where its layer needs"])
        expectRefused(try editLayer("nonzeros", 1 << 61), ["layer W1 has inconsistent sizes"])
        expectRefused(try editLayer("bits", 64), ["layer W1 has inconsistent sizes"])
    }

    @Test func layersAndModelMustAgreeAndFitTheCap() throws {
        expectRefused(try editLayer("shape", [1 << 40]), ["layer W1 has shape [1099511627776] but the header's two-layer model has [300, 200]"])
        expectRefused(try edited { header in
            var model = header["model"] as! [String: Any]
            model["hiddenSizes"] = [1 << 62]
            header["model"] = model
        }, ["model configuration does not describe a model"])
        expectRefused(try edited { header in
            var model = header["model"] as! [String: Any]
            model["hiddenSizes"] = [1 << 20]
            header["model"] = model
        }, ["expands to", "more than the 1073741824 bytes allowed"])
        let bytes = try DeepCompressionTests.compressedNet().0.serialized()
        #expect(throws: CompressedModelError.self) { try CompressedModel(parsing: bytes, path: "m", maximumExpandedBytes: 1000) }
    }
}
