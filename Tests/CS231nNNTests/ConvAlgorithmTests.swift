import Testing
@testable import CS231nNN

/// (x NCHW shape, w shape, stride, padding): every algorithm that can compute a case runs it
/// (Winograd: 3×3, stride 1, padding 1, here also on a plane too small for the rule to pick it;
/// direct: 16 or 32 filters), with odd sides, channel counts that are and are not multiples of
/// the 8-wide vectors, a strided 3×5 window and a pointwise one.
private let algorithmCases: [([Int], [Int], Int, Int)] = [
    ([2, 3, 7, 9], [16, 3, 3, 3], 1, 1),
    ([1, 2, 7, 5], [16, 2, 3, 5], 2, 1),
    ([3, 5, 4, 4], [4, 5, 3, 3], 1, 1),
    ([2, 9, 5, 6], [10, 9, 3, 3], 1, 1),
    ([2, 3, 4, 6], [16, 3, 1, 1], 1, 0),
    ([2, 1, 10, 8], [32, 1, 2, 2], 2, 0),
]

/// A batch `x` (NCHW) in `layout`, and the geometry of `w` over it.
private func setUp<S: TensorScalar>(_ x: Tensor<S>, _ w: Tensor<S>, stride: Int, padding: Int, layout: ImageLayout) throws
    -> (x: Tensor<S>, geometry: ConvGeometry) {
    let input = try ImageLayout.nchw.convert(x, to: layout)
    return (input, try Conv2D.geometry(input: input.shape, weights: w.shape, stride: stride, padding: padding, layout: layout))
}

private func algorithms(for g: ConvGeometry, filters: Int) -> [Conv2D.Algorithm] {
    Conv2D.Algorithm.allCases.filter { Conv2D.unavailability(of: $0, for: g, filters: filters) == nil }
}

struct ConvAlgorithmTests {
    /// Each algorithm, forced, in each layout: Double within 1e-12 of the naive loops in Double,
    /// Float within 1e-5 of them, forward and every gradient.
    @Test(arguments: algorithmCases, ImageLayout.allCases)
    func everyAlgorithmMatchesTheNaiveDoubleReference(_ shapes: ([Int], [Int], Int, Int), _ layout: ImageLayout) throws {
        let (xShape, wShape, stride, padding) = shapes
        let x = randomNormal(xShape, seed: 1, as: Double.self), w = randomNormal(wShape, seed: 2, as: Double.self)
        let b = randomNormal([wShape[0]], seed: 3, as: Double.self)
        let (reference, referenceCache) = try Conv2D.forwardNaive(x, w, b, stride: stride, padding: padding)
        let dout = randomNormal(reference.shape, seed: 4, as: Double.self)
        let expected = try Conv2D.backwardNaive(dout, referenceCache)
        let g = try setUp(x, w, stride: stride, padding: padding, layout: layout).geometry
        let available = algorithms(for: g, filters: wShape[0])
        #expect(available.contains(.im2col) && available.contains(.naive))
        func compare<S: TensorScalar>(_: S.Type, tolerance: Double) throws {
            let (input, g) = try setUp(x.converted(to: S.self), w.converted(to: S.self), stride: stride, padding: padding, layout: layout)
            for algorithm in available {
                let (out, cache) = try Conv2D.forward(input, w.converted(to: S.self), b.converted(to: S.self), geometry: g,
                                                      algorithm: algorithm)
                #expect(cache.algorithm == algorithm)
                let toNCHW = { (t: Tensor<S>) in try layout.convert(t, to: .nchw).converted(to: Double.self) }
                #expect(normwiseRelativeError(try toNCHW(out), reference) < tolerance, "\(algorithm) \(layout) \(S.self) forward")
                let (dx, dw, db) = try Conv2D.backward(try ImageLayout.nchw.convert(dout, to: layout).converted(to: S.self), cache)
                #expect(normwiseRelativeError(try toNCHW(dx), expected.dx) < tolerance, "\(algorithm) \(layout) \(S.self) dx")
                #expect(normwiseRelativeError(dw.converted(to: Double.self), expected.dw) < tolerance, "\(algorithm) \(S.self) dw")
                #expect(normwiseRelativeError(db.converted(to: Double.self), expected.db) < tolerance, "\(algorithm) \(S.self) db")
            }
        }
        try compare(Double.self, tolerance: 1e-12)
        try compare(Float.self, tolerance: 1e-5)
    }

    /// Centred differences in Double through each algorithm, with the bias and the whole
    /// epilogue: ReLU then a 2×2 pool, and GELU.
    @Test(arguments: Conv2D.Algorithm.allCases, ImageLayout.allCases)
    func gradientsMatchNumericalGradients(_ algorithm: Conv2D.Algorithm, _ layout: ImageLayout) throws {
        var generator = RandomGenerator(seed: 5)
        let (x, g) = try setUp(smoothRandn([2, 2, 6, 6], using: &generator), Tensor<Double>.zeros([16, 2, 3, 3]), stride: 1,
                               padding: 1, layout: layout)
        let w = Tensor<Double>.randn([16, 2, 3, 3], scale: 0.3, using: &generator)
        let b = Tensor<Double>.randn([16], scale: 0.1, using: &generator)
        let pool = try MaxPool2D.geometry(input: g.outputShape(batch: 2, channels: 16), layout: layout)
        for epilogue in [Conv2D.Epilogue(activation: .relu, pool: pool), Conv2D.Epilogue(activation: .gelu)] {
            func forward(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> {
                try Conv2D.forward(x, w, b, geometry: g, epilogue: epilogue, algorithm: algorithm).out
            }
            let (out, cache) = try Conv2D.forward(x, w, b, geometry: g, epilogue: epilogue, algorithm: algorithm)
            let dout = Tensor<Double>.randn(out.shape, using: &generator)
            let (dx, dw, db) = try Conv2D.backward(dout, cache)
            let label = "\(algorithm) \(layout) \(epilogue.activation)"
            try expectLayerGradient("\(label) dx", at: x, dout: dout, analytic: dx) { try forward($0, w, b) }
            try expectLayerGradient("\(label) dw", at: w, dout: dout, analytic: dw) { try forward(x, $0, b) }
            try expectLayerGradient("\(label) db", at: b, dout: dout, analytic: db) { try forward(x, w, $0) }
        }
    }

    /// The rule of `Conv2D`'s table.
    @Test func theRulePicksByScalarTypeAndGeometry() throws {
        let firstLayer = try Conv2D.geometry(input: [3, 32, 32], weights: [32, 3, 7, 7], padding: 3)
        #expect(Conv2D.algorithm(for: firstLayer, filters: 32, scalar: Float.self) == .direct)
        #expect(Conv2D.algorithm(for: firstLayer, filters: 32, scalar: Double.self) == .im2col)
        #expect(Conv2D.algorithm(for: firstLayer, filters: 20, scalar: Float.self) == .im2col)
        let inner = try Conv2D.geometry(input: [15, 15, 64], weights: [256, 64, 3, 3], padding: 1, layout: .nhwc)
        #expect(Conv2D.algorithm(for: inner, filters: 256, scalar: Float.self) == .winograd4x4)
        #expect(Conv2D.algorithm(for: inner, filters: 256, scalar: Double.self) == .winograd)
        let fiveByFive = try Conv2D.geometry(input: [5, 5, 64], weights: [64, 64, 3, 3], padding: 1, layout: .nhwc)
        #expect(Conv2D.algorithm(for: fiveByFive, filters: 64, scalar: Float.self) == .winograd)
        let small = try Conv2D.geometry(input: [3, 3, 256], weights: [256, 256, 3, 3], padding: 1, layout: .nhwc)
        #expect(Conv2D.algorithm(for: small, filters: 256, scalar: Float.self) == .winograd4x4)
        #expect(Conv2D.algorithm(for: small, filters: 256, scalar: Double.self) == .im2col)
        let twoByTwo = try Conv2D.geometry(input: [2, 2, 64], weights: [64, 64, 3, 3], padding: 1, layout: .nhwc)
        #expect(Conv2D.algorithm(for: twoByTwo, filters: 64, scalar: Float.self) == .im2col)
        let threeByFour = try Conv2D.geometry(input: [3, 4, 64], weights: [64, 64, 3, 3], padding: 1, layout: .nhwc)
        #expect(Conv2D.algorithm(for: threeByFour, filters: 64, scalar: Float.self) == .winograd4x4)
        let threeByNine = try Conv2D.geometry(input: [3, 9, 64], weights: [64, 64, 3, 3], padding: 1, layout: .nhwc)
        #expect(Conv2D.algorithm(for: threeByNine, filters: 64, scalar: Float.self) == .im2col)
        let strided = try Conv2D.geometry(input: [64, 15, 15], weights: [64, 64, 3, 3], stride: 2, padding: 1)
        #expect(Conv2D.algorithm(for: strided, filters: 64, scalar: Float.self) == .im2col)
    }

    /// F(4×4, 3×3) in Float at the modern net's shapes (its groups' convolutions, two images of
    /// GELU-like inputs) stays within 1e-4 of the Double reference, forward and both gradients.
    @Test(arguments: [(31, 24, 64), (15, 64, 64), (15, 64, 256), (7, 256, 256), (3, 256, 256)])
    func winograd4x4HoldsInFloatAtTheModernNetsShapes(_ sizes: (side: Int, channels: Int, filters: Int)) throws {
        let (side, channels, filters) = sizes
        let x = randomNormal([2, side, side, channels], seed: 11, as: Double.self) + 0.5
        let w = randomNormal([filters, channels, 3, 3], seed: 12, scale: (2 / Double(9 * channels)).squareRoot())
        let g = try Conv2D.geometry(input: x.shape, weights: w.shape, padding: 1, layout: .nhwc)
        #expect(Conv2D.algorithm(for: g, filters: filters, scalar: Float.self) == .winograd4x4)
        let (reference, referenceCache) = try Conv2D.forward(x, w, nil, geometry: g, algorithm: .im2col)
        let dout = randomNormal(reference.shape, seed: 13, as: Double.self)
        let expected = try Conv2D.backward(dout, referenceCache, needs: [.input, .weights])
        let (out, cache) = try Conv2D.forward(x.converted(to: Float.self), w.converted(to: Float.self), nil, geometry: g,
                                              algorithm: .winograd4x4)
        let (dx, dw, _) = try Conv2D.backward(dout.converted(to: Float.self), cache, needs: [.input, .weights])
        #expect(normwiseRelativeError(out.converted(to: Double.self), reference) < 1e-4)
        #expect(normwiseRelativeError(dx!.converted(to: Double.self), expected.dx!) < 1e-4)
        #expect(normwiseRelativeError(dw!.converted(to: Double.self), expected.dw!) < 1e-4)
    }

    @Test func aForcedAlgorithmMustFitTheLayer() throws {
        let g = try Conv2D.geometry(layer: "conv1", input: [1, 3, 8, 8], weights: [20, 3, 5, 5], padding: 2)
        let x = Tensor<Float>.zeros([1, 3, 8, 8]), w = Tensor<Float>.zeros([20, 3, 5, 5])
        let winograd = thrownMessage { _ = try Conv2D.forward(x, w, nil, geometry: g, algorithm: .winograd) }
        #expect(winograd.contains("conv1") && winograd.contains("5×5"))
        let direct = thrownMessage { _ = try Conv2D.forward(x, w, nil, geometry: g, algorithm: .direct) }
        #expect(direct.contains("multiple of 16 filters, not 20"))
    }

    /// `withAlgorithm` reaches the convolutions inside a net, and skips those it cannot compute.
    @Test func aScopedPreferenceReachesEveryConvolution() throws {
        let x = randomNormal([2, 3, 8, 8], seed: 6, as: Float.self)
        let w = randomNormal([16, 3, 3, 3], seed: 7, as: Float.self)
        let g = try Conv2D.geometry(input: x.shape, weights: w.shape, padding: 1)
        let wide = try Conv2D.geometry(input: x.shape, weights: [16, 3, 5, 5], padding: 2)
        let (narrow, other) = try Conv2D.withAlgorithm(.winograd) {
            (try Conv2D.forward(x, w, nil, geometry: g).cache.algorithm,
             try Conv2D.forward(x, .zeros([16, 3, 5, 5]), nil, geometry: wide).cache.algorithm)
        }
        #expect(narrow == .winograd && other == .direct)
        #expect(try Conv2D.forward(x, w, nil, geometry: g).cache.algorithm == .direct)
    }

    @Test func layoutsRoundTrip() throws {
        let x = randomNormal([2, 3, 4, 5], seed: 8, as: Float.self)
        let last = try ImageLayout.nchw.convert(x, to: .nhwc)
        #expect(last.shape == [2, 4, 5, 3])
        // Image 1, row 2, column 3, channel 1 in both layouts.
        let channelsLastIndex: Int = ((1 * 4 + 2) * 5 + 3) * 3 + 1
        let channelsFirstIndex: Int = ((1 * 3 + 1) * 4 + 2) * 5 + 3
        #expect(last.scalars[channelsLastIndex] == x.scalars[channelsFirstIndex])
        #expect(try ImageLayout.nhwc.convert(last, to: .nchw) == x)
    }
}
