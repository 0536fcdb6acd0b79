/// affine - ReLU - affine - softmax, CS231n's `TwoLayerNet`: parameters W1 (D, H), b1 (H),
/// W2 (H, C), b2 (C). It is the one-hidden-layer case of `FullyConnectedNet`, with the
/// course's small Gaussian initialization by default.
public struct TwoLayerNet<S: TensorScalar>: ModelWrapper {
    public typealias Scalar = S

    /// The net it is: fc1 (affine with the ReLU fused) and scores.
    public var base: FullyConnectedNet<S>

    /// `weightScale` nil means He initialization (√(2/fan-in)).
    public init(inputSize: Int = 3072, hiddenSize: Int = 100, classes: Int = 10,
                weightScale: Double? = 1e-4, regularization: Double = 0, seed: UInt64 = 0) throws {
        try self.init(configuration: ModelConfiguration(
            kind: "two-layer", inputShape: [inputSize], hiddenSizes: [hiddenSize], classes: classes,
            regularization: regularization, weightScale: weightScale, seed: seed))
    }

    public init(configuration: ModelConfiguration) throws {
        guard configuration.hiddenSizes.count == 1, configuration.normalization == .none,
              configuration.keepProbability == 1 else {
            throw TensorError.invalidArgument(operation: "TwoLayerNet",
                detail: "has one hidden layer and no normalization or dropout (got hidden \(configuration.hiddenSizes), "
                    + "\(configuration.normalization), keep \(configuration.keepProbability)); use FullyConnectedNet")
        }
        base = try FullyConnectedNet(configuration: configuration)
    }
}

/// fc1 (the hidden layer after its ReLU) and scores.
extension TwoLayerNet: InspectableModel {}
