import CS231nData
import Foundation

/// A trained linear classifier with everything needed to use it on images: the features it
/// reads, the preprocessing fitted on its training split, its class names and how it was
/// trained. Saved as safetensors:
///
/// | tensor | shape | meaning |
/// |---|---|---|
/// | `weights` | (D+1)×C | W, its last row the bias |
/// | `input_mean` | D | training mean subtracted from every input (the mean image for raw pixels) |
/// | `input_std` | D | training standard deviation divided by (features only) |
///
/// Metadata (strings): `format` = "cs231n-linear", `loss` (svm|softmax), `features`
/// (raw|hog|color|hog+color), `class_names` (JSON array), `learning_rate`, `regularization`,
/// `iterations`, `batch_size`, `seed`, and `validation_accuracy` when known.
public struct LinearModel<S: TensorScalar>: Sendable {
    public var loss: LinearLoss
    public var weights: Tensor<S>
    /// The mean image (÷ 1) for raw pixels; feature standardization for features.
    public var preprocessor: Preprocessor
    /// The image features the model reads; empty for raw pixels.
    public var features: [ImageFeature]
    public var classNames: [String]
    public var settings: SGDSettings
    public var validationAccuracy: Double?

    public init(loss: LinearLoss, weights: Tensor<S>, preprocessor: Preprocessor, features: [ImageFeature],
                classNames: [String], settings: SGDSettings, validationAccuracy: Double? = nil) {
        self.loss = loss
        self.weights = weights
        self.preprocessor = preprocessor
        self.features = features
        self.classNames = classNames
        self.settings = settings
        self.validationAccuracy = validationAccuracy
    }

    /// "raw" or the features joined by "+".
    public var featureName: String { features.isEmpty ? "raw" : features.map(\.rawValue).joined(separator: "+") }

    /// The preprocessed N×(D+1) inputs for `images`.
    public func inputs(for images: LabeledImages) throws -> Tensor<S> {
        try LinearInputs<S>.rows(images, preprocessor: preprocessor, features: features)
    }

    /// The predicted class of each image.
    public func predict(_ images: LabeledImages) throws -> [Int] {
        guard images.count > 0 else { return [] }
        return try matmul(inputs(for: images), weights).argmax(axis: 1)
    }

    public func save(to path: String) throws {
        var file = SafetensorsFile()
        file.add("weights", weights)
        file.add("input_mean", Tensor<S>(preprocessor.mean.map { S($0) }))
        if preprocessor.kind == .featureStandardization { file.add("input_std", Tensor<S>(preprocessor.scale.map { S($0) })) }
        let names = String(decoding: try JSONSerialization.data(withJSONObject: classNames), as: UTF8.self)
        var metadata = [
            "format": "cs231n-linear", "loss": loss.rawValue, "features": featureName, "class_names": names,
            "learning_rate": String(settings.learningRate), "regularization": String(settings.regularization),
            "iterations": String(settings.iterations), "batch_size": String(settings.batchSize),
            "seed": String(settings.seed),
        ]
        if let validationAccuracy { metadata["validation_accuracy"] = String(validationAccuracy) }
        file.metadata = metadata
        try file.write(to: path)
    }

    public static func load(from path: String) throws -> LinearModel {
        let bad = { (detail: String) in LinearClassifierError.badModelFile(path: path, detail: detail) }
        let file: SafetensorsFile
        do { file = try SafetensorsFile(contentsOf: path) } catch let error as SafetensorsError { throw bad(error.detail) }
        let metadata = file.metadata
        let tensors = ["weights", "input_mean", "input_std"].reduce(into: [String: Tensor<S>]()) { $0[$1] = file.tensor($1, as: S.self) }
        guard metadata["format"] == "cs231n-linear" else { throw bad("not a cs231n linear model (metadata format is \(metadata["format"] ?? "missing"))") }
        guard let loss = metadata["loss"].flatMap(LinearLoss.init(rawValue:)) else { throw bad("metadata loss must be svm or softmax") }
        guard let weights = tensors["weights"], weights.rank == 2 else { throw bad("tensor 'weights' (D+1)×C is missing") }
        guard let mean = tensors["input_mean"], mean.count + 1 == weights.shape[0] else {
            throw bad("tensor 'input_mean' must have \(weights.shape[0] - 1) values to match the weights")
        }
        let deviation = tensors["input_std"]
        guard deviation == nil || deviation!.count == mean.count else { throw bad("tensor 'input_std' must match 'input_mean'") }
        let featureText = metadata["features"] ?? "raw"
        let features = featureText == "raw" ? [] : try ImageFeature.parseList(featureText)
        guard let namesData = metadata["class_names"]?.data(using: .utf8),
              let classNames = try? JSONSerialization.jsonObject(with: namesData) as? [String],
              classNames.count == weights.shape[1] else {
            throw bad("metadata class_names must be a JSON array of \(weights.shape[1]) names")
        }
        let expectedInputs = features.isEmpty ? LabeledImages.imageSize : FeatureExtractor(features).dimension
        guard mean.count == expectedInputs else {
            throw bad("\(featureText) inputs have \(expectedInputs) values but the model has \(mean.count)")
        }
        let settings = SGDSettings(
            learningRate: metadata["learning_rate"].flatMap(Double.init) ?? .nan,
            regularization: metadata["regularization"].flatMap(Double.init) ?? .nan,
            iterations: metadata["iterations"].flatMap(Int.init) ?? 0,
            batchSize: metadata["batch_size"].flatMap(Int.init) ?? 0,
            seed: metadata["seed"].flatMap(UInt64.init) ?? 0)
        let means = mean.scalars.map { Double($0) }
        let preprocessor: Preprocessor
        do {
            preprocessor = try deviation.map { try Preprocessor(kind: .featureStandardization, mean: means, scale: $0.scalars.map { Double($0) }) }
                ?? Preprocessor(kind: .meanImage, mean: means, scale: Array(repeating: 1, count: means.count))
        } catch {
            throw bad("tensors 'input_mean' and 'input_std': \(error)")
        }
        return LinearModel(loss: loss, weights: weights, preprocessor: preprocessor,
                           features: features, classNames: classNames, settings: settings,
                           validationAccuracy: metadata["validation_accuracy"].flatMap(Double.init))
    }
}
