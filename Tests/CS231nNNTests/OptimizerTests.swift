import CS231nNN
import CS231nOptim
import Testing

/// Each update rule against steps worked out by hand from its formula, with
/// w = (1, −2), g = (0.5, −0.25), lr = 0.1. The parameter holds the pair 10 times over (20
/// values), so both the SIMD body and the scalar tail of the kernels are exercised.
@Suite struct OptimizerTests {
    static let pairs = 10

    /// Two steps with the same gradient; returns w after each and the optimizer.
    func twoSteps(_ settings: OptimizerSettings, secondRate: Double? = nil) throws -> ([Double], [Double], Optimizer<Double>) {
        var parameters = ParameterStore<Double>([("w", Tensor(Array(repeating: [1.0, -2.0], count: Self.pairs).flatMap { $0 }))])
        let gradients = ParameterStore<Double>([("w", Tensor(Array(repeating: [0.5, -0.25], count: Self.pairs).flatMap { $0 }))])
        var optimizer = Optimizer<Double>(settings)
        try optimizer.update(&parameters, gradients: gradients)
        let first = parameters["w"]!.scalars
        if let secondRate { optimizer.settings.learningRate = secondRate }
        try optimizer.update(&parameters, gradients: gradients)
        let second = parameters["w"]!.scalars
        for k in 1..<Self.pairs {
            #expect(Array(first[(2 * k)..<(2 * k + 2)]) == Array(first[0..<2]), "every pair updates alike")
            #expect(Array(second[(2 * k)..<(2 * k + 2)]) == Array(second[0..<2]))
        }
        return (Array(first[0..<2]), Array(second[0..<2]), optimizer)
    }

    func expectNear(_ actual: [Double], _ expected: [Double], _ tolerance: Double = 1e-12,
                    sourceLocation: SourceLocation = #_sourceLocation) {
        for (a, e) in zip(actual, expected) {
            #expect(abs(a - e) <= tolerance, "\(actual) vs \(expected)", sourceLocation: sourceLocation)
        }
    }

    @Test func courseDefaults() {
        let momentum = OptimizerSettings(rule: .momentum)
        #expect(momentum.learningRate == 1e-2 && momentum.momentum == 0.9)
        let rmsprop = OptimizerSettings(rule: .rmsprop)
        #expect(rmsprop.decayRate == 0.99 && rmsprop.epsilon == 1e-8)
        let adam = OptimizerSettings(rule: .adam)
        #expect(adam.learningRate == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999 && adam.epsilon == 1e-8)
    }

    @Test func sgd() throws {
        // w − 0.1·g: 1 − 0.05, −2 + 0.025; then again.
        let (first, second, _) = try twoSteps(OptimizerSettings(rule: .sgd, learningRate: 0.1))
        expectNear(first, [0.95, -1.975])
        expectNear(second, [0.9, -1.95])
    }

    @Test func momentum() throws {
        // v = −0.1·g = (−0.05, 0.025), w = (0.95, −1.975);
        // v = 0.9·v − 0.1·g = (−0.095, 0.0475), w = (0.855, −1.9275).
        let (first, second, optimizer) = try twoSteps(OptimizerSettings(rule: .momentum, learningRate: 0.1))
        expectNear(first, [0.95, -1.975])
        expectNear(second, [0.855, -1.9275])
        expectNear(Array(optimizer.state["w.velocity"]!.scalars[0..<2]), [-0.095, 0.0475])
    }

    @Test func nesterov() throws {
        // v′ = (−0.05, 0.025), w += −0.9·0 + 1.9·v′ = (0.905, −1.9525);
        // v″ = (−0.095, 0.0475), w += −0.9·v′ + 1.9·v″ = (0.045 − 0.1805, −0.0225 + 0.09025).
        let (first, second, _) = try twoSteps(OptimizerSettings(rule: .nesterov, learningRate: 0.1))
        expectNear(first, [0.905, -1.9525])
        expectNear(second, [0.7695, -1.88475])
    }

    @Test func rmsprop() throws {
        // c = 0.01·g² = (0.0025, 0.000625), √c = (0.05, 0.025): w −= 0.1·g/(√c + ε) ≈ ±1.
        // c = 0.99·c + 0.01·g² = (0.004975, 0.00124375).
        let (first, second, optimizer) = try twoSteps(OptimizerSettings(rule: .rmsprop, learningRate: 0.1))
        expectNear(first, [1 - 0.05 / (0.05 + 1e-8), -2 + 0.025 / (0.025 + 1e-8)])
        expectNear(second, [first[0] - 0.05 / (0.004975.squareRoot() + 1e-8),
                            first[1] + 0.025 / (0.00124375.squareRoot() + 1e-8)])
        expectNear(Array(optimizer.state["w.cache"]!.scalars[0..<2]), [0.004975, 0.00124375])
    }

    @Test func adam() throws {
        // t = 1: m = 0.1·g, v = 0.001·g², m̂ = g, v̂ = g², so w −= 0.1·g/(|g| + ε) ≈ 0.1·sign(g).
        // t = 2: m = 0.19·g, v = 0.001999·g², m̂ = g, v̂ = g² again: another 0.1·sign(g).
        let (first, second, optimizer) = try twoSteps(OptimizerSettings(rule: .adam, learningRate: 0.1))
        expectNear(first, [1 - 0.1 * 0.5 / (0.5 + 1e-8), -2 + 0.1 * 0.25 / (0.25 + 1e-8)])
        expectNear(second, [first[0] - 0.1 * 0.5 / (0.5 + 1e-8), first[1] + 0.1 * 0.25 / (0.25 + 1e-8)], 1e-10)
        #expect(optimizer.step == 2)
        expectNear(Array(optimizer.state["w.m"]!.scalars[0..<2]), [0.19 * 0.5, 0.19 * -0.25])
        expectNear(Array(optimizer.state["w.v"]!.scalars[0..<2]), [0.001999 * 0.25, 0.001999 * 0.0625])
    }

    @Test func pytorchMomentum() throws {
        // v = g, w −= 0.1·v = (0.95, −1.975); v = 0.9·g + g = 1.9·g, w −= 0.1·1.9·g.
        let (first, second, _) = try twoSteps(OptimizerSettings(rule: .pytorchMomentum, learningRate: 0.1))
        expectNear(first, [0.95, -1.975])
        expectNear(second, [0.855, -1.9275])
    }

    @Test func momentumConventionsDifferWhenTheRateChanges() throws {
        // CS231n: v = 0.9·(−0.05) − 0.05·0.5 = −0.07 → 0.88. PyTorch: v = 1.9·0.5, w −= 0.05·0.95 → 0.9025.
        let (_, course, _) = try twoSteps(OptimizerSettings(rule: .momentum, learningRate: 0.1), secondRate: 0.05)
        let (_, pytorch, _) = try twoSteps(OptimizerSettings(rule: .pytorchMomentum, learningRate: 0.1), secondRate: 0.05)
        expectNear([course[0]], [0.88])
        expectNear([pytorch[0]], [0.9025])
    }

    @Test func floatMatchesDouble() throws {
        var g = RandomGenerator(seed: 30)
        let w = Tensor<Double>.randn([1000], using: &g), grad = Tensor<Double>.randn([1000], using: &g)
        for rule in UpdateRule.allCases {
            var double = ParameterStore([("w", w)]), float = ParameterStore([("w", w.converted(to: Float.self))])
            var od = Optimizer<Double>(OptimizerSettings(rule: rule)), of = Optimizer<Float>(OptimizerSettings(rule: rule))
            for _ in 0..<3 {
                try od.update(&double, gradients: ParameterStore([("w", grad)]))
                try of.update(&float, gradients: ParameterStore([("w", grad.converted(to: Float.self))]))
            }
            let difference = try (double["w"]! - float["w"]!.converted(to: Double.self)).abs().max()
            #expect(difference < 1e-5, "\(rule): Float and Double differ by \(difference)")
        }
    }

    @Test func missingOrMisshapenGradientsAreNamed() {
        var parameters = ParameterStore<Double>([("W1", .zeros([2, 2]))])
        var optimizer = Optimizer<Double>(OptimizerSettings(rule: .sgd))
        #expect(throws: TensorError.invalidArgument(operation: "Optimizer.update", detail: "no gradient for parameter W1")) {
            try optimizer.update(&parameters, gradients: ParameterStore())
        }
        #expect(throws: TensorError.self) {
            try optimizer.update(&parameters, gradients: ParameterStore([("W1", .zeros([3]))]))
        }
    }
}
