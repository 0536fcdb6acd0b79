import Foundation
import Testing
@testable import CS231nNN

/// A tiny modern CNN over 3×16×16 images: whiten to 15×15, groups pool to 7, 3 and 1.
private func tinyNet<S: TensorScalar>(_: S.Type, widths: [Int] = [4, 6, 8], tta: Int = 0, seed: UInt64 = 1, size: Int = 16) throws
    -> ModernConvNet<S> {
    try ModernConvNet<S>(inputShape: [3, size, size], widths: widths, classes: 5, seed: seed, settings: ModernConvNetSettings(testTimeAugmentation: tta))
}

struct ModernConvNetTests {
    @Test func everyParameterGradientMatchesCentredDifferences() throws {
        // 24×24 inputs, so that the last batch norm averages 4 images × 2×2 positions: over the
        // 4 values a 16×16 input leaves it, centred differences are too ill-conditioned to trust.
        var net = try tinyNet(Double.self, size: 24)
        var generator = RandomGenerator(seed: 2)
        let x = Tensor<Double>.randn([4, 3, 24, 24], using: &generator)
        try net.initializeWhitening(from: x)
        // Non-zero shifts, so that no gradient is trivially symmetric.
        for name in net.parameters.names where name.hasSuffix("beta") || name == "whiten.bias" {
            net.parameters[name] = Tensor.randn(net.parameters[name]!.shape, scale: 0.3, using: &generator)
        }
        // Max pools and batch norm over 4 images make single tiny entries noisy under the
        // course's element-wise relative error; the composition is checked against the scale of
        // each gradient instead (every layer passes the element-wise check on its own).
        var probe = net
        let gradients = try probe.loss(x, [0, 3, 1, 4]).gradients
        for (name, parameter) in net.parameters {
            let numeric = try GradientCheck.numericGradient(at: parameter) { value in
                var copy = net
                copy.parameters[name] = value
                return try copy.loss(x, [0, 3, 1, 4]).loss
            }
            let error = normwiseRelativeError(try #require(gradients[name]), numeric)
            #expect(error < 1e-6, "\(name): normwise relative error \(error)")
        }
    }

    @Test func theW6NetHasAirbenchsShapesAndInitialization() throws {
        let net = try ModernConvNet<Float>()
        #expect(net.buffers["whiten.weight"]!.shape == [24, 3, 2, 2])
        #expect(net.groups.map { [$0.conv1.height, $0.conv2.height] } == [[31, 15], [15, 7], [7, 3]])
        #expect(net.headPool == 3)
        #expect(net.parameters["g2.conv1"]!.shape == [256, 64, 3, 3])
        #expect(net.parameters["head"]!.shape == [256, 10])
        #expect(net.parameters.scalarCount == 1_970_176 + 24 + 2 * (64 + 256 + 256))
        // Dirac: filter 5 of group 2's first conv copies input channel 5 at the centre tap.
        let w = net.parameters["g2.conv1"]!
        let filter5 = Array(w.scalars[(5 * 64 * 9)..<(6 * 64 * 9)])
        #expect(filter5.filter { $0 != 0 } == [1] && filter5[5 * 9 + 4] == 1)
        #expect(net.learningRateScales == ["g1.norm1.beta": 64, "g1.norm2.beta": 64, "g2.norm1.beta": 64,
                                           "g2.norm2.beta": 64, "g3.norm1.beta": 64, "g3.norm2.beta": 64])
    }

    /// The typed fields and the named store are one set of tensors: names in checkpoint order,
    /// an update through the store lands in the field, and the loss's gradients come named alike.
    @Test func typedTensorsAreWhatTheStoreNames() throws {
        var net = try tinyNet(Float.self)
        let groups = net.widths.indices.flatMap { i in ["conv1", "norm1.beta", "conv2", "norm2.beta"].map { "g\(i + 1).\($0)" } }
        #expect(net.parameters.names == ["whiten.bias"] + groups + ["head"])
        #expect(net.parameters["g1.conv2"] == net.parameterTensors.groups[0].conv2)
        #expect(net.buffers["g2.norm1.running_var"] == net.bufferTensors.groups[1].norm1Variance)
        let head = net.parameterTensors.head
        net.parameters["head"] = head * 2
        #expect(net.parameterTensors.head == head * 2)
        net.parameters = net.parameters.mapTensors { _, tensor in tensor * 0.5 }
        #expect(net.parameterTensors.head == head)
        let x = randomNormal([4, 3, 16, 16], seed: 6, as: Float.self)
        #expect(try net.loss(x, [0, 1, 2, 3]).gradients.names == net.parameters.names)
    }

    @Test func shapeErrorsNameTheLayer() {
        let message = thrownMessage { _ = try ModernConvNet<Float>(inputShape: [3, 6, 6]) }
        #expect(message.contains("group 3 pool") && message.contains("1×1"))
        let input = thrownMessage { _ = try tinyNet(Float.self).scores(.zeros([2, 3, 32, 32])) }
        #expect(input.contains("ModernConvNet") && input.contains("2×3×32×32"))
    }

    @Test func whiteningDecorrelatesPatches() throws {
        var net = try tinyNet(Double.self)
        // Strongly correlated channels and neighbours: a smooth gray image plus small colour noise.
        var generator = RandomGenerator(seed: 3)
        var values: [Double] = []
        for _ in 0..<20 {
            let base = Tensor<Double>.randn([16, 16], using: &generator).scalars
            for _ in 0..<3 {
                values += (0..<256).map { i in
                    let (y, x) = (i / 16, i % 16)
                    return base[(y / 4) * 16 + x / 4] + 0.1 * generator.nextNormal()
                }
            }
        }
        let images = try Tensor<Double>(shape: [20, 3, 16, 16], scalars: values)
        try net.initializeWhitening(from: images, epsilon: 1e-12)
        let filtered = try Conv2D.forward(ImageLayout.nchw.convert(images, to: .nhwc), net.buffers["whiten.weight"]!, nil,
                                          geometry: net.whiten).out
        let features = 12, rows = filtered.count / 24
        let f = filtered.scalars
        var mean = [Double](repeating: 0, count: features)
        for r in 0..<rows { for i in 0..<features { mean[i] += f[r * 24 + i] / Double(rows) } }
        for i in 0..<features {
            for j in 0..<features {
                var covariance = 0.0
                for r in 0..<rows { covariance += (f[r * 24 + i] - mean[i]) * (f[r * 24 + j] - mean[j]) }
                #expect(Swift.abs(covariance / Double(rows) - (i == j ? 1 : 0)) < 1e-6, "covariance (\(i), \(j))")
            }
        }
        // The second half is the negation of the first.
        #expect(f[24 + 13] == -f[24 + 1])
    }

    @Test func testTimeAugmentationAveragesTheViews() throws {
        let x = randomNormal([3, 3, 16, 16], seed: 4, as: Double.self)
        let plain = try tinyNet(Double.self, tta: 0), flip = try tinyNet(Double.self, tta: 1), both = try tinyNet(Double.self, tta: 2)
        let mirrored = ModernConvNet<Double>.mirrored(x)
        #expect(mirrored.scalars[5 * 16 + 15] == x.scalars[5 * 16])
        let expectedFlip = try (plain.scores(x) + plain.scores(mirrored)) * 0.5
        #expect(normwiseRelativeError(try flip.scores(x), expectedFlip) < 1e-12)
        let down = ModernConvNet<Double>.translated(x, by: 1), up = ModernConvNet<Double>.translated(x, by: -1)
        // Reflection: row 0 of the moved-down image is the old row 1; row 15 of the moved-up one the old row 14.
        #expect(down.scalars[0] == x.scalars[16 + 1] && down.scalars[16 + 1] == x.scalars[0])
        #expect(up.scalars[15 * 16 + 15] == x.scalars[14 * 16 + 14])
        let translated = try (flip.scores(down) + flip.scores(up)) * 0.5
        #expect(normwiseRelativeError(try both.scores(x), try (expectedFlip + translated) * 0.5) < 1e-12)
    }

    @Test func trainingUpdatesTheRunningStatisticsOnly() throws {
        var net = try tinyNet(Float.self)
        let x = randomNormal([6, 3, 16, 16], seed: 5, as: Float.self)
        let before = net.buffers["g1.norm1.running_var"]!
        _ = try net.loss(x, [0, 1, 2, 3, 4, 0])
        #expect(net.buffers["g1.norm1.running_var"]! != before)
        #expect(net.trainingSteps == 1)
    }

    @Test func inspectionGradientsMatchCentredDifferences() throws {
        var net = try tinyNet(Double.self)
        let x = randomNormal([2, 3, 16, 16], seed: 6, as: Double.self)
        try net.initializeWhitening(from: x)
        let trace = try net.trace(x)
        #expect(trace.layers.map(\.name) == ["whiten", "group1", "group2", "group3", "scores"])
        for layer in ["group2", "scores"] {
            let activations = try trace.activations(layer)
            let upstream = randomNormal(activations.shape, seed: 7, as: Double.self)
            let analytic = try trace.inputGradient(upstream, at: layer)
            let numeric = try GradientCheck.numericGradient(at: x, upstream: upstream) { try net.trace($0).activations(layer) }
            let error = normwiseRelativeError(analytic, numeric)
            #expect(error < 1e-6, "input gradient at \(layer): normwise relative error \(error)")
        }
        let guided = thrownMessage { _ = try trace.inputGradient(randomNormal([2, 5], seed: 8), at: "scores", rule: .guided) }
        #expect(guided.contains("GELU"))
    }
}
