import CS231nNN
import Foundation
import Testing

/// Looking inside the nets: named layers, their activations, and input gradients of upstream
/// gradients placed at them under the three ReLU backward rules.
@Suite struct InspectionTests {
    func tensor(_ shape: [Int], _ values: [Double]) throws -> Tensor<Double> { try Tensor(shape: shape, scalars: values) }

    /// x = (1, 2) reaches hidden pre-activations (1, −1, 2); class 0's score sends back (−1, 3, 2).
    /// standard keeps dout where the input was positive: (−1, 0, 2) → dx = (−1, 2);
    /// deconvnet keeps positive dout: (0, 3, 2) → (3, −1); guided both: (0, 0, 2) → (0, 2).
    @Test func theThreeRulesGiveHandComputedGradientsInATwoLayerNet() throws {
        var net = try TwoLayerNet<Double>(inputSize: 2, hiddenSize: 3, classes: 2)
        net.parameters["W1"] = try tensor([2, 3], [1, 1, 0, 0, -1, 1])
        net.parameters["b1"] = .zeros([3])
        net.parameters["W2"] = try tensor([3, 2], [-1, 0, 3, 0, 2, 0])
        net.parameters["b2"] = .zeros([2])
        let trace = try net.trace(tensor([1, 2], [1, 2]))
        #expect(try trace.activations("fc1").scalars == [1, 0, 2])
        let upstream = try tensor([1, 2], [1, 0])
        let expected: [ReLUBackwardRule: [Double]] = [.standard: [-1, 2], .deconvnet: [3, -1], .guided: [0, 2]]
        for (rule, gradient) in expected {
            #expect(try trace.inputGradient(upstream, at: "scores", rule: rule).scalars == gradient, "\(rule)")
        }
    }

    /// A 2×2 one-channel image through three 1×1 filters (1, −1, 0.5; biases 0, 0, −10), a 2×2
    /// pool to (3, 2, 0), hidden pre-activations (3, 2), and class 0's score sending back (−1, 1).
    /// standard: pooled gradient (−1, 1, 0) → dx [[0, −1], [−1, 0]]; deconvnet: (0, 1, 1), and the
    /// dead third channel passes its 1 to its window's first pixel → [[0.5, −1], [0, 0]];
    /// guided: (0, 1, 1) with the dead channel blocked → [[0, −1], [0, 0]].
    @Test func theThreeRulesGiveHandComputedGradientsInAConvNet() throws {
        var net = try ThreeLayerConvNet<Double>(inputShape: [1, 2, 2], filters: 3, filterSize: 1, hiddenSize: 2, classes: 2)
        net.parameters["W1"] = try tensor([3, 1, 1, 1], [1, -1, 0.5])
        net.parameters["b1"] = try tensor([3], [0, 0, -10])
        net.parameters["W2"] = try tensor([3, 2], [1, 0, 0, 1, 1, 1])
        net.parameters["b2"] = .zeros([2])
        net.parameters["W3"] = try tensor([2, 2], [-1, 0, 1, 0])
        net.parameters["b3"] = .zeros([2])
        let trace = try net.trace(tensor([1, 1, 2, 2], [1, -2, 3, 0.5]))
        #expect(try trace.activations("pool1").scalars == [3, 2, 0])
        #expect(try trace.activations("fc2").scalars == [3, 2])
        #expect(try trace.activations("conv1").shape == [1, 3, 2, 2])
        let upstream = try tensor([1, 2], [1, 0])
        let expected: [ReLUBackwardRule: [Double]] = [.standard: [0, -1, -1, 0], .deconvnet: [0.5, -1, 0, 0], .guided: [0, -1, 0, 0]]
        for (rule, gradient) in expected {
            #expect(try trace.inputGradient(upstream, at: "scores", rule: rule).scalars == gradient, "\(rule)")
        }
    }

    /// The standard rule from every layer is the true gradient of ⟨upstream, activations⟩. Conv
    /// nets sum many small products into some near-zero input gradients, where the centred
    /// differences' rounding reaches 1e-7 relative, hence their looser tolerance.
    func expectTrueGradients<M: InspectableModel>(_ label: String, _ net: M, _ x: Tensor<Double>,
                                                  tolerance: Double = gradientTolerance) throws where M.Scalar == Double {
        var generator = RandomGenerator(seed: 9, stream: .main)
        let trace = try net.trace(x)
        for layer in net.inspectableLayers {
            let upstream = Tensor<Double>.randn([x.shape[0]] + layer.shape, using: &generator)
            let analytic = try trace.inputGradient(upstream, at: layer.name)
            try expectLayerGradient("\(label) from \(layer.name)", at: x, dout: upstream, analytic: analytic, tolerance: tolerance) {
                try net.activations($0, layer: layer.name)
            }
        }
    }

    @Test func inputGradientsFromEveryLayerMatchNumericOnes() throws {
        var generator = RandomGenerator(seed: 4, stream: .dataset)
        let conv = try ThreeLayerConvNet<Double>(inputShape: [3, 8, 8], filters: 3, filterSize: 3, hiddenSize: 6, classes: 4,
                                                 weightScale: nil, seed: 1)
        #expect(conv.inspectableLayers.map(\.name) == ["conv1", "pool1", "fc2", "scores"])
        #expect(conv.inspectableLayers.map(\.shape) == [[3, 8, 8], [3, 4, 4], [6], [4]])
        try expectTrueGradients("ThreeLayerConvNet", conv, smoothRandn([2, 3, 8, 8], using: &generator), tolerance: 1e-6)
        let flat = smoothRandn([3, 12], using: &generator)
        var normalized = try FullyConnectedNet<Double>(inputShape: [12], hiddenSizes: [7, 5], classes: 3,
                                                       normalization: .batchnorm, weightScale: 0.5, seed: 2)
        _ = try normalized.loss(flat, [0, 1, 2])  // running statistics that are not the identity
        #expect(normalized.inspectableLayers.map(\.name) == ["affine1", "norm1", "fc1", "affine2", "norm2", "fc2", "scores"])
        try expectTrueGradients("FullyConnectedNet batchnorm", normalized, flat)
        let twoLayer = try TwoLayerNet<Double>(inputSize: 12, hiddenSize: 6, classes: 3, weightScale: 0.5, seed: 3)
        try expectTrueGradients("TwoLayerNet", AnyModel(twoLayer), flat)
        try expectTrueGradients("AnyModel conv", AnyModel(conv), smoothRandn([1, 3, 8, 8], using: &generator), tolerance: 1e-6)
    }

    @Test func tracesShareTheTrainingForwardPass() throws {
        var generator = RandomGenerator(seed: 5, stream: .dataset)
        let net = try ThreeLayerConvNet<Float>(inputShape: [3, 8, 8], filters: 4, hiddenSize: 10, weightScale: nil)
        let x = Tensor<Float>.randn([3, 3, 8, 8], using: &generator)
        #expect(try net.trace(x).activations("scores") == net.scores(x))
    }

    @Test func badLayersAndUpstreamShapesAreNamed() throws {
        let net = try AnyModel(ThreeLayerConvNet<Float>(inputShape: [3, 8, 8], filters: 4, hiddenSize: 10))
        let trace = try net.trace(Tensor<Float>.zeros([2, 3, 8, 8]))
        do {
            _ = try trace.activations("conv2")
            Issue.record("conv2 was accepted")
        } catch {
            #expect("\(error)".contains("no layer \"conv2\"") && "\(error)".contains("conv1 (4×8×8)"), "\(error)")
        }
        do {
            _ = try trace.inputGradient(Tensor<Float>.zeros([2, 4]), at: "pool1")
            Issue.record("a (2, 4) gradient at pool1 was accepted")
        } catch {
            #expect("\(error)".contains("pool1") && "\(error)".contains("(2×4×4×4)"), "\(error)")
        }
    }
}
