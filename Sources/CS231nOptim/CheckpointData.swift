import CS231nData
import CS231nNN
import Foundation

/// What a checkpoint records about the data its model saw, so that whatever reads it later
/// (`cs231n evaluate`, `visualize`, `compress`, `train --resume`) prepares exactly that data:
///
/// | entry | what |
/// |---|---|
/// | `data.mean_image`, `data.scale_image` | tensors, one value per input value: inputs = (pixels − mean) / scale |
/// | `data.preprocessing` | the preprocessor's kind, then that formula in words |
/// | `data.dataset`, `data.source`, `data.seed` | cifar10 and its folder, or builtin, "generated" and its seed |
/// | `data.num_train`, `data.num_val` | the split's sizes |
/// | `data.class_names` | a JSON array |
/// | `train.augmentation`, `train.augmentation_padding`, `train.augmentation_padding_mode` | the training augmentation |
///
/// Checkpoints written before `data.scale_image` read as ÷ 255, before `data.preprocessing` as
/// the mean image, and before the padding keys as 2 pixels, reflect-padded.
public struct CheckpointData: Sendable, Equatable {
    public var spec: DataSpec
    public var preprocessor: Preprocessor
    public var classNames: [String]
    public var augmentation: Augmentation

    public init(spec: DataSpec, preprocessor: Preprocessor, classNames: [String], augmentation: Augmentation = .none) {
        self.spec = spec
        self.preprocessor = preprocessor
        self.classNames = classNames
        self.augmentation = augmentation
    }

    /// The record of a model trained on `data`, which must know its origin (a `Dataset` split).
    public init<S: TensorScalar>(_ data: PreparedData<S>, augmentation: Augmentation = .none) throws {
        guard var spec = data.origin else {
            throw TensorError.invalidArgument(operation: "CheckpointData",
                detail: "the data does not say which dataset it came from: split it with Dataset.split or DataSpec.load")
        }
        (spec.numTrain, spec.numVal) = (data.train.count, data.val.count)
        self.init(spec: spec, preprocessor: data.preprocessor, classNames: data.classNames, augmentation: augmentation)
    }

    /// The tensors, saved as `data.<name>`.
    public var tensors: [(name: String, tensor: Tensor<Float>)] {
        [("mean_image", Tensor(preprocessor.mean.map { Float($0) })), ("scale_image", Tensor(preprocessor.scale.map { Float($0) }))]
    }

    /// The `data.*` and `train.*` metadata (sizes left unset, the standard split's, are omitted).
    public var metadata: [String: String] {
        var metadata = [
            "data.dataset": spec.dataset.rawValue, "data.source": spec.dataset == .cifar10 ? spec.directory ?? CIFAR10.defaultDirectory : "generated",
            "data.seed": String(spec.seed),
            "data.preprocessing": "\(preprocessor.kind.rawValue): (x - data.mean_image) / data.scale_image on CHW rows of 0..255 pixels",
            "data.class_names": Checkpoint.jsonArray(classNames),
            "train.augmentation": augmentation.kind.rawValue, "train.augmentation_padding": String(augmentation.padding),
            "train.augmentation_padding_mode": augmentation.paddingMode.rawValue,
        ]
        metadata["data.num_train"] = spec.numTrain.map(String.init)
        metadata["data.num_val"] = spec.numVal.map(String.init)
        return metadata
    }

    /// The record in a checkpoint (or the float file of a compressed model).
    public init(checkpoint file: SafetensorsFile, path: String) throws {
        let metadata = file.metadata
        guard let dataset = metadata["data.dataset"].flatMap(DatasetName.init(rawValue:)),
              let seed = metadata["data.seed"].flatMap(UInt64.init), let mean = file.tensor("data.mean_image", as: Float.self) else {
            throw CheckpointError.incompatible(path: path, detail: "it does not say which data it was trained on (data.* metadata and data.mean_image)")
        }
        let sizes = try ["data.num_train", "data.num_val"].map { key in
            try metadata[key].map { text in
                guard let size = Int(text), size >= 0 else { throw CheckpointError.corrupt(path: path, detail: "\(key) \(text) is not a size") }
                return size
            }
        }
        let scale = file.tensor("data.scale_image", as: Float.self) ?? Tensor(shape: mean.shape, repeating: 255)
        let kindName = metadata["data.preprocessing"].map { String($0.prefix { $0 != ":" }) } ?? Preprocessor.Kind.meanImage.rawValue
        guard let kind = Preprocessor.Kind(rawValue: kindName) else {
            throw CheckpointError.incompatible(path: path, detail: "data.preprocessing \(kindName) is none of "
                + Preprocessor.Kind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let preprocessor = try Self.preprocessor(kind, mean: mean, scale: scale, path: path)
        let classNames: [String] = try metadata["data.class_names"].map { text in
            guard let names = Checkpoint.strings(fromJSON: text) else {
                throw CheckpointError.corrupt(path: path, detail: "metadata data.class_names is not a JSON array of strings: \(text.prefix(80))")
            }
            return names
        } ?? []
        let augmentation = try Self.augmentation(metadata, path: path)
        self.init(spec: DataSpec(dataset: dataset, directory: dataset == .cifar10 ? metadata["data.source"] : nil, seed: seed,
                                 numTrain: sizes[0], numVal: sizes[1]),
                  preprocessor: preprocessor, classNames: classNames, augmentation: augmentation)
    }

    /// The stored preprocessing, each tensor checked on its own so the error names the bad one.
    static func preprocessor(_ kind: Preprocessor.Kind, mean: Tensor<Float>, scale: Tensor<Float>, path: String) throws -> Preprocessor {
        guard mean.count > 0 else {
            throw CheckpointError.corrupt(path: path, detail: "data.mean_image \(describeShape(mean.shape)) is empty: it needs one value per input value")
        }
        guard scale.shape == mean.shape else {
            throw CheckpointError.corrupt(path: path, detail: "data.scale_image \(describeShape(scale.shape)) does not match data.mean_image \(describeShape(mean.shape))")
        }
        if let bad = mean.scalars.firstIndex(where: { !$0.isFinite }) {
            throw CheckpointError.corrupt(path: path, detail: "tensor data.mean_image holds \(mean.scalars[bad]) at element \(bad): the mean image must be finite")
        }
        if let bad = scale.scalars.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
            throw CheckpointError.corrupt(path: path, detail: "tensor data.scale_image holds \(scale.scalars[bad]) at element \(bad): scales must be positive and finite")
        }
        return try Preprocessor(kind: kind, mean: mean.scalars.map { Double($0) }, scale: scale.scalars.map { Double($0) })
    }

    static func augmentation(_ metadata: [String: String], path: String) throws -> Augmentation {
        let name = metadata["train.augmentation"] ?? Augmentation.Kind.none.rawValue
        guard let kind = Augmentation.Kind(rawValue: name),
              let padding = metadata["train.augmentation_padding"].map({ Int($0) }) ?? 2, padding >= 0,
              let mode = metadata["train.augmentation_padding_mode"].map({ Augmenter.PaddingMode(rawValue: $0) }) ?? .reflect else {
            throw CheckpointError.corrupt(path: path, detail: "train.augmentation \(name), padding \(metadata["train.augmentation_padding"] ?? "2") "
                + "and mode \(metadata["train.augmentation_padding_mode"] ?? "reflect") are not an augmentation")
        }
        return Augmentation(kind, padding: padding, paddingMode: mode)
    }

    /// The splits the model was trained on, prepared as in training; or, with `dataset` other
    /// than the recorded one, that dataset's standard split with the recorded validation size
    /// and seed, prepared alike. `dataDirectory` replaces the recorded CIFAR-10 folder. With
    /// `classes` (the model's class count) the data must have exactly that many classes, so
    /// that no label or class index from the data can fall outside the model's scores.
    public func prepare(inputShape: [Int], classes: Int? = nil, dataset: DatasetName? = nil,
                        dataDirectory: String? = nil) throws -> PreparedData<Float> {
        let chosen = dataset ?? spec.dataset
        let same = chosen == spec.dataset
        let target = DataSpec(dataset: chosen, directory: dataDirectory ?? (same ? spec.directory : nil), seed: spec.seed,
                              numTrain: same ? spec.numTrain : nil, numVal: spec.numVal)
        let data = try PreparedData<Float>(target.load(), preprocessor: preprocessor, inputShape: inputShape)
        if let classes, data.classNames.count != classes {
            throw TensorError.invalidArgument(operation: "prepare data",
                detail: "the model scores \(classes) classes but the \(chosen.rawValue) data has \(data.classNames.count) "
                    + "(\(data.classNames.joined(separator: ", "))): they must agree")
        }
        return data
    }
}

extension Solver {
    /// Saves `data` with every checkpoint, and augments training batches as it says.
    public mutating func record(_ data: CheckpointData) {
        checkpointMetadata.merge(data.metadata) { $1 }
        for (name, tensor) in data.tensors { checkpointTensors[name] = tensor.converted(to: S.self) }
        useAugmentation(data.augmentation)
    }
}
