import CS231nData
import Foundation

/// A trained linear classifier with everything needed to use it on images: the features it
/// reads, the normalisation fitted on its training split, its class names and how it was
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
    public var normalization: InputNormalization<S>
    /// The image features the model reads; empty for raw pixels.
    public var features: [ImageFeature]
    public var classNames: [String]
    public var settings: SGDSettings
    public var validationAccuracy: Double?

    public init(loss: LinearLoss, weights: Tensor<S>, normalization: InputNormalization<S>, features: [ImageFeature],
                classNames: [String], settings: SGDSettings, validationAccuracy: Double? = nil) {
        self.loss = loss
        self.weights = weights
        self.normalization = normalization
        self.features = features
        self.classNames = classNames
        self.settings = settings
        self.validationAccuracy = validationAccuracy
    }

    /// "raw" or the features joined by "+".
    public var featureName: String { features.isEmpty ? "raw" : features.map(\.rawValue).joined(separator: "+") }

    /// The normalised N×(D+1) inputs for `images`.
    public func inputs(for images: LabeledImages) throws -> Tensor<S> {
        features.isEmpty
            ? try normalization.apply(images: images)
            : try normalization.apply(rows: FeatureExtractor(features).extract(images, as: S.self))
    }

    /// The predicted class of each image.
    public func predict(_ images: LabeledImages) throws -> [Int] {
        guard images.count > 0 else { return [] }
        return try matmul(inputs(for: images), weights).argmax(axis: 1)
    }

    public func save(to path: String) throws {
        var file = SafetensorsFile()
        file.add("weights", weights)
        file.add("input_mean", normalization.mean)
        if let deviation = normalization.standardDeviation { file.add("input_std", deviation) }
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
        return LinearModel(loss: loss, weights: weights,
                           normalization: InputNormalization(mean: mean, standardDeviation: deviation),
                           features: features, classNames: classNames, settings: settings,
                           validationAccuracy: metadata["validation_accuracy"].flatMap(Double.init))
    }
}
