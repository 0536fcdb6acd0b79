import CS231nData
import CS231nNN

extension Checkpoint {
    /// A checkpoint of a trained model with no Solver behind it (a training loop of one's own):
    /// its parameters and buffers, its configuration, and `data`, how its inputs were prepared.
    /// `cs231n evaluate`, `visualize` and `compress` read it as they read the Solver's; it
    /// cannot be resumed.
    public static func file<M: Model>(of model: M, data: CheckpointData) -> SafetensorsFile {
        var file = modelFile(model)
        for (name, tensor) in data.tensors { file.add("data." + name, tensor.converted(to: M.Scalar.self)) }
        file.metadata.merge(data.metadata) { ours, _ in ours }
        return file
    }

    /// Writes ``file(of:data:)`` atomically.
    public static func save<M: Model>(_ model: M, data: CheckpointData, to path: String) throws {
        try file(of: model, data: data).write(to: path)
    }

    /// The model's part of every checkpoint: its tensors, configuration and training-step count,
    /// under the format's name and version.
    static func modelFile<M: Model>(_ model: M) -> SafetensorsFile {
        var file = SafetensorsFile()
        for (name, tensor) in model.parameters { file.add("params." + name, tensor) }
        for (name, tensor) in model.buffers { file.add("buffers." + name, tensor) }
        file.metadata = [
            "format": format, "format_version": formatVersion,
            "model.config": encode(model.configuration),
            "model.training_steps": String(model.trainingSteps),
        ]
        return file
    }
}
