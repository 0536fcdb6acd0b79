/// The convolution of CS231n's `ThreeLayerConvNet`: `filters` filters of `filterSize`×`filterSize`,
/// odd so that the padding (K − 1)/2 keeps the image size.
public struct ConvNetSettings: Codable, Sendable, Equatable {
    public var filters: Int
    public var filterSize: Int

    public init(filters: Int = 32, filterSize: Int = 7) {
        self.filters = filters
        self.filterSize = filterSize
    }
}

/// The settings of the modern CNN (`ModernConvNet`) beyond its group widths; the defaults are
/// airbench94's. `ModernConvNet` checks the ranges when it is built.
public struct ModernConvNetSettings: Codable, Sendable, Equatable {
    /// The side of the whitening conv's patches (≥ 1).
    public var whiteningKernel: Int
    /// Label smoothing ε of the training loss, in [0, 1).
    public var labelSmoothing: Double
    /// Test-time augmentation: 0 none, 1 the flipped view too, 2 also the views translated by
    /// one pixel.
    public var testTimeAugmentation: Int
    /// The factor on the head's scores.
    public var outputScale: Double
    /// Batch norm's running statistics: running = momentum·running + (1 − momentum)·batch, in [0, 1).
    public var batchNormMomentum: Double
    /// Batch norm's ε (> 0).
    public var batchNormEpsilon: Double
    /// The whitening bias trains for this many epochs and is then frozen.
    public var whiteningBiasEpochs: Int

    public init(whiteningKernel: Int = 2, labelSmoothing: Double = 0.2, testTimeAugmentation: Int = 2,
                outputScale: Double = 1.0 / 9, batchNormMomentum: Double = 0.6, batchNormEpsilon: Double = 1e-12,
                whiteningBiasEpochs: Int = 3) {
        self.whiteningKernel = whiteningKernel
        self.labelSmoothing = labelSmoothing
        self.testTimeAugmentation = testTimeAugmentation
        self.outputScale = outputScale
        self.batchNormMomentum = batchNormMomentum
        self.batchNormEpsilon = batchNormEpsilon
        self.whiteningBiasEpochs = whiteningBiasEpochs
    }
}

/// The `options` object of strings in which checkpoints and compressed models written before the
/// settings were typed kept them, read into `ConvNetSettings` or `ModernConvNetSettings`. Every
/// key must be one those versions wrote for the kind, and every value a number of the right
/// sort; the errors name the option.
struct LegacyModelOptions {
    let options: [String: String]

    init(_ options: [String: String]) { self.options = options }

    func apply(to configuration: inout ModelConfiguration) throws {
        switch configuration.kind {
        case "three-layer-convnet":
            try checkKeys(["filters", "filter-size"], kind: configuration.kind)
            let defaults = ConvNetSettings()
            configuration.convolution = ConvNetSettings(filters: try whole("filters", defaults.filters),
                                                        filterSize: try whole("filter-size", defaults.filterSize))
        case "cnn":
            // "widths" repeated the hidden sizes, which stay where they are.
            try checkKeys(["whiten-kernel", "label-smoothing", "tta", "scale", "bn-momentum", "bn-epsilon",
                           "whiten-bias-epochs", "widths"], kind: configuration.kind)
            let d = ModernConvNetSettings()
            configuration.modernConvNet = ModernConvNetSettings(
                whiteningKernel: try whole("whiten-kernel", d.whiteningKernel), labelSmoothing: try number("label-smoothing", d.labelSmoothing),
                testTimeAugmentation: try whole("tta", d.testTimeAugmentation), outputScale: try number("scale", d.outputScale),
                batchNormMomentum: try number("bn-momentum", d.batchNormMomentum),
                batchNormEpsilon: try number("bn-epsilon", d.batchNormEpsilon),
                whiteningBiasEpochs: try whole("whiten-bias-epochs", d.whiteningBiasEpochs))
        default:
            try checkKeys([], kind: configuration.kind)
        }
    }

    private func checkKeys(_ known: Set<String>, kind: String) throws {
        if let unknown = options.keys.sorted().first(where: { !known.contains($0) }) {
            throw invalid("\(kind) has no option \"\(unknown)\"" + (known.isEmpty ? "" : " (its options: \(known.sorted().joined(separator: ", ")))"))
        }
    }

    private func number(_ key: String, _ fallback: Double) throws -> Double {
        guard let text = options[key] else { return fallback }
        guard let value = Double(text), value.isFinite else { throw invalid("option \(key) \"\(text)\" is not a finite number") }
        return value
    }

    /// A whole number within ±2^31, so that a value no net could use is refused here rather than
    /// wrapped or truncated.
    private func whole(_ key: String, _ fallback: Int) throws -> Int {
        guard let text = options[key] else { return fallback }
        if let value = Int(text) { return value }
        guard let value = Double(text), value == value.rounded(), abs(value) <= Double(Int32.max) else {
            throw invalid("option \(key) \"\(text)\" is not a whole number in ±\(Int32.max)")
        }
        return Int(value)
    }

    private func invalid(_ detail: String) -> TensorError { .invalidArgument(operation: "model configuration options", detail: detail) }
}
