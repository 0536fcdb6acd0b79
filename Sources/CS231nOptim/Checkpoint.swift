import CS231nNN
import Foundation

/// The Solver's checkpoint, a safetensors file. Tensors (dtype of the model, F64 for histories):
///
/// | name | what |
/// |---|---|
/// | `params.<p>` | the model's parameters now: W1, b1, gamma1, beta1, …, WL, bL |
/// | `buffers.<b>` | untrained state: running_mean1, running_var1, … (batch norm) |
/// | `best.params.<p>`, `best.buffers.<b>` | the best-val snapshot, which training ends with |
/// | `optimizer.<p>.<slot>` | moments: velocity (momentum, nesterov, pytorch-momentum), cache (rmsprop), m and v (adam) |
/// | `history.loss` | F64, the loss of every iteration |
/// | `history.train_accuracy`, `history.val_accuracy` | F64, one per epoch |
/// | `data.<name>` | preprocessing tensors the caller adds (`CheckpointData`: `data.mean_image`, `data.scale_image`) |
///
/// Metadata (strings): `format`, `format_version`, `model.config` (JSON: kind, sizes, norm,
/// dropout, reg, init, seed), `model.training_steps`, `solver.options` (JSON), `solver.epoch`,
/// `solver.iteration`, `solver.best_val_accuracy`, `solver.completed`, `optimizer.settings`
/// (JSON, with the learning rate as decayed so far), `optimizer.step`, `rng` (how every random
/// draw derives from the seeds and counters above), `data.*` and `train.*` from the caller
/// (`CheckpointData`), and `data_crc32`. A model of a registered family is saved in format 2
/// instead, with `model.kind` and `model.configuration` in place of `model.config`
/// (`loadRegisteredModel`).
public enum Checkpoint {
    public static let format = "swift-cs231n-checkpoint"
    public static let formatVersion = "1"
    static let randomScheme = "xoshiro256**: epoch e shuffles with seed (solver seed, e) on the dataOrder stream and "
        + "samples its train-accuracy subset on the main stream; training step t draws dropout masks with seed "
        + "(model seed, t) on the dropout stream; so the counters above restore every generator"

    /// A JSON array of strings, for list-valued metadata (class names).
    public static func jsonArray(_ values: [String]) -> String { encode(values) }

    /// The strings of a JSON array, or nil.
    public static func strings(fromJSON text: String?) -> [String]? {
        text.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
    }

    package static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ file: SafetensorsFile, _ key: String, path: String) throws -> T {
        guard let text = file.metadata[key] else { throw CheckpointError.corrupt(path: path, detail: "metadata lacks \(key)") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw CheckpointError.corrupt(path: path, detail: "metadata \(key) is not valid: \(describeJSONError(error, json: Data(text.utf8)))")
        }
    }

    static func number<T: LosslessStringConvertible>(_ file: SafetensorsFile, _ key: String, path: String) throws -> T {
        guard let text = file.metadata[key], let value = T(text) else {
            throw CheckpointError.corrupt(path: path, detail: "metadata \(key) is missing or not a number (\(file.metadata[key] ?? "absent"))")
        }
        return value
    }

    /// Reads a checkpoint file of either format and checks it is one of ours.
    public static func read(_ path: String) throws -> SafetensorsFile {
        do { return try check(SafetensorsFile(contentsOf: path), path: path, versions: [formatVersion, registeredFormatVersion]) }
        catch let error as SafetensorsError { throw CheckpointError(error, path: path) }
    }

    /// Parses a checkpoint of either format held in memory; `path` names it in errors.
    public static func read(parsing bytes: [UInt8], path: String) throws -> SafetensorsFile {
        do { return try check(SafetensorsFile(parsing: bytes, path: path), path: path, versions: [formatVersion, registeredFormatVersion]) }
        catch let error as SafetensorsError { throw CheckpointError(error, path: path) }
    }

    static func check(_ file: SafetensorsFile, path: String, versions: [String] = [formatVersion]) throws -> SafetensorsFile {
        guard file.metadata["format"] == format else {
            throw CheckpointError.incompatible(path: path, detail: "it is a safetensors file but not a swift-cs231n checkpoint (metadata format is \(file.metadata["format"] ?? "absent"))")
        }
        guard let version = file.metadata["format_version"], versions.contains(version) else {
            throw CheckpointError.incompatible(path: path, detail: "format version \(file.metadata["format_version"] ?? "absent"), "
                + "expected \(versions.joined(separator: " or "))")
        }
        return file
    }

    /// The model configuration in the metadata and the shapes it implies, checked against the
    /// file's tensors under `prefix` ("", "best.", "lookahead.") before any model is built: the
    /// same names, F32 or F64, the same shapes. A configuration edited to huge sizes is refused
    /// here rather than allocated.
    public static func configuration(of file: SafetensorsFile, prefixes: [String] = [""], path: String) throws -> ModelConfiguration {
        let configuration = try decode(ModelConfiguration.self, file, "model.config", path: path)
        let shapes: ModelShapes
        do { shapes = try ModelShapes(configuration) } catch {
            throw CheckpointError.corrupt(path: path, detail: "metadata model.config does not describe a model: \(error)")
        }
        for prefix in prefixes {
            try checkTensors(file, prefix: prefix, parameters: shapes.parameters, buffers: shapes.buffers, kind: configuration.kind,
                             source: "model.config", path: path)
        }
        return configuration
    }

    /// Checks that the tensors under `prefix` are exactly `parameters` (`params.`) and `buffers`
    /// (`buffers.`), F32 or F64, in the shapes given: before any is decoded or used.
    static func checkTensors(_ file: SafetensorsFile, prefix: String, parameters: [String: [Int]], buffers: [String: [Int]],
                             kind: String, source: String, path: String) throws {
        for (group, expected) in [("params.", parameters), ("buffers.", buffers)] {
            let stored = Set(file.names.filter { $0.hasPrefix(prefix + group) }.map { String($0.dropFirst(prefix.count + group.count)) })
            guard stored == Set(expected.keys) else {
                throw CheckpointError.incompatible(path: path, detail: "its \(prefix)\(group) tensors are \(stored.sorted().joined(separator: ", ")) "
                    + "but the \(kind) model of its \(source) has \(expected.keys.sorted().joined(separator: ", "))")
            }
            for (name, shape) in expected.sorted(by: { $0.key < $1.key }) {
                guard let entry = file.entries[prefix + group + name], entry.shape == shape, entry.dtype == .f32 || entry.dtype == .f64 else {
                    let entry = file.entries[prefix + group + name]
                    throw CheckpointError.incompatible(path: path, detail: "tensor \"\(prefix)\(group)\(name)\" is \(describeShape(entry?.shape ?? [])) "
                        + "\(entry?.dtype.rawValue ?? "absent") but its \(source) implies \(describeShape(shape)) F32 or F64")
                }
            }
        }
    }

    /// Throws `CheckpointError.nonFinite` naming the first NaN or ±Inf among the tensors under
    /// `prefixes` (weights, buffers, optimizer moments, preprocessing).
    public static func checkFinite(_ file: SafetensorsFile, under prefixes: [String], path: String) throws {
        if let value = file.firstNonFiniteValue(under: prefixes) { throw CheckpointError.nonFinite(path: path, value: value) }
    }

    /// The Solver's options and the optimizer's settings saved in a checkpoint, each field
    /// range-checked: an error names the metadata key, the field and its valid range.
    public static func trainingSettings(of file: SafetensorsFile, path: String) throws -> (options: SolverOptions, optimizer: OptimizerSettings) {
        let options = try decode(SolverOptions.self, file, "solver.options", path: path)
        if let violation = options.rangeViolation { throw CheckpointError.corrupt(path: path, detail: "metadata solver.options: \(violation)") }
        let settings = try decode(OptimizerSettings.self, file, "optimizer.settings", path: path)
        if let violation = settings.rangeViolation { throw CheckpointError.corrupt(path: path, detail: "metadata optimizer.settings: \(violation)") }
        return (options, settings)
    }

    /// The most update steps a checkpoint may record (2^48, beyond any run): counters read back
    /// are then incremented without overflow.
    public static let maximumSteps = 1 << 48

    /// A metadata integer that must lie in `range`.
    static func count(_ file: SafetensorsFile, _ key: String, in range: ClosedRange<Int>, path: String) throws -> Int {
        let value: Int = try number(file, key, path: path)
        guard range.contains(value) else {
            throw CheckpointError.corrupt(path: path, detail: "metadata \(key) is \(value), outside the valid range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// The tensors under `prefix` with the prefix removed, in file order.
    static func store<S: TensorScalar>(_ file: SafetensorsFile, prefix: String, as _: S.Type) -> ParameterStore<S> {
        var store = ParameterStore<S>()
        for name in file.names where name.hasPrefix(prefix) { store[String(name.dropFirst(prefix.count))] = file.tensor(name) }
        return store
    }

    /// Puts `source`'s tensors into `target`, insisting on the same names and shapes.
    static func assign<S: TensorScalar>(_ source: ParameterStore<S>, to target: inout ParameterStore<S>, what: String, path: String) throws {
        guard Set(source.names) == Set(target.names) else {
            throw CheckpointError.incompatible(path: path, detail: "its \(what) are \(source.names.joined(separator: ", ")) but the model has \(target.names.joined(separator: ", "))")
        }
        for (name, tensor) in source {
            guard tensor.shape == target[name]!.shape else {
                throw CheckpointError.incompatible(path: path, detail: "\(what) \(name) is \(describeShape(tensor.shape)) in the file but \(describeShape(target[name]!.shape)) in the model")
            }
            target[name] = tensor
        }
    }

    /// A model rebuilt from a checkpoint: its best-val weights (or the latest, when asked). A
    /// format 2 checkpoint loads through `ModelRegistry.shared` (its built-in "sequential" kind,
    /// or a family the program registered), format 1 as one of the built-in models. Weights and
    /// preprocessing must be finite unless `allowNonfinite`.
    public static func loadModel<S: TensorScalar>(_ path: String, as _: S.Type = S.self, latest: Bool = false,
                                                  allowNonfinite: Bool = false) throws -> (model: AnyModel<S>, file: SafetensorsFile) {
        try loadModel(from: read(path), path: path, as: S.self, latest: latest, allowNonfinite: allowNonfinite)
    }

    /// A model rebuilt from a checkpoint already read (`read(_:)` or `read(parsing:path:)`).
    public static func loadModel<S: TensorScalar>(from file: SafetensorsFile, path: String, as _: S.Type = S.self,
                                                  latest: Bool = false, allowNonfinite: Bool = false) throws
        -> (model: AnyModel<S>, file: SafetensorsFile) {
        if file.metadata["format_version"] == registeredFormatVersion {
            let net = try loadRegisteredModel(from: file, path: path, as: S.self, latest: latest, allowNonfinite: allowNonfinite)
            return (AnyModel(net), file)
        }
        let prefix = latest || !file.names.contains(where: { $0.hasPrefix("best.params.") }) ? "" : "best."
        let configuration = try configuration(of: file, prefixes: [prefix], path: path)
        if !allowNonfinite { try checkFinite(file, under: [prefix + "params.", prefix + "buffers.", "data."], path: path) }
        var model = try AnyModel<S>(configuration)
        var parameters = model.parameters, buffers = model.buffers
        try assign(store(file, prefix: prefix + "params.", as: S.self), to: &parameters, what: "parameters", path: path)
        try assign(store(file, prefix: prefix + "buffers.", as: S.self), to: &buffers, what: "buffers", path: path)
        model.parameters = parameters
        model.buffers = buffers
        return (model, file)
    }

    /// The optimizer's moments: each `optimizer.<parameter>.<slot>` must be a slot of the rule
    /// for a parameter of the model, with that parameter's shape.
    static func optimizerState<S: TensorScalar>(_ file: SafetensorsFile, settings: OptimizerSettings,
                                                parameters: ParameterStore<S>, as _: S.Type, path: String) throws -> ParameterStore<S> {
        var expected: [String: [Int]] = [:]
        for (name, tensor) in parameters { for slot in settings.rule.slots { expected[name + "." + slot] = tensor.shape } }
        let state = store(file, prefix: "optimizer.", as: S.self)
        for (key, tensor) in state {
            guard let shape = expected[key] else {
                throw CheckpointError.incompatible(path: path, detail: "tensor \"optimizer.\(key)\" is no \(settings.rule.rawValue) slot of a parameter of the model")
            }
            guard tensor.shape == shape else {
                throw CheckpointError.incompatible(path: path, detail: "tensor \"optimizer.\(key)\" is \(describeShape(tensor.shape)) but its parameter is \(describeShape(shape))")
            }
        }
        return state
    }

    /// The histories saved in a checkpoint.
    public static func history(_ file: SafetensorsFile) -> SolverHistory {
        var history = SolverHistory()
        history.loss = file.tensor("history.loss", as: Double.self)?.scalars ?? []
        history.trainAccuracy = file.tensor("history.train_accuracy", as: Double.self)?.scalars ?? []
        history.valAccuracy = file.tensor("history.val_accuracy", as: Double.self)?.scalars ?? []
        return history
    }
}

extension Solver {
    /// Everything needed to continue training exactly where it stands.
    public func checkpointFile(completed: Bool = false) -> SafetensorsFile {
        var file = Checkpoint.modelFile(model)
        for (name, tensor) in bestParameters { file.add("best.params." + name, tensor) }
        for (name, tensor) in bestBuffers { file.add("best.buffers." + name, tensor) }
        for (name, tensor) in optimizer.state { file.add("optimizer." + name, tensor) }
        if let average = lookaheadAverage {
            for (name, tensor) in average.parameters { file.add("lookahead.params." + name, tensor) }
            for (name, tensor) in average.buffers { file.add("lookahead.buffers." + name, tensor) }
        }
        file.add("history.loss", Tensor<Double>(history.loss))
        file.add("history.train_accuracy", Tensor<Double>(history.trainAccuracy))
        file.add("history.val_accuracy", Tensor<Double>(history.valAccuracy))
        for (name, tensor) in checkpointTensors { file.add("data." + name, tensor) }
        // The caller's facts (data.*, train.*) are kept; the model's and solver's own keys always win.
        file.metadata.merge(checkpointMetadata) { ours, _ in ours }
        file.metadata.merge([
            "solver.options": Checkpoint.encode(options),
            "solver.epoch": String(epoch), "solver.iteration": String(iteration),
            "solver.best_val_accuracy": String(bestValAccuracy),
            "solver.completed": String(completed || epoch >= options.epochs),
            "optimizer.settings": Checkpoint.encode(optimizer.settings),
            "optimizer.step": String(optimizer.step),
            "rng": Checkpoint.randomScheme,
        ]) { _, ours in ours }
        return file
    }

    /// Writes the checkpoint atomically.
    public func saveCheckpoint(to path: String) throws {
        try Checkpoint.checkRebuildable(model)
        try checkpointFile().write(to: path)
    }

    /// Restores the state saved at `path`, so that `train()` continues as if never stopped.
    /// The model must have the same configuration and the options the same batch size and seed;
    /// the epoch count may grow. Every number of the saved state is range-checked, and every
    /// tensor but the histories must be finite unless `allowNonfinite`.
    public mutating func resume(from path: String, allowNonfinite: Bool = false) throws {
        let file = try model.family == nil ? Checkpoint.read(path) : Checkpoint.readRegistered(path)
        let lookahead = file.names.contains(where: { $0.hasPrefix("lookahead.") })
        let prefixes = ["", "best."] + (lookahead ? ["lookahead."] : [])
        if let family = model.family {
            try Checkpoint.checkSameModel(file, family: family, parameters: model.parameters, buffers: model.buffers,
                                          prefixes: prefixes, path: path)
        } else {
            if file.metadata["format_version"] == Checkpoint.registeredFormatVersion {
                throw CheckpointError.incompatible(path: path, detail: "it holds a \(file.metadata["model.kind"] ?? "registered") net "
                    + "(format \(Checkpoint.registeredFormatVersion)) but this run builds a \(model.configuration.kind) net")
            }
            let configuration = try Checkpoint.configuration(of: file, prefixes: prefixes, path: path)
            guard configuration == model.configuration else {
                throw CheckpointError.incompatible(path: path, detail: "it holds a model \(configuration.jsonString()) but this run builds \(model.configuration.jsonString())")
            }
        }
        if !allowNonfinite { try Checkpoint.checkFinite(file, under: ["params.", "buffers.", "best.", "lookahead.", "optimizer.", "data."], path: path) }
        let (saved, settings) = try Checkpoint.trainingSettings(of: file, path: path)
        guard saved.batchSize == options.batchSize, saved.seed == options.seed else {
            throw CheckpointError.incompatible(path: path, detail: "it was trained with batch size \(saved.batchSize) and seed \(saved.seed), this run asks for \(options.batchSize) and \(options.seed)")
        }
        var parameters = model.parameters, buffers = model.buffers
        try Checkpoint.assign(Checkpoint.store(file, prefix: "params.", as: S.self), to: &parameters, what: "parameters", path: path)
        try Checkpoint.assign(Checkpoint.store(file, prefix: "buffers.", as: S.self), to: &buffers, what: "buffers", path: path)
        var best = parameters, bestBuffered = buffers
        try Checkpoint.assign(Checkpoint.store(file, prefix: "best.params.", as: S.self), to: &best, what: "best parameters", path: path)
        try Checkpoint.assign(Checkpoint.store(file, prefix: "best.buffers.", as: S.self), to: &bestBuffered, what: "best buffers", path: path)
        var average: (parameters: ParameterStore<S>, buffers: ParameterStore<S>)?
        if lookahead {
            var (averaged, averagedBuffers) = (parameters, buffers)
            try Checkpoint.assign(Checkpoint.store(file, prefix: "lookahead.params.", as: S.self), to: &averaged,
                                  what: "lookahead parameters", path: path)
            try Checkpoint.assign(Checkpoint.store(file, prefix: "lookahead.buffers.", as: S.self), to: &averagedBuffers,
                                  what: "lookahead buffers", path: path)
            average = (averaged, averagedBuffers)
        }
        let restoredHistory = Checkpoint.history(file)
        let savedEpoch = try Checkpoint.count(file, "solver.epoch", in: 0...saved.epochs, path: path)
        // Checkpoints are written at the end of an epoch, so the iteration count is exact.
        let iterations = savedEpoch.multipliedReportingOverflow(by: stepsPerEpoch).partialValue
        let savedIteration = try Checkpoint.count(file, "solver.iteration", in: iterations...iterations, path: path)
        let savedBest: Double = try Checkpoint.number(file, "solver.best_val_accuracy", path: path)
        guard savedBest == -.infinity || (0...1).contains(savedBest) else {
            throw CheckpointError.corrupt(path: path, detail: "metadata solver.best_val_accuracy is \(savedBest), outside the valid range [0, 1]")
        }
        guard restoredHistory.loss.count == savedIteration, restoredHistory.valAccuracy.count == savedEpoch,
              restoredHistory.trainAccuracy.count == savedEpoch else {
            throw CheckpointError.corrupt(path: path, detail: "its histories (\(restoredHistory.loss.count) losses, \(restoredHistory.valAccuracy.count) accuracies) disagree with iteration \(savedIteration), epoch \(savedEpoch)")
        }
        model.parameters = parameters
        model.buffers = buffers
        model.trainingSteps = try Checkpoint.count(file, "model.training_steps", in: 0...Checkpoint.maximumSteps, path: path)
        optimizer = Optimizer(settings)
        optimizer.state = try Checkpoint.optimizerState(file, settings: settings, parameters: parameters, as: S.self, path: path)
        optimizer.step = try Checkpoint.count(file, "optimizer.step", in: 0...Checkpoint.maximumSteps, path: path)
        bestParameters = best
        bestBuffers = bestBuffered
        bestValAccuracy = savedBest
        lookaheadAverage = average
        epoch = savedEpoch
        iteration = savedIteration
        history = restoredHistory
    }
}
