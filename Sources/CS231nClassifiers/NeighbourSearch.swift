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
        let queryCount = queries.rows
        guard queryCount > 0 else { return ks.map { _ in [] } }
        var predictions = [Int](repeating: 0, count: ks.count * queryCount)
        let search = UnsafeSendable(self)
        predictions.withUnsafeMutableBufferPointer { predictionBuffer in
            let output = SendablePointer(predictionBuffer.baseAddress!)
            forEachChunk(queries: queries, metric: metric, chunkSize: chunkSize, progress: progress) { block, first, distances, norms in
                Parallel.forEachChunk(block.rows, minimumChunk: 8) { rows in
                    search.value.voteRows(rows, of: block, firstQuery: first, distances: distances.base,
                                          queryNorms: norms.base, ks: ks, metric: metric,
                                          predictions: output.base, queryCount: queryCount)
                }
            }
        }
        return (0..<ks.count).map { Array(predictions[$0 * queryCount..<($0 + 1) * queryCount]) }
    }

    /// The `k` nearest training rows of every query, nearest first, by (true distance, index).
    func nearest(queries: RowMatrix, k: Int, metric: DistanceMetric, chunkSize: Int) -> [[(index: Int, distance: Double)]] {
        var found = [[(index: Int, distance: Double)]](repeating: [], count: queries.rows)
        let search = UnsafeSendable(self), dims = training.columns
        found.withUnsafeMutableBufferPointer { foundBuffer in
            let output = SendablePointer(foundBuffer.baseAddress!)
            forEachChunk(queries: queries, metric: metric, chunkSize: chunkSize, progress: nil) { block, first, distances, norms in
                Parallel.forEachChunk(block.rows, minimumChunk: 8) { rows in
                    var selector = NeighbourSelector(ks: [k], classCount: 1)
                    for row in rows {
                        let query = block.row(row)
                        (output.base + first + row).pointee = selector.nearest(
                            row: distances.base + row * search.value.training.rows, count: search.value.training.rows, k: k,
                            bound: search.value.bound(metric, queryNorm: norms.base[first + row]),
                            referenceDistance: {
                                DistanceKernels.referenceDistance(query, search.value.training.row($0), dims: dims, metric: metric)
                            })
                    }
                }
            }
        }
        return found
    }

    /// Fills one chunk of queries' distances to every training row at a time and hands the
    /// chunk, the index of its first query, the distances (row stride = training rows) and the
    /// queries' squared norms to `body`.
    func forEachChunk(queries: RowMatrix, metric: DistanceMetric, chunkSize: Int, progress: ((Int) -> Void)?,
                      _ body: (RowMatrix, Int, SendablePointer<Float>, SendableConstPointer<Float>) -> Void) {
        let queryCount = queries.rows, trainingCount = training.rows
        let chunk = Swift.max(1, Swift.min(chunkSize, queryCount))
        let distances = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, chunk * trainingCount))
        defer { distances.deallocate() }
        let queryNorms = DistanceKernels.squaredNorms(queries)
        queryNorms.withUnsafeBufferPointer { queryNormBuffer in
            trainingNorms.withUnsafeBufferPointer { trainingNormBuffer in
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
                    body(block, start, SendablePointer(distances), SendableConstPointer(queryNormBuffer.baseAddress!))
                    start = end
                    progress?(end)
                }
            }
        }
    }

    /// How far the Float distances of a query with squared norm `queryNorm` may be off.
    func bound(_ metric: DistanceMetric, queryNorm: Float) -> DistanceErrorBound {
        switch metric {
        case .l2: .squaredL2(dimensions: training.columns, queryNorm: Double(queryNorm).squareRoot(),
                             largestTrainingNorm: largestTrainingNorm)
        case .l1: .l1(dimensions: training.columns)
        }
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
                selector.vote(row: distances + row * training.rows, count: training.rows,
                              bound: bound(metric, queryNorm: queryNorms[firstQuery + row]),
                              label: { labels[$0] },
                              referenceDistance: { DistanceKernels.referenceDistance(query, training.row($0), dims: dims, metric: metric) },
                              record: { kIndex, label in predictions[kIndex * queryCount + firstQuery + row] = label })
            }
        }
    }
}
