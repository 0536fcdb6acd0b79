import CS231nNN

/// Data-parallel training, Horovod's and PyTorch DDP's scheme, over replicas that each hold the
/// same model: every replica computes the loss and gradients of its share of the global batch,
/// and `reduce` turns them into those of the whole batch, the same bits on every replica, so
/// that the same update keeps the replicas identical. The Solver does this when its
/// `dataParallel` is set; a training loop of one's own calls `localRows` and `reduce` around
/// its gradient step in the same way.
///
/// The reduced gradient equals one process's gradient of the whole batch up to rounding. A loss
/// averaged over the batch (`LossReduction.mean`) weighs each share by its size b_r/B, which is
/// right for the regularization term too: every share adds it in full, and Σ b_r/B = 1. A
/// summed loss adds the shares. The sum runs in rank order, so a run is reproducible to the bit
/// for a given number of replicas, whatever the network.
public struct DataParallel: Sendable {
    public let replicas: any ReplicaGroup

    public init(_ replicas: any ReplicaGroup) { self.replicas = replicas }

    public var rank: Int { replicas.rank }
    public var size: Int { replicas.size }
    /// Rank 0, which writes the checkpoints.
    public var isLeader: Bool { replicas.isLeader }

    /// This replica's rows of a global batch of `count` examples: the rank-th of `size`
    /// contiguous, nearly equal parts.
    public func localRows(of count: Int) -> Range<Int> { replicas.share(of: count) }

    /// The loss and gradients of the global batch of `globalCount` examples, from this
    /// replica's on its `localCount` of them. Every replica calls it at the same step.
    @inlinable
    public func reduce<S: TensorScalar>(loss: S, gradients: inout ParameterStore<S>, localCount: Int, globalCount: Int,
                                        reduction: LossReduction) throws -> S {
        let weight = reduction == .mean ? S(Double(localCount) / Double(globalCount)) : 1
        var packed = [loss * weight] + Self.pack(gradients, scaledBy: weight)
        try replicas.sumInRankOrder(&packed)
        Self.unpack(packed.dropFirst(), into: &gradients)
        return packed[0]
    }

    /// Copies the leader's tensors over every replica's (batch norm's running statistics, which
    /// each replica estimates from its own share, as PyTorch DDP broadcasts rank 0's).
    @inlinable
    public func synchronize<S: TensorScalar>(_ store: inout ParameterStore<S>) throws {
        guard !store.isEmpty else { return }
        var packed = Self.pack(store, scaledBy: 1)
        try packed.withUnsafeMutableBytes { try replicas.broadcast($0, from: 0) }
        Self.unpack(packed[...], into: &store)
    }

    /// The number of rows whose prediction is their label over every replica's share of
    /// `labels`, where this replica's `predict` scores the rows of its share (given as positions).
    @inlinable
    public func correctCount(labels: [Int], predict: (Range<Int>) throws -> [Int]) throws -> Int {
        let rows = localRows(of: labels.count)
        let predictions = try predict(rows)
        let correct = zip(predictions, labels[rows]).filter { $0 == $1 }.count
        return try replicas.sumInRankOrder(counts: [correct])[0]
    }

    /// The tensors of `store` one after the other, in the order of their names (the same on
    /// every replica whatever order a model builds them in), each times `weight`.
    @inlinable
    static func pack<S: TensorScalar>(_ store: ParameterStore<S>, scaledBy weight: S) -> [S] {
        let names = store.names.sorted()
        return [S](unsafeUninitializedCapacity: store.scalarCount) { buffer, initialized in
            var offset = 0
            for name in names {
                store[index: store.index(of: name)!].withUnsafeBufferPointer { values in
                    guard !values.isEmpty else { return }
                    let target = buffer.baseAddress! + offset
                    if weight == 1 {
                        target.initialize(from: values.baseAddress!, count: values.count)
                    } else {
                        for i in 0..<values.count { target[i] = values[i] * weight }
                    }
                    offset += values.count
                }
            }
            initialized = offset
        }
    }

    /// The inverse of `pack`: the values back into the tensors of `store`, by name order.
    @inlinable
    static func unpack<S: TensorScalar>(_ packed: ArraySlice<S>, into store: inout ParameterStore<S>) {
        var offset = packed.startIndex
        for name in store.names.sorted() {
            store[index: store.index(of: name)!].withUnsafeMutableBufferPointer { values in
                guard !values.isEmpty else { return }
                packed.withUnsafeBufferPointer { source in
                    values.baseAddress!.update(from: source.baseAddress! + (offset - packed.startIndex), count: values.count)
                }
                offset += values.count
            }
        }
    }
}
