import CS231nClassifiers
import CS231nData
import CS231nDistributed
import CS231nOptim
import CS231nTensor
import Foundation
import Testing

/// The grid search and the nearest-neighbour search shared over thread replicas give one
/// process's table, best model and predictions.
struct DistributedClassifiersTests {
    static func rows(count: Int, seed: UInt64) throws -> LabeledTensors<Float> {
        let data = try templateImages(count: count, shape: [24], seed: seed)
        let ones = Tensor<Float>(shape: [count, 1], repeating: 1)
        return try LabeledTensors(x: Tensor.concatenate([data.x, ones], axis: 1), y: data.y)
    }

    @Test func gridSearchDealtToReplicasGivesTheOneProcessTableAndModel() throws {
        let train = try Self.rows(count: 300, seed: 1), validation = try Self.rows(count: 80, seed: 2)
        let settings = SGDSettings(iterations: 60, batchSize: 50, seed: 3)
        let search = { @Sendable (replicas: (any ReplicaGroup)?) in
            try HyperparameterSearch.run(Softmax<Float>.self, train: train, validation: validation, classCount: 4,
                                         learningRates: [1e-3, 1e-2, 1e1], regularizations: [1e-3, 1e-1], settings: settings,
                                         replicas: replicas)
        }
        let alone = try search(nil)
        let shared = try LocalReplicas.run(2) { try search($0) }
        let timeless = { (trials: [HyperparameterTrial]) in trials.map { trial -> HyperparameterTrial in
            var trial = trial
            trial.seconds = 0
            return trial
        } }
        for result in shared {
            #expect(timeless(result.trials) == timeless(alone.trials))
            #expect(result.bestIndex == alone.bestIndex)
            #expect(result.best.weights! == alone.best.weights!)
            #expect(result.bestLossHistory == alone.bestLossHistory)
        }
    }

    @Test(arguments: [DistanceMetric.l1, .l2])
    func nearestNeighboursSharedOverReplicasPredictAsOneProcess(metric: DistanceMetric) throws {
        let train = try templateImages(count: 400, shape: [3, 4, 4], seed: 1), queries = try templateImages(count: 37, shape: [3, 4, 4], seed: 2)
        var model = KNearestNeighbor(chunkSize: 8)
        try model.train(train.x, labels: train.y)
        let alone = try model.predict(queries.x, ks: [1, 5], metric: metric)
        let trained = model
        let shared = try LocalReplicas.run(3) { try trained.predict(queries.x, ks: [1, 5], metric: metric, replicas: $0) }
        #expect(shared.allSatisfy { $0 == alone })
    }
}
