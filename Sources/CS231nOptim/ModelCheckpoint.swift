import CS231nData
import CS231nNN

extension Checkpoint {
    /// A checkpoint of a trained model with no Solver behind it (a training loop of one's own):
    /// its parameters and buffers, its configuration, and `data`, how its inputs were prepared.
    /// `cs231n evaluate` and `visualize` read it as they read the Solver's (and `compress`, for
    /// the built-in nets); it cannot be resumed.
    public static func file<M: Model>(of model: M, data: CheckpointData) -> SafetensorsFile {
        var file = modelFile(model)
        for (name, tensor) in data.tensors { file.add("data." + name, tensor.converted(to: M.Scalar.self)) }
        file.metadata.merge(data.metadata) { ours, _ in ours }
        return file
    }

    /// Writes ``file(of:data:)`` atomically.
    public static func save<M: Model>(_ model: M, data: CheckpointData, to path: String) throws {
        try checkRebuildable(model)
        try file(of: model, data: data).write(to: path)
    }

    /// Refuses a model that a checkpoint could not rebuild: a `Sequential` assembled in code,
    /// whose layers no stored configuration describes.
    static func checkRebuildable<M: Model>(_ model: M) throws {
        guard model.family == nil, model.configuration.kind == SequentialConfiguration.kind else { return }
        throw TensorError.invalidArgument(operation: "Checkpoint",
            detail: "a Sequential net assembled in code has no configuration a checkpoint could rebuild it from: "
                + "build it from a SequentialConfiguration, or a ModelFamilyConfiguration registered with ModelRegistry")
    }

    /// The model's part of every checkpoint: its tensors, configuration and training-step count,
    /// under the format's name and version (2 for a model of a registered family, which the
    /// file names with its configuration; 1 for the built-in models).
    static func modelFile<M: Model>(_ model: M) -> SafetensorsFile {
        var file = SafetensorsFile()
        for (name, tensor) in model.parameters { file.add("params." + name, tensor) }
        for (name, tensor) in model.buffers { file.add("buffers." + name, tensor) }
        file.metadata = [
            "format": format, "format_version": formatVersion,
            "model.config": encode(model.configuration),
            "model.training_steps": String(model.trainingSteps),
        ]
        if let family = model.family { describe(family, in: &file) }
        return file
    }
}
