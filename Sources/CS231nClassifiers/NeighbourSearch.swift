import CS231nTensor

/// The chunked search behind `KNearestNeighbor.predict`: one chunk of queries at a time, its
/// distances to every training row in one buffer, then a parallel pass that votes row by row.
struct NeighbourSearch {
    let training: RowMatrix
    let labels: [Int]
    let classCount: Int
    let trainingNorms: [Float]
    let largestTrainingNorm: Double

    /// Votes of every query for each k of `ks` (ascending, distinct): `result[kIndex][query]`.
    func votes(queries: RowMatrix, ks: [Int], metric: DistanceMetric, chunkSize: Int,
               progress: ((Int) -> Void)?) -> [[Int]] {
        let queryCount = queries.rows, trainingCount = training.rows
        guard queryCount > 0 else { return ks.map { _ in [] } }
        let chunk = Swift.max(1, Swift.min(chunkSize, queryCount))
        let distances = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, chunk * trainingCount))
        defer { distances.deallocate() }
        var predictions = [Int](repeating: 0, count: ks.count * queryCount)
        let queryNorms = DistanceKernels.squaredNorms(queries)
        let search = UnsafeSendable(self)
        predictions.withUnsafeMutableBufferPointer { predictionBuffer in
            queryNorms.withUnsafeBufferPointer { queryNormBuffer in
                trainingNorms.withUnsafeBufferPointer { trainingNormBuffer in
                    let output = SendablePointer(predictionBuffer.baseAddress!)
                    let buffer = SendablePointer(distances)
                    var start = 0
                    while start < queryCount {
                        let end = Swift.min(queryCount, start + chunk)
                        let block = RowMatrix(base: queries.row(start), rows: end - start, columns: queries.columns)
                        switch metric {
                        case .l2:
                            DistanceKernels.squaredL2(queries: block, queryNorms: queryNormBuffer.baseAddress! + start,
                                                      training: training, trainingNorms: trainingNormBuffer.baseAddress!,
                                                      output: distances, outputStride: trainingCount)
                        case .l1:
                            DistanceKernels.l1(queries: block, training: training, output: distances, outputStride: trainingCount)
                        }
                        let norms = SendableConstPointer(queryNormBuffer.baseAddress!)
                        let first = start
                        Parallel.forEachChunk(end - start, minimumChunk: 8) { rows in
                            search.value.voteRows(rows, of: block, firstQuery: first, distances: buffer.base,
                                                  queryNorms: norms.base, ks: ks, metric: metric,
                                                  predictions: output.base, queryCount: queryCount)
                        }
                        start = end
                        progress?(end)
                    }
                }
            }
        }
        return (0..<ks.count).map { Array(predictions[$0 * queryCount..<($0 + 1) * queryCount]) }
    }

    /// Votes for rows `rows` of the chunk `block`, whose first query is number `firstQuery`.
    func voteRows(_ rows: Range<Int>, of block: RowMatrix, firstQuery: Int, distances: UnsafePointer<Float>,
                  queryNorms: UnsafePointer<Float>, ks: [Int], metric: DistanceMetric,
                  predictions: UnsafeMutablePointer<Int>, queryCount: Int) {
        var selector = NeighbourSelector(ks: ks, classCount: classCount)
        let dims = training.columns
        labels.withUnsafeBufferPointer { labels in
            for row in rows {
                let query = block.row(row)
                let bound: DistanceErrorBound = switch metric {
                case .l2: .squaredL2(dimensions: dims, queryNorm: Double(queryNorms[firstQuery + row]).squareRoot(),
                                     largestTrainingNorm: largestTrainingNorm)
                case .l1: .l1(dimensions: dims)
                }
                selector.vote(row: distances + row * training.rows, count: training.rows, bound: bound,
                              label: { labels[$0] },
                              referenceDistance: { DistanceKernels.referenceDistance(query, training.row($0), dims: dims, metric: metric) },
                              record: { kIndex, label in predictions[kIndex * queryCount + firstQuery + row] = label })
            }
        }
    }
}
