import CS231nTensor

/// Examples (N, …) with their labels: preprocessed inputs, as models, classifiers and the
/// Solver consume them.
public struct LabeledTensors<S: TensorScalar>: Sendable {
    public var x: Tensor<S>
    public var y: [Int]

    public init(x: Tensor<S>, y: [Int]) throws {
        guard x.rank >= 1, x.shape[0] == y.count else {
            throw TensorError.shapeMismatch(operation: "LabeledTensors", detail: "\(y.count) labels for examples \(describeShape(x.shape))")
        }
        self.x = x
        self.y = y
    }

    public var count: Int { y.count }

    /// Copies the examples `indices` into `batch`, reusing its buffer when its shape fits.
    @inlinable
    public func gather(_ indices: [Int], into batch: inout Tensor<S>) {
        let rowSize = x.count / Swift.max(1, count)
        let shape = [indices.count] + x.shape.dropFirst()
        if batch.shape != shape { batch = Tensor(uninitializedShape: shape) }
        guard !indices.isEmpty, rowSize > 0 else { return }
        x.withUnsafeBufferPointer { source in
            batch.withUnsafeMutableBufferPointer { target in
                let from = SendableConstPointer(source.baseAddress!), to = SendablePointer(target.baseAddress!)
                let rows = UnsafeSendable(indices)
                Parallel.forEachChunk(indices.count, minimumChunk: Swift.max(1, 16_384 / rowSize)) { range in
                    for row in range {
                        (to.base + row * rowSize).update(from: from.base + rows.value[row] * rowSize, count: rowSize)
                    }
                }
            }
        }
    }
}

/// The order one training epoch visits the examples in, cut into batches: a permutation drawn
/// from a generator seeded by the seed and the epoch alone, so that a resumed run shuffles
/// exactly as an uninterrupted one.
public struct BatchOrder: Sendable {
    /// Every example index once, in visiting order.
    public let order: [Int]
    public let batchSize: Int

    /// Epoch `epoch` (1-based) of `count` examples in batches of `batchSize` (the last may be
    /// smaller).
    @inlinable
    public init(seed: UInt64, epoch: Int, count: Int, batchSize: Int) {
        precondition(batchSize > 0, "BatchOrder: the batch size must be positive")
        var generator = RandomGenerator(seed: BatchOrder.epochSeed(seed, epoch), stream: .dataOrder)
        order = generator.permutation(count)
        self.batchSize = batchSize
    }

    /// Batches per epoch.
    @inlinable
    public var count: Int { (order.count + batchSize - 1) / batchSize }

    /// The example indices of batch `step` (0-based).
    @inlinable
    public subscript(step: Int) -> [Int] {
        Array(order[(step * batchSize)..<Swift.min(order.count, (step + 1) * batchSize)])
    }

    /// The seed of epoch `epoch`'s random draws (its order, and the Solver's accuracy samples).
    @inlinable
    public static func epochSeed(_ seed: UInt64, _ epoch: Int) -> UInt64 { seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15 }
}

/// Where a training batch comes from, for augmentations that depend on it: its rows of the
/// training set, the 0-based epoch and iteration, and the run's seed. Under data parallelism a
/// replica's batch is rows `position..<position + indices.count` of the global batch, so that
/// draws made per row of the global batch are the same as in one process.
public struct BatchOrigin: Sendable {
    public var indices: [Int]
    public var epoch: Int
    public var iteration: Int
    public var seed: UInt64
    public var position: Int

    public init(indices: [Int], epoch: Int, iteration: Int, seed: UInt64, position: Int = 0) {
        self.indices = indices
        self.epoch = epoch
        self.iteration = iteration
        self.seed = seed
        self.position = position
    }
}
