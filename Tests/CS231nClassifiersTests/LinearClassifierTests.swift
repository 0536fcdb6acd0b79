import CS231nClassifiers
import CS231nData
import Foundation
import Testing

/// Three well-separated Gaussian blobs in 4 dimensions, with the bias column.
private func blobs(count: Int, seed: UInt64) throws -> LabeledTensors<Double> {
    var rng = RandomGenerator(seed: seed, stream: .dataset)
    let centres: [[Double]] = [[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]]
    var scalars: [Double] = []
    var labels: [Int] = []
    for i in 0..<count {
        let label = i % 3
        scalars += centres[label].map { $0 + rng.nextNormal() } + [1]
        labels.append(label)
    }
    return try LabeledTensors(x: Tensor(shape: [count, 5], scalars: scalars), y: labels)
}

@Suite("Linear classifiers")
struct LinearClassifierTests {
    let settings = SGDSettings(learningRate: 0.05, regularization: 1e-3, iterations: 200, batchSize: 30, seed: 3)

    @Test("SGD learns separable blobs and the loss falls", arguments: LinearLoss.allCases)
    func learnsBlobs(loss: LinearLoss) throws {
        let train = try blobs(count: 300, seed: 1), test = try blobs(count: 150, seed: 2)
        let (history, accuracy): ([Double], Double)
        switch loss {
        case .svm:
            var svm = LinearSVM<Double>()
            history = try svm.train(inputs: train.x, labels: train.y, settings: settings)
            accuracy = try svm.accuracy(inputs: test.x, labels: test.y)
        case .softmax:
            var softmax = Softmax<Double>()
            history = try softmax.train(inputs: train.x, labels: train.y, settings: settings)
            accuracy = try softmax.accuracy(inputs: test.x, labels: test.y)
        }
        #expect(history.count == 200)
        let early: Double = history.prefix(5).reduce(0, +) / 5
        let late: Double = history.suffix(20).reduce(0, +) / 20
        #expect(late < early / 2)
        #expect(accuracy > 0.9)
    }

    @Test("The same seed gives the same weights and losses; another seed does not")
    func determinism() throws {
        let train = try blobs(count: 90, seed: 1)
        func run(seed: UInt64) throws -> (Tensor<Double>, [Double]) {
            var classifier = Softmax<Double>()
            var chosen = settings
            chosen.seed = seed
            let history = try classifier.train(inputs: train.x, labels: train.y, settings: chosen)
            return (classifier.weights!, history)
        }
        let (w1, h1) = try run(seed: 9), (w2, h2) = try run(seed: 9), (w3, _) = try run(seed: 10)
        #expect(w1 == w2)
        #expect(h1 == h2)
        #expect(w1 != w3)
    }

    @Test("Training starts from W = 1e-4·randn and continues from existing weights")
    func initialisationAndContinuation() throws {
        let train = try blobs(count: 60, seed: 1)
        var classifier = LinearSVM<Double>()
        var short = settings
        short.iterations = 0
        try classifier.train(inputs: train.x, labels: train.y, classCount: 4, settings: short)
        let initial = try #require(classifier.weights)
        #expect(initial.shape == [5, 4])
        #expect(initial.scalars.allSatisfy { abs($0) < 1e-3 })
        #expect(initial.scalars.contains { $0 != 0 })
        short.iterations = 5
        try classifier.train(inputs: train.x, labels: train.y, settings: short)
        #expect(classifier.weights!.shape == [5, 4])
        #expect(classifier.weights! != initial)
    }

    @Test("Batches larger than the data are drawn with replacement")
    func batchLargerThanData() throws {
        let train = try blobs(count: 6, seed: 1)
        var classifier = Softmax<Double>()
        var big = settings
        big.batchSize = 50
        big.iterations = 3
        let history = try classifier.train(inputs: train.x, labels: train.y, settings: big)
        #expect(history.count == 3 && history.allSatisfy(\.isFinite))
    }

    @Test("A learning rate that blows up stops training at the first non-finite loss")
    func divergence() throws {
        let train = try blobs(count: 60, seed: 1)
        var classifier = LinearSVM<Float>()
        let history = try classifier.train(inputs: train.x.converted(to: Float.self), labels: train.y,
                                           settings: SGDSettings(learningRate: 1e3, regularization: 1e5, iterations: 500))
        #expect(history.count < 500)
        #expect(!history.last!.isFinite)
    }

    @Test("Using an untrained classifier or bad settings fails clearly")
    func errors() throws {
        let train = try blobs(count: 6, seed: 1)
        #expect(throws: LinearClassifierError.untrained("scores")) { try Softmax<Double>().predict(train.x) }
        var classifier = LinearSVM<Double>()
        #expect(throws: LinearClassifierError.invalidSetting("learning rate must be positive and finite, got -1.0")) {
            try classifier.train(inputs: train.x, labels: train.y, settings: SGDSettings(learningRate: -1))
        }
        #expect(throws: LinearClassifierError.labelOutOfRange(row: 0, label: 5, classes: 3)) {
            try classifier.train(inputs: train.x, labels: [5, 1, 2, 0, 1, 2], classCount: 3, settings: settings)
        }
        classifier.weights = .zeros([4, 3])
        #expect(throws: LinearClassifierError.self) { try classifier.predict(train.x) }
    }

    @Test("Grid search keeps the best validation accuracy and marks diverged candidates")
    func gridSearch() throws {
        let train = try blobs(count: 150, seed: 1), validation = try blobs(count: 60, seed: 2)
        var seen: [HyperparameterTrial] = []
        let result = try HyperparameterSearch.run(
            Softmax<Double>.self, train: train, validation: validation, classCount: 3,
            learningRates: [1e-6, 0.05, 1e4], regularizations: [1e-3, 1e5], settings: settings) { seen.append($0) }
        #expect(result.trials.count == 6)
        #expect(seen == result.trials)
        #expect(result.trials.map(\.learningRate) == [1e-6, 1e-6, 0.05, 0.05, 1e4, 1e4])
        let best = result.trials.compactMap(\.validationAccuracy).max()!
        #expect(result.bestTrial.validationAccuracy == best)
        #expect(result.bestTrial.learningRate == 0.05 && result.bestTrial.regularization == 1e-3)
        #expect(try result.best.accuracy(inputs: validation.x, labels: validation.y) == best)
        #expect(result.bestLossHistory.count == 200)
        let diverged = try #require(result.trials.last)
        #expect(diverged.validationAccuracy == nil && diverged.divergedAtIteration != nil)
        #expect(result.table.count == 7)
        #expect(result.table[result.bestIndex + 1].hasSuffix("← best"))
        #expect(result.table[6].contains("diverged"))
    }
}
