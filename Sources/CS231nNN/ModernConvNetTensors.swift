extension ModernConvNet {
    /// The trained tensors of the net as named fields (llm.c's `ParameterTensors`), shapes for
    /// group widths w₁…w_G, 24 whitening filters and C classes.
    public struct ParameterTensors: NamedTensorFields, Sendable {
        public typealias Scalar = S
        /// (24) the whitening conv's bias, trained for the first epochs only.
        public var whitenBias: Tensor<S>
        public var groups: [GroupParameters]
        /// (w_G, C) the linear head, without a bias.
        public var head: Tensor<S>

        @inlinable
        public init(whitenBias: Tensor<S>, groups: [GroupParameters], head: Tensor<S>) {
            self.whitenBias = whitenBias; self.groups = groups; self.head = head
        }

        /// Every tensor under its stored name, in checkpoint order: whiten.bias, g<i>.conv1,
        /// g<i>.norm1.beta, g<i>.conv2, g<i>.norm2.beta, head.
        public var namedFields: [(String, WritableKeyPath<Self, Tensor<S>>)] {
            [("whiten.bias", \.whitenBias)] + groups.indices.flatMap { index in
                let name = "g\(index + 1)"
                return [("\(name).conv1", \Self.groups[index].conv1), ("\(name).norm1.beta", \.groups[index].norm1Beta),
                        ("\(name).conv2", \.groups[index].conv2), ("\(name).norm2.beta", \.groups[index].norm2Beta)]
            } + [("head", \.head)]
        }
    }

    /// One group's trained tensors, for input channels C_in and width w.
    public struct GroupParameters: Sendable {
        /// (w, C_in, 3, 3)
        public var conv1: Tensor<S>
        /// (w) the first batch norm's shift (its scale is frozen at 1).
        public var norm1Beta: Tensor<S>
        /// (w, w, 3, 3)
        public var conv2: Tensor<S>
        /// (w)
        public var norm2Beta: Tensor<S>

        @inlinable
        public init(conv1: Tensor<S>, norm1Beta: Tensor<S>, conv2: Tensor<S>, norm2Beta: Tensor<S>) {
            self.conv1 = conv1; self.norm1Beta = norm1Beta; self.conv2 = conv2; self.norm2Beta = norm2Beta
        }
    }

    /// One group's two batch norms: running mean and variance, (w) each.
    public struct GroupStatistics: Sendable {
        public var norm1Mean: Tensor<S>, norm1Variance: Tensor<S>
        public var norm2Mean: Tensor<S>, norm2Variance: Tensor<S>

        @inlinable
        public init(norm1Mean: Tensor<S>, norm1Variance: Tensor<S>, norm2Mean: Tensor<S>, norm2Variance: Tensor<S>) {
            self.norm1Mean = norm1Mean; self.norm1Variance = norm1Variance
            self.norm2Mean = norm2Mean; self.norm2Variance = norm2Variance
        }
    }

    /// What the net saves but does not train, as named fields.
    public struct BufferTensors: NamedTensorFields, Sendable {
        public typealias Scalar = S
        /// (24, 3, 2, 2) the whitening filters, set from the data's patch statistics.
        public var whitenWeight: Tensor<S>
        /// Each group's two batch norms' running statistics.
        public var groups: [GroupStatistics]

        @inlinable
        public init(whitenWeight: Tensor<S>, groups: [GroupStatistics]) { self.whitenWeight = whitenWeight; self.groups = groups }

        /// whiten.weight, then g<i>.norm<j>.running_mean and .running_var.
        public var namedFields: [(String, WritableKeyPath<Self, Tensor<S>>)] {
            [("whiten.weight", \.whitenWeight)] + groups.indices.flatMap { index in
                let name = "g\(index + 1)"
                return [("\(name).norm1.running_mean", \Self.groups[index].norm1Mean), ("\(name).norm1.running_var", \.groups[index].norm1Variance),
                        ("\(name).norm2.running_mean", \.groups[index].norm2Mean), ("\(name).norm2.running_var", \.groups[index].norm2Variance)]
            }
        }
    }

    /// The trained tensors by name. Modifying them in place (as the optimizer does) takes them
    /// out of `parameterTensors` for the while, so that each has one owner and updates without a copy.
    public var parameters: ParameterStore<S> {
        get { parameterTensors.store }
        _modify { yield &parameterTensors.store }
    }

    /// The saved, untrained tensors by name.
    public var buffers: ParameterStore<S> {
        get { bufferTensors.store }
        set { bufferTensors.store = newValue }
    }
}
