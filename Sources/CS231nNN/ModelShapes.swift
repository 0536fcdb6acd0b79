import CS231nTensor

/// The name and shape of every parameter and buffer of the model a configuration builds,
/// computed without building it. Readers of checkpoints and compressed models compare a file's
/// tensors with these before the model is allocated, so a configuration edited to huge sizes is
/// refused instead of allocated, and the model can never be larger than the file that holds it.
///
/// Each kind mirrors its net's initializer (`AnyModel.kinds`); a test checks that the shapes
/// equal those of the built model. The arithmetic is overflow-checked and capped by
/// `Tensor.checkedCount`, explicit checks that hold in release builds too. Every net's
/// `init(configuration:)` checks its configuration here first, so sizes from a file or the
/// command line are refused, naming the field and its valid range, before any allocation.
public struct ModelShapes: Sendable, Equatable {
    public let parameters: [String: [Int]]
    public let buffers: [String: [Int]]
    /// The number of parameter and buffer elements, at most `maximumElementCount`.
    public let elementCount: Int

    /// The largest input dimension, hidden size, class count or filter count a configuration
    /// may give (2^24): far beyond any net this toolkit trains, small enough that no product
    /// of two of them overflows.
    public static let maximumSize = 1 << 24
    /// The most parameter and buffer elements a model may hold together (2^30: 4 GiB of
    /// Float), so that a configuration the machine cannot hold is refused rather than
    /// allocated until it aborts.
    public static let maximumElementCount = 1 << 30

    public init(_ configuration: ModelConfiguration) throws {
        let c = configuration
        func invalid(_ detail: String) -> TensorError {
            .invalidArgument(operation: "model configuration", detail: "\(c.kind): \(detail)")
        }
        let sizes = c.inputShape.enumerated().map { ("inputShape[\($0.offset)]", $0.element) }
            + c.hiddenSizes.enumerated().map { ("hiddenSizes[\($0.offset)]", $0.element) } + [("classes", c.classes)]
        if let (field, size) = sizes.first(where: { !(1...Self.maximumSize).contains($0.1) }) {
            throw invalid("\(field) is \(size), outside the valid range 1...\(Self.maximumSize)")
        }
        guard !c.inputShape.isEmpty else { throw invalid("inputShape is empty: give the shape of one example") }
        let inputSize = try Tensor<Float>.checkedCount(shape: c.inputShape)
        var parameters: [String: [Int]] = [:], buffers: [String: [Int]] = [:]
        switch c.kind {
        case "two-layer", "fully-connected":
            let sizes = [inputSize] + c.hiddenSizes + [c.classes]
            for layer in 1..<sizes.count {
                parameters["W\(layer)"] = [sizes[layer - 1], sizes[layer]]
                parameters["b\(layer)"] = [sizes[layer]]
                if layer < sizes.count - 1, c.normalization != .none {
                    parameters["gamma\(layer)"] = [sizes[layer]]
                    parameters["beta\(layer)"] = [sizes[layer]]
                }
                if layer < sizes.count - 1, c.normalization == .batchnorm {
                    buffers["running_mean\(layer)"] = [sizes[layer]]
                    buffers["running_var\(layer)"] = [sizes[layer]]
                }
            }
        case "three-layer-convnet":
            guard c.inputShape.count == 3, c.hiddenSizes.count == 1 else {
                throw invalid("needs an image input (C, H, W) and one hidden size")
            }
            let convolution = c.convolution ?? ConvNetSettings()
            let (filters, filterSize) = (convolution.filters, convolution.filterSize)
            for (field, value) in [("filters", filters), ("filterSize", filterSize)] where !(1...Self.maximumSize).contains(value) {
                throw invalid("convolution.\(field) is \(value), outside the valid range 1...\(Self.maximumSize)")
            }
            let (channels, height, width, hidden) = (c.inputShape[0], c.inputShape[1], c.inputShape[2], c.hiddenSizes[0])
            // A "same" convolution, then a 2×2 pool of stride 2.
            let pooled = try Tensor<Float>.checkedCount(shape: [filters, height / 2, width / 2])
            parameters = ["W1": [filters, channels, filterSize, filterSize], "b1": [filters],
                          "W2": [pooled, hidden], "b2": [hidden], "W3": [hidden, c.classes], "b3": [c.classes]]
        case "cnn":
            guard c.inputShape.count == 3 else { throw invalid("needs an image input (C, H, W), got \(c.inputShape)") }
            let size = (c.modernConvNet ?? ModernConvNetSettings()).whiteningKernel, channels = c.inputShape[0]
            guard (1...Self.maximumSize).contains(size) else {
                throw invalid("modernConvNet.whiteningKernel is \(size), outside the valid range 1...\(Self.maximumSize)")
            }
            let whitened = try Tensor<Float>.checkedCount(shape: [2, channels, size, size])
            buffers["whiten.weight"] = [whitened, channels, size, size]
            parameters["whiten.bias"] = [whitened]
            var inChannels = whitened
            for (index, width) in c.hiddenSizes.enumerated() {
                for (slot, input) in [("1", inChannels), ("2", width)] {
                    parameters["g\(index + 1).conv\(slot)"] = [width, input, 3, 3]
                    parameters["g\(index + 1).norm\(slot).beta"] = [width]
                    buffers["g\(index + 1).norm\(slot).running_mean"] = [width]
                    buffers["g\(index + 1).norm\(slot).running_var"] = [width]
                }
                inChannels = width
            }
            guard let last = c.hiddenSizes.last else { throw invalid("needs at least one group width") }
            parameters["head"] = [last, c.classes]
        default:
            throw invalid("unknown model kind (known: \(AnyModel<Float>.kinds.joined(separator: ", ")))")
        }
        var total = 0
        // In name order, so that the error names the same tensor on every run.
        for (_, shape) in parameters.sorted(by: { $0.key < $1.key }) + buffers.sorted(by: { $0.key < $1.key }) {
            total += try Tensor<Float>.checkedCount(shape: shape)
            guard total <= Self.maximumElementCount else {
                throw invalid("its parameters and buffers would hold more than \(Self.maximumElementCount) elements together, "
                    + "the most a model may have; make inputShape \(c.inputShape), hiddenSizes \(c.hiddenSizes) or classes \(c.classes) smaller")
            }
        }
        self.parameters = parameters
        self.buffers = buffers
        elementCount = total
    }
}
