extension ModernConvNet {
    /// The trained tensors of the net as named fields (llm.c's `ParameterTensors`), shapes for
    /// group widths w₁…w_G, 24 whitening filters and C classes.
    public struct ParameterTensors: Sendable {
        /// (24) the whitening conv's bias, trained for the first epochs only.
        public var whitenBias: Tensor<S>
        public var groups: [GroupParameters]
        /// (w_G, C) the linear head, without a bias.
        public var head: Tensor<S>

        @inlinable
        public init(whitenBias: Tensor<S>, groups: [GroupParameters], head: Tensor<S>) {
            self.whitenBias = whitenBias; self.groups = groups; self.head = head
        }

        /// The store's names and order, as checkpoints keep them: whiten.bias, g<i>.conv1,
        /// g<i>.norm1.beta, g<i>.conv2, g<i>.norm2.beta, head.
        @inlinable
        var store: ParameterStore<S> {
            ParameterStore([("whiten.bias", whitenBias)] + groups.enumerated().flatMap { index, group in
                let name = "g\(index + 1)"
                return [("\(name).conv1", group.conv1), ("\(name).norm1.beta", group.norm1Beta),
                        ("\(name).conv2", group.conv2), ("\(name).norm2.beta", group.norm2Beta)]
            } + [("head", head)])
        }

        /// Takes the tensors `store` names; those it lacks stay as they are.
        @inlinable
        mutating func assign(_ store: ParameterStore<S>) {
            whitenBias = store["whiten.bias"] ?? whitenBias
            for index in groups.indices {
                let name = "g\(index + 1)"
                groups[index].conv1 = store["\(name).conv1"] ?? groups[index].conv1
                groups[index].norm1Beta = store["\(name).norm1.beta"] ?? groups[index].norm1Beta
                groups[index].conv2 = store["\(name).conv2"] ?? groups[index].conv2
                groups[index].norm2Beta = store["\(name).norm2.beta"] ?? groups[index].norm2Beta
            }
            head = store["head"] ?? head
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
    public struct BufferTensors: Sendable {
        /// (24, 3, 2, 2) the whitening filters, set from the data's patch statistics.
        public var whitenWeight: Tensor<S>
        /// Each group's two batch norms' running statistics.
        public var groups: [GroupStatistics]

        @inlinable
        public init(whitenWeight: Tensor<S>, groups: [GroupStatistics]) { self.whitenWeight = whitenWeight; self.groups = groups }

        /// whiten.weight, then g<i>.norm<j>.running_mean and .running_var.
        @inlinable
        var store: ParameterStore<S> {
            ParameterStore([("whiten.weight", whitenWeight)] + groups.enumerated().flatMap { index, group in
                let name = "g\(index + 1)"
                return [("\(name).norm1.running_mean", group.norm1Mean), ("\(name).norm1.running_var", group.norm1Variance),
                        ("\(name).norm2.running_mean", group.norm2Mean), ("\(name).norm2.running_var", group.norm2Variance)]
            })
        }

        @inlinable
        mutating func assign(_ store: ParameterStore<S>) {
            whitenWeight = store["whiten.weight"] ?? whitenWeight
            for index in groups.indices {
                let name = "g\(index + 1)"
                groups[index].norm1Mean = store["\(name).norm1.running_mean"] ?? groups[index].norm1Mean
                groups[index].norm1Variance = store["\(name).norm1.running_var"] ?? groups[index].norm1Variance
                groups[index].norm2Mean = store["\(name).norm2.running_mean"] ?? groups[index].norm2Mean
                groups[index].norm2Variance = store["\(name).norm2.running_var"] ?? groups[index].norm2Variance
            }
        }
    }

    /// The trained tensors by name. Modifying them in place (as the optimizer does) takes them
    /// out of `parameterTensors` for the while, so that each has one owner and updates without a copy.
    public var parameters: ParameterStore<S> {
        get { parameterTensors.store }
        set { parameterTensors.assign(newValue) }
        _modify {
            var store = parameterTensors.store
            parameterTensors.assign(store.mapTensors { _, _ in .zeros([0]) })
            defer { parameterTensors.assign(store) }
            yield &store
        }
    }

    /// The saved, untrained tensors by name.
    public var buffers: ParameterStore<S> {
        get { bufferTensors.store }
        set { bufferTensors.assign(newValue) }
    }
}
