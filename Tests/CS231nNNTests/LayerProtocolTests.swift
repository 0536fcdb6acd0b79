import CS231nNN
import Testing

/// Every `Layer` conformance: dx and every parameter gradient against centred differences in
/// Double (with the L2 term folded in where the layer regularizes), and the Float path against
/// the Double one on the same numbers.
@Suite struct LayerProtocolTests {
    /// The layers under test with the shape of one example they are built for.
    static let cases: [(label: String, layer: any Layer<Double>, inputShape: [Int])] = [
        ("affine", AffineLayer(outputs: 5), [2, 3]),
        ("affine+relu", AffineLayer(outputs: 5, activation: .relu, weightScale: 0.5), [6]),
        ("relu", ReLULayer(), [3, 2, 2]),
        ("flatten", FlattenLayer(), [2, 3, 2]),
        ("dropout", DropoutLayer(keepProbability: 0.6), [7]),
        ("conv", Conv2DLayer(filters: 3, kernel: 3, padding: 1), [2, 5, 5]),
        ("conv+relu stride 2", Conv2DLayer(filters: 2, kernel: 3, stride: 2, padding: 1, activation: .relu), [2, 5, 5]),
        ("max pool", MaxPool2DLayer(), [2, 4, 4]),
        ("batchnorm rows", BatchNormLayer(), [4]),
        ("batchnorm spatial", BatchNormLayer(), [3, 2, 2]),
    ]

    @Test(arguments: 0..<cases.count)
    func gradientsMatchCentredDifferences(_ index: Int) throws {
        let (label, layer, inputShape) = Self.cases[index]
        try checkGradients(label, layer, inputShape: inputShape)
    }

    @Test(arguments: 0..<cases.count)
    func floatPathMatchesDouble(_ index: Int) throws {
        let (label, layer, inputShape) = Self.cases[index]
        try compareFloat(label, layer, inputShape: inputShape)
    }

    @Test func testModeBatchNormAndDropoutPassThroughTheirOwnRules() throws {
        try checkGradients("batchnorm test mode", BatchNormLayer<Double>(), inputShape: [4], mode: .test)
        try checkGradients("dropout test mode", DropoutLayer<Double>(keepProbability: 0.5), inputShape: [5], mode: .test)
    }

    @Test func sizesOutOfRangeAreRefusedNamingTheFieldAndRange() throws {
        #expect(throws: TensorError.invalidArgument(operation: "AffineLayer", detail: "outputs 4611686018427387904 is not in 1...1048576")) {
            try AffineLayer<Float>(outputs: 1 << 62).plan(inputShape: [10])
        }
        #expect(throws: TensorError.invalidArgument(operation: "Conv2DLayer", detail: "filters 4611686018427387904 is not in 1...1048576")) {
            try Conv2DLayer<Float>(filters: 1 << 62, kernel: 3).plan(inputShape: [3, 8, 8])
        }
        #expect(throws: TensorError.invalidArgument(operation: "Conv2DLayer", detail: "input height 4611686018427387936 is not in 1...1048576")) {
            try Conv2DLayer<Float>(filters: 4, kernel: 3).plan(inputShape: [3, (1 << 62) + 32, 32])
        }
        #expect(throws: TensorError.invalidArgument(operation: "DropoutLayer", detail: "keepProbability 0.0 is not in (0.0, 1.0]")) {
            try DropoutLayer<Float>(keepProbability: 0).plan(inputShape: [10])
        }
    }

    /// Builds `layer` for `inputShape`, runs it on a batch of 3 and checks dx and each
    /// parameter's gradient (plus reg·W for the regularized ones) numerically.
    func checkGradients<L: Layer>(_ label: String, _ layer: L, inputShape: [Int], mode: Mode = .train,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws where L.Scalar == Double {
        let regularization = 0.3
        var generator = RandomGenerator(seed: 11)
        var built = layer
        _ = try built.build(inputShape: inputShape, using: &generator)
        built.parameters = built.parameters.mapTensors { _, tensor in smoothRandn(tensor.shape, scale: 0.7, using: &generator) }
        let x = smoothRandn([3] + inputShape, using: &generator)
        func run(_ layer: L, _ input: Tensor<Double>) throws -> (out: Tensor<Double>, cache: L.Cache) {
            var copy = layer, context = LayerContext(mode: mode, regularization: regularization)
            return try copy.forward(input, context: &context)
        }
        let (out, cache) = try run(built, x)
        let dout = Tensor<Double>.randn(out.shape, using: &generator)
        let (dx, gradients) = try built.backward(dout, cache: cache, needs: .all,
                                                 context: LayerContext(mode: mode, regularization: regularization))
        try expectLayerGradient("\(label) dx", at: x, dout: dout, analytic: try #require(dx), sourceLocation: sourceLocation) {
            try run(built, $0).out
        }
        #expect(gradients.names.sorted() == built.parameters.names.sorted(), "\(label)", sourceLocation: sourceLocation)
        for (name, parameter) in built.parameters {
            var numeric = try GradientCheck.numericGradient(at: parameter, upstream: dout) { value in
                var probe = built
                probe.parameters[name] = value
                return try run(probe, x).out
            }
            if built.regularizedParameters.contains(name) { numeric = try numeric + parameter * regularization }
            expectClose("\(label) d\(name)", analytic: try #require(gradients[name]), numeric: numeric, sourceLocation: sourceLocation)
        }
    }

    /// The same layer in Float, given the Double layer's parameters and input rounded to Float:
    /// output and gradients agree to Float's precision.
    func compareFloat(_ label: String, _ layer: any Layer<Double>, inputShape: [Int]) throws {
        var generator = RandomGenerator(seed: 12)
        var double = layer
        _ = try double.build(inputShape: inputShape, using: &generator)
        var single = try floatTwin(of: double, inputShape: inputShape)
        single.parameters = double.parameters.mapTensors { $1.converted(to: Float.self) }
        single.buffers = double.buffers.mapTensors { $1.converted(to: Float.self) }
        let x = smoothRandn([4] + inputShape, using: &generator)
        var doubleContext = LayerContext(mode: .train), singleContext = LayerContext(mode: .train)
        let (out, cache) = try double.forwardErased(x, context: &doubleContext)
        let (outFloat, cacheFloat) = try single.forwardErased(x.converted(to: Float.self), context: &singleContext)
        #expect(GradientCheck.relativeError(outFloat.converted(to: Double.self), out) < 1e-4, "\(label) out")
        let dout = Tensor<Double>.randn(out.shape, using: &generator)
        let (dx, gradients) = try double.backwardErased(dout, cache: cache, needs: .all, context: doubleContext)
        let (dxFloat, gradientsFloat) = try single.backwardErased(dout.converted(to: Float.self), cache: cacheFloat, needs: .all,
                                                                  context: singleContext)
        #expect(GradientCheck.relativeError(try #require(dxFloat).converted(to: Double.self), try #require(dx)) < 1e-4, "\(label) dx")
        for (name, gradient) in gradients {
            let single = try #require(gradientsFloat[name])
            #expect(GradientCheck.relativeError(single.converted(to: Double.self), gradient) < 1e-4, "\(label) d\(name)")
        }
    }

    /// The Float layer of the same kind and settings as `layer`, built for `inputShape`.
    func floatTwin(of layer: any Layer<Double>, inputShape: [Int]) throws -> any Layer<Float> {
        var twin: any Layer<Float> = switch layer {
        case let l as AffineLayer<Double>: AffineLayer<Float>(outputs: l.outputs, activation: l.activation, weightScale: l.weightScale)
        case let l as Conv2DLayer<Double>:
            Conv2DLayer<Float>(filters: l.filters, kernel: l.kernel, stride: l.stride, padding: l.padding, activation: l.activation)
        case let l as MaxPool2DLayer<Double>: MaxPool2DLayer<Float>(size: l.size, stride: l.stride)
        case let l as BatchNormLayer<Double>: BatchNormLayer<Float>(momentum: l.momentum, epsilon: l.epsilon)
        case let l as DropoutLayer<Double>: DropoutLayer<Float>(keepProbability: l.keepProbability)
        case is FlattenLayer<Double>: FlattenLayer<Float>()
        default: ReLULayer<Float>()
        }
        var unused = RandomGenerator(seed: 0)
        _ = try twin.build(inputShape: inputShape, using: &unused)
        return twin
    }
}
