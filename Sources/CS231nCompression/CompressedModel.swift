import CS231nNN
import CS231nOptim
import Foundation

/// What can go wrong reading a compressed model; each message names the file and the byte offset.
public enum CompressedModelError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case corrupt(path: String, offset: Int, detail: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read compressed model \(path): \(reason)"
        case .corrupt(let path, let offset, let detail): return "compressed model \(path) is corrupt at byte \(offset): \(detail)"
        }
    }
}

/// A model in Deep Compression's storage format: every weight tensor as relative-index sparse
/// positions, packed codebook indices and a float32 codebook; biases, normalization parameters,
/// buffers and the preprocessing tensors as float32.
///
/// File layout (little-endian): the magic `CS231NDC`; a UInt64 header length H; the header's
/// CRC-32 as a UInt32 and 4 zero bytes; H bytes of JSON header (format version, model
/// configuration, metadata, layers, and every section's name, shape, absolute offset, length and
/// CRC-32); then the sections back to back. A layer W has three sections: `W.codebook` (float32
/// shared values), `W.positions` (relative-index codes, `positionBits` each) and `W.clusters`
/// (one `bits`-wide codebook index per non-zero weight, in position order). Float tensors are
/// sections named `params.<p>`, `buffers.<b>` and `data.<d>`.
public struct CompressedModel: Sendable {
    public static let magic = Array("CS231NDC".utf8)
    public static let formatVersion = 1
    static let prefixLength = 24

    public var configuration: ModelConfiguration
    public var layers: [SharedLayer<Float>]
    /// Float tensors: `params.<p>` (the parameters not shared), `buffers.<b>`, `data.<d>`.
    public var dense: ParameterStore<Float>
    /// Facts kept with the model: the data it was trained on (`data.*`), measured accuracies.
    public var metadata: [String: String]

    public init(configuration: ModelConfiguration, layers: [SharedLayer<Float>], dense: ParameterStore<Float>,
                metadata: [String: String]) {
        self.configuration = configuration
        self.layers = layers
        self.dense = dense
        self.metadata = metadata
    }

    /// A weight-shared model with the data tensors (the mean image) it needs at inference.
    public init(_ model: SharedWeightsModel<AnyModel<Float>>, data: ParameterStore<Float>, metadata: [String: String]) {
        let shared = Set(model.layers.map(\.name))
        var dense = ParameterStore<Float>()
        for (name, tensor) in model.base.parameters where !shared.contains(name) { dense["params." + name] = tensor }
        for (name, tensor) in model.base.buffers { dense["buffers." + name] = tensor }
        for (name, tensor) in data { dense["data." + name] = tensor }
        self.init(configuration: model.configuration, layers: model.layers, dense: dense, metadata: metadata)
    }

    /// The model with every weight expanded from its codebook.
    public func expandedModel(path: String = "(in memory)") throws -> AnyModel<Float> {
        func mismatch(_ detail: String) -> CompressedModelError { .corrupt(path: path, offset: Self.prefixLength, detail: detail) }
        var model: AnyModel<Float>
        do { model = try AnyModel(configuration) } catch { throw mismatch("its model configuration is not buildable: \(error)") }
        let shared = Dictionary(uniqueKeysWithValues: layers.map { ($0.name, $0) })
        var parameters = model.parameters, buffers = model.buffers
        for (prefix, store) in [("params.", \AnyModel<Float>.parameters), ("buffers.", \AnyModel<Float>.buffers)] {
            for (name, expected) in model[keyPath: store] {
                guard let tensor = prefix == "params." ? shared[name]?.weights ?? dense[prefix + name] : dense[prefix + name] else {
                    throw mismatch("the \(configuration.kind) model needs \(prefix)\(name), which the file lacks")
                }
                guard tensor.shape == expected.shape else {
                    throw mismatch("\(prefix)\(name) is \(describeShape(tensor.shape)) in the file but \(describeShape(expected.shape)) in the model")
                }
                if prefix == "params." { parameters[name] = tensor } else { buffers[name] = tensor }
            }
        }
        model.parameters = parameters
        model.buffers = buffers
        return model
    }

    /// The expanded model as a float32 checkpoint that `cs231n evaluate` and `visualize` read.
    public func checkpointFile(path: String = "(in memory)") throws -> SafetensorsFile {
        let model = try expandedModel(path: path)
        let data = dense.filter { $0.0.hasPrefix("data.") }
        return Self.floatFile(model, data: ParameterStore(data.map { (String($0.0.dropFirst(5)), $0.1) }), metadata: metadata)
    }

    /// A model as a float32 safetensors checkpoint: its parameters, buffers, data tensors and
    /// metadata, what it takes on disk before compression.
    public static func floatFile(_ model: AnyModel<Float>, data: ParameterStore<Float>, metadata: [String: String]) -> SafetensorsFile {
        var file = SafetensorsFile()
        for (name, tensor) in model.parameters { file.add("params." + name, tensor) }
        for (name, tensor) in model.buffers { file.add("buffers." + name, tensor) }
        for (name, tensor) in data { file.add("data." + name, tensor) }
        file.metadata = metadata.filter { $0.key.hasPrefix("data.") }
        file.metadata.merge(["format": Checkpoint.format, "format_version": Checkpoint.formatVersion,
                             "model.config": Checkpoint.encode(model.configuration)]) { _, ours in ours }
        return file
    }

    /// Reads and checks the file at `path` (see `init(parsing:path:maximumExpandedBytes:)`).
    public init(contentsOf path: String, maximumExpandedBytes: Int = 1 << 30) throws {
        let bytes: [UInt8]
        do { bytes = try FileSystem.contents(atPath: path) } catch let error as FileReadError {
            throw CompressedModelError.unreadable(path: path, reason: error.reason)
        }
        try self.init(parsing: bytes, path: path, maximumExpandedBytes: maximumExpandedBytes)
    }

    /// Writes the file atomically: `path` holds the old file or all of the new one.
    public func write(to path: String) throws { try AtomicFile.write(serialized(), to: path) }
}

/// The JSON header of a compressed model.
struct CompressedHeader: Codable {
    struct Layer: Codable {
        var name: String
        var shape: [Int]
        var bits: Int
        var codebookSize: Int
        var nonzeros: Int
        var positionBits: Int
        var positionEntries: Int
    }

    struct Section: Codable {
        var name: String
        var shape: [Int]?
        var offset: Int
        var length: Int
        var crc32: UInt32
    }

    var formatVersion: Int
    var model: ModelConfiguration
    var metadata: [String: String]
    var layers: [Layer]
    var sections: [Section]
}
