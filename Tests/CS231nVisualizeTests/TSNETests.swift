@testable import CS231nVisualize
import CS231nTensor
import Foundation
import Testing

/// t-SNE: affinities, the two gradients, the optimiser on clusters, and the quality measures.
@Suite struct TSNETests {
    /// `clusters` Gaussian blobs of `perCluster` points in `dimensions`, centres 12 apart on
    /// the axes, unit spread; labels are the blob.
    static func blobs(clusters: Int, perCluster: Int, dimensions: Int, seed: UInt64) -> (x: Tensor<Float>, labels: [Int]) {
        var generator = RandomGenerator(seed: seed, stream: .dataset)
        var values: [Float] = [], labels: [Int] = []
        for point in 0..<(clusters * perCluster) {
            let cluster = point % clusters
            for d in 0..<dimensions { values.append(Float(generator.nextNormal()) + (d == cluster ? 12 : 0)) }
            labels.append(cluster)
        }
        return (try! Tensor(shape: [clusters * perCluster, dimensions], scalars: values), labels)
    }

    @Test func eachPointsGaussianHasThePerplexityAsked() throws {
        var generator = RandomGenerator(seed: 5)
        let squared = (0..<60).map { _ in 10 * generator.nextUniform() }
        for perplexity in [2.0, 5, 30] {
            var p = [Double](repeating: 0, count: squared.count)
            TSNEAffinities.conditionalProbabilities(squared, perplexity: perplexity, into: &p)
            let entropy = -p.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) }
            #expect(Swift.abs(exp(entropy) - perplexity) < 1e-3 * perplexity, "perplexity \(perplexity): got \(exp(entropy))")
            #expect(Swift.abs(p.reduce(0, +) - 1) < 1e-12)
        }
    }

    @Test func jointAffinitiesAreSymmetricAndSumToOne() throws {
        let (x, _) = Self.blobs(clusters: 3, perCluster: 20, dimensions: 5, seed: 1)
        for method in TSNE.Method.allCases {
            let affinities = try TSNEAffinities(x, perplexity: 8, method: method)
            let (rows, columns, values) = affinities.entries()
            var byPair: [[Int]: Float] = [:]
            for (i, (r, c)) in zip(rows, columns).enumerated() { byPair[[r, c]] = values[i] }
            #expect(byPair.allSatisfy { byPair[[$0.key[1], $0.key[0]]] == $0.value }, "\(method): not symmetric")
            #expect(Swift.abs(values.reduce(0.0) { $0 + Double($1) } - 1) < 1e-5, "\(method)")
            #expect(!byPair.keys.contains { $0[0] == $0[1] }, "\(method): a point is its own neighbour")
        }
        // Barnes–Hut keeps ⌊3·8 + 1⌋ = 25 neighbours per point, and the points that keep it.
        let sparse = try TSNEAffinities(x, perplexity: 8, method: .barnesHut)
        guard case let .sparse(rowStarts, _, _) = sparse.storage else { Issue.record("not sparse"); return }
        #expect((0..<60).allSatisfy { (25...59).contains(rowStarts[$0 + 1] - rowStarts[$0]) })
    }

    /// With every pair a neighbour and θ = 0 (every cell opened), Barnes–Hut is the exact gradient.
    @Test func barnesHutWithThetaZeroIsTheExactGradient() throws {
        let (x, _) = Self.blobs(clusters: 2, perCluster: 20, dimensions: 4, seed: 2)
        let exact = try TSNEAffinities(x, perplexity: 13, method: .exact)
        let tree = try TSNEAffinities(x, perplexity: 13, method: .barnesHut)
        var generator = RandomGenerator(seed: 9)
        var points = (0..<80).map { _ in Float(generator.nextNormal()) }
        points[3] = points[7]; points[43] = points[47]  // a duplicate point shares a leaf
        var a = PlaneGradient(count: 40), b = PlaneGradient(count: 40)
        try points.withUnsafeBufferPointer { try exact.gradient(at: $0.baseAddress!, exaggeration: 12, theta: 0.5, into: &a) }
        try points.withUnsafeBufferPointer { try tree.gradient(at: $0.baseAddress!, exaggeration: 12, theta: 0, into: &b) }
        let largest = a.values.map { Swift.abs($0) }.max()!
        #expect(zip(a.values, b.values).allSatisfy { Swift.abs($0 - $1) <= 1e-4 * largest })
        #expect(Swift.abs(points.withUnsafeBufferPointer { exact.klDivergence(at: $0.baseAddress!) - tree.klDivergence(at: $0.baseAddress!) }) < 1e-4)
        // θ = 0.5 approximates it.
        try points.withUnsafeBufferPointer { try tree.gradient(at: $0.baseAddress!, exaggeration: 12, theta: 0.5, into: &b) }
        #expect(zip(a.values, b.values).allSatisfy { Swift.abs($0 - $1) <= 0.05 * largest })
    }

    @Test func theExactGradientIsTheNumericGradientOfTheDivergence() throws {
        let (x, _) = Self.blobs(clusters: 2, perCluster: 6, dimensions: 3, seed: 3)
        let affinities = try TSNEAffinities(x, perplexity: 4, method: .exact)
        var generator = RandomGenerator(seed: 4)
        let points = (0..<24).map { _ in Float(generator.nextNormal()) }
        var gradient = PlaneGradient(count: 12)
        try points.withUnsafeBufferPointer { try affinities.gradient(at: $0.baseAddress!, exaggeration: 1, theta: 0.5, into: &gradient) }
        for k in [0, 5, 13, 23] {
            var plus = points, minus = points
            plus[k] += 1e-2; minus[k] -= 1e-2
            let numeric = (plus.withUnsafeBufferPointer { affinities.klDivergence(at: $0.baseAddress!) }
                - minus.withUnsafeBufferPointer { affinities.klDivergence(at: $0.baseAddress!) }) / 2e-2
            #expect(Swift.abs(numeric - Double(gradient.values[k])) < 2e-3 * Swift.max(1, Swift.abs(numeric)), "coordinate \(k)")
        }
    }

    @Test func separatedClustersStaySeparatedAndTrustworthy() throws {
        let (x, labels) = Self.blobs(clusters: 5, perCluster: 40, dimensions: 10, seed: 6)
        let result = try TSNE.embed(x, settings: .init(perplexity: 20, seed: 1))
        #expect(result.method == .exact && result.embedding.shape == [200, 2] && result.learningRate == 50)
        #expect(try TSNE.trustworthiness(high: x, low: result.embedding, k: 5) >= 0.95)
        #expect(try TSNE.neighbourAgreement(result.embedding, labels: labels, k: 5) > 0.99)
        #expect(result.klDivergence > 0 && result.klDivergence < 1.5, "KL \(result.klDivergence)")
    }

    @Test func exactAndBarnesHutReachAboutTheSameDivergence() throws {
        let (x, _) = Self.blobs(clusters: 4, perCluster: 60, dimensions: 8, seed: 7)
        var settings = TSNE.Settings(perplexity: 15, iterations: 500, seed: 2)
        let exact = try TSNE.embed(x, settings: settings)
        settings.method = .barnesHut
        let tree = try TSNE.embed(x, settings: settings)
        #expect(tree.method == .barnesHut)
        #expect(Swift.abs(exact.klDivergence - tree.klDivergence) < 0.1 * exact.klDivergence,
                "exact \(exact.klDivergence), Barnes–Hut \(tree.klDivergence)")
    }

    @Test func theSameSeedGivesTheSameMap() throws {
        let (x, _) = Self.blobs(clusters: 3, perCluster: 30, dimensions: 6, seed: 8)
        for method in TSNE.Method.allCases {
            for initialization in TSNE.Initialization.allCases {
                let settings = TSNE.Settings(perplexity: 10, iterations: 300, method: method, initialization: initialization, seed: 3)
                let first = try TSNE.embed(x, settings: settings), second = try TSNE.embed(x, settings: settings)
                #expect(first.embedding == second.embedding && first.klDivergence == second.klDivergence, "\(method), \(initialization)")
            }
        }
    }

    @Test func principalComponentsStartAlongTheWidestAxis() throws {
        var generator = RandomGenerator(seed: 10)
        // Spread 5 along (1, 1, 0, 0)/√2, 1 along (0, 0, 1, 0), 0.1 elsewhere.
        let values: [Float] = (0..<300).flatMap { _ -> [Float] in
            let (a, b) = (5 * generator.nextNormal(), generator.nextNormal())
            return [a / 2.squareRoot() + 0.1 * generator.nextNormal(), a / 2.squareRoot() + 0.1 * generator.nextNormal(),
                    b, 0.1 * generator.nextNormal()].map(Float.init)
        }
        let x = try Tensor(shape: [300, 4], scalars: values)
        let start = try TSNE.principalComponents(x, seed: 0)
        let first = (0..<300).map { Double(start[$0, 0]) }, along = (0..<300).map { Double(values[$0 * 4] + values[$0 * 4 + 1]) }
        let deviation = (first.reduce(0) { $0 + $1 * $1 } / 300).squareRoot()
        #expect(Swift.abs(deviation - 1e-4) < 1e-6)
        let correlation = zip(first, along).reduce(0) { $0 + $1.0 * $1.1 }
            / (first.reduce(0) { $0 + $1 * $1 } * along.reduce(0) { $0 + $1 * $1 }).squareRoot()
        #expect(Swift.abs(correlation) > 0.999)
    }

    @Test func trustworthinessMatchesScikitLearn() throws {
        // sklearn.manifold.trustworthiness(high, low, n_neighbors=3) on these float32 points: 0.43253968253968256.
        let i = (0..<12).map(Double.init)
        let high = try Tensor<Float>(shape: [12, 3], scalars: i.flatMap { [Float(sin($0 * 1.7) * 3), Float(cos($0 * 2.3) * 2), Float($0 * 0.1)] })
        let low = try Tensor<Float>(shape: [12, 2], scalars: i.flatMap { [Float(sin($0 * 0.9)), Float(cos($0 * 0.4))] })
        #expect(Swift.abs(try TSNE.trustworthiness(high: high, low: low, k: 3) - 0.43253968253968256) < 1e-12)
        #expect(try TSNE.trustworthiness(high: high, low: high, k: 3) == 1)
        #expect(throws: TensorError.self) { try TSNE.trustworthiness(high: high, low: low, k: 6) }
    }

    @Test func badArgumentsAreNamed() throws {
        let (x, _) = Self.blobs(clusters: 2, perCluster: 5, dimensions: 3, seed: 1)
        #expect(throws: TensorError.self) { try TSNE.embed(x, settings: .init(perplexity: 10)) }
        #expect(throws: TensorError.self) { try TSNE.embed(x, settings: .init(perplexity: 3, iterations: 0)) }
        #expect(throws: TensorError.self) { try TSNE.embed(Tensor<Float>.zeros([1, 3])) }
        do {
            _ = try TSNE.embed(x, settings: .init(perplexity: 10))
        } catch {
            #expect("\(error)".contains("below the number of points 10"), "\(error)")
        }
    }
}
