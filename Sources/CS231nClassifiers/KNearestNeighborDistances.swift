import CS231nTensor

/// The distance matrices of assignment 1: Euclidean distances three ways, from a loop over
/// every pair to one matrix product, plus Manhattan distances. Each returns a
/// (queries × training) matrix; row i holds query i's distance to every training row.
extension KNearestNeighbor {
    /// Distances by `metric`: the no-loop version for L2, the SIMD kernel for L1.
    public func distances(_ queries: Tensor<Float>, metric: DistanceMetric) throws -> Tensor<Float> {
        switch metric {
        case .l2: return try distancesNoLoops(queries)
        case .l1: return try distancesL1(queries)
        }
    }

    /// Two loops, over queries and training rows: one √Σ(x − y)² per pair, on one core.
    public func distancesTwoLoops(_ queries: Tensor<Float>) throws -> Tensor<Float> {
        let matrix = try checkedQueries(queries, operation: "distancesTwoLoops")
        return pairwise(matrix) { query, training, output in
            for i in 0..<query.rows {
                for j in 0..<training.rows {
                    output[i * training.rows + j] =
                        DistanceKernels.squaredL2Pair(query.row(i), training.row(j), dims: query.columns).squareRoot()
                }
            }
        }
    }

    /// One loop, over queries: each query's distances to the whole training set at once, with
    /// whole-tensor operations ((X_train − x)², summed along each row), as numpy broadcasting
    /// does. One scratch copy of the training set is reused, but every query still streams it
    /// through memory four times, which is why this version is the slowest of the three.
    public func distancesOneLoop(_ queries: Tensor<Float>) throws -> Tensor<Float> {
        let matrix = try checkedQueries(queries, operation: "distancesOneLoop")
        let count = matrix.shape[0]
        var result = Tensor<Float>(uninitializedShape: [count, trainingCount])
        var scratch = Tensor<Float>(uninitializedShape: trainingRows.shape)
        for i in 0..<count {
            trainingRows.withUnsafeBufferPointer { source in
                scratch.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: source.baseAddress!, count: source.count) }
            }
            try scratch -= try matrix.slice(i..<(i + 1))
            scratch.mapInPlace({ $0 * $0 }, { $0 * $0 })
            let row = try scratch.sum(axis: 1).sqrt()
            row.withUnsafeBufferPointer { source in
                result.withUnsafeMutableBufferPointer { target in
                    (target.baseAddress! + i * trainingCount).update(from: source.baseAddress!, count: trainingCount)
                }
            }
        }
        return result
    }

    /// No loops: ‖x‖² + ‖y‖² − 2·x·y, the cross term one GEMM on the BLAS (`squaredDistances`),
    /// then the square root.
    public func distancesNoLoops(_ queries: Tensor<Float>) throws -> Tensor<Float> {
        var distances = try squaredDistances(queries)
        distances.mapInPlace({ $0.squareRoot() }, { $0.squareRoot() })
        return distances
    }

    /// Manhattan distances Σ|x − y| with the SIMD kernel, parallel over tiles of queries.
    public func distancesL1(_ queries: Tensor<Float>) throws -> Tensor<Float> {
        let matrix = try checkedQueries(queries, operation: "distancesL1")
        return pairwise(matrix) { query, training, output in
            DistanceKernels.l1(queries: query, training: training, output: output, outputStride: training.rows)
        }
    }

    /// A fresh (queries × training) matrix filled by `fill`.
    func pairwise(_ queries: Tensor<Float>,
                  _ fill: (RowMatrix, RowMatrix, UnsafeMutablePointer<Float>) -> Void) -> Tensor<Float> {
        let count = queries.shape[0]
        var result = Tensor<Float>(uninitializedShape: [count, trainingCount])
        guard count > 0 else { return result }
        queries.withUnsafeBufferPointer { queryBuffer in
            trainingRows.withUnsafeBufferPointer { trainingBuffer in
                result.withUnsafeMutableBufferPointer { output in
                    fill(RowMatrix(base: queryBuffer.baseAddress!, rows: count, columns: dimensions),
                         RowMatrix(base: trainingBuffer.baseAddress!, rows: trainingCount, columns: dimensions),
                         output.baseAddress!)
                }
            }
        }
        return result
    }
}
