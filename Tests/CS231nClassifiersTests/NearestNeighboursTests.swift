import CS231nClassifiers
import CS231nTensor
import Testing

/// `KNearestNeighbor.nearest`: the k nearest rows themselves, not their vote.
@Suite struct NearestNeighboursTests {
    /// Brute force in Double, by (distance, index).
    static func reference(_ queries: Tensor<Float>, _ training: Tensor<Float>, k: Int, metric: DistanceMetric) -> ([[Int]], [[Double]]) {
        let d = training.shape[1], q = queries.scalars.map(Double.init), t = training.scalars.map(Double.init)
        var indices: [[Int]] = [], distances: [[Double]] = []
        for i in 0..<queries.shape[0] {
            let all = (0..<training.shape[0]).map { j in
                (0..<d).reduce(0.0) { sum, c in
                    let diff = q[i * d + c] - t[j * d + c]
                    return sum + (metric == .l2 ? diff * diff : Swift.abs(diff))
                }
            }
            let nearest = Array(all.indices.sorted { (all[$0], $0) < (all[$1], $1) }.prefix(k))
            indices.append(nearest)
            distances.append(nearest.map { metric == .l2 ? all[$0].squareRoot() : all[$0] })
        }
        return (indices, distances)
    }

    @Test(arguments: DistanceMetric.allCases)
    func nearestRowsEqualABruteForceSearch(metric: DistanceMetric) throws {
        var generator = RandomGenerator(seed: 11)
        // Pixel-like integers: many exact ties, and Float norms too coarse to order near-ties.
        let training = try Tensor<Float>(shape: [300, 48], scalars: (0..<(300 * 48)).map { _ in Float(generator.nextInt(below: 256)) })
        let queries = try Tensor<Float>.concatenate([
            try Tensor(shape: [9, 48], scalars: (0..<(9 * 48)).map { _ in Float(generator.nextInt(below: 256)) }),
            try training.slice(5..<6),
        ])
        var knn = KNearestNeighbor(chunkSize: 4)
        try knn.train(training)
        let found = try knn.nearest(queries, k: 12, metric: metric)
        let (indices, distances) = Self.reference(queries, training, k: 12, metric: metric)
        #expect(found.indices == indices)
        #expect(found.distances == distances)
        #expect(found.indices[9][0] == 5 && found.distances[9][0] == 0)
        #expect(throws: KNNError.invalidK(k: 301, trainingCount: 300)) { try knn.nearest(queries, k: 301) }
    }

    @Test func mergingPartsGivesTheWholeSearch() throws {
        var generator = RandomGenerator(seed: 12)
        let training = try Tensor<Float>(shape: [90, 5], scalars: (0..<450).map { _ in Float(generator.nextInt(below: 3)) })
        let queries = try Tensor<Float>(shape: [6, 5], scalars: (0..<30).map { _ in Float(generator.nextInt(below: 3)) })
        var whole = KNearestNeighbor(), first = KNearestNeighbor(), second = KNearestNeighbor()
        try whole.train(training)
        try first.train(training.slice(0..<40))
        try second.train(training.slice(40..<90))
        let merged = try first.nearest(queries, k: 7).merged(with: second.nearest(queries, k: 7), offset: 40, k: 7)
        #expect(merged == (try whole.nearest(queries, k: 7)))
    }
}
