import CS231nData
import CS231nTensor

/// Accuracies of k-fold cross-validation over a list of k.
public struct CrossValidationResult: Sendable, Equatable {
    public let ks: [Int]
    public let metric: DistanceMetric
    /// The held-out examples of each fold (contiguous, in `np.array_split` order).
    public let folds: [Range<Int>]
    /// `accuracies[kIndex][fold]`: the fraction of the held-out fold predicted right.
    public let accuracies: [[Double]]

    /// Mean accuracy over the folds, per k.
    public var means: [Double] { accuracies.map { $0.reduce(0, +) / Double($0.count) } }

    /// Population standard deviation over the folds (numpy's `np.std`), per k.
    public var standardDeviations: [Double] {
        zip(accuracies, means).map { values, mean in
            (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
        }
    }

    /// The k of highest mean accuracy; the smaller k when means tie.
    public var bestK: Int {
        let m = means
        return ks.indices.max { (m[$0], -ks[$0]) < (m[$1], -ks[$1]) }.map { ks[$0] } ?? 0
    }
}

/// k-fold cross-validation of the k-nearest-neighbour classifier, assignment 1's way: fold i is
/// held out and classified against the other folds, for every k, from one distance matrix.
public enum CrossValidation {
    /// Up to this many examples, all fold-to-fold distances are computed once, each off-diagonal
    /// pair of folds once (the matrix is symmetric): 40% of the products of five separate runs.
    /// Beyond it (n² floats would pass 256 MB), each fold runs a chunked search of its own.
    public static let sharedMatrixLimit = 8192

    /// Accuracies for every k in `ks` over `folds` contiguous folds of `rows` (N × D or N images).
    public static func kNearestNeighbor(rows: Tensor<Float>, labels: [Int], ks: [Int], folds: Int,
                                        metric: DistanceMetric = .l2, classCount: Int? = nil) throws -> CrossValidationResult {
        guard rows.rank >= 2 else {
            throw KNNError.badShape(operation: "cross-validation", detail: "rows must be an (N×D) matrix or N images, got \(describeShape(rows.shape))")
        }
        let matrix = rows.flattenedRows()
        let count = matrix.shape[0]
        guard labels.count == count else { throw KNNError.labelCountMismatch(rows: count, labels: labels.count) }
        guard folds >= 2, folds <= count else { throw KNNError.invalidFolds(folds: folds, count: count) }
        guard !ks.isEmpty else { throw KNNError.noK(operation: "cross-validation") }
        let ranges = try LabeledImages.foldRanges(count: count, k: folds)
        let smallestTraining = count - ranges.map(\.count).max()!
        if let bad = ks.first(where: { $0 < 1 || $0 > smallestTraining }) {
            throw KNNError.invalidCrossValidationK(k: bad, folds: folds, foldTrainingCount: smallestTraining)
        }
        // Training on everything validates the labels and values and computes the norms once.
        var whole = KNearestNeighbor()
        try whole.train(matrix, labels: labels, classCount: classCount)
        let order = Array(Set(ks)).sorted()
        let correct = count <= sharedMatrixLimit
            ? sharedMatrixCounts(whole, ranges: ranges, ks: order, metric: metric)
            : try separateCounts(whole, ranges: ranges, ks: order, metric: metric)
        let accuracies = ks.map { k in
            let kIndex = order.firstIndex(of: k)!
            return ranges.indices.map { Double(correct[kIndex][$0]) / Double(ranges[$0].count) }
        }
        return CrossValidationResult(ks: ks, metric: metric, folds: ranges, accuracies: accuracies)
    }

    /// Correct predictions `[kIndex][fold]` from one (N × N) matrix of fold-to-fold distances.
    ///
    /// For L2 the GEMM runs on rows centred on their mean: distances are unchanged, but the
    /// norms, and with them the Float error bound and the near-ties to settle, shrink about 4×.
    static func sharedMatrixCounts(_ model: KNearestNeighbor, ranges: [Range<Int>], ks: [Int],
                                   metric: DistanceMetric) -> [[Int]] {
        let count = model.trainingCount, dims = model.dimensions
        let operand = metric == .l2 ? centred(model.trainingRows) : model.trainingRows
        let distances = UnsafeMutablePointer<Float>.allocate(capacity: count * count)
        defer { distances.deallocate() }
        var correct = [[Int]](repeating: [Int](repeating: 0, count: ranges.count), count: ks.count)
        model.trainingRows.withUnsafeBufferPointer { rowBuffer in
            operand.withUnsafeBufferPointer { operandBuffer in
                let all = RowMatrix(base: rowBuffer.baseAddress!, rows: count, columns: dims)
                let gemmRows = RowMatrix(base: operandBuffer.baseAddress!, rows: count, columns: dims)
                let norms = DistanceKernels.squaredNorms(gemmRows)
                let largestNorm = Double(norms.max() ?? 0).squareRoot()
                norms.withUnsafeBufferPointer { normBuffer in
                    let norms = normBuffer.baseAddress!
                    for a in ranges.indices {
                        for b in ranges.indices where b > a {
                            let rowsA = RowMatrix(base: gemmRows.row(ranges[a].lowerBound), rows: ranges[a].count, columns: dims)
                            let rowsB = RowMatrix(base: gemmRows.row(ranges[b].lowerBound), rows: ranges[b].count, columns: dims)
                            let block = distances + ranges[a].lowerBound * count + ranges[b].lowerBound
                            switch metric {
                            case .l2:
                                DistanceKernels.squaredL2(queries: rowsA, queryNorms: norms + ranges[a].lowerBound,
                                                          training: rowsB, trainingNorms: norms + ranges[b].lowerBound,
                                                          output: block, outputStride: count)
                            case .l1:
                                DistanceKernels.l1(queries: rowsA, training: rowsB, output: block, outputStride: count)
                            }
                            mirror(rows: ranges[a], columns: ranges[b], in: distances, stride: count)
                        }
                    }
                    for (fold, held) in ranges.enumerated() {
                        let hits = votesForFold(model, held: held, all: all, norms: norms, largestNorm: largestNorm,
                                                distances: distances, ks: ks, metric: metric)
                        for kIndex in ks.indices { correct[kIndex][fold] = hits[kIndex] }
                    }
                }
            }
        }
        return correct
    }

    /// The rows minus their mean row, in Float.
    static func centred(_ rows: Tensor<Float>) -> Tensor<Float> {
        let count = rows.shape[0], dims = rows.shape[1]
        var means = [Double](repeating: 0, count: dims)
        var result = rows
        rows.withUnsafeBufferPointer { source in
            for i in 0..<count {
                for d in 0..<dims { means[d] += Double(source[i * dims + d]) }
            }
        }
        let mean = means.map { Float($0 / Double(count)) }
        result.withUnsafeMutableBufferPointer { target in
            let base = SendablePointer(target.baseAddress!)
            Parallel.forEachChunk(count, minimumChunk: 64) { rowRange in
                for i in rowRange {
                    for d in 0..<dims { base.base[i * dims + d] -= mean[d] }
                }
            }
        }
        return result
    }

    /// Copies the block (rows × columns) onto (columns × rows), transposed, in 32 × 32 tiles.
    static func mirror(rows: Range<Int>, columns: Range<Int>, in matrix: UnsafeMutablePointer<Float>, stride: Int) {
        let target = SendablePointer(matrix)
        let tiles = (rows.count + 31) / 32
        Parallel.forEach(tiles) { tile in
            let rowStart = rows.lowerBound + tile * 32, rowEnd = Swift.min(rows.upperBound, rowStart + 32)
            var columnStart = columns.lowerBound
            while columnStart < columns.upperBound {
                let columnEnd = Swift.min(columns.upperBound, columnStart + 32)
                for i in rowStart..<rowEnd {
                    for j in columnStart..<columnEnd { target.base[j * stride + i] = target.base[i * stride + j] }
                }
                columnStart = columnEnd
            }
        }
    }

    /// Correct predictions per k when fold `held` is classified against the rest.
    /// `norms` and `largestNorm` are those of the rows the distances were computed from.
    static func votesForFold(_ model: KNearestNeighbor, held: Range<Int>, all: RowMatrix, norms: UnsafePointer<Float>,
                             largestNorm: Double, distances: UnsafeMutablePointer<Float>, ks: [Int],
                             metric: DistanceMetric) -> [Int] {
        let count = all.rows, dims = all.columns, others = count - held.count
        let context = UnsafeSendable((model.trainingLabels, model.classCount))
        let shared = (SendableConstPointer(norms), SendablePointer(distances))
        let chunks = Swift.min(Parallel.coreCount, held.count)
        var hitsPerChunk = [[Int]](repeating: [Int](repeating: 0, count: ks.count), count: chunks)
        hitsPerChunk.withUnsafeMutableBufferPointer { hitsBuffer in
            let hits = SendablePointer(hitsBuffer.baseAddress!)
            Parallel.forEach(chunks) { chunk in
                let (labels, classCount) = context.value
                var selector = NeighbourSelector(ks: ks, classCount: classCount)
                var row = [Float](repeating: 0, count: others)
                // Training column c is example c below the held-out fold, c + its size above it.
                func example(_ column: Int) -> Int { column < held.lowerBound ? column : column + held.count }
                let part = Parallel.chunkRange(chunk, of: chunks, count: held.count)
                for i in (held.lowerBound + part.lowerBound)..<(held.lowerBound + part.upperBound) {
                    let full = shared.1.base + i * count
                    row.withUnsafeMutableBufferPointer { row in
                        row.baseAddress!.update(from: full, count: held.lowerBound)
                        (row.baseAddress! + held.lowerBound).update(from: full + held.upperBound, count: count - held.upperBound)
                        let bound: DistanceErrorBound = switch metric {
                        case .l2: .squaredL2(dimensions: dims, queryNorm: Double(shared.0.base[i]).squareRoot(),
                                             largestTrainingNorm: largestNorm)
                        case .l1: .l1(dimensions: dims)
                        }
                        selector.vote(row: row.baseAddress!, count: others, bound: bound,
                                      label: { labels[example($0)] },
                                      referenceDistance: { DistanceKernels.referenceDistance(all.row(i), all.row(example($0)), dims: dims, metric: metric) },
                                      record: { kIndex, label in if label == labels[i] { hits.base[chunk][kIndex] += 1 } })
                    }
                }
            }
        }
        return ks.indices.map { kIndex in hitsPerChunk.reduce(0) { $0 + $1[kIndex] } }
    }

    /// Correct predictions `[kIndex][fold]` with one chunked search per fold, for large N.
    static func separateCounts(_ model: KNearestNeighbor, ranges: [Range<Int>], ks: [Int],
                               metric: DistanceMetric) throws -> [[Int]] {
        var correct = [[Int]](repeating: [Int](repeating: 0, count: ranges.count), count: ks.count)
        for (fold, held) in ranges.enumerated() {
            let before = try model.trainingRows.slice(0..<held.lowerBound)
            let after = try model.trainingRows.slice(held.upperBound..<model.trainingCount)
            var foldModel = KNearestNeighbor(chunkSize: model.chunkSize)
            try foldModel.train(try Tensor.concatenate([before, after].filter { $0.shape[0] > 0 }, axis: 0),
                                labels: Array(model.trainingLabels[..<held.lowerBound] + model.trainingLabels[held.upperBound...]),
                                classCount: model.classCount)
            let predictions = try foldModel.predict(try model.trainingRows.slice(held), ks: ks, metric: metric)
            for kIndex in ks.indices {
                correct[kIndex][fold] = zip(predictions[kIndex], model.trainingLabels[held]).filter { $0 == $1 }.count
            }
        }
        return correct
    }
}
