import CS231nTensor

/// The distance a nearest-neighbour classifier compares images by.
public enum DistanceMetric: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Manhattan: Σ|x − y|.
    case l1
    /// Euclidean: √Σ(x − y)².
    case l2

    public var description: String { rawValue.uppercased() }
}

/// What was wrong with a k-nearest-neighbour call.
public enum KNNError: Error, CustomStringConvertible, Equatable {
    case notTrained(operation: String)
    case invalidK(k: Int, trainingCount: Int)
    case noK(operation: String)
    case badShape(operation: String, detail: String)
    case labelCountMismatch(rows: Int, labels: Int)
    case invalidLabel(index: Int, label: Int, classCount: Int)
    case nonFinite(what: String, row: Int, column: Int)
    case invalidFolds(folds: Int, count: Int)
    case invalidCrossValidationK(k: Int, folds: Int, foldTrainingCount: Int)

    public var description: String {
        switch self {
        case .notTrained(let operation):
            return "kNN \(operation): the classifier has no training data; call train first"
        case .invalidK(let k, let trainingCount):
            return "kNN: k = \(k) is invalid: k must be between 1 and the training-set size \(trainingCount)"
        case .noK(let operation):
            return "kNN \(operation): no value of k given"
        case .badShape(let operation, let detail):
            return "kNN \(operation): \(detail)"
        case .labelCountMismatch(let rows, let labels):
            return "kNN train: \(rows) training rows but \(labels) labels"
        case .invalidLabel(let index, let label, let classCount):
            return "kNN train: label \(label) at index \(index) is outside 0..<\(classCount)"
        case .nonFinite(let what, let row, let column):
            return "kNN: \(what) has a non-finite value at row \(row), column \(column)"
        case .invalidCrossValidationK(let k, let folds, let foldTrainingCount):
            return "kNN cross-validation: k = \(k) is invalid: with \(folds) folds each model trains on \(foldTrainingCount) "
                + "examples, so k must be between 1 and \(foldTrainingCount)"
        case .invalidFolds(let folds, let count):
            return "kNN cross-validation: cannot cut \(count) examples into \(folds) folds: the number of folds must be between 2 and \(count)"
        }
    }
}

/// The k-nearest-neighbour classifier of CS231n assignment 1.
///
/// `train` memorises the data; `predict` finds each query's k nearest training rows and takes
/// their majority vote (ties to the smaller label). Queries go through in chunks of
/// `chunkSize`, so memory stays at `chunkSize` × training-count distances whatever the query
/// count. Predictions are exact: the Float distances only shortlist neighbours, near-ties are
/// settled in Double (see `DistanceErrorBound`), and distance ties go to the smaller training
/// index, so the answer matches a float64 reference and never depends on the thread count.
public struct KNearestNeighbor: Sendable {
    public private(set) var trainingRows = Tensor<Float>(uninitializedShape: [0, 0])
    public private(set) var trainingLabels: [Int] = []
    /// Labels lie in 0..<classCount.
    public private(set) var classCount = 0
    /// Queries classified per pass in `predict`.
    public var chunkSize: Int

    var trainingNorms: [Float] = []
    var largestTrainingNorm = 0.0

    public init(chunkSize: Int = 1024) {
        self.chunkSize = Swift.max(1, chunkSize)
    }

    public var trainingCount: Int { trainingLabels.count }
    /// Values per example (3072 for CIFAR-10).
    public var dimensions: Int { trainingRows.shape[1] }

    /// Memorises `rows` (N × D, or N images, flattened) and their labels. `classCount` defaults
    /// to the largest label + 1.
    public mutating func train(_ rows: Tensor<Float>, labels: [Int], classCount: Int? = nil) throws {
        guard rows.rank >= 2, rows.shape[0] > 0, rows.count > 0 else {
            throw KNNError.badShape(operation: "train", detail: "training rows must be a non-empty (N×D) matrix or N images, got \(describeShape(rows.shape))")
        }
        let matrix = rows.flattenedRows()
        guard labels.count == matrix.shape[0] else {
            throw KNNError.labelCountMismatch(rows: matrix.shape[0], labels: labels.count)
        }
        let classes = classCount ?? ((labels.max() ?? -1) + 1)
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw KNNError.invalidLabel(index: bad, label: labels[bad], classCount: classes)
        }
        try Self.checkFinite(matrix, what: "the training data")
        trainingRows = matrix
        trainingLabels = labels
        self.classCount = classes
        trainingNorms = matrix.withUnsafeBufferPointer {
            DistanceKernels.squaredNorms(RowMatrix(base: $0.baseAddress!, rows: matrix.shape[0], columns: matrix.shape[1]))
        }
        largestTrainingNorm = Double(trainingNorms.max() ?? 0).squareRoot()
    }

    // MARK: Prediction

    /// The predicted label of every query row, by the majority of its k nearest training rows.
    public func predict(_ queries: Tensor<Float>, k: Int, metric: DistanceMetric = .l2,
                        progress: ((Int) -> Void)? = nil) throws -> [Int] {
        try predict(queries, ks: [k], metric: metric, progress: progress)[0]
    }

    /// Predictions for several k in one pass over the distances: `result[i]` is for `ks[i]`.
    /// `progress` is called with the number of queries done after each chunk.
    public func predict(_ queries: Tensor<Float>, ks: [Int], metric: DistanceMetric = .l2,
                        progress: ((Int) -> Void)? = nil) throws -> [[Int]] {
        let matrix = try checkedQueries(queries, operation: "predict")
        try validate(ks: ks, operation: "predict")
        let order = Array(Set(ks)).sorted()
        let byK = matrix.withUnsafeBufferPointer { queryBuffer in
            trainingRows.withUnsafeBufferPointer { trainingBuffer in
                let query = RowMatrix(base: queryBuffer.baseAddress!, rows: matrix.shape[0], columns: dimensions)
                let training = RowMatrix(base: trainingBuffer.baseAddress!, rows: trainingCount, columns: dimensions)
                return NeighbourSearch(training: training, labels: trainingLabels, classCount: classCount,
                                           trainingNorms: trainingNorms, largestTrainingNorm: largestTrainingNorm)
                    .votes(queries: query, ks: order, metric: metric, chunkSize: chunkSize, progress: progress)
            }
        }
        return ks.map { byK[order.firstIndex(of: $0)!] }
    }

    /// `predict` with the queries shared over `replicas` (MPI ranks, say): each replica votes
    /// for its contiguous share and every replica gets all predictions, the same as one
    /// process's (each query's vote is exact and independent of the others). `progress` counts
    /// this replica's queries.
    public func predict(_ queries: Tensor<Float>, ks: [Int], metric: DistanceMetric = .l2, replicas: any ReplicaGroup,
                        progress: ((Int) -> Void)? = nil) throws -> [[Int]] {
        let matrix = try checkedQueries(queries, operation: "predict")
        try validate(ks: ks, operation: "predict")
        let count = matrix.shape[0], rows = replicas.share(of: count)
        var predictions = [Double](repeating: 0, count: ks.count * count)
        if !rows.isEmpty {
            let local = try predict(matrix.slice(rows), ks: ks, metric: metric, progress: progress)
            for (kIndex, labels) in local.enumerated() {
                for (offset, label) in labels.enumerated() { predictions[kIndex * count + rows.lowerBound + offset] = Double(label) }
            }
        }
        try replicas.sumInRankOrder(&predictions)
        return ks.indices.map { kIndex in (0..<count).map { Int(predictions[kIndex * count + $0]) } }
    }

    /// CS231n's `predict_labels`: the vote of the k smallest entries of each row of a computed
    /// distance matrix (queries × training), distance ties to the smaller training index.
    public func predictLabels(distances: Tensor<Float>, k: Int) throws -> [Int] {
        guard trainingCount > 0 else { throw KNNError.notTrained(operation: "predictLabels") }
        guard distances.rank == 2, distances.shape[1] == trainingCount else {
            throw KNNError.badShape(operation: "predictLabels",
                                    detail: "distances \(describeShape(distances.shape)) must have one column per training row (\(trainingCount))")
        }
        try validate(ks: [k], operation: "predictLabels")
        try Self.checkFinite(distances, what: "the distance matrix")
        let rows = distances.shape[0], labels = trainingLabels
        var predictions = [Int](repeating: 0, count: rows)
        distances.withUnsafeBufferPointer { buffer in
            var selector = NeighbourSelector(ks: [k], classCount: classCount)
            for i in 0..<rows {
                let row = buffer.baseAddress! + i * trainingCount
                selector.vote(row: row, count: trainingCount, bound: .exact, label: { labels[$0] },
                              referenceDistance: { Double(row[$0]) }, record: { predictions[i] = $1 })
            }
        }
        return predictions
    }

    // MARK: Checks

    func validate(ks: [Int], operation: String) throws {
        guard trainingCount > 0 else { throw KNNError.notTrained(operation: operation) }
        guard !ks.isEmpty else { throw KNNError.noK(operation: operation) }
        if let bad = ks.first(where: { $0 < 1 || $0 > trainingCount }) {
            throw KNNError.invalidK(k: bad, trainingCount: trainingCount)
        }
    }

    /// The queries as an (M × D) matrix matching the training rows, all values finite.
    func checkedQueries(_ queries: Tensor<Float>, operation: String) throws -> Tensor<Float> {
        guard trainingCount > 0 else { throw KNNError.notTrained(operation: operation) }
        guard queries.rank >= 2 else {
            throw KNNError.badShape(operation: operation, detail: "queries must be an (M×D) matrix or M images, got \(describeShape(queries.shape))")
        }
        let matrix = queries.flattenedRows()
        guard matrix.shape[1] == dimensions else {
            throw KNNError.badShape(operation: operation,
                                    detail: "queries \(describeShape(queries.shape)) have \(matrix.shape[1]) values each but the training rows have \(dimensions)")
        }
        try Self.checkFinite(matrix, what: "the queries")
        return matrix
    }

    static func checkFinite(_ matrix: Tensor<Float>, what: String) throws {
        let columns = Swift.max(1, matrix.shape.dropFirst().reduce(1, *))
        let bad: Int? = matrix.withUnsafeBufferPointer { buffer in
            // A sum is finite only if every term is; search element by element only when it is not.
            let base = buffer.baseAddress!, vectorCount = buffer.count & ~7
            var lanes = SIMD8<Float>()
            var i = 0
            while i < vectorCount {
                lanes += UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self) * 0
                i += 8
            }
            var sum = lanes.sum()
            for j in vectorCount..<buffer.count { sum += base[j] * 0 }
            return sum.isFinite ? nil : buffer.firstIndex { !$0.isFinite }
        }
        if let bad { throw KNNError.nonFinite(what: what, row: bad / columns, column: bad % columns) }
    }
}
