import CS231nClassifiers
import CS231nTensor

/// How faithful a low-dimensional map is to the data it was made from.
extension TSNE {
    /// scikit-learn's `trustworthiness` (Venna & Kaski): with r(i, j) the rank of j among i's
    /// neighbours in `high` (1 = nearest, i itself excluded, distance ties to the smaller index),
    ///
    ///     T(k) = 1 − 2 / (n·k·(2n − 3k − 1)) · Σ_i Σ_{j ∈ k nearest of i in low} max(0, r(i, j) − k),
    ///
    /// 1 when every map neighbour is also among the k nearest in the input. Needs k < n / 2.
    public static func trustworthiness(high: Tensor<Float>, low: Tensor<Float>, k: Int = 5) throws -> Double {
        let n = high.shape.first ?? 0
        guard high.rank == 2, low.rank == 2, low.shape[0] == n else {
            throw TensorError.shapeMismatch(operation: "TSNE.trustworthiness",
                detail: "rows \(describeShape(high.shape)) and their map \(describeShape(low.shape)) must be (N, D) and (N, d)")
        }
        guard k >= 1, 2 * k < n else {
            throw TensorError.invalidArgument(operation: "TSNE.trustworthiness",
                detail: "k = \(k) must be in 1..<\(n) / 2 for \(n) points")
        }
        var mapKNN = KNearestNeighbor(), inputKNN = KNearestNeighbor()
        try mapKNN.train(low)
        try inputKNN.train(high)
        let mapNeighbours = try TSNEAffinities.nearestOthers(mapKNN, low, k: k).indices
        var penalties = [Int](repeating: 0, count: n)
        let chunk = 256
        for start in stride(from: 0, to: n, by: chunk) {
            let rows = start..<Swift.min(n, start + chunk)
            let distances = try inputKNN.squaredDistances(high.slice(rows))
            distances.withUnsafeBufferPointer { d in
                penalties.withUnsafeMutableBufferPointer { output in
                    let (source, target) = (SendableConstPointer(d.baseAddress!), SendablePointer(output.baseAddress!))
                    let shared = UnsafeSendable(mapNeighbours)
                    Parallel.forEach(rows.count, minimumChunk: 16) { offset in
                        let i = start + offset, row = source.base + offset * n
                        var penalty = 0
                        for j in shared.value[i] {
                            var rank = 1
                            for l in 0..<n where l != i && (row[l] < row[j] || (row[l] == row[j] && l < j)) { rank += 1 }
                            penalty += Swift.max(0, rank - k)
                        }
                        target.base[i] = penalty
                    }
                }
            }
        }
        let total = Double(penalties.reduce(0, +))
        return 1 - total * 2 / (Double(n) * Double(k) * (2 * Double(n) - 3 * Double(k) - 1))
    }

    /// How well classes cluster in a map: the share of points whose k nearest other points in
    /// `embedding` vote for their label (leave-one-out k-NN, ties to the smaller label as
    /// `KNearestNeighbor.predict`).
    public static func neighbourAgreement(_ embedding: Tensor<Float>, labels: [Int], k: Int = 5) throws -> Double {
        let n = embedding.shape.first ?? 0
        guard embedding.rank == 2, labels.count == n, k >= 1, k < n, labels.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.invalidArgument(operation: "TSNE.neighbourAgreement",
                detail: "\(labels.count) labels (≥ 0) for a map of \(describeShape(embedding.shape)), k = \(k) (needs 1...N − 1)")
        }
        var knn = KNearestNeighbor()
        try knn.train(embedding)
        let neighbours = try TSNEAffinities.nearestOthers(knn, embedding, k: k).indices
        let classes = (labels.max() ?? 0) + 1
        let agreeing = neighbours.enumerated().filter { point, others in
            var counts = [Int](repeating: 0, count: classes)
            for j in others { counts[labels[j]] += 1 }
            return counts.indices.max { (counts[$0], $1) < (counts[$1], $0) } == labels[point]
        }.count
        return Double(agreeing) / Double(n)
    }
}
