import CS231nNN
import CS231nOptim
import Foundation
import Testing

@Suite struct SequentialTests {
    /// conv+ReLU - pool - batchnorm - flatten - affine+ReLU - dropout - affine, with L2.
    static let smallConvNet = SequentialConfiguration(inputShape: [2, 6, 6], layers: [
        .init("conv1", .conv2D(filters: 3, kernel: 3, padding: 1, activation: .relu, weightScale: 0.3)),
        .init("pool1", .maxPool2D(size: 2, stride: 2)),
        .init("norm1", .batchNorm(momentum: 0.9, epsilon: 1e-5)),
        .init("flat", .flatten),
        .init("fc2", .affine(outputs: 6, activation: .relu, weightScale: 0.3)),
        .init("drop2", .dropout(keepProbability: 0.7)),
        .init("scores", .affine(outputs: 3, weightScale: 0.3)),
    ], regularization: 0.05, seed: 3)

    @Test func endToEndGradientsMatchCentredDifferences() throws {
        let model = try Self.smallConvNet.model(as: Double.self)
        #expect(model.parameters.names == ["conv1.weight", "conv1.bias", "norm1.gamma", "norm1.beta", "fc2.weight", "fc2.bias",
                                           "scores.weight", "scores.bias"])
        #expect(model.buffers.names == ["norm1.running_mean", "norm1.running_var"])
        #expect(model.regularizedParameters == ["conv1.weight", "fc2.weight", "scores.weight"])
        var generator = RandomGenerator(seed: 4)
        let x = smoothRandn([5, 2, 6, 6], using: &generator)
        try expectModelGradients("sequential", model, x, [0, 2, 1, 1, 0])
    }

    @Test func svmLossGradientsMatchCentredDifferences() throws {
        var configuration = Self.smallConvNet
        configuration.loss = .svm
        configuration.layers.removeAll { $0.name == "drop2" || $0.name == "norm1" }
        var generator = RandomGenerator(seed: 5)
        let x = smoothRandn([4, 2, 6, 6], using: &generator)
        try expectModelGradients("sequential svm", try configuration.model(as: Double.self), x, [2, 0, 1, 2])
    }

    @Test func floatLossAndGradientsMatchDouble() throws {
        var double = try Self.smallConvNet.model(as: Double.self)
        var single = try Self.smallConvNet.model(as: Float.self)
        single.parameters = double.parameters.mapTensors { $1.converted(to: Float.self) }
        var generator = RandomGenerator(seed: 6)
        let x = smoothRandn([5, 2, 6, 6], using: &generator), y = [1, 0, 2, 2, 1]
        let (loss, gradients) = try double.loss(x, y)
        let (lossFloat, gradientsFloat) = try single.loss(x.converted(to: Float.self), y)
        #expect(abs(Double(lossFloat) - loss) < 1e-5 * abs(loss))
        for (name, gradient) in gradients {
            let error = GradientCheck.relativeError(try #require(gradientsFloat[name]).converted(to: Double.self), gradient)
            #expect(error < 1e-3, "\(name): \(error)")
        }
    }

    @Test func inspectionByLayerNameFollowsTheReLURule() throws {
        let model = try Self.smallConvNet.model(as: Double.self)
        var generator = RandomGenerator(seed: 7)
        let x = smoothRandn([2, 2, 6, 6], using: &generator)
        let trace = try model.trace(x)
        #expect(trace.layers.map(\.name) == ["conv1", "pool1", "norm1", "flat", "fc2", "drop2", "scores"])
        #expect(try trace.activations("scores") == (try model.scores(x)))
        #expect(try trace.activations("pool1").shape == [2, 3, 3, 3])
        #expect(try trace.activations("conv1").min() >= 0)
        // Saliency at the scores is the numeric gradient of the chosen class's score.
        var upstream = Tensor<Double>.zeros([2, 3])
        upstream.withUnsafeMutableBufferPointer { $0[1] = 1; $0[3] = 1 }
        let saliency = try trace.inputGradient(upstream, at: "scores")
        let numeric = try GradientCheck.numericGradient(at: x, upstream: upstream) { try model.scores($0) }
        expectClose("saliency", analytic: saliency, numeric: numeric)
        let guided = try trace.inputGradient(try trace.activations("fc2"), at: "fc2", rule: .guided)
        let deconv = try trace.inputGradient(try trace.activations("fc2"), at: "fc2", rule: .deconvnet)
        #expect(guided.shape == x.shape && deconv.shape == x.shape && guided != deconv)
        #expect(throws: TensorError.self) { try trace.activations("fc9") }
    }

    @Test func configurationsOutOfRangeAreRefusedBeforeAllocating() throws {
        func refusal(_ configuration: SequentialConfiguration) -> String {
            do { _ = try configuration.model(as: Float.self); return "built" } catch { return "\(error)" }
        }
        let huge = SequentialConfiguration(inputShape: [3072], layers: [.init("fc1", .affine(outputs: 1 << 62)), .init("scores", .affine(outputs: 10))])
        #expect(refusal(huge).contains("outputs 4611686018427387904 is not in 1...1048576"))
        let billion = SequentialConfiguration(inputShape: [3072], layers: [.init("fc1", .affine(outputs: 1_000_000)), .init("scores", .affine(outputs: 10))])
        #expect(refusal(billion).contains("parameter count above \(maximumParameterCount)"))
        let tall = SequentialConfiguration(inputShape: [3, (1 << 62) + 32, 32], layers: [.init("scores", .affine(outputs: 10))])
        #expect(refusal(tall).contains("inputShape[1] 4611686018427387936 is not in 1...1048576"))
        let filters = SequentialConfiguration(inputShape: [3, 32, 32], layers: [
            .init("conv1", .conv2D(filters: 1 << 62, kernel: 3)), .init("scores", .affine(outputs: 10)),
        ])
        #expect(refusal(filters).contains("layers[0] (conv1)") && refusal(filters).contains("filters 4611686018427387904"))
        let twice = SequentialConfiguration(inputShape: [4], layers: [.init("fc", .affine(outputs: 3)), .init("fc", .affine(outputs: 3))])
        #expect(refusal(twice).contains("unique"))
    }

    @Test func configurationRoundTripsThroughJSON() throws {
        let json = try Self.smallConvNet.jsonString()
        let decoded = try JSONDecoder().decode(SequentialConfiguration.self, from: Data(json.utf8))
        #expect(decoded == Self.smallConvNet)
        let model = try ModelRegistry.shared.model(kind: "sequential", configuration: json, as: Float.self)
        #expect(model.parameters.names == (try Self.smallConvNet.model(as: Float.self)).parameters.names)
        #expect(throws: TensorError.self) { try ModelRegistry.shared.model(kind: "no-such-net", configuration: json, as: Float.self) }
    }

    /// `storedNames` renames parameters, buffers, gradients and the regularized list alike, and
    /// refuses a name of no layer or two parameters under one name.
    @Test func storedNamesRenameEveryPlaceAParameterAppears() throws {
        let layers: [(name: String, layer: any Layer<Double>)] = [
            ("affine1", AffineLayer(outputs: 5, weightScale: 0.3)), ("norm1", BatchNormLayer()), ("fc1", ReLULayer()),
            ("scores", AffineLayer(outputs: 3, weightScale: 0.3)),
        ]
        let names = ["affine1.weight": "W1", "affine1.bias": "b1", "norm1.gamma": "gamma1", "norm1.running_var": "running_var1"]
        var net = try Sequential<Double>(inputShape: [4], layers: layers, regularization: 0.1, seed: 2, storedNames: names)
        #expect(net.parameters.names == ["W1", "b1", "gamma1", "norm1.beta", "scores.weight", "scores.bias"])
        #expect(net.buffers.names == ["norm1.running_mean", "running_var1"])
        #expect(net.regularizedParameters == ["W1", "scores.weight"])
        var generator = RandomGenerator(seed: 5)
        let x = smoothRandn([6, 4], using: &generator), y = [0, 1, 2, 0, 1, 2]
        #expect(try net.loss(x, y).gradients.names == net.parameters.names)
        try expectModelGradients("renamed", net, x, y)
        var changed = net.parameters
        changed["W1"] = .zeros([4, 5])
        net.parameters = changed
        #expect(net.entries[0].layer.parameters["weight"] == .zeros([4, 5]))
        func refusal(_ storedNames: [String: String]) -> String {
            do { _ = try Sequential<Double>(inputShape: [4], layers: layers, storedNames: storedNames); return "built" } catch { return "\(error)" }
        }
        #expect(refusal(["affine2.weight": "W2"]).contains("\"affine2.weight\", which is no layer's parameter"))
        #expect(refusal(["affine1.weight": "scores.weight"]).contains("two parameters one name"))
    }

    /// The course's FullyConnectedNet is a Sequential under its names: fc1 is the hidden
    /// layer's output after the ReLU, whatever comes between.
    @Test(arguments: [Normalization.none, .batchnorm, .layernorm])
    func fullyConnectedNetIsASequentialUnderTheCoursesNames(normalization: Normalization) throws {
        let net = try FullyConnectedNet<Double>(inputShape: [3, 2, 2], hiddenSizes: [5, 4], classes: 3, normalization: normalization,
                                                keepProbability: 0.8, seed: 1)
        let norm = normalization == .none ? [] : ["gamma1", "beta1"], norm2 = normalization == .none ? [] : ["gamma2", "beta2"]
        #expect(net.parameters.names == ["W1", "b1"] + norm + ["W2", "b2"] + norm2 + ["W3", "b3"])
        #expect(net.buffers.names == (normalization == .batchnorm ? ["running_mean1", "running_var1", "running_mean2", "running_var2"] : []))
        let hidden = normalization == .none ? ["fc1", "dropout1", "fc2", "dropout2"]
            : ["affine1", "norm1", "fc1", "dropout1", "affine2", "norm2", "fc2", "dropout2"]
        #expect(net.inspectableLayers.map(\.name) == hidden + ["scores"])
        #expect(net.defaultCodeLayer == "fc2", "dropout2 is fc2's activations when testing")
        var generator = RandomGenerator(seed: 3)
        let images = smoothRandn([2, 3, 2, 2], using: &generator)
        let trace = try net.trace(images)
        #expect(try trace.activations("fc1").min() >= 0)
        #expect(try trace.inputGradient(try trace.activations("scores"), at: "scores").shape == images.shape)
        #expect(try net.scores(images) == (try net.scores(try images.reshaped([2, 12]))))
    }

    /// A convolution with its ReLU and the max pool after it run as one kernel: the losses,
    /// gradients, activations and inspection gradients are those of the two layers run one by
    /// one (kept apart here by a dropout that keeps every unit).
    @Test func aFusedConvAndPoolGiveTheLayersResults() throws {
        var fused = Self.smallConvNet
        fused.layers.removeAll { $0.name == "drop2" }
        var apart = fused
        apart.layers.insert(.init("keep", .dropout(keepProbability: 1)), at: 1)
        var (a, b) = (try fused.model(as: Double.self), try apart.model(as: Double.self))
        var generator = RandomGenerator(seed: 11)
        let x = smoothRandn([3, 2, 6, 6], using: &generator), y = [0, 2, 1]
        let (lossA, gradientsA) = try a.loss(x, y)
        let (lossB, gradientsB) = try b.loss(x, y)
        #expect(lossA == lossB)
        for (name, gradient) in gradientsA { #expect(gradientsB[name] == gradient, "\(name)") }
        let (traceA, traceB) = (try a.trace(x), try b.trace(x))
        for layer in ["conv1", "pool1"] {
            let activations = try traceA.activations(layer)
            #expect(activations == (try traceB.activations(layer)), "\(layer)")
            for rule in [ReLUBackwardRule.standard, .guided] {
                #expect(try traceA.inputGradient(activations, at: layer, rule: rule) == traceB.inputGradient(activations, at: layer, rule: rule),
                        "\(layer) \(rule)")
            }
        }
    }

    /// TwoLayerNet as a Sequential of two affine layers (the first with its ReLU fused): the
    /// same seed gives bit-identical initial weights, loss, gradients and one Solver step.
    @Test func twoLayerNetAsSequentialIsBitIdentical() throws {
        let reference = try TwoLayerNet<Float>(inputSize: 12, hiddenSize: 9, classes: 4, weightScale: 0.1, regularization: 0.02, seed: 8)
        let sequential = try Sequential<Float>(inputShape: [12], layers: [
            ("fc1", AffineLayer(outputs: 9, activation: .relu, weightScale: 0.1)), ("scores", AffineLayer(outputs: 4, weightScale: 0.1)),
        ], regularization: 0.02, seed: 8)
        let names = ["W1": "fc1.weight", "b1": "fc1.bias", "W2": "scores.weight", "b2": "scores.bias"]
        func expectSame(_ old: ParameterStore<Float>, _ new: ParameterStore<Float>, _ what: String) throws {
            #expect(old.count == new.count)
            for (oldName, tensor) in old {
                let newName = try #require(names[oldName])
                #expect(try #require(new[newName]).scalars == tensor.scalars, "\(what) \(oldName)")
            }
        }
        try expectSame(reference.parameters, sequential.parameters, "initial")
        let train = try clusters(count: 40, seed: 1), val = try clusters(count: 20, seed: 2)
        var (oldModel, newModel) = (reference, sequential)
        let (oldLoss, oldGradients) = try oldModel.loss(train.x, train.y)
        let (newLoss, newGradients) = try newModel.loss(train.x, train.y)
        #expect(oldLoss == newLoss)
        try expectSame(oldGradients, newGradients, "gradient")
        let settings = OptimizerSettings(rule: .momentum, learningRate: 0.05)
        let options = SolverOptions(epochs: 1, batchSize: 40, trainAccuracySamples: 20, seed: 9)
        var oldSolver = try Solver(model: reference, train: train, val: val, optimizer: settings, options: options)
        var newSolver = try Solver(model: sequential, train: train, val: val, optimizer: settings, options: options)
        try oldSolver.train()
        try newSolver.train()
        #expect(oldSolver.history.loss == newSolver.history.loss)
        try expectSame(oldSolver.model.parameters, newSolver.model.parameters, "after one step")
    }
}

@Suite struct SequentialCheckpointTests {
    /// A registered net with batch norm and dropout resumes from its format-2 checkpoint as if
    /// never stopped: the same weights, running statistics and losses bit for bit.
    @Test func resumeContinuesBitIdentically() throws {
        let train = try clusters(count: 60, features: 72, classes: 3, seed: 1), val = try clusters(count: 20, features: 72, classes: 3, seed: 2)
        func solver(_ epochs: Int) throws -> Solver<Sequential<Float>> {
            try Solver(model: try SequentialTests.smallConvNet.model(as: Float.self), train: train, val: val,
                       optimizer: OptimizerSettings(rule: .adam, learningRate: 1e-3),
                       options: SolverOptions(epochs: epochs, batchSize: 20, trainAccuracySamples: 20, seed: 4))
        }
        var whole = try solver(2)
        try whole.train()
        let path = try temporaryDirectory() + "/sequential.safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var first = try solver(2)
        try first.train(stopAfter: 1)
        try first.saveCheckpoint(to: path)
        var resumed = try solver(2)
        try resumed.resume(from: path)
        try resumed.train()
        #expect(resumed.history.loss == whole.history.loss)
        #expect(resumed.model.parameters.map { $0.1.scalars } == whole.model.parameters.map { $0.1.scalars })
        #expect(resumed.model.buffers.map { $0.1.scalars } == whole.model.buffers.map { $0.1.scalars })
        var other = try Solver(model: try Sequential<Float>(inputShape: [2, 6, 6], layers: [("scores", AffineLayer(outputs: 3))]),
                               train: train, val: val, optimizer: OptimizerSettings(rule: .adam))
        #expect(throws: CheckpointError.self) { try other.resume(from: path) }
    }
}
