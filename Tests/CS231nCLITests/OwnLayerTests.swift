import CS231n
import Testing

/// out = x ⊙ γ over (N, D) rows, γ (D) learned: a layer of one's own, written with the public API
/// alone, as the "Writing a layer" article shows it.
struct FeatureScale<S: TensorScalar>: Layer {
    typealias Scalar = S
    /// The input, which dγ needs.
    typealias Cache = Tensor<S>

    /// (D)
    var gamma = Tensor<S>.zeros([0])

    var summary: String { "feature scale" }

    func plan(inputShape: [Int]) throws -> LayerPlan {
        guard inputShape.count == 1 else {
            throw TensorError.invalidArgument(operation: "FeatureScale", detail: "input \(describeShape(inputShape)) is not (D)")
        }
        return LayerPlan(outputShape: inputShape, parameters: ["gamma": inputShape])
    }

    mutating func build(inputShape: [Int], using _: inout RandomGenerator) throws -> [Int] {
        gamma = .ones(inputShape)
        return try plan(inputShape: inputShape).outputShape
    }

    var parameters: ParameterStore<S> {
        get { ParameterStore([("gamma", gamma)]) }
        set { if let value = newValue["gamma"] { gamma = value } }
    }

    /// out (N, D) = x (N, D) ⊙ γ (D)
    mutating func forward(_ x: Tensor<S>, context: inout LayerContext) throws -> (out: Tensor<S>, cache: Tensor<S>) {
        (try x * gamma, x)
    }

    /// dx = dout ⊙ γ, dγ = Σₙ dout ⊙ x
    func backward(_ dout: Tensor<S>, cache x: Tensor<S>, needs: GradientNeeds, context: LayerContext) throws
        -> (dx: Tensor<S>?, gradients: ParameterStore<S>) {
        var gradients = ParameterStore<S>()
        if needs.contains(.weights) { gradients["gamma"] = try (dout * x).sum(axis: 0) }
        return (needs.contains(.input) ? try dout * gamma : nil, gradients)
    }
}

@Suite struct OwnLayerTests {
    @Test func itsBackwardMatchesNumericalGradients() throws {
        var generator = RandomGenerator(seed: 3)
        var layer = FeatureScale<Double>()
        _ = try layer.build(inputShape: [5], using: &generator)
        layer.gamma = Tensor.randn([5], using: &generator)
        let x = Tensor<Double>.randn([4, 5], using: &generator), dout = Tensor<Double>.randn([4, 5], using: &generator)
        var context = LayerContext(mode: .train)
        let (_, cache) = try layer.forward(x, context: &context)
        let (dx, gradients) = try layer.backward(dout, cache: cache, needs: [.input, .weights], context: context)
        let lines = [
            try GradientCheck.layerLine("dx", at: x, dout: dout, analytic: try #require(dx)) { point in
                var copy = layer, context = LayerContext(mode: .train)
                return try copy.forward(point, context: &context).out
            },
            try GradientCheck.layerLine("dgamma", at: layer.gamma, dout: dout, analytic: try gradients.require("gamma")) { gamma in
                var copy = layer, context = LayerContext(mode: .train)
                copy.gamma = gamma
                return try copy.forward(x, context: &context).out
            },
        ]
        for line in lines { #expect(line.relativeError < 1e-8, "\(line.check): \(line.relativeError)") }
        #expect(lines.map(\.checked) == [20, 5])
    }

    @Test func aNetWithItChecksAndTrains() throws {
        func net<S: TensorScalar>(_: S.Type) throws -> Sequential<S> {
            try Sequential(inputShape: [6], layers: [
                ("fc1", AffineLayer<S>(outputs: 8, activation: .relu, weightScale: 0.5)),
                ("scale1", FeatureScale<S>()),
                ("scores", AffineLayer<S>(outputs: 3, weightScale: 0.5)),
            ], regularization: 0.05, seed: 2)
        }
        var generator = RandomGenerator(seed: 4)
        let x = Tensor<Double>.randn([5, 6], using: &generator), y = [0, 2, 1, 1, 0]
        for line in try GradientCheckTarget.modelLines("own net", net(Double.self), x, y) {
            #expect(line.relativeError < 1e-6 && line.checked > 0, "\(line.check): \(line.relativeError)")
        }

        let rows = Tensor<Float>.randn([60, 6], using: &generator)
        let labels = try rows.argmax(axis: 1).map { $0 % 3 }
        let data = try LabeledTensors(x: rows, y: labels)
        var solver = try Solver(model: net(Float.self), train: data, val: data,
                                optimizer: OptimizerSettings(rule: .adam, learningRate: 1e-2),
                                options: SolverOptions(epochs: 20, batchSize: 20, trainAccuracySamples: 60, seed: 1))
        try solver.train()
        #expect(try #require(solver.history.loss.last) < solver.history.loss[0] / 2)
        #expect(solver.model.parameters.names.contains("scale1.gamma"))
    }
}
