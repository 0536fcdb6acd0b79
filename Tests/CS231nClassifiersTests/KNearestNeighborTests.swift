@testable import CS231nClassifiers
import CS231nTensor
import Testing

private func matrix(_ rows: [[Float]]) -> Tensor<Float> {
    try! Tensor(shape: [rows.count, rows.first?.count ?? 0], scalars: rows.flatMap { $0 })
}

private func trained(_ rows: [[Float]], _ labels: [Int], chunkSize: Int = 1024) throws -> KNearestNeighbor {
    var model = KNearestNeighbor(chunkSize: chunkSize)
    try model.train(matrix(rows), labels: labels)
    return model
}

/// Integers 0...maximum, as raw pixels are: small ranges make many exact distance ties.
private func randomPixels(_ rows: Int, _ columns: Int, maximum: Int, seed: UInt64) -> Tensor<Float> {
    var rng = RandomGenerator(seed: seed)
    return try! Tensor(shape: [rows, columns], scalars: (0..<rows * columns).map { _ in Float(rng.nextInt(below: maximum + 1)) })
}

private func randomLabels(_ count: Int, classes: Int, seed: UInt64) -> [Int] {
    var rng = RandomGenerator(seed: seed, stream: .dataOrder)
    return (0..<count).map { _ in rng.nextInt(below: classes) }
}

/// Brute force in Double: neighbours by (distance, index), vote ties to the smaller label.
private func referencePredictions(queries: Tensor<Float>, training: Tensor<Float>, labels: [Int], k: Int,
                                  metric: DistanceMetric) -> [Int] {
    let q = queries.converted(to: Double.self).scalars, t = training.converted(to: Double.self).scalars
    let dims = training.shape[1], classes = (labels.max() ?? 0) + 1
    return (0..<queries.shape[0]).map { i in
        let distances = (0..<training.shape[0]).map { j in
            (0..<dims).reduce(0.0) { sum, d in
                let diff = q[i * dims + d] - t[j * dims + d]
                return sum + (metric == .l2 ? diff * diff : Swift.abs(diff))
            }
        }
        let nearest = distances.indices.sorted { (distances[$0], $0) < (distances[$1], $1) }.prefix(k)
        var counts = [Int](repeating: 0, count: classes)
        for j in nearest { counts[labels[j]] += 1 }
        return counts.indices.max { (counts[$0], -$0) < (counts[$1], -$1) }!
    }
}

private func relativeFrobenius(_ a: Tensor<Float>, _ b: Tensor<Float>) -> Double {
    let x = a.converted(to: Double.self).scalars, y = b.converted(to: Double.self).scalars
    let difference = zip(x, y).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    return (difference / x.reduce(0.0) { $0 + $1 * $1 }).squareRoot()
}

@Suite("k-nearest neighbours")
struct KNearestNeighborTests {
    // Four corners of a square, labelled 0, 1, 2, 1.
    static let corners: [[Float]] = [[0, 0], [10, 0], [0, 10], [10, 10]]
    static let cornerLabels = [0, 1, 2, 1]

    @Test("known neighbours on a hand-made set", arguments: DistanceMetric.allCases)
    func knownNeighbours(metric: DistanceMetric) throws {
        let model = try trained(Self.corners, Self.cornerLabels)
        let queries = matrix([[1, 1], [9, 1], [2, 8], [9, 9], [6, 6]])
        #expect(try model.predict(queries, k: 1, metric: metric) == [0, 1, 2, 1, 1])
        // Query (6, 6): two neighbours labelled 1 among the three nearest.
        #expect(try model.predict(queries, k: 3, metric: metric)[4] == 1)
    }

    @Test("distance matrices hold the hand-computed values")
    func handDistances() throws {
        let model = try trained([[0, 0], [3, 4], [6, 8]], [0, 1, 2])
        let queries = matrix([[0, 0], [3, 0]])
        let euclidean: [Float] = [0, 5, 10, 3, 4, (9 + 64 as Float).squareRoot()]
        let manhattan: [Float] = [0, 7, 14, 3, 4, 11]
        for distances in [try model.distancesTwoLoops(queries), try model.distancesOneLoop(queries),
                          try model.distancesNoLoops(queries)] {
            #expect(distances.shape == [2, 3])
            for (a, e) in zip(distances.scalars, euclidean) { #expect(Swift.abs(a - e) < 1e-5) }
        }
        #expect(try model.distancesL1(queries).scalars == manhattan)
    }

    @Test("vote ties go to the smaller label")
    func voteTies() throws {
        // On a line: labels 2, 1, 0 at distances 1, 2, 3 from the query at 0.
        let model = try trained([[1], [2], [3], [20]], [2, 1, 0, 0])
        let query = matrix([[0]])
        #expect(try model.predict(query, k: 1) == [2])
        #expect(try model.predict(query, k: 2) == [1])     // one vote each for 2 and 1
        #expect(try model.predict(query, k: 3) == [0])     // one vote each for 2, 1, 0
        #expect(try model.predict(query, k: 4) == [0])     // two votes for 0
    }

    @Test("distance ties go to the smaller training index", arguments: DistanceMetric.allCases)
    func distanceTies(metric: DistanceMetric) throws {
        let first = try trained([[5, 5], [1, 1], [1, 1]], [0, 3, 1])
        let second = try trained([[5, 5], [1, 1], [1, 1]], [0, 1, 3])
        let query = matrix([[0, 0]])
        #expect(try first.predict(query, k: 1, metric: metric) == [3])
        #expect(try second.predict(query, k: 1, metric: metric) == [1])
        // Equal distances either side of the query: the earlier row wins.
        let symmetric = try trained([[2, 0], [-2, 0]], [4, 2])
        #expect(try symmetric.predict(query, k: 1, metric: metric) == [4])
        #expect(try symmetric.predictLabels(distances: symmetric.distances(query, metric: metric), k: 1) == [4])
    }

    @Test("L1 and L2 disagree where the geometry says they should")
    func l1AgainstL2() throws {
        // From the origin, (3, 3) is nearer in L2 (4.24 < 5) and (5, 0) nearer in L1 (5 < 6).
        let model = try trained([[3, 3], [5, 0]], [0, 1])
        let query = matrix([[0, 0]])
        #expect(try model.predict(query, k: 1, metric: .l2) == [0])
        #expect(try model.predict(query, k: 1, metric: .l1) == [1])
        #expect(try model.distancesL1(query).scalars == [6, 5])
        #expect(try model.predictLabels(distances: model.distancesL1(query), k: 1) == [1])
        #expect(try model.predictLabels(distances: model.distancesNoLoops(query), k: 1) == [0])
    }

    @Test("the three L2 versions agree on CIFAR-like data")
    func threeVersionsAgree() throws {
        var model = KNearestNeighbor()
        try model.train(randomPixels(70, 3072, maximum: 255, seed: 1), labels: randomLabels(70, classes: 10, seed: 1))
        let queries = randomPixels(13, 3072, maximum: 255, seed: 2)
        let twoLoops = try model.distancesTwoLoops(queries)
        let oneLoop = try model.distancesOneLoop(queries)
        let noLoops = try model.distancesNoLoops(queries)
        #expect(relativeFrobenius(twoLoops, oneLoop) < 1e-4)
        #expect(relativeFrobenius(twoLoops, noLoops) < 1e-4)
        // The CS231n vote on the no-loop matrix agrees with predict.
        #expect(try model.predictLabels(distances: noLoops, k: 5) == model.predict(queries, k: 5))
    }

    @Test("the L1 kernel matches Double sums, odd sizes and tails included")
    func l1Kernel() throws {
        var model = KNearestNeighbor()
        try model.train(randomPixels(37, 43, maximum: 255, seed: 3), labels: randomLabels(37, classes: 3, seed: 3))
        let queries = randomPixels(11, 43, maximum: 255, seed: 4)
        let distances = try model.distancesL1(queries)
        let q = queries.scalars, t = model.trainingRows.scalars
        for i in 0..<11 {
            for j in 0..<37 {
                let expected = (0..<43).reduce(Float(0)) { $0 + Swift.abs(q[i * 43 + $1] - t[j * 43 + $1]) }
                #expect(distances[i, j] == expected)
            }
        }
    }

    @Test("predictions equal a Double brute force, ties and all", arguments: DistanceMetric.allCases)
    func matchesReference(metric: DistanceMetric) throws {
        // Pixels in 0...2 over 24 values: hundreds of exactly tied distances.
        let training = randomPixels(300, 24, maximum: 2, seed: 5), labels = randomLabels(300, classes: 4, seed: 5)
        let queries = randomPixels(41, 24, maximum: 2, seed: 6)
        var model = KNearestNeighbor()
        try model.train(training, labels: labels)
        let ks = [1, 2, 5, 10, 33]
        let predictions = try model.predict(queries, ks: ks, metric: metric)
        for (kIndex, k) in ks.enumerated() {
            #expect(predictions[kIndex] == referencePredictions(queries: queries, training: training, labels: labels,
                                                                k: k, metric: metric), "k = \(k)")
        }
    }

    @Test("Float rounding cannot reorder near neighbours")
    func nearTiesSettledExactly() throws {
        // Rows of ~200 over 3072 values (‖x‖² ≈ 1.2·10⁸, Float spacing 8) that differ from the
        // query by squared distances 1, 2, 3…: the GEMM trick alone cannot tell them apart.
        let dims = 3072, count = 40
        var rng = RandomGenerator(seed: 7)
        let base = (0..<dims).map { _ in Float(180 + rng.nextInt(below: 40)) }
        let order = rng.permutation(count)
        var rows = [[Float]]()
        for rank in order {
            var row = base
            for d in 0..<(rank + 1) { row[(d * 97) % dims] += 1 }   // squared distance rank + 1
            rows.append(row)
        }
        // By rank: 2, 6, 6, 1, 1, 1, 1, then 3: the vote changes with k. The GEMM trick alone
        // gives these distances as 0 or 16 and picks wrong labels.
        let labels = order.map { $0 < 7 ? [2, 6, 6, 1, 1, 1, 1][$0] : 3 }
        let model = try trained(rows, labels)
        let query = matrix([base])
        for k in [1, 2, 3, 5, 7, 15] {
            let nearest = order.indices.sorted { order[$0] < order[$1] }.prefix(k)
            var counts = [Int](repeating: 0, count: 7)
            for j in nearest { counts[labels[j]] += 1 }
            let expected = counts.indices.max { (counts[$0], -$0) < (counts[$1], -$1) }!
            #expect(try model.predict(query, k: k) == [expected], "k = \(k)")
        }
    }

    @Test("chunked and unchunked runs give the same answer", arguments: DistanceMetric.allCases)
    func chunking(metric: DistanceMetric) throws {
        let training = randomPixels(260, 96, maximum: 255, seed: 8), labels = randomLabels(260, classes: 10, seed: 8)
        let queries = randomPixels(300, 96, maximum: 255, seed: 9)
        var results = [[[Int]]]()
        for chunkSize in [1, 7, 64, 300, 10_000] {
            var model = KNearestNeighbor(chunkSize: chunkSize)
            try model.train(training, labels: labels)
            var reported = [Int]()
            results.append(try model.predict(queries, ks: [1, 4, 9], metric: metric) { reported.append($0) })
            #expect(reported.last == 300)
            #expect(reported == reported.sorted())
        }
        for result in results.dropFirst() { #expect(result == results[0]) }
    }

    @Test("bad k gives a clear error", arguments: [0, -1, 6])
    func badK(k: Int) throws {
        let model = try trained([[0], [1], [2], [3], [4]], [0, 1, 0, 1, 0])
        #expect(throws: KNNError.invalidK(k: k, trainingCount: 5)) { try model.predict(matrix([[0]]), k: k) }
        let message = String(describing: KNNError.invalidK(k: k, trainingCount: 5))
        #expect(message.contains("k = \(k)") && message.contains("5"))
        #expect(throws: KNNError.invalidK(k: k, trainingCount: 5)) {
            try model.predictLabels(distances: matrix([[0, 1, 2, 3, 4]]), k: k)
        }
    }

    @Test("bad inputs give clear errors")
    func badInputs() throws {
        #expect(throws: KNNError.notTrained(operation: "predict")) { try KNearestNeighbor().predict(matrix([[0]]), k: 1) }
        var model = KNearestNeighbor()
        #expect(throws: KNNError.labelCountMismatch(rows: 2, labels: 1)) { try model.train(matrix([[0], [1]]), labels: [0]) }
        #expect(throws: KNNError.invalidLabel(index: 1, label: -2, classCount: 1)) {
            try model.train(matrix([[0], [1]]), labels: [0, -2])
        }
        #expect(throws: KNNError.nonFinite(what: "the training data", row: 1, column: 0)) {
            try model.train(matrix([[0, 1], [.nan, 2]]), labels: [0, 1])
        }
        model = try trained([[0, 0], [1, 1]], [0, 1])
        #expect(throws: KNNError.self) { try model.predict(matrix([[0, 0, 0]]), k: 1) }
        #expect(throws: KNNError.nonFinite(what: "the queries", row: 0, column: 1)) {
            try model.predict(matrix([[0, .infinity]]), k: 1)
        }
        #expect(throws: KNNError.noK(operation: "predict")) { try model.predict(matrix([[0, 0]]), ks: []) }
    }

    @Test("images are flattened to rows")
    func imageInput() throws {
        var model = KNearestNeighbor()
        let images = try Tensor<Float>(shape: [3, 1, 2, 2], scalars: [0, 0, 0, 0, 5, 5, 5, 5, 9, 9, 9, 9])
        try model.train(images, labels: [0, 1, 2])
        #expect(model.dimensions == 4)
        #expect(try model.predict(try Tensor<Float>(shape: [1, 1, 2, 2], scalars: [6, 6, 6, 6]), k: 1) == [1])
    }
}
