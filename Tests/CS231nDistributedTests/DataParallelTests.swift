import CS231nData
import CS231nDistributed
import CS231nNN
import CS231nOptim
import Foundation
import Testing

/// Images drawn around one random template per class: learnable, small and fast.
func templateImages(count: Int, shape: [Int], classes: Int = 4, seed: UInt64) throws -> LabeledTensors<Float> {
    var g = RandomGenerator(seed: 100)
    let templates = Tensor<Float>.randn([classes, shape.reduce(1, *)], scale: 1.5, using: &g)
    var sample = RandomGenerator(seed: seed)
    let y = (0..<count).map { _ in sample.nextInt(below: classes) }
    var x = try templates.gather(y)
    try x += Tensor<Float>.randn([count, shape.reduce(1, *)], using: &sample)
    return try LabeledTensors(x: x.reshaped([count] + shape), y: y)
}

/// The largest |a − b| / max|a| over the tensors of two stores.
func largestRelativeDifference(_ a: ParameterStore<Float>, _ b: ParameterStore<Float>) -> Double {
    a.names.map { name in
        let (x, y) = (a[name]!.scalars, b[name]!.scalars)
        let scale = Double(x.map { abs($0) }.max() ?? 0)
        let difference = zip(x, y).map { Double(abs($0 - $1)) }.max() ?? 0
        return scale == 0 ? difference : difference / scale
    }.max() ?? 0
}

/// The Solver with `dataParallel` over replicas as threads, against one process: the same
/// global batches give the same weights up to rounding, and the same bits run after run.
struct DataParallelTests {
    struct Outcome: Sendable {
        var parameters: ParameterStore<Float>
        var history: SolverHistory
    }

    /// Trains `model` on 230 examples in batches of 25 (the last one 5, unevenly shared).
    static func train<M: Model>(_ model: @escaping @Sendable () throws -> M, replicas: Int?, shape: [Int],
                                rule: UpdateRule = .pytorchMomentum) throws -> [Outcome] where M.Scalar == Float {
        let train = try templateImages(count: 230, shape: shape, seed: 1), val = try templateImages(count: 60, shape: shape, seed: 2)
        let run = { @Sendable (group: (any ReplicaGroup)?) throws -> Outcome in
            var solver = try Solver(model: model(), train: train, val: val, optimizer: OptimizerSettings(rule: rule, learningRate: 2e-2),
                                    options: SolverOptions(epochs: 2, batchSize: 25, trainAccuracySamples: 100, seed: 4))
            solver.dataParallel = group.map(DataParallel.init)
            try solver.train()
            return Outcome(parameters: solver.model.parameters, history: solver.history)
        }
        guard let replicas else { return [try run(nil)] }
        return try LocalReplicas.run(replicas) { try run($0) }
    }

    func expectEquivalent(_ one: Outcome, _ replicas: [Outcome], tolerance: Double = 1e-5) {
        for outcome in replicas {
            #expect(outcome.parameters.names == one.parameters.names)
            for name in one.parameters.names { #expect(outcome.parameters[name]! == replicas[0].parameters[name]!, "\(name): replicas differ") }
            #expect(outcome.history.valAccuracy == one.history.valAccuracy)
            #expect(outcome.history.trainAccuracy == one.history.trainAccuracy)
        }
        let difference = largestRelativeDifference(one.parameters, replicas[0].parameters)
        #expect(difference <= tolerance, "largest relative difference \(difference)")
        for (a, b) in zip(one.history.loss, replicas[0].history.loss) { #expect(abs(a - b) <= tolerance * abs(a), "loss \(a) vs \(b)") }
    }

    @Test(arguments: [2, 3])
    func twoLayerNetOnReplicasMatchesOneProcess(replicas: Int) throws {
        let net = { @Sendable in try TwoLayerNet<Float>(inputSize: 48, hiddenSize: 20, classes: 4, weightScale: nil, regularization: 1e-3, seed: 3) }
        let one = try Self.train(net, replicas: nil, shape: [48])[0]
        let shared = try Self.train(net, replicas: replicas, shape: [48])
        expectEquivalent(one, shared)
        let again = try Self.train(net, replicas: replicas, shape: [48])
        for name in shared[0].parameters.names { #expect(again[0].parameters[name]! == shared[0].parameters[name]!, "\(name) not reproduced") }
        #expect(again[0].history == shared[0].history)
    }

    @Test func threeLayerConvNetOnReplicasMatchesOneProcess() throws {
        let net = { @Sendable in
            try ThreeLayerConvNet<Float>(inputShape: [3, 8, 8], filters: 4, filterSize: 3, hiddenSize: 12, classes: 4,
                                         weightScale: 1e-1, regularization: 1e-3, seed: 3)
        }
        let one = try Self.train(net, replicas: nil, shape: [3, 8, 8], rule: .adam)[0]
        let shared = try Self.train(net, replicas: 2, shape: [3, 8, 8], rule: .adam)
        expectEquivalent(one, shared)
    }

    /// A summed loss (the cnn's) adds the shares; synchronized batch norm normalises each share
    /// with the global batch's statistics, so the first loss and gradients are one process's.
    @Test func synchronizedBatchNormGivesTheOneProcessLossAndGradients() throws {
        let data = try templateImages(count: 12, shape: [3, 16, 16], seed: 5)
        let net = { @Sendable () throws -> ModernConvNet<Float> in
            var net = try ModernConvNet<Float>(inputShape: [3, 16, 16], widths: [4, 6, 8], classes: 4, seed: 1, settings: ModernConvNetSettings(testTimeAugmentation: 0))
            try net.initializeWhitening(from: data.x)
            return net
        }
        var alone = try net()
        let (loss, gradients) = try alone.loss(data.x, data.y)
        let runs = try LocalReplicas.run(3) { group -> (Float, ParameterStore<Float>, ParameterStore<Float>) in
            var replica = try net()
            replica.batchNormReplicas = group
            let parallel = DataParallel(group)
            let rows = parallel.localRows(of: 12)
            var (share, grads) = try replica.loss(data.x.slice(rows), Array(data.y[rows]))
            share = try parallel.reduce(loss: share, gradients: &grads, localCount: rows.count, globalCount: 12,
                                        reduction: replica.lossReduction)
            return (share, grads, replica.buffers)
        }
        for (shared, grads, buffers) in runs {
            #expect(abs(shared - loss) <= 1e-5 * abs(loss), "loss \(shared) vs \(loss)")
            #expect(largestRelativeDifference(gradients, grads) <= 1e-4)
            #expect(largestRelativeDifference(alone.buffers, buffers) <= 1e-5, "running statistics of the global batch")
        }
    }

    @Test func replicasWithoutARowOfABatchAreRefused() throws {
        let net = { @Sendable in try TwoLayerNet<Float>(inputSize: 48, hiddenSize: 8, classes: 4, seed: 3) }
        #expect(throws: SolverError.self) { _ = try Self.train(net, replicas: 6, shape: [48]) }
    }

    /// The README's loop: DataParallel around a gradient step of one's own.
    @Test func aTrainingLoopOfOnesOwnIsDistributedByReduce() throws {
        let data = try templateImages(count: 120, shape: [48], seed: 7)
        let (x, y) = (data.x, data.y)
        let loop = { @Sendable (replicas: (any ReplicaGroup)?) throws -> ParameterStore<Float> in
            var model = try TwoLayerNet<Float>(inputSize: 48, hiddenSize: 10, classes: 4, weightScale: nil, seed: 1)
            var optimizer = Optimizer<Float>(OptimizerSettings(rule: .sgd, learningRate: 0.1))
            let (order, batch, steps) = (Array((0..<120).reversed()), 30, 4)
            let parallel = replicas.map(DataParallel.init)
            for step in 0..<steps {
                let indices = order[(step * batch)..<((step + 1) * batch)]
                let rows = parallel?.localRows(of: batch) ?? 0..<batch
                let share = Array(indices)[rows]
                var (loss, gradients) = try model.loss(x.gather(Array(share)), share.map { y[$0] })
                if let parallel {
                    loss = try parallel.reduce(loss: loss, gradients: &gradients, localCount: rows.count,
                                               globalCount: batch, reduction: model.lossReduction)
                }
                #expect(loss.isFinite)
                try optimizer.update(&model.parameters, gradients: gradients)
            }
            return model.parameters
        }
        let alone = try loop(nil)
        let shared = try LocalReplicas.run(2) { try loop($0) }
        #expect(largestRelativeDifference(alone, shared[0]) <= 1e-5)
        #expect(largestRelativeDifference(shared[0], shared[1]) == 0)
    }
}
