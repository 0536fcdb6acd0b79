import CS231nClassifiers
import CS231nTensor
import Foundation

/// t-SNE's joint probabilities P in the input space, as scikit-learn computes them: for each
/// point i a Gaussian over squared Euclidean distances whose precision is bisected until its
/// perplexity is the one asked, p_{j|i}; then P = (p_{j|i} + p_{i|j}) / Σ, symmetric, summing to 1.
///
/// Exact: over all other points, dense (N × N). Barnes–Hut: over the ⌊3·perplexity + 1⌋ nearest
/// neighbours (at most N − 1), sparse rows.
public struct TSNEAffinities: Sendable {
    public enum Storage: Sendable {
        /// Row-major N × N, zero diagonal.
        case dense([Float])
        /// Compressed rows: row i's columns are `columns[rowStarts[i]..<rowStarts[i + 1]]`, ascending.
        case sparse(rowStarts: [Int], columns: [Int32], values: [Float])
    }

    public let count: Int
    public let perplexity: Double
    public let storage: Storage

    public var method: TSNE.Method {
        if case .dense = storage { return .exact }
        return .barnesHut
    }

    /// P for the rows of `x` (N, D). Distances come from the kNN module's kernels (one GEMM for
    /// the dense matrix; the exact kNN search for the sparse one).
    public init(_ x: Tensor<Float>, perplexity: Double, method: TSNE.Method) throws {
        let n = x.shape.first ?? 0
        guard x.rank == 2, n >= 2 else {
            throw TensorError.invalidArgument(operation: "TSNE", detail: "expected rows (N, D) with N ≥ 2, got \(describeShape(x.shape))")
        }
        guard perplexity > 0, perplexity.isFinite, perplexity < Double(n) else {
            throw TensorError.invalidArgument(operation: "TSNE",
                detail: "perplexity \(perplexity) must be positive and below the number of points \(n)")
        }
        self.count = n
        self.perplexity = perplexity
        var knn = KNearestNeighbor()
        try knn.train(x)
        switch method {
        case .exact:
            storage = .dense(try Self.denseJoint(knn.squaredDistances(x), perplexity: perplexity))
        case .barnesHut:
            let neighbours = try TSNEAffinities.nearestOthers(knn, x, k: Swift.min(n - 1, Int(3 * perplexity + 1)))
            storage = Self.sparseJoint(neighbours, perplexity: perplexity)
        }
    }

    /// The nonzero entries, row by row: what a reference implementation compares against.
    public func entries() -> (rows: [Int], columns: [Int], values: [Float]) {
        var result: (rows: [Int], columns: [Int], values: [Float]) = ([], [], [])
        switch storage {
        case .dense(let p):
            for i in 0..<count {
                for j in 0..<count where p[i * count + j] != 0 {
                    result.rows.append(i); result.columns.append(j); result.values.append(p[i * count + j])
                }
            }
        case let .sparse(rowStarts, columns, values):
            for i in 0..<count {
                for k in rowStarts[i]..<rowStarts[i + 1] {
                    result.rows.append(i); result.columns.append(Int(columns[k])); result.values.append(values[k])
                }
            }
        }
        return result
    }

    /// The `k` nearest other rows of every row of the memorised `x`, the row itself excluded by
    /// index (as scikit-learn's `kneighbors(None)`), nearest first.
    static func nearestOthers(_ knn: KNearestNeighbor, _ x: Tensor<Float>, k: Int) throws -> Neighbours {
        let found = try knn.nearest(x, k: k + 1)
        var others = Neighbours(indices: [], distances: [])
        for (i, indices) in found.indices.enumerated() {
            let drop = indices.firstIndex(of: i) ?? k
            others.indices.append(Array(indices[..<drop] + indices[(drop + 1)...]))
            others.distances.append(Array(found.distances[i][..<drop] + found.distances[i][(drop + 1)...]))
        }
        return others
    }

    /// Dense P from the squared distances (N × N).
    static func denseJoint(_ squared: Tensor<Float>, perplexity: Double) throws -> [Float] {
        let n = squared.shape[0]
        var conditional = [Double](repeating: 0, count: n * n)
        squared.withUnsafeBufferPointer { distances in
            conditional.withUnsafeMutableBufferPointer { output in
                let (source, target) = (SendableConstPointer(distances.baseAddress!), SendablePointer(output.baseAddress!))
                Parallel.forEachChunk(n, minimumChunk: 8) { rows in
                    var others = [Double](repeating: 0, count: n - 1), probabilities = others
                    for i in rows {
                        for j in 0..<(n - 1) { others[j] = Double(source.base[i * n + (j < i ? j : j + 1)]) }
                        conditionalProbabilities(others, perplexity: perplexity, into: &probabilities)
                        for j in 0..<(n - 1) { target.base[i * n + (j < i ? j : j + 1)] = probabilities[j] }
                    }
                }
            }
        }
        let total = Swift.max(2 * conditional.reduce(0, +), Double.ulpOfOne)
        var joint = [Float](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n { joint[i * n + j] = Float((conditional[i * n + j] + conditional[j * n + i]) / total) }
        }
        return joint
    }

    /// Sparse P from each point's nearest neighbours: p_{j|i} over them, then p_{j|i} + p_{i|j}
    /// on the union of the two directions, normalised to sum 1.
    static func sparseJoint(_ neighbours: Neighbours, perplexity: Double) -> Storage {
        let n = neighbours.indices.count
        var conditional = [[Double]](repeating: [], count: n)
        conditional.withUnsafeMutableBufferPointer { output in
            let target = SendablePointer(output.baseAddress!), shared = UnsafeSendable(neighbours)
            Parallel.forEachChunk(n, minimumChunk: 64) { rows in
                for i in rows {
                    var probabilities = [Double](repeating: 0, count: shared.value.distances[i].count)
                    conditionalProbabilities(shared.value.distances[i].map { $0 * $0 }, perplexity: perplexity, into: &probabilities)
                    target.base[i] = probabilities
                }
            }
        }
        var rows = [[(column: Int, value: Double)]](repeating: [], count: n)
        for i in 0..<n {
            for (j, p) in zip(neighbours.indices[i], conditional[i]) {
                rows[i].append((j, p)); rows[j].append((i, p))
            }
        }
        var rowStarts = [0], columns: [Int32] = [], merged: [Double] = []
        for i in 0..<n {
            for entry in rows[i].sorted(by: { $0.column < $1.column }) {
                if columns.count > rowStarts[i], Int(columns[columns.count - 1]) == entry.column {
                    merged[merged.count - 1] += entry.value
                } else {
                    columns.append(Int32(entry.column)); merged.append(entry.value)
                }
            }
            rowStarts.append(columns.count)
        }
        let total = Swift.max(merged.reduce(0, +), Double.ulpOfOne)
        return .sparse(rowStarts: rowStarts, columns: columns, values: merged.map { Float($0 / total) })
    }

    /// p_{j|i} ∝ exp(−β·d²_j) over one point's squared distances, β bisected as scikit-learn's
    /// `_binary_search_perplexity`: from β = 1, doubling or halving until bracketed, at most 100
    /// steps, until the entropy log S + β·Σ d²_j e_j / S (e_j = exp(−β·d²_j), S = Σ e_j) is
    /// within 1e-5 of log(perplexity). One pass over the distances per step.
    static func conditionalProbabilities(_ squared: [Double], perplexity: Double, into p: inout [Double]) {
        let desiredEntropy = Foundation.log(perplexity)
        var beta = 1.0, low = -Double.infinity, high = Double.infinity
        var sum = 0.0
        for _ in 0..<100 {
            sum = 0
            var weighted = 0.0
            for j in squared.indices {
                p[j] = Foundation.exp(-squared[j] * beta)
                sum += p[j]
                weighted += squared[j] * p[j]
            }
            if sum == 0 { sum = 1e-8 }
            let difference = Foundation.log(sum) + beta * weighted / sum - desiredEntropy
            if Swift.abs(difference) <= 1e-5 { break }
            if difference > 0 {
                low = beta
                beta = high == .infinity ? beta * 2 : (beta + high) / 2
            } else {
                high = beta
                beta = low == -.infinity ? beta / 2 : (beta + low) / 2
            }
        }
        for j in squared.indices { p[j] /= sum }
    }
}
