/// conv - ReLU - 2×2 max pool - affine - ReLU - affine - softmax, CS231n's `ThreeLayerConvNet`
/// (assignment 2, and workload W5): a `Sequential` of conv1, pool1, fc2 and scores under the
/// course's names. Parameters: W1 (F, C, K, K), b1 (F), W2 (F·H/2·W/2, hidden), b2 (hidden),
/// W3 (hidden, classes), b3 (classes). The convolution keeps the input size (stride 1, padding
/// (K − 1)/2); `Sequential` runs its ReLU and the pool as the convolution's epilogue.
///
/// The L2 term 0.5·reg·ΣW² covers the three weight tensors, not the biases, so its gradient
/// reg·W is what PyTorch's Adam adds as `weight_decay` on a weights-only parameter group.
public struct ThreeLayerConvNet<S: TensorScalar>: ModelWrapper {
    public typealias Scalar = S

    public static var kind: String { "three-layer-convnet" }

    public let configuration: ModelConfiguration
    /// The layers, with the course's parameter names as `storedNames`.
    public var base: Sequential<S>

    /// `weightScale` nil means He initialization (√(2/fan-in)); the course's default is 1e-3.
    public init(inputShape: [Int] = [3, 32, 32], filters: Int = 32, filterSize: Int = 7, hiddenSize: Int = 100,
                classes: Int = 10, weightScale: Double? = 1e-3, regularization: Double = 0, seed: UInt64 = 0) throws {
        try self.init(configuration: ModelConfiguration(
            kind: Self.kind, inputShape: inputShape, hiddenSizes: [hiddenSize], classes: classes,
            regularization: regularization, weightScale: weightScale, seed: seed,
            convolution: ConvNetSettings(filters: filters, filterSize: filterSize)))
    }

    /// A freshly initialized net of `configuration`: its `convolution` (32 filters of 7×7 when
    /// nil; the size odd) and one hidden size.
    public init(configuration: ModelConfiguration) throws {
        _ = try ModelShapes(configuration)  // sizes in range before anything is allocated
        // The defaults written out, so that equal nets have equal configurations.
        var c = configuration
        let convolution = c.convolution ?? ConvNetSettings()
        c.convolution = convolution
        func invalid(_ detail: String) -> TensorError { .invalidArgument(operation: "ThreeLayerConvNet", detail: detail) }
        let (filters, filterSize) = (convolution.filters, convolution.filterSize)
        guard c.inputShape.count == 3, c.inputShape.allSatisfy({ $0 > 0 }) else {
            throw invalid("input shape \(describeShape(c.inputShape)) is not an image (C, H, W)")
        }
        guard c.hiddenSizes.count == 1, let hidden = c.hiddenSizes.first, hidden > 0, c.classes > 0, filters > 0 else {
            throw invalid("needs one positive hidden size and positive filters and classes (got hidden \(c.hiddenSizes), filters \(filters), classes \(c.classes))")
        }
        guard filterSize > 0, filterSize % 2 == 1 else {
            throw invalid("filter size \(filterSize) must be odd so that padding \((filterSize - 1) / 2) keeps the image size")
        }
        guard c.normalization == .none, c.keepProbability == 1 else {
            throw invalid("has no normalization or dropout (got \(c.normalization), keep \(c.keepProbability))")
        }
        guard c.regularization >= 0, (c.weightScale ?? 1) > 0 else {
            throw invalid("regularization \(c.regularization) and weight scale \(c.weightScale ?? 0) must be ≥ 0 and > 0")
        }
        // The image must hold a 2×2 pool: named here as the course's net, not as a layer index.
        _ = try MaxPool2D.geometry(layer: "ThreeLayerConvNet layer 1 pool", input: [filters] + c.inputShape.dropFirst())
        self.configuration = c
        let layers: [(name: String, layer: any Layer<S>)] = [
            ("conv1", Conv2DLayer<S>(filters: filters, kernel: filterSize, padding: (filterSize - 1) / 2, activation: .relu,
                                     weightScale: c.weightScale)),
            ("pool1", MaxPool2DLayer<S>()),
            ("fc2", AffineLayer<S>(outputs: hidden, activation: .relu, weightScale: c.weightScale)),
            ("scores", AffineLayer<S>(outputs: c.classes, weightScale: c.weightScale)),
        ]
        base = try Sequential(inputShape: c.inputShape, layers: layers, regularization: c.regularization, seed: c.seed, storedNames: [
            "conv1.weight": "W1", "conv1.bias": "b1", "fc2.weight": "W2", "fc2.bias": "b2", "scores.weight": "W3", "scores.bias": "b3",
        ])
    }
}

/// conv1 (after its ReLU), pool1, fc2 (after its ReLU) and scores.
extension ThreeLayerConvNet: InspectableModel {}
