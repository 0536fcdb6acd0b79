import CS231nNN

/// Checkpoints of models built by a registered family (`ModelFamilyConfiguration`): format
/// version 2, whose metadata names the family (`model.kind`) and holds its configuration
/// (`model.configuration`, JSON) in place of format 1's `model.config`. The tensors and the
/// other metadata are format 1's. Format 1 files load through `loadModel` as before.
extension Checkpoint {
    public static let registeredFormatVersion = "2"

    /// Marks `file` as the checkpoint of a model of `family`.
    static func describe(_ family: ModelFamilyRecord, in file: inout SafetensorsFile) {
        file.metadata["format_version"] = registeredFormatVersion
        file.metadata["model.config"] = nil
        file.metadata["model.kind"] = family.kind
        file.metadata["model.configuration"] = family.configuration
    }

    /// A model of a registered family rebuilt from its checkpoint: its best-val weights (or
    /// the latest, when asked).
    public static func loadRegisteredModel<S: TensorScalar>(_ path: String, as _: S.Type = S.self, latest: Bool = false,
                                                            allowNonfinite: Bool = false, registry: ModelRegistry = .shared) throws
        -> (model: Sequential<S>, file: SafetensorsFile) {
        let file = try readRegistered(path)
        return (try loadRegisteredModel(from: file, path: path, as: S.self, latest: latest, allowNonfinite: allowNonfinite,
                                        registry: registry), file)
    }

    /// A freshly initialized model of the kind a checkpoint of either format holds, for a run
    /// that resumes from it (`Solver.resume(from:)` then loads its state): built from format 1's
    /// `model.config`, or by the registered family that format 2 names. Sizes are validated
    /// before anything is allocated.
    public static func freshModel<S: TensorScalar>(of file: SafetensorsFile, path: String, as _: S.Type = S.self,
                                                   registry: ModelRegistry = .shared) throws -> AnyModel<S> {
        guard file.metadata["format_version"] == registeredFormatVersion else {
            return try AnyModel(configuration(of: file, path: path))
        }
        return AnyModel(try registeredNet(of: file, path: path, as: S.self, registry: registry))
    }

    /// The freshly initialized net that a format-2 checkpoint's family builds from its stored
    /// configuration.
    static func registeredNet<S: TensorScalar>(of file: SafetensorsFile, path: String, as _: S.Type,
                                               registry: ModelRegistry) throws -> Sequential<S> {
        guard let kind = file.metadata["model.kind"], let configuration = file.metadata["model.configuration"] else {
            throw CheckpointError.corrupt(path: path, detail: "a format \(registeredFormatVersion) checkpoint needs metadata model.kind and model.configuration")
        }
        do { return try registry.model(kind: kind, configuration: configuration, as: S.self) } catch {
            throw CheckpointError.incompatible(path: path, detail: "metadata model.kind \(kind) with its model.configuration does not build a model: \(error)")
        }
    }

    /// Reads a format-2 checkpoint file and checks it is one of ours.
    public static func readRegistered(_ path: String) throws -> SafetensorsFile {
        do { return try check(SafetensorsFile(contentsOf: path), path: path, versions: [registeredFormatVersion]) } catch let error as SafetensorsError {
            throw CheckpointError(error, path: path)
        }
    }

    /// Checks that `file` holds a model of `family` with exactly its configuration, and tensors
    /// under each prefix of `parameters`' and `buffers`' names and shapes: what a resumed run needs.
    static func checkSameModel<S: TensorScalar>(_ file: SafetensorsFile, family: ModelFamilyRecord, parameters: ParameterStore<S>,
                                                buffers: ParameterStore<S>, prefixes: [String], path: String) throws {
        let stored = (kind: file.metadata["model.kind"] ?? "absent", configuration: file.metadata["model.configuration"] ?? "absent")
        guard stored.kind == family.kind, stored.configuration == family.configuration else {
            throw CheckpointError.incompatible(path: path, detail: "it holds a \(stored.kind) model \(stored.configuration) "
                + "but this run builds a \(family.kind) model \(family.configuration)")
        }
        for prefix in prefixes {
            try checkTensors(file, prefix: prefix, parameters: shapes(parameters), buffers: shapes(buffers), kind: family.kind,
                             source: "model.configuration", path: path)
        }
    }

    /// The model of a format-2 checkpoint already read. The family named by `model.kind` builds
    /// the net from `model.configuration` (validating every size, and the parameter count
    /// against `maximumParameterCount`, before allocating); every stored tensor's name, dtype
    /// and shape is then checked against that net before any is decoded, and the weights and
    /// preprocessing must be finite unless `allowNonfinite`.
    public static func loadRegisteredModel<S: TensorScalar>(from file: SafetensorsFile, path: String, as _: S.Type = S.self,
                                                            latest: Bool = false, allowNonfinite: Bool = false,
                                                            registry: ModelRegistry = .shared) throws -> Sequential<S> {
        var model = try registeredNet(of: file, path: path, as: S.self, registry: registry)
        let kind = file.metadata["model.kind"] ?? ""  // present: registeredNet checked it
        let prefix = latest || !file.names.contains(where: { $0.hasPrefix("best.params.") }) ? "" : "best."
        var parameters = model.parameters, buffers = model.buffers
        try checkTensors(file, prefix: prefix, parameters: shapes(parameters), buffers: shapes(buffers), kind: kind,
                         source: "model.configuration", path: path)
        if !allowNonfinite { try checkFinite(file, under: [prefix + "params.", prefix + "buffers.", "data."], path: path) }
        try assign(store(file, prefix: prefix + "params.", as: S.self), to: &parameters, what: "parameters", path: path)
        try assign(store(file, prefix: prefix + "buffers.", as: S.self), to: &buffers, what: "buffers", path: path)
        model.parameters = parameters
        model.buffers = buffers
        model.trainingSteps = try count(file, "model.training_steps", in: 0...maximumSteps, path: path)
        return model
    }

    static func shapes<S>(_ store: ParameterStore<S>) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: store.map { ($0.0, $0.1.shape) })
    }
}
