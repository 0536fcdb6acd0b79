import CS231nData
import CS231nNN
import CS231nVisualize
import Foundation
import Testing

/// Saliency, projections, class models and fooling images on small nets.
@Suite struct AttributionTests {
    func convNet<S: TensorScalar>(_: S.Type, seed: UInt64 = 1) throws -> ThreeLayerConvNet<S> {
        try ThreeLayerConvNet<S>(inputShape: [3, 8, 8], filters: 4, filterSize: 3, hiddenSize: 12, classes: 5,
                                 weightScale: nil, seed: seed)
    }

    /// max over channels of |numeric d score_y / d x|.
    func numericSaliency<M: InspectableModel>(_ net: M, _ x: Tensor<Double>, classes: [Int], imageShape: [Int]) throws
        -> Tensor<Double> where M.Scalar == Double {
        var upstream = Tensor<Double>.zeros([classes.count, net.configuration.classes])
        for (i, c) in classes.enumerated() { upstream[i, c] = 1 }
        let numeric = try GradientCheck.numericGradient(at: x, upstream: upstream) { try net.scores($0) }
        return try Attribution.channelMaximumOfMagnitude(numeric, imageShape: imageShape)
    }

    @Test func saliencyEqualsTheNumericGradientOfTheClassScore() throws {
        var generator = RandomGenerator(seed: 3, stream: .dataset)
        let net = try convNet(Double.self)
        let x = Tensor<Double>.randn([3, 3, 8, 8], using: &generator)
        let classes = [0, 3, 4]
        let saliency = try Attribution.saliency(net, x, classes: classes)
        #expect(saliency.shape == [3, 8, 8])
        let numeric = try numericSaliency(net, x, classes: classes, imageShape: [3, 8, 8])
        #expect(GradientCheck.relativeError(saliency, numeric) < 1e-7)

        let flat = try AnyModel(TwoLayerNet<Double>(inputSize: 48, hiddenSize: 10, classes: 4, weightScale: 0.3, seed: 2))
        let rows = Tensor<Double>.randn([2, 48], using: &generator)
        #expect(try Attribution.imageShape(ofInput: [48]) == [3, 4, 4])
        let flatSaliency = try Attribution.saliency(flat, rows, classes: [1, 2])
        let flatNumeric = try numericSaliency(flat, rows, classes: [1, 2], imageShape: [3, 4, 4])
        #expect(flatSaliency.shape == [2, 4, 4] && GradientCheck.relativeError(flatSaliency, flatNumeric) < 1e-7)
    }

    @Test func aProjectionIsolatesItsUnit() throws {
        var generator = RandomGenerator(seed: 4, stream: .dataset)
        var net = try convNet(Double.self)
        // Negative biases leave some units dead.
        net.parameters["b1"] = Tensor(shape: [4], repeating: -0.5)
        let x = Tensor<Double>.randn([2, 3, 8, 8], using: &generator)
        let trace = try net.trace(x)
        let conv = try trace.activations("conv1")
        let deadOffset = try #require(conv.scalars.prefix(4 * 64).firstIndex(of: 0))
        let dead = LayerUnit(layer: "conv1", channel: deadOffset / 64, position: [deadOffset % 64 / 8, deadOffset % 8])
        for rule in ReLUBackwardRule.allCases {
            let projection = try Attribution.project(trace, unit: dead, rule: rule)
            #expect(projection.activations[0] == 0)
            #expect(try projection.gradients.slice(0..<1).scalars.allSatisfy { $0 == 0 }, "\(rule) from a dead unit")
        }
        // A live unit's standard projection is its activation times its gradient; the other image
        // keeps its own activation at the same position.
        let liveOffset = try #require(conv.scalars.prefix(4 * 64).firstIndex { $0 > 0.1 })
        let live = LayerUnit(layer: "conv1", channel: liveOffset / 64, position: [liveOffset % 64 / 8, liveOffset % 8])
        let projection = try Attribution.project(trace, unit: live, rule: .standard)
        var upstream = Tensor<Double>.zeros([1, 4, 8, 8])
        upstream[0, live.channel, live.position![0], live.position![1]] = 1
        let single = try net.trace(x.slice(0..<1)).inputGradient(upstream, at: "conv1")
        let expected = single * projection.activations[0]
        #expect(GradientCheck.relativeError(try projection.gradients.slice(0..<1), expected) < 1e-12)
        // Without a position each image takes its channel's strongest one.
        let strongest = try Attribution.project(trace, unit: LayerUnit(layer: "pool1", channel: 2), rule: .guided)
        let pool = try trace.activations("pool1")
        for i in 0..<2 {
            let channel = Array(pool.scalars[(i * 64 + 2 * 16)..<(i * 64 + 3 * 16)])
            #expect(strongest.activations[i] == channel.max())
            #expect(strongest.positions[i][0] * 4 + strongest.positions[i][1] == channel.firstIndex(of: channel.max()!))
        }
    }

    @Test func badUnitsNameTheValidRange() throws {
        let net = try convNet(Float.self)
        let trace = try net.trace(Tensor<Float>.zeros([1, 3, 8, 8]))
        let cases: [(LayerUnit, String)] = [
            (LayerUnit(layer: "conv1", channel: 4), "channels 0...3"),
            (LayerUnit(layer: "pool1", channel: 0, position: [4, 0]), "y in 0...3, x in 0...3"),
            (LayerUnit(layer: "fc2", channel: 0, position: [0, 0]), "flat"),
            (LayerUnit(layer: "conv9", channel: 0), "conv1 (4×8×8)"),
        ]
        for (unit, message) in cases {
            do {
                _ = try Attribution.project(trace, unit: unit, rule: .guided)
                Issue.record("\(unit) was accepted")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
        #expect(throws: TensorError.self) { try Attribution.classGradient(trace, classes: [5], rule: .standard) }
    }

    @Test func aFoolingImageFlipsThePrediction() throws {
        var generator = RandomGenerator(seed: 5, stream: .dataset)
        let net = try convNet(Float.self, seed: 7)
        let x = Tensor<Float>.randn([1, 3, 8, 8], scale: 0.3, using: &generator)
        let before = try net.predict(x)[0]
        let target = (before + 1) % 5
        let result = try ImageAscent.fool(net, x, target: target, learningRate: 0.05, maxSteps: 500)
        #expect(result.fooled && result.predicted == target && result.steps > 0)
        #expect(try net.predict(result.image)[0] == target)
        #expect(result.changeL2 > 0 && result.changeMaximum > 0 && result.changeMaximum <= result.changeL2)
        let already = try ImageAscent.fool(net, x, target: before)
        #expect(already.steps == 0 && already.fooled && already.changeL2 == 0)
    }

    @Test func aClassModelRaisesItsScoreAndStaysInThePixelRange() throws {
        let net = try convNet(Float.self, seed: 8)
        var generator = RandomGenerator(seed: 6, stream: .dataset)
        let mean = Tensor<Float>.randn([192], scale: 20, using: &generator) + 128
        let pixels = try InputPixels(mean: mean, imageShape: [3, 8, 8])
        var settings = ImageAscent.ClassModelSettings()
        settings.steps = 40
        settings.frameEvery = 10
        let (image, frames) = try ImageAscent.classModel(net, target: 2, pixels: pixels, settings: settings)
        #expect(frames.map(\.step) == [10, 20, 30, 40])
        let first = try net.scores(frames[0].image)[0, 2], last = try net.scores(image)[0, 2]
        #expect(last > first, "score of class 2: \(first) after 10 steps, \(last) after 40")
        for (value, average) in zip(image.scalars, mean.scalars) {
            #expect(value * 255 + average >= -1e-3 && value * 255 + average <= 255 + 1e-3)
        }
        let again = try ImageAscent.classModel(net, target: 2, pixels: pixels, settings: settings)
        #expect(again.image == image, "the same seed gives the same image")
    }

    /// Guided backprop and the deconvnet are rules at ReLUs: for the GELU net the comparison
    /// draws the saliency alone instead of failing.
    @Test func aNetWithoutReLUsGetsTheSaliencyAlone() throws {
        let gelu = try ModernConvNet<Float>(inputShape: [3, 8, 8], widths: [4, 4], classes: 5, seed: 1)
        var generator = RandomGenerator(seed: 8, stream: .dataset)
        let x = Tensor<Float>.randn([2, 3, 8, 8], scale: 0.2, using: &generator)
        #expect(try gelu.trace(x).rules == [.standard])
        let pixels = try InputPixels(mean: Tensor(shape: [192], repeating: 128), imageShape: [3, 8, 8])
        func comparison<M: InspectableModel>(_ net: M) throws -> PNGImage where M.Scalar == Float {
            try NetFigures.attributionComparison(net, x, classes: [0, 1], pixels: pixels, classNames: ["a", "b", "c", "d", "e"],
                                                 imageLabels: ["#0", "#1"])
        }
        #expect(try comparison(gelu).width < comparison(try convNet(Float.self)).width)
    }

    @Test func figuresHaveOneTilePerPicture() throws {
        let net = try convNet(Float.self)
        var generator = RandomGenerator(seed: 7, stream: .dataset)
        let x = Tensor<Float>.randn([2, 3, 8, 8], scale: 0.2, using: &generator)
        let pixels = try InputPixels(mean: Tensor(shape: [192], repeating: 128), imageShape: [3, 8, 8])
        let names = ["a", "b", "c", "d", "e"]
        let comparison = try NetFigures.attributionComparison(net, x, classes: [0, 1], pixels: pixels, classNames: names,
                                                              imageLabels: ["#0", "#1"])
        #expect(comparison.colorType == .rgb && comparison.width > 4 * 24 && comparison.height > 2 * 24)
        let (top, indices) = try NetFigures.topActivations(net, x, unit: LayerUnit(layer: "conv1", channel: 1), rule: .guided,
                                                           pixels: pixels, imageLabels: ["#0", "#1"])
        #expect(Set(indices) == [0, 1] && top.width > 0)
        let maps = try NetFigures.featureMaps(net, x.slice(0..<1), layer: "pool1", title: "pool1")
        #expect(maps.width > 4 * 4)
        _ = try NetFigures.featureMaps(net, x.slice(0..<1), layer: "fc2", title: "fc2")
    }
}
