@testable import CS231nClassifiers
import CS231nTensor
import Testing

private func randomRows(_ rows: Int, _ columns: Int, seed: UInt64) -> (Tensor<Float>, [Int]) {
    var rng = RandomGenerator(seed: seed)
    let pixels = (0..<rows * columns).map { _ in Float(rng.nextInt(below: 256)) }
    // Labels follow the first value, so neighbours carry information and accuracies vary with k.
    let labels = (0..<rows).map { min(3, Int(pixels[$0 * columns]) / 64) }
    return (try! Tensor(shape: [rows, columns], scalars: pixels), labels)
}

@Suite("k-nearest-neighbour cross-validation")
struct KNearestNeighborCrossValidationTests {
    @Test("folds partition the data in np.array_split order")
    func foldsPartition() throws {
        let (rows, labels) = randomRows(23, 8, seed: 1)
        let result = try CrossValidation.kNearestNeighbor(rows: rows, labels: labels, ks: [1, 3], folds: 5)
        #expect(result.folds == [0..<5, 5..<10, 10..<15, 15..<19, 19..<23])
        #expect(result.accuracies.count == 2 && result.accuracies.allSatisfy { $0.count == 5 })
    }

    @Test("each fold's accuracy equals a model trained on the other folds", arguments: DistanceMetric.allCases)
    func matchesSeparateModels(metric: DistanceMetric) throws {
        let (rows, labels) = randomRows(103, 16, seed: 2)
        let ks = [1, 3, 8, 20]
        let result = try CrossValidation.kNearestNeighbor(rows: rows, labels: labels, ks: ks, folds: 4, metric: metric)
        for (fold, held) in result.folds.enumerated() {
            let keep = (0..<103).filter { !held.contains($0) }
            var model = KNearestNeighbor()
            try model.train(try rows.gather(keep), labels: keep.map { labels[$0] })
            let predictions = try model.predict(try rows.slice(held), ks: ks, metric: metric)
            for kIndex in ks.indices {
                let correct = zip(predictions[kIndex], labels[held]).filter { $0 == $1 }.count
                #expect(result.accuracies[kIndex][fold] == Double(correct) / Double(held.count))
            }
        }
    }

    @Test("the shared matrix and the per-fold searches agree", arguments: DistanceMetric.allCases)
    func sharedAgreesWithSeparate(metric: DistanceMetric) throws {
        let (rows, labels) = randomRows(90, 12, seed: 3)
        var model = KNearestNeighbor()
        try model.train(rows, labels: labels)
        let ranges = [0..<30, 30..<60, 60..<90]
        #expect(CrossValidation.sharedMatrixCounts(model, ranges: ranges, ks: [1, 5, 9], metric: metric)
                == (try CrossValidation.separateCounts(model, ranges: ranges, ks: [1, 5, 9], metric: metric)))
    }

    @Test("mean, standard deviation and best k")
    func summary() {
        let result = CrossValidationResult(ks: [1, 3, 5], metric: .l2, folds: [0..<2, 2..<4],
                                           accuracies: [[0.2, 0.4], [0.5, 0.3], [0.1, 0.1]])
        #expect(zip(result.means, [0.3, 0.4, 0.1]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(zip(result.standardDeviations, [0.1, 0.1, 0]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(result.bestK == 3)
        let tied = CrossValidationResult(ks: [5, 1], metric: .l1, folds: [0..<1], accuracies: [[0.5], [0.5]])
        #expect(tied.bestK == 1)
    }

    @Test("bad folds and bad k give clear errors")
    func badArguments() throws {
        let (rows, labels) = randomRows(10, 4, seed: 4)
        #expect(throws: KNNError.invalidFolds(folds: 1, count: 10)) {
            try CrossValidation.kNearestNeighbor(rows: rows, labels: labels, ks: [1], folds: 1)
        }
        #expect(throws: KNNError.invalidFolds(folds: 11, count: 10)) {
            try CrossValidation.kNearestNeighbor(rows: rows, labels: labels, ks: [1], folds: 11)
        }
        // With 5 folds of 2, each model trains on 8 examples.
        #expect(throws: KNNError.invalidCrossValidationK(k: 9, folds: 5, foldTrainingCount: 8)) {
            try CrossValidation.kNearestNeighbor(rows: rows, labels: labels, ks: [1, 9], folds: 5)
        }
        #expect(throws: KNNError.labelCountMismatch(rows: 10, labels: 3)) {
            try CrossValidation.kNearestNeighbor(rows: rows, labels: [0, 1, 2], ks: [1], folds: 2)
        }
    }
}
