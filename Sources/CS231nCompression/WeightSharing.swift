import CS231nNN
import CS231nOptim

/// One-dimensional k-means, Deep Compression's weight sharing: a layer's surviving weights are
/// grouped into k clusters and each weight is replaced by its cluster's centroid.
public enum KMeans {
    /// The clustering of some values: sorted centroids, each value's cluster, and the sum of
    /// squared distances from the values to their centroids after every Lloyd iteration.
    public struct Result: Sendable, Equatable {
        public var centroids: [Double]
        public var assignments: [Int]
        public var errors: [Double]
    }

    /// Lloyd's algorithm from centroids spread linearly between the smallest and largest value,
    /// the initialisation Deep Compression found best: unlike density-based starts it keeps
    /// centroids on the rare large weights, which matter most. Stops when no value changes
    /// cluster or after `iterations`. A cluster that loses all its values keeps its centroid.
    public static func cluster(_ values: [Double], clusters k: Int, iterations: Int = 30) -> Result {
        precondition(k >= 1, "k-means needs at least one cluster")
        guard let low = values.min(), let high = values.max() else { return Result(centroids: [], assignments: [], errors: []) }
        var centroids = (0..<k).map { k == 1 ? (low + high) / 2 : low + (high - low) * Double($0) / Double(k - 1) }
        var assignments = assign(values, to: centroids)
        var errors: [Double] = []
        for _ in 0..<iterations {
            var sums = [Double](repeating: 0, count: k), counts = [Int](repeating: 0, count: k)
            for (value, cluster) in zip(values, assignments) { sums[cluster] += value; counts[cluster] += 1 }
            for c in 0..<k where counts[c] > 0 { centroids[c] = sums[c] / Double(counts[c]) }
            let next = assign(values, to: centroids)
            errors.append(error(values, centroids, next))
            if next == assignments { break }
            assignments = next
        }
        return Result(centroids: centroids, assignments: assignments, errors: errors)
    }

    /// The nearest centroid of each value. The centroids stay sorted (each is a mean of values
    /// lying between its neighbours' boundaries), so a binary search over the midpoints finds it.
    public static func assign(_ values: [Double], to centroids: [Double]) -> [Int] {
        let boundaries = zip(centroids, centroids.dropFirst()).map { ($0 + $1) / 2 }
        return values.map { value in
            var low = 0, high = boundaries.count
            while low < high {
                let middle = (low + high) / 2
                if value > boundaries[middle] { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    /// Σ (value − its centroid)².
    public static func error(_ values: [Double], _ centroids: [Double], _ assignments: [Int]) -> Double {
        zip(values, assignments).reduce(0) { $0 + ($1.0 - centroids[$1.1]) * ($1.0 - centroids[$1.1]) }
    }
}

/// A weight tensor stored as Deep Compression stores it: a codebook of shared values and, for
/// each weight, the index of its value, or `pruned` for a weight that is zero.
public struct SharedLayer<S: TensorScalar>: Sendable, Equatable {
    public static var pruned: Int32 { -1 }

    public var name: String
    public var shape: [Int]
    /// The shared values, 2^bits of them at most.
    public var codebook: [S]
    /// Per weight, row-major: its codebook index, or `pruned`.
    public var assignments: [Int32]
    /// Bits of a codebook index.
    public var bits: Int

    public init(name: String, shape: [Int], codebook: [S], assignments: [Int32], bits: Int) {
        self.name = name
        self.shape = shape
        self.codebook = codebook
        self.assignments = assignments
        self.bits = bits
    }

    /// Clusters the non-zero weights of `weights` into 2^bits shared values.
    public init(name: String, weights: Tensor<S>, bits: Int, iterations: Int = 30) {
        let values = weights.scalars
        let surviving = values.indices.filter { values[$0] != 0 }
        let result = KMeans.cluster(surviving.map { Double(values[$0]) }, clusters: 1 << bits, iterations: iterations)
        var assignments = [Int32](repeating: Self.pruned, count: values.count)
        for (index, cluster) in zip(surviving, result.assignments) { assignments[index] = Int32(cluster) }
        self.init(name: name, shape: weights.shape, codebook: result.centroids.map { S($0) }, assignments: assignments, bits: bits)
    }

    /// The weights: each weight its shared value, pruned ones zero.
    public var weights: Tensor<S> {
        var result = Tensor<S>(uninitializedShape: shape)
        result.withUnsafeMutableBufferPointer { out in
            for (i, cluster) in assignments.enumerated() { out[i] = cluster == Self.pruned ? 0 : codebook[Int(cluster)] }
        }
        return result
    }

    /// The gradient of each shared value: the sum of the gradients of the weights that share it.
    public func codebookGradient(_ weightGradient: Tensor<S>) -> Tensor<S> {
        var sums = [S](repeating: 0, count: codebook.count)
        weightGradient.withUnsafeBufferPointer { gradient in
            for (i, cluster) in assignments.enumerated() where cluster != Self.pruned { sums[Int(cluster)] += gradient[i] }
        }
        return Tensor(sums)
    }

    /// The positions of the weights that survive pruning, in order.
    public var positions: [Int] { assignments.indices.filter { assignments[$0] != Self.pruned } }
}

/// A model whose weight tensors are shared values, for Deep Compression's centroid fine-tuning:
/// its parameters are each weight tensor's codebook (under the weight's name) and the base's
/// other parameters; the loss's gradient of a codebook entry is the sum of the gradients of the
/// weights sharing it, so the Solver and any Optimizer fine-tune the shared values directly.
public struct SharedWeightsModel<Base: Model>: Model {
    public typealias Scalar = Base.Scalar

    /// The model with every shared weight expanded from its codebook.
    public private(set) var base: Base
    public private(set) var layers: [SharedLayer<Scalar>]

    /// Shares the non-zero weights of every weight tensor (`Pruning.isWeight`) of `base` among
    /// 2^bits values.
    public init(_ base: Base, bits: Int, iterations: Int = 30) throws {
        guard (1...8).contains(bits) else {
            throw TensorError.invalidArgument(operation: "weight sharing", detail: "bits must be 1…8, got \(bits)")
        }
        let layers = base.parameters.filter { Pruning.isWeight($0.0) }.map { SharedLayer(name: $0.0, weights: $0.1, bits: bits, iterations: iterations) }
        try self.init(base, layers: layers)
    }

    /// A model from its shared layers; the base's own values of those weights are replaced.
    public init(_ base: Base, layers: [SharedLayer<Scalar>]) throws {
        self.base = base
        self.layers = layers
        for layer in layers {
            guard let current = base.parameters[layer.name], current.shape == layer.shape else {
                throw TensorError.shapeMismatch(operation: "weight sharing",
                    detail: "shared layer \(layer.name) \(describeShape(layer.shape)) does not match the model's \(base.parameters[layer.name].map { describeShape($0.shape) } ?? "(absent)")")
            }
            self.base.parameters[layer.name] = layer.weights
        }
    }

    public var configuration: ModelConfiguration { base.configuration }

    /// The codebooks (shape [2^bits]) under the weights' names, the other parameters as they are.
    /// Setting them expands the codebooks into the base's weights.
    public var parameters: ParameterStore<Scalar> {
        get {
            var store = base.parameters
            for layer in layers { store[layer.name] = Tensor(layer.codebook) }
            return store
        }
        set {
            var expanded = newValue
            for index in layers.indices {
                guard let codebook = newValue[layers[index].name], codebook.count == layers[index].codebook.count else { continue }
                layers[index].codebook = codebook.scalars
                expanded[layers[index].name] = layers[index].weights
            }
            base.parameters = expanded
        }
    }

    public var buffers: ParameterStore<Scalar> {
        get { base.buffers }
        set { base.buffers = newValue }
    }

    public var trainingSteps: Int {
        get { base.trainingSteps }
        set { base.trainingSteps = newValue }
    }

    public mutating func loss(_ x: Tensor<Scalar>, _ y: [Int]) throws -> (loss: Scalar, gradients: ParameterStore<Scalar>) {
        var (loss, gradients) = try base.loss(x, y)
        for layer in layers {
            gradients[layer.name] = layer.codebookGradient(try gradients.require(layer.name))
        }
        return (loss, gradients)
    }

    public func scores(_ x: Tensor<Scalar>) throws -> Tensor<Scalar> { try base.scores(x) }
}
