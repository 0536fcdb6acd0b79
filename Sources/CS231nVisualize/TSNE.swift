import CS231nTensor
import Foundation

/// t-distributed stochastic neighbour embedding (van der Maaten & Hinton, 2008) into the plane,
/// with scikit-learn's defaults and optimiser: Gaussian affinities of a given perplexity, a
/// Student-t (one degree of freedom) kernel in the map, early exaggeration, momentum and
/// delta-bar-delta gains, and PCA or random initialisation.
///
/// The gradient is exact, O(N²), up to `exactLimit` points and Barnes–Hut's O(N log N) above,
/// on sparse affinities over each point's 3·perplexity nearest neighbours. Written by hand
/// because no Swift library has t-SNE. Every result is seeded and independent of the thread
/// count: per-point sums run in a fixed order and totals add the per-point values in order.
public enum TSNE {
    public enum Method: String, Sendable, CaseIterable {
        /// Every pair of points, dense affinities: O(N²) per iteration.
        case exact
        /// Sparse kNN affinities and a quadtree for the repulsion: O(N log N) per iteration.
        case barnesHut = "barnes-hut"
    }

    public enum Initialization: String, Sendable, CaseIterable {
        /// The first two principal components, scaled to a standard deviation of 1e-4 on the first.
        case pca
        /// Normal with standard deviation 1e-4, from the seed.
        case random
    }

    /// The largest N the default method computes exactly.
    public static let exactLimit = 2_000

    public struct Settings: Sendable, Equatable {
        /// The effective number of neighbours each point's Gaussian covers.
        public var perplexity = 30.0
        public var iterations = 1_000
        /// The affinities are multiplied by this for the first `exaggerationIterations`.
        public var earlyExaggeration = 12.0
        public var exaggerationIterations = 250
        /// nil: scikit-learn's "auto", max(N / earlyExaggeration / 4, 50).
        public var learningRate: Double?
        /// Momentum while exaggerating, then after.
        public var initialMomentum = 0.5
        public var finalMomentum = 0.8
        /// The floor of the delta-bar-delta gains.
        public var minimumGain = 0.01
        /// Barnes–Hut's opening angle: a cell whose width is below θ times its distance counts as one point.
        public var theta = 0.5
        /// nil: exact up to `exactLimit` points, Barnes–Hut above.
        public var method: Method?
        public var initialization = Initialization.pca
        public var seed: UInt64 = 0

        public init(perplexity: Double = 30, iterations: Int = 1_000, method: Method? = nil,
                    initialization: Initialization = .pca, seed: UInt64 = 0) {
            self.perplexity = perplexity; self.iterations = iterations; self.method = method
            self.initialization = initialization; self.seed = seed
        }

        /// The rate used for `count` points.
        public func learningRate(count: Int) -> Double {
            learningRate ?? Swift.max(Double(count) / earlyExaggeration / 4, 50)
        }
    }

    public struct Result: Sendable {
        /// (N, 2).
        public var embedding: Tensor<Float>
        /// KL(P ‖ Q) of the final embedding, Q normalised over every pair.
        public var klDivergence: Double
        public var method: Method
        public var learningRate: Double
        public var affinities: TSNEAffinities
    }

    /// Embeds the rows of `x` (N, D), N ≥ 2. `progress` is called with each finished iteration.
    public static func embed(_ x: Tensor<Float>, settings: Settings = Settings(),
                             progress: ((Int) -> Void)? = nil) throws -> Result {
        let count = x.shape.first ?? 0
        guard x.rank == 2, count >= 2, x.shape[1] > 0 else {
            throw TensorError.invalidArgument(operation: "TSNE",
                detail: "expected rows (N, D) with N ≥ 2 and D ≥ 1, got \(describeShape(x.shape))")
        }
        let method = settings.method ?? (count <= exactLimit ? .exact : .barnesHut)
        let affinities = try TSNEAffinities(x, perplexity: settings.perplexity, method: method)
        let initial = switch settings.initialization {
        case .pca: try principalComponents(x, seed: settings.seed)
        case .random: randomEmbedding(count: count, seed: settings.seed)
        }
        return try optimize(affinities, from: initial, settings: settings, progress: progress)
    }

    /// Gradient descent on KL(P ‖ Q) from `initial` (N, 2): scikit-learn's `_gradient_descent`,
    /// run once with exaggeration and the initial momentum and once after, each run starting with
    /// zero velocity and unit gains. Runs every iteration (no early stop).
    public static func optimize(_ affinities: TSNEAffinities, from initial: Tensor<Float>, settings: Settings,
                                progress: ((Int) -> Void)? = nil) throws -> Result {
        let count = affinities.count
        guard initial.shape == [count, 2] else {
            throw TensorError.shapeMismatch(operation: "TSNE",
                detail: "initial embedding \(describeShape(initial.shape)) for \(count) points (N, 2)")
        }
        try check(settings)
        let rate = settings.learningRate(count: count)
        // Planar layout: x coordinates then y coordinates, so the kernels read each with SIMD.
        var coordinates = (0..<count).map { initial[$0, 0] } + (0..<count).map { initial[$0, 1] }
        var gradient = PlaneGradient(count: count)
        var velocity = [Float](), gains = [Float]()
        let exploration = Swift.min(settings.exaggerationIterations, settings.iterations)
        for iteration in 0..<settings.iterations {
            let exploring = iteration < exploration
            if iteration == 0 || iteration == exploration {
                velocity = [Float](repeating: 0, count: 2 * count)
                gains = [Float](repeating: 1, count: 2 * count)
            }
            try coordinates.withUnsafeBufferPointer { points in
                try affinities.gradient(at: points.baseAddress!, exaggeration: Float(exploring ? settings.earlyExaggeration : 1),
                                        theta: Float(settings.theta), into: &gradient)
            }
            step(&coordinates, gradient: gradient.values, velocity: &velocity, gains: &gains,
                 momentum: Float(exploring ? settings.initialMomentum : settings.finalMomentum),
                 learningRate: Float(rate), minimumGain: Float(settings.minimumGain))
            progress?(iteration + 1)
        }
        let divergence = coordinates.withUnsafeBufferPointer { affinities.klDivergence(at: $0.baseAddress!) }
        let embedding = try Tensor(shape: [count, 2], scalars: (0..<count).flatMap { [coordinates[$0], coordinates[count + $0]] })
        return Result(embedding: embedding, klDivergence: divergence, method: affinities.method, learningRate: rate,
                      affinities: affinities)
    }

    /// One step of momentum with delta-bar-delta gains: a coordinate whose gradient changed sign
    /// against its velocity gains 0.2, one that kept it shrinks by 0.8, never below the floor.
    static func step(_ coordinates: inout [Float], gradient: [Float], velocity: inout [Float], gains: inout [Float],
                     momentum: Float, learningRate: Float, minimumGain: Float) {
        for k in coordinates.indices {
            let g = gradient[k]
            gains[k] = velocity[k] * g < 0 ? gains[k] + 0.2 : gains[k] * 0.8
            if gains[k] < minimumGain { gains[k] = minimumGain }
            velocity[k] = momentum * velocity[k] - learningRate * (g * gains[k])
            coordinates[k] += velocity[k]
        }
    }

    static func check(_ settings: Settings) throws {
        func invalid(_ detail: String) -> TensorError { .invalidArgument(operation: "TSNE", detail: detail) }
        guard settings.iterations >= 1, settings.exaggerationIterations >= 0 else {
            throw invalid("iterations \(settings.iterations) must be at least 1 and exaggeration iterations not negative")
        }
        guard settings.earlyExaggeration >= 1, settings.learningRate(count: 2) > 0, settings.minimumGain > 0,
              (0...1).contains(settings.initialMomentum), (0...1).contains(settings.finalMomentum), settings.theta >= 0 else {
            throw invalid("early exaggeration must be ≥ 1, the learning rate and minimum gain positive, the momenta in 0...1 and θ ≥ 0")
        }
    }

    /// scikit-learn's random start: N(0, 1e-4²) per coordinate, (N, 2).
    static func randomEmbedding(count: Int, seed: UInt64) -> Tensor<Float> {
        var generator = RandomGenerator(seed: seed, stream: .initialization)
        return Tensor<Float>.randn([count, 2], scale: 1e-4, using: &generator)
    }
}

/// The gradient of the map: 2N values, x derivatives then y, with scratch for its parts.
struct PlaneGradient {
    var values: [Float]
    /// The repulsive force of each point (x then y) before dividing by Z.
    var repulsion: [Float]
    /// Each point's share of Z = Σ_{i≠j} 1/(1 + ‖y_i − y_j‖²).
    var normalization: [Float]

    init(count: Int) {
        values = [Float](repeating: 0, count: 2 * count)
        repulsion = values
        normalization = [Float](repeating: 0, count: count)
    }

    /// dC/dy_i = 4·(exaggeration·attraction_i − repulsion_i / Z), with the attraction already in
    /// `values` and Z the in-order sum of the per-point shares.
    mutating func combine(exaggeration: Float) {
        let total = Float(normalization.reduce(0.0) { $0 + Double($1) })
        for k in values.indices { values[k] = 4 * (exaggeration * values[k] - repulsion[k] / total) }
    }
}
