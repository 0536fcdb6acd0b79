/// Which gradients a backward pass computes: Caffe's `propagate_down`, one argument for every
/// layer. A net's first layer skips `.input` (nothing upstream wants the data's gradient, and it
/// costs as much as the forward); inspection wants `.input` only; frozen filters skip `.weights`.
public struct GradientNeeds: OptionSet, Sendable, Hashable {
    public let rawValue: Int

    @inlinable
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// dx, the gradient with respect to the layer's input.
    public static let input = GradientNeeds(rawValue: 1)
    /// The weights' gradient: dW of an affine or convolutional layer, dγ of a normalization.
    public static let weights = GradientNeeds(rawValue: 2)
    /// The biases' gradient: db, or a normalization's dβ.
    public static let biases = GradientNeeds(rawValue: 4)
    public static let parameters: GradientNeeds = [.weights, .biases]
    public static let all: GradientNeeds = [.input, .parameters]
}

/// The pointwise nonlinearity a layer applies to its output as an epilogue.
public enum Activation: String, Sendable, CaseIterable, Equatable {
    case none
    /// max(x, 0); its backward follows a `ReLUBackwardRule`.
    case relu
    /// x·Φ(x), the exact GELU.
    case gelu
}
