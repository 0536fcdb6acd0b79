import CS231nNN
import CS231nOptim

/// Magnitude pruning, the first stage of Deep Compression (Han, Mao and Dally, 2016; Han et al.,
/// "Learning both Weights and Connections", 2015): in each weight tensor the smallest weights by
/// magnitude are set to zero and stay zero while the rest retrain.
public enum Pruning {
    /// Whether pruning and weight sharing act on a parameter: the weight matrices and filters
    /// (W1, W2, …). Biases and normalization parameters are few and stay dense floats.
    public static func isWeight(_ name: String) -> Bool { name.hasPrefix("W") }

    /// The pruning schedule towards `target`: each step halves the weights left (50%, 75%,
    /// 87.5%, …) while that stays clearly short of the target, then the target itself; so 0.9
    /// prunes 50% → 75% → 90%. Pruning gradually and retraining between steps loses less
    /// accuracy than pruning at once.
    public static func schedule(to target: Double) -> [Double] {
        var steps: [Double] = []
        var remaining = 0.5
        while 1 - remaining < target, remaining >= 1.5 * (1 - target) {
            steps.append(1 - remaining)
            remaining /= 2
        }
        return steps + [target]
    }

    /// Keep-masks (1 kept, 0 pruned) that prune exactly round(sparsity · count) weights of every
    /// weight tensor, the smallest magnitudes first (ties by position, so the choice is the same
    /// on every machine). Weights pruned by `previous` stay pruned.
    public static func masks<S: TensorScalar>(for parameters: ParameterStore<S>, sparsity: Double,
                                              keeping previous: ParameterStore<S>? = nil) throws -> ParameterStore<S> {
        guard sparsity >= 0, sparsity < 1 else {
            throw TensorError.invalidArgument(operation: "Pruning", detail: "sparsity must be in [0, 1), got \(sparsity)")
        }
        var masks = ParameterStore<S>()
        for (name, weights) in parameters where isWeight(name) {
            let values = weights.scalars
            let earlier = previous?[name]?.scalars ?? Array(repeating: 1, count: values.count)
            guard earlier.count == values.count else {
                throw TensorError.shapeMismatch(operation: "Pruning", detail: "the previous mask of \(name) has \(earlier.count) entries for \(values.count) weights")
            }
            let pruneCount = Int((sparsity * Double(values.count)).rounded())
            // Already-pruned weights sort first (key −1), so a growing sparsity never revives one.
            let keys = zip(values, earlier).map { value, kept in kept == 0 ? -1 : Swift.abs(value) }
            let order = (0..<values.count).sorted { a, b in keys[a] != keys[b] ? keys[a] < keys[b] : a < b }
            var keep = [S](repeating: 1, count: values.count)
            for index in order.prefix(Swift.max(pruneCount, earlier.lazy.filter { $0 == 0 }.count)) { keep[index] = 0 }
            masks[name] = try Tensor(shape: weights.shape, scalars: keep)
        }
        return masks
    }

    /// Multiplies each masked tensor by its mask, zeroing the pruned entries.
    public static func apply<S: TensorScalar>(_ masks: ParameterStore<S>, to store: inout ParameterStore<S>) throws {
        for (name, mask) in masks {
            guard let index = store.index(of: name) else { continue }
            try store[index: index] *= mask
        }
    }

    /// The fraction of a tensor's entries that are exactly zero.
    public static func sparsity<S: TensorScalar>(of tensor: Tensor<S>) -> Double {
        guard tensor.count > 0 else { return 0 }
        return Double(tensor.withUnsafeBufferPointer { values in values.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }) / Double(tensor.count)
    }

    /// The fraction of zeros over all weight tensors together.
    public static func weightSparsity<S: TensorScalar>(of parameters: ParameterStore<S>) -> Double {
        let weights = parameters.filter { isWeight($0.0) }.map(\.1)
        let total = weights.reduce(0) { $0 + $1.count }
        guard total > 0 else { return 0 }
        return weights.reduce(0.0) { $0 + sparsity(of: $1) * Double($1.count) } / Double(total)
    }
}

/// A model whose pruned weights stay zero while it trains: the gradients of pruned weights are
/// zeroed, and since every update rule's moments start at zero in a fresh optimizer, no update
/// ever moves a pruned weight. The L2 term cannot either: its gradient at a zero weight is zero.
public struct PrunedModel<Base: Model>: ModelWrapper {
    public typealias Scalar = Base.Scalar

    public var base: Base
    /// Keep-masks of the pruned tensors, by parameter name.
    public let masks: ParameterStore<Scalar>

    /// Wraps `base` after zeroing its pruned weights.
    public init(_ base: Base, masks: ParameterStore<Scalar>) throws {
        self.base = base
        self.masks = masks
        try Pruning.apply(masks, to: &self.base.parameters)
    }

    public mutating func loss(_ x: Tensor<Scalar>, _ y: [Int]) throws -> (loss: Scalar, gradients: ParameterStore<Scalar>) {
        var (loss, gradients) = try base.loss(x, y)
        try Pruning.apply(masks, to: &gradients)
        return (loss, gradients)
    }

    public func scores(_ x: Tensor<Scalar>) throws -> Tensor<Scalar> { try base.scores(x) }
}
