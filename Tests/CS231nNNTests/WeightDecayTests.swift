import CS231nNN
import CS231nOptim
import Foundation
import Testing

/// PyTorch's Nesterov rule, coupled weight decay and per-parameter learning-rate scales, by
/// hand with OptimizerTests' w = (1, −2), g = (0.5, −0.25), lr = 0.1, μ = 0.9.
@Suite struct WeightDecayTests {
    let steps = OptimizerTests()

    @Test func pytorchNesterov() throws {
        // v = g, w −= 0.1·(g + 0.9·g) = 0.19·g: (0.905, −1.9525).
        // v = 1.9·g = (0.95, −0.475), w −= 0.1·(g + 0.9·v) = 0.1·2.71·g = (0.1355, −0.06775).
        let (first, second, optimizer) = try steps.twoSteps(OptimizerSettings(rule: .pytorchNesterov, learningRate: 0.1))
        steps.expectNear(first, [0.905, -1.9525])
        steps.expectNear(second, [0.7695, -1.88475])
        steps.expectNear(Array(optimizer.state["w.velocity"]!.scalars[0..<2]), [0.95, -0.475])
        #expect(UpdateRule.pytorchNesterov.slots == ["velocity"] && UpdateRule.pytorchNesterov.defaultLearningRate == 1e-2)
    }

    @Test func sgdWithWeightDecay() throws {
        // λ = 0.1: g + λw = (0.6, −0.45), w = (0.94, −1.955);
        // g + λw = (0.594, −0.4455), w = (0.8806, −1.91045).
        let (first, second, _) = try steps.twoSteps(OptimizerSettings(rule: .sgd, learningRate: 0.1, weightDecay: 0.1))
        steps.expectNear(first, [0.94, -1.955])
        steps.expectNear(second, [0.8806, -1.91045])
    }

    @Test func pytorchNesterovWithWeightDecay() throws {
        // λ = 0.1: d = g + λw = (0.6, −0.45), v = d, w −= 0.1·1.9·d = (0.886, −1.9145).
        // d = (0.5886, −0.44145), v = 0.9·v + d = (1.1286, −0.84645),
        // w −= 0.1·(d + 0.9·v) = (0.160434, −0.1203255).
        let settings = OptimizerSettings(rule: .pytorchNesterov, learningRate: 0.1, weightDecay: 0.1)
        let (first, second, optimizer) = try steps.twoSteps(settings)
        steps.expectNear(first, [0.886, -1.9145])
        steps.expectNear(second, [0.725566, -1.7941745])
        steps.expectNear(Array(optimizer.state["w.velocity"]!.scalars[0..<2]), [1.1286, -0.84645])
    }

    /// A scale of 64 moves "b" with 64·lr and λ/64; the schedule's factor scales the rate only.
    @Test func learningRateScaleKeepsTheDecayPerStep() throws {
        let w = Tensor<Double>(Array(repeating: [1.0, -2.0], count: 10).flatMap { $0 })
        let g = Tensor<Double>(Array(repeating: [0.5, -0.25], count: 10).flatMap { $0 })
        let (lr, lambda, factor) = (1e-3, 0.1, 0.5)
        var parameters = ParameterStore([("a", w), ("b", w)])
        var optimizer = Optimizer<Double>(OptimizerSettings(rule: .sgd, learningRate: lr, weightDecay: lambda))
        try optimizer.update(&parameters, gradients: ParameterStore([("a", g), ("b", g)]), learningRateScales: ["b": 64],
                             learningRateFactor: factor)
        let expectedA = try w - (g + w * lambda) * (lr * factor)
        let expectedB = try w - (g + w * (lambda / 64)) * (lr * factor * 64)
        #expect(try (parameters["a"]! - expectedA).abs().max() < 1e-15)
        #expect(try (parameters["b"]! - expectedB).abs().max() < 1e-15)

        // With no gradient only the decay acts, and it is the same for both.
        let zero = Tensor<Double>.zeros(w.shape)
        parameters = ParameterStore([("a", w), ("b", w)])
        try optimizer.update(&parameters, gradients: ParameterStore([("a", zero), ("b", zero)]), learningRateScales: ["b": 64])
        #expect(try (parameters["a"]! - parameters["b"]!).abs().max() < 1e-15)
        #expect(try (parameters["a"]! - w * (1 - lr * lambda)).abs().max() < 1e-15)
    }

    @Test func nonPositiveScalesAreRejected() {
        var parameters = ParameterStore<Double>([("W1", .zeros([2]))])
        var optimizer = Optimizer<Double>(OptimizerSettings(rule: .sgd))
        #expect(throws: TensorError.invalidArgument(operation: "Optimizer.update",
                                                    detail: "learning-rate scale 0.0 for W1 is not a positive number")) {
            try optimizer.update(&parameters, gradients: ParameterStore([("W1", .zeros([2]))]), learningRateScales: ["W1": 0])
        }
        #expect(optimizer.step == 0)
    }

    @Test func settingsWithoutWeightDecayStillDecode() throws {
        let old = #"{"rule":"pytorch-momentum","learningRate":0.02,"momentum":0.9,"decayRate":0.99,"beta1":0.9,"beta2":0.999,"epsilon":1e-08}"#
        let settings = try JSONDecoder().decode(OptimizerSettings.self, from: Data(old.utf8))
        #expect(settings == OptimizerSettings(rule: .pytorchMomentum, learningRate: 0.02))
        #expect(settings.weightDecay == 0)
        let current = OptimizerSettings(rule: .pytorchNesterov, learningRate: 0.2, momentum: 0.85, weightDecay: 5e-4)
        #expect(try JSONDecoder().decode(OptimizerSettings.self, from: JSONEncoder().encode(current)) == current)
    }
}
