import CS231nTensor

/// The nearest training rows of each query, nearest first, with their distances.
public struct Neighbours: Sendable, Equatable {
    /// `indices[q]`: training rows by (distance, index), nearest first.
    public var indices: [[Int]]
    /// `distances[q]`: the matching distances under the metric (Euclidean for L2, not squared),
    /// in Double from the rows as given.
    public var distances: [[Double]]

    public init(indices: [[Int]], distances: [[Double]]) {
        self.indices = indices; self.distances = distances
    }

    /// The `k` nearest of these and `other`, found in disjoint training sets whose rows `other`
    /// numbers from `offset` on: how a search over a training set too large for memory merges
    /// its parts. Ties go to the smaller index, as within one search.
    public func merged(with other: Neighbours, offset: Int, k: Int) -> Neighbours {
        var merged = Neighbours(indices: [], distances: [])
        for query in indices.indices {
            let pairs = zip(distances[query], indices[query]).map { ($0, $1) }
                + zip(other.distances[query], other.indices[query]).map { ($0, $1 + offset) }
            let nearest = pairs.sorted { $0 < $1 }.prefix(k)
            merged.indices.append(nearest.map(\.1))
            merged.distances.append(nearest.map(\.0))
        }
        return merged
    }
}

/// Neighbour queries on the memorised rows, for uses beyond classification: nearest neighbours
/// in a feature space, t-SNE's affinities and its trustworthiness.
extension KNearestNeighbor {
    /// Memorises unlabelled rows (N × D, or N images, flattened) for `nearest` and the distance
    /// matrices, which need no labels.
    public mutating func train(_ rows: Tensor<Float>) throws {
        try train(rows, labels: [Int](repeating: 0, count: rows.shape.first ?? 0), classCount: 1)
    }

    /// The `k` nearest training rows of every query row, nearest first. Exact: the Float kernels
    /// of `predict` shortlist, and the shortlist is ranked by distances computed in Double, ties
    /// to the smaller training index, so the answer equals a float64 brute force and does not
    /// depend on the thread count.
    public func nearest(_ queries: Tensor<Float>, k: Int, metric: DistanceMetric = .l2) throws -> Neighbours {
        let matrix = try checkedQueries(queries, operation: "nearest")
        try validate(ks: [k], operation: "nearest")
        let found = matrix.withUnsafeBufferPointer { queryBuffer in
            trainingRows.withUnsafeBufferPointer { trainingBuffer in
                NeighbourSearch(training: RowMatrix(base: trainingBuffer.baseAddress!, rows: trainingCount, columns: dimensions),
                                labels: trainingLabels, classCount: classCount, trainingNorms: trainingNorms,
                                largestTrainingNorm: largestTrainingNorm)
                    .nearest(queries: RowMatrix(base: queryBuffer.baseAddress!, rows: matrix.shape[0], columns: dimensions),
                             k: k, metric: metric, chunkSize: chunkSize)
            }
        }
        return Neighbours(indices: found.map { $0.map(\.index) },
                          distances: found.map { $0.map { metric == .l2 ? $0.distance.squareRoot() : $0.distance } })
    }

    /// Squared Euclidean distances ‖x‖² + ‖y‖² − 2·x·y (queries × training), the cross term one
    /// GEMM, clamped at zero where rounding leaves a tiny negative.
    public func squaredDistances(_ queries: Tensor<Float>) throws -> Tensor<Float> {
        let matrix = try checkedQueries(queries, operation: "squaredDistances")
        let norms = trainingNorms
        var squared = pairwise(matrix) { query, training, output in
            let queryNorms = DistanceKernels.squaredNorms(query)
            queryNorms.withUnsafeBufferPointer { queryNorms in
                norms.withUnsafeBufferPointer { trainingNorms in
                    DistanceKernels.squaredL2(queries: query, queryNorms: queryNorms.baseAddress!,
                                              training: training, trainingNorms: trainingNorms.baseAddress!,
                                              output: output, outputStride: training.rows)
                }
            }
        }
        squared.mapInPlace({ $0.replacing(with: 0, where: $0 .< 0) }, { Swift.max($0, 0) })
        return squared
    }
}
