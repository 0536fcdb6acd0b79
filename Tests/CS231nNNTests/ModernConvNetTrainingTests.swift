import CS231nData
import CS231nNN
import CS231nOptim
import Foundation
import Testing

/// A model whose loss is the sum of its two parameters: every gradient is exactly 1, so plain
/// SGD moves each parameter by its learning rate, and the Solver's schedule can be read back.
private struct ConstantSlope: Model {
    var parameters = ParameterStore<Double>([("slow", .zeros([1])), ("fast", .zeros([1]))])
    var buffers = ParameterStore<Double>()
    var trainingSteps = 0
    var configuration: ModelConfiguration { ModelConfiguration(kind: "constant-slope", inputShape: [1], hiddenSizes: [], classes: 2) }
    var learningRateScales: [String: Double] { ["fast": 64] }
    var fastFrozenFromEpoch = Int.max
    func frozenParameters(epoch: Int) -> Set<String> { epoch >= fastFrozenFromEpoch ? ["fast"] : [] }

    mutating func loss(_ x: Tensor<Double>, _ y: [Int]) throws -> (loss: Double, gradients: ParameterStore<Double>) {
        trainingSteps += 1
        return (parameters["slow"]!.scalars[0] + parameters["fast"]!.scalars[0],
                ParameterStore([("slow", .ones([1])), ("fast", .ones([1]))]))
    }

    /// Always class 0, which every label below is: val accuracy is 1 from the first epoch.
    func scores(_ x: Tensor<Double>) throws -> Tensor<Double> {
        var scores = Tensor<Double>.zeros([x.shape[0], 2])
        for row in 0..<x.shape[0] { scores[row, 0] = 1 }
        return scores
    }
}

@Suite struct LearningRateScheduleTests {
    /// airbench94's numbers: 0.2 → 1 over int(0.23·total) steps, then down to 0.07 at the end.
    @Test func warmupLinearRisesFor23PercentOfTheStepsThenFallsTo7Percent() {
        let schedule = LearningRateSchedule.warmupLinear
        let expected: [(step: Int, factor: Double)] = [(0, 0.2), (1, 0.6), (2, 1), (6, 0.535), (9, 0.18625), (10, 0.07)]
        for (step, factor) in expected {
            #expect(abs(schedule.factor(step: step, total: 10) - factor) < 1e-15, "step \(step) of 10")
        }
        #expect((0..<1000).allSatisfy { LearningRateSchedule.constant.factor(step: $0, total: 1000) == 1 })
    }

    @Test func theSolverScalesEveryStepByTheScheduleAndEachParametersMultiple() throws {
        let data = try LabeledTensors(x: Tensor<Double>.zeros([10, 1]), y: Array(repeating: 0, count: 10))
        var solver = try Solver(model: ConstantSlope(), train: data, val: data,
                                optimizer: OptimizerSettings(rule: .sgd, learningRate: 0.01),
                                options: SolverOptions(epochs: 1, batchSize: 1, schedule: .warmupLinear))
        try solver.train()
        let factors = (0..<10).map { LearningRateSchedule.warmupLinear.factor(step: $0, total: 10) }
        let travelled = 0.01 * factors.reduce(0, +)
        #expect(abs(solver.model.parameters["slow"]!.scalars[0] + travelled) < 1e-15)
        #expect(abs(solver.model.parameters["fast"]!.scalars[0] + 64 * travelled) < 1e-13)
        #expect(solver.history.loss.count == 10 && solver.iteration == 10)
    }
}

@Suite struct FrozenParameterTests {
    /// The Solver asks the model each epoch; a frozen parameter keeps its value, and its
    /// momentum and decay do not move it either.
    @Test func theSolverLeavesAFrozenParameterAlone() throws {
        let data = try LabeledTensors(x: Tensor<Double>.zeros([4, 1]), y: [0, 0, 0, 0])
        var model = ConstantSlope()
        model.parameters["fast"] = .ones([1])
        model.fastFrozenFromEpoch = 0
        var solver = try Solver(model: model, train: data, val: data,
                                optimizer: OptimizerSettings(rule: .pytorchNesterov, learningRate: 0.01, momentum: 0.9,
                                                             weightDecay: 0.5),
                                options: SolverOptions(epochs: 1, batchSize: 1))
        try solver.train()
        #expect(solver.model.parameters["fast"]!.scalars[0] == 1)
        #expect(solver.model.parameters["slow"]!.scalars[0] < 0)
    }

    @Test func theOptimizerSkipsFrozenNames() throws {
        var parameters = ParameterStore<Double>([("a", .ones([2])), ("b", .ones([2]))])
        var optimizer = Optimizer<Double>(OptimizerSettings(rule: .sgd, learningRate: 0.5))
        try optimizer.update(&parameters, gradients: ParameterStore([("a", .ones([2])), ("b", .ones([2]))]), frozen: ["b"])
        #expect(parameters["a"]!.scalars == [0.5, 0.5] && parameters["b"]!.scalars == [1, 1])
    }

    @Test func theCNNsWhiteningBiasFreezesAfterItsEpochs() throws {
        let net = try ModernConvNet<Float>(inputShape: [3, 8, 8], widths: [4], settings: ModernConvNetSettings(whiteningBiasEpochs: 2))
        #expect(net.frozenParameters(epoch: 1).isEmpty)
        #expect(net.frozenParameters(epoch: 2) == ["whiten.bias"])
        #expect(try ModernConvNet<Float>(inputShape: [3, 8, 8], widths: [4]).whitenBiasEpochs == 3)
        #expect(throws: TensorError.self) {
            try ModernConvNet<Float>(inputShape: [3, 8, 8], widths: [4], settings: ModernConvNetSettings(whiteningBiasEpochs: -1))
        }
    }
}

@Suite struct LookaheadTests {
    /// Plain SGD moves "slow" by −lr per step; every 5th step pulls it to the running average
    /// with airbench's forgetting factor, and the last step leaves the average in the model.
    @Test func theSolverFollowsAirbenchsLookahead() throws {
        let data = try LabeledTensors(x: Tensor<Double>.zeros([12, 1]), y: Array(repeating: 0, count: 12))
        var solver = try Solver(model: ConstantSlope(), train: data, val: data,
                                optimizer: OptimizerSettings(rule: .sgd, learningRate: 0.01),
                                options: SolverOptions(epochs: 1, batchSize: 1, lookahead: true))
        try solver.train()
        var (weight, average): (Double, Double?) = (0, nil)
        for step in 1...12 {
            weight -= 0.01
            if step % 5 == 0 {
                let decay = pow(0.95, 5) * pow(Double(step) / 12, 3)
                average = average.map { decay * $0 + (1 - decay) * weight } ?? weight
                weight = average!
            }
        }
        weight = average!
        #expect(abs(solver.model.parameters["slow"]!.scalars[0] - weight) < 1e-15)
        #expect(solver.lookaheadAverage?.parameters["slow"]!.scalars[0] == solver.model.parameters["slow"]!.scalars[0])
    }

    @Test func withoutLookaheadNothingIsAveraged() throws {
        let data = try LabeledTensors(x: Tensor<Double>.zeros([12, 1]), y: Array(repeating: 0, count: 12))
        var solver = try Solver(model: ConstantSlope(), train: data, val: data,
                                optimizer: OptimizerSettings(rule: .sgd, learningRate: 0.01),
                                options: SolverOptions(epochs: 1, batchSize: 1))
        try solver.train()
        #expect(abs(solver.model.parameters["slow"]!.scalars[0] + 0.12) < 1e-15 && solver.lookaheadAverage == nil)
    }
}

@Suite struct ModernConvNetTrainingTests {
    /// 50 random images with random labels: only memorising them scores well, which a working
    /// forward, backward and update together do within a few dozen full-batch steps.
    @Test func aTinyCNNOverfitsFiftyExamples() throws {
        var generator = RandomGenerator(seed: 11)
        let x = Tensor<Float>.randn([50, 3, 16, 16], using: &generator)
        let y = (0..<50).map { _ in generator.nextInt(below: 5) }
        var net = try ModernConvNet<Float>(inputShape: [3, 16, 16], widths: [8, 16, 16], classes: 5, seed: 3,
                                          settings: ModernConvNetSettings(testTimeAugmentation: 0))
        try net.initializeWhitening(from: x)
        let data = try LabeledTensors(x: x, y: y)
        let before = try net.accuracy(x, y)
        var solver = try Solver(model: net, train: data, val: data,
                                optimizer: OptimizerSettings(rule: .adam, learningRate: 3e-3),
                                options: SolverOptions(epochs: 60, batchSize: 50, seed: 5))
        try solver.train()
        let after = try solver.model.accuracy(x, y)
        #expect(before < 0.5, "an untrained net guesses: \(before)")
        #expect(after == 1, "train accuracy after 60 full-batch steps: \(after)")
        // Label smoothing 0.2 keeps the loss above 50 × 0.66 even for a perfect fit.
        #expect(solver.history.loss.last! < 0.8 * solver.history.loss.first!, "\(solver.history.loss)")
    }
}
