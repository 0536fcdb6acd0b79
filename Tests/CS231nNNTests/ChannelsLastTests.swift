import Testing
@testable import CS231nNN

/// (N, C, H, W, filters, KH, KW, padding): odd shapes, one channel, one image, the whitening
/// conv's 2×2 window, and small planes that put many images into one GEMM. The 3×3 padding-1
/// cases on planes of 5×5 or more go through Winograd (with an overhanging last tile on odd
/// sides, and channel counts that are and are not multiples of the 8-wide vectors).
private let channelsLastCases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
    (1, 1, 7, 9, 2, 3, 5, 1),
    (3, 2, 6, 5, 3, 3, 3, 1),
    (2, 9, 7, 7, 10, 3, 3, 1),
    (1, 16, 8, 11, 24, 3, 3, 1),
    (30, 3, 5, 5, 8, 3, 3, 1),
    (2, 3, 5, 5, 4, 2, 2, 0),
    (40, 2, 3, 3, 3, 3, 3, 1),
    (2, 3, 4, 4, 2, 1, 1, 0),
]

/// The same convolution through the NCHW reference loops.
private func referenceConvolution<S: TensorScalar>(_ x: Tensor<S>, _ w: Tensor<S>, padding: Int) throws
    -> (out: Tensor<S>, cache: Conv2D.Cache<S>) {
    try Conv2D.forwardNaive(ChannelsLast.toNCHW(x), w, .zeros([w.shape[0]]), stride: 1, padding: padding)
}

struct ChannelsLastConvTests {
    private func geometry(_ c: (Int, Int, Int, Int, Int, Int, Int, Int)) throws -> ChannelsLastConv.Geometry {
        try ChannelsLastConv.Geometry(layer: "test conv", channels: c.1, height: c.2, width: c.3, filters: c.4,
                                      kernelHeight: c.5, kernelWidth: c.6, paddingY: c.7, paddingX: c.7)
    }

    @Test(arguments: channelsLastCases)
    func forwardAndGradientsMatchTheNaiveReferenceInDouble(_ c: (Int, Int, Int, Int, Int, Int, Int, Int)) throws {
        let g = try geometry(c)
        let x = randomNormal(g.inputShape(batch: c.0), seed: 1, as: Double.self)
        let w = randomNormal(g.filterShape, seed: 2, as: Double.self)
        let out = try ChannelsLastConv.forward(x, w, geometry: g)
        let (reference, cache) = try referenceConvolution(x, w, padding: c.7)
        #expect(normwiseRelativeError(try ChannelsLast.toNCHW(out), reference) < 1e-12)
        let dout = randomNormal(out.shape, seed: 3, as: Double.self)
        let expected = try Conv2D.backwardNaive(ChannelsLast.toNCHW(dout), cache)
        let dx = try ChannelsLastConv.inputGradient(dout, w, geometry: g)
        let dw = try ChannelsLastConv.filterGradient(x, dout, geometry: g)
        #expect(normwiseRelativeError(try ChannelsLast.toNCHW(dx), expected.dx) < 1e-12)
        #expect(normwiseRelativeError(dw, expected.dw) < 1e-12)
    }

    @Test(arguments: channelsLastCases)
    func floatMatchesTheReference(_ c: (Int, Int, Int, Int, Int, Int, Int, Int)) throws {
        let g = try geometry(c)
        let x = randomNormal(g.inputShape(batch: c.0), seed: 4, as: Float.self)
        let w = randomNormal(g.filterShape, seed: 5, as: Float.self)
        let (reference, _) = try referenceConvolution(x, w, padding: c.7)
        #expect(normwiseRelativeError(try ChannelsLast.toNCHW(ChannelsLastConv.forward(x, w, geometry: g)), reference) < 1e-5)
    }

    @Test func winogradTakesTheLargerThreeByThreePlanesOnly() throws {
        #expect(WinogradConv.applies(to: try geometry((1, 16, 8, 11, 24, 3, 3, 1))))
        #expect(WinogradConv.applies(to: try geometry((1, 2, 6, 5, 3, 3, 3, 1))))
        #expect(!WinogradConv.applies(to: try geometry((40, 2, 3, 3, 3, 3, 3, 1))))
        #expect(!WinogradConv.applies(to: try geometry((1, 1, 7, 9, 2, 3, 5, 1))))
        #expect(!WinogradConv.applies(to: try geometry((1, 1, 7, 9, 2, 3, 3, 0))))
    }

    /// The net's own shapes (first group on a 15×15 plane; input gradient of a 7×7 plane):
    /// Winograd and im2col agree in Float.
    @Test(arguments: [(4, 24, 15, 15, 32), (8, 32, 7, 7, 16)])
    func winogradMatchesIm2colInFloat(_ c: (Int, Int, Int, Int, Int)) throws {
        let g = try ChannelsLastConv.Geometry(layer: "conv", channels: c.1, height: c.2, width: c.3, filters: c.4, kernel: 3,
                                              padding: 1)
        let x = randomNormal(g.inputShape(batch: c.0), seed: 7, as: Float.self)
        let w = randomNormal(g.filterShape, seed: 8, as: Float.self)
        var im2col = Tensor<Float>(uninitializedShape: [0])
        try ChannelsLastConv.forward(x, packedFilters: ChannelsLastConv.packFilters(w, g), geometry: g, into: &im2col)
        let winograd = try WinogradConv.forward(x, transformedFilters: WinogradConv.transformFilters(w, filters: c.4, channels: c.1,
                                                                                                    flipped: false), geometry: g)
        #expect(normwiseRelativeError(winograd, im2col) < 1e-5)
    }

    @Test func winogradRejectsFiltersOfAnotherShape() throws {
        let g = try geometry((1, 4, 6, 6, 8, 3, 3, 1))
        let x = randomNormal(g.inputShape(batch: 1), seed: 9, as: Float.self)
        let u = WinogradConv.transformFilters(randomNormal([4, 8, 3, 3], seed: 10, as: Float.self), filters: 4, channels: 8,
                                              flipped: false)
        #expect(throws: TensorError.self) { try WinogradConv.forward(x, transformedFilters: u, geometry: g) }
    }

    /// An im2col geometry (3×2 kernel) and a Winograd one (3×3, padding 1, 5×6 plane).
    @Test(arguments: [(3, 2, 5, 4), (3, 3, 5, 6)])
    func gradientCheck(_ c: (kernelHeight: Int, kernelWidth: Int, height: Int, width: Int)) throws {
        let g = try ChannelsLastConv.Geometry(layer: "conv", channels: 2, height: c.height, width: c.width, filters: 3,
                                              kernelHeight: c.kernelHeight, kernelWidth: c.kernelWidth, paddingY: 1, paddingX: 1)
        #expect(WinogradConv.applies(to: g) == (c.kernelWidth == 3))
        var generator = RandomGenerator(seed: 6)
        let x = Tensor<Double>.randn(g.inputShape(batch: 2), using: &generator)
        let w = Tensor<Double>.randn(g.filterShape, using: &generator)
        let dout = Tensor<Double>.randn(g.outputShape(batch: 2), using: &generator)
        try expectLayerGradient("conv dx", at: x, dout: dout, analytic: ChannelsLastConv.inputGradient(dout, w, geometry: g)) {
            try ChannelsLastConv.forward($0, w, geometry: g)
        }
        try expectLayerGradient("conv dw", at: w, dout: dout, analytic: ChannelsLastConv.filterGradient(x, dout, geometry: g)) {
            try ChannelsLastConv.forward(x, $0, geometry: g)
        }
    }

    @Test func badSizesNameTheLayerAndTheNumbers() {
        let tooBig = thrownMessage {
            _ = try ChannelsLastConv.Geometry(layer: "group 2 conv1", channels: 3, height: 2, width: 2, filters: 4, kernel: 5, padding: 1)
        }
        #expect(tooBig.contains("group 2 conv1") && tooBig.contains("5×5") && tooBig.contains("2×2"))
        let g = try! ChannelsLastConv.Geometry(layer: "whiten", channels: 3, height: 8, width: 8, filters: 24, kernel: 2, padding: 0)
        let wrongInput = thrownMessage { _ = try ChannelsLastConv.forward(Tensor<Float>.zeros([1, 3, 8, 8]), .zeros([24, 3, 2, 2]), geometry: g) }
        #expect(wrongInput.contains("whiten") && wrongInput.contains("1×3×8×8"))
    }

    @Test func layoutRoundTrip() throws {
        let x = randomNormal([2, 3, 4, 5], seed: 7, as: Float.self)
        let last = try ChannelsLast.fromNCHW(x)
        #expect(last.shape == [2, 4, 5, 3])
        // Image 1, row 2, column 3, channel 1 in both layouts.
        let channelsLastIndex: Int = ((1 * 4 + 2) * 5 + 3) * 3 + 1
        let channelsFirstIndex: Int = ((1 * 3 + 1) * 4 + 2) * 5 + 3
        #expect(last.scalars[channelsLastIndex] == x.scalars[channelsFirstIndex])
        #expect(try ChannelsLast.toNCHW(last) == x)
    }
}

struct ChannelsLastLayerTests {
    @Test func maxPoolKnownExampleAndFloorMode() throws {
        // One 3×3 single-channel image: a 2×2 pool keeps the top-left window only.
        let x = try Tensor<Double>(shape: [1, 3, 3, 1], scalars: [1, 5, 2, 4, 3, 9, 7, 8, 6])
        let (out, cache) = try ChannelsLastMaxPool.forward(x, size: 2)
        #expect(out.scalars == [5])
        let dx = try ChannelsLastMaxPool.backward(Tensor<Double>(shape: [1, 1, 1, 1], scalars: [2]), cache)
        #expect(dx.scalars == [0, 2, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func maxPoolGradientCheck() throws {
        var generator = RandomGenerator(seed: 8)
        let x = smoothRandn([2, 5, 4, 3], using: &generator)
        let (out, cache) = try ChannelsLastMaxPool.forward(x, size: 2)
        let dout = Tensor<Double>.randn(out.shape, using: &generator)
        try expectLayerGradient("max pool", at: x, dout: dout, analytic: ChannelsLastMaxPool.backward(dout, cache)) {
            try ChannelsLastMaxPool.forward($0, size: 2).out
        }
    }

    @Test(arguments: [Mode.train, Mode.test])
    func batchNormGELUGradientCheck(_ mode: Mode) throws {
        var generator = RandomGenerator(seed: 9)
        let x = Tensor<Double>.randn([3, 2, 3, 4], using: &generator)
        let beta = Tensor<Double>.randn([4], using: &generator)
        var state = BatchNormState<Double>(features: 4, momentum: 0.6, epsilon: 1e-12)
        state.runningMean = Tensor.randn([4], using: &generator)
        state.runningVariance = Tensor.randn([4], using: &generator).abs() + 1
        let dout = Tensor<Double>.randn(x.shape, using: &generator)
        var probe = state
        let (_, cache) = try ChannelsLastBatchNormGELU.forward(x, beta: beta, state: &probe, mode: mode)
        let (dx, dbeta) = try ChannelsLastBatchNormGELU.backward(dout, cache)
        let numeric = try GradientCheck.numericGradient(at: x, upstream: dout) {
            var copy = state
            return try ChannelsLastBatchNormGELU.forward($0, beta: beta, state: &copy, mode: mode).out
        }
        // Test mode divides by running variances near 1: entries are small and the element-wise
        // error is noise-bound there, so train mode is held to the course's 1e-7 and test mode to its scale.
        if mode == .train { expectClose("BN-GELU dx", analytic: dx, numeric: numeric) } else {
            #expect(normwiseRelativeError(dx, numeric) < 1e-8)
        }
        try expectLayerGradient("BN-GELU dβ", at: beta, dout: dout, analytic: dbeta) {
            var copy = state
            return try ChannelsLastBatchNormGELU.forward(x, beta: $0, state: &copy, mode: mode).out
        }
    }

    @Test func batchNormRunningStatisticsFollowPyTorch() throws {
        // Channel 0 holds 1, 2, 3, 6 over the batch: mean 3, biased variance 3.5, unbiased 14/3.
        let x = try Tensor<Double>(shape: [2, 1, 2, 1], scalars: [1, 2, 3, 6])
        var state = BatchNormState<Double>(features: 1, momentum: 0.6, epsilon: 1e-12)
        let (out, _) = try ChannelsLastBatchNormGELU.forward(x, beta: .zeros([1]), state: &state, mode: .train)
        #expect(Swift.abs(state.runningMean.scalars[0] - 0.4 * 3) < 1e-12)
        #expect(Swift.abs(state.runningVariance.scalars[0] - 0.4 * 14.0 / 3) < 1e-12)
        let xhat = (1 - 3) / 3.5.squareRoot()
        #expect(Swift.abs(out.scalars[0] - xhat * GELU.cumulativeNormal(xhat)) < 1e-12)
    }

    @Test func biasGELUGradientCheck() throws {
        var generator = RandomGenerator(seed: 10)
        let x = Tensor<Double>.randn([2, 3, 3, 5], using: &generator)
        let bias = Tensor<Double>.randn([5], using: &generator)
        let dout = Tensor<Double>.randn(x.shape, using: &generator)
        let (_, cache) = try ChannelsLastBiasGELU.forward(x, bias: bias)
        let (dx, dbias) = try ChannelsLastBiasGELU.backward(dout, cache)
        try expectLayerGradient("bias-GELU dx", at: x, dout: dout, analytic: dx) { try ChannelsLastBiasGELU.forward($0, bias: bias).out }
        try expectLayerGradient("bias-GELU db", at: bias, dout: dout, analytic: dbias) { try ChannelsLastBiasGELU.forward(x, bias: $0).out }
    }
}

struct SymmetricEigenTests {
    @Test func reconstructsTheMatrixWithOrthonormalVectors() throws {
        var generator = RandomGenerator(seed: 11)
        let n = 12
        let a = (0..<(n * n)).map { _ in generator.nextNormal() }
        var m = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { for k in 0..<n { m[i * n + j] += a[i * n + k] * a[j * n + k] } } }
        let (values, vectors) = try SymmetricEigen.decompose(m, size: n)
        #expect(values == values.sorted())
        for i in 0..<n {
            for j in 0..<n {
                var rebuilt = 0.0, dot = 0.0
                for k in 0..<n {
                    rebuilt += vectors[i * n + k] * values[k] * vectors[j * n + k]
                    dot += vectors[k * n + i] * vectors[k * n + j]
                }
                #expect(Swift.abs(rebuilt - m[i * n + j]) < 1e-9)
                #expect(Swift.abs(dot - (i == j ? 1 : 0)) < 1e-12)
            }
        }
        #expect(thrownMessage { _ = try SymmetricEigen.decompose([1, 2, 3, 4], size: 2) }.contains("not symmetric"))
    }
}
