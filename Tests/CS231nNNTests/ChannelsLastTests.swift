import Testing
@testable import CS231nNN

/// The channels-last (NHWC) kernels of the layers the modern CNN uses.
struct ChannelsLastLayerTests {
    @Test func maxPoolKnownExampleAndFloorMode() throws {
        // One 3×3 single-channel image: a 2×2 pool keeps the top-left window only.
        let x = try Tensor<Double>(shape: [1, 3, 3, 1], scalars: [1, 5, 2, 4, 3, 9, 7, 8, 6])
        let g = try MaxPool2D.geometry(input: x.shape, layout: .nhwc, rounding: .floor)
        let (out, cache) = try MaxPool2D.forward(x, geometry: g)
        #expect(out.scalars == [5])
        let dx = try MaxPool2D.backward(Tensor<Double>(shape: [1, 1, 1, 1], scalars: [2]), cache)
        #expect(dx.scalars == [0, 2, 0, 0, 0, 0, 0, 0, 0])
    }

    /// The NHWC kernel (winning taps) and the NCHW one (maxima found again) agree, ties and
    /// overlapping windows included.
    @Test(arguments: [(2, 2, 8, 10), (3, 2, 7, 9), (3, 3, 9, 6), (2, 1, 7, 9)])
    func maxPoolLayoutsAgree(_ window: (size: Int, stride: Int, height: Int, width: Int)) throws {
        let x = randomNormal([2, 3, window.height, window.width], seed: 7, as: Float.self).map { ($0 * 1.5).rounded() }
        let (nchw, nchwCache) = try MaxPool2D.forward(x, poolHeight: window.size, poolWidth: window.size, stride: window.stride)
        let last = try ImageLayout.nchw.convert(x, to: .nhwc)
        let (nhwc, nhwcCache) = try MaxPool2D.forward(last, poolHeight: window.size, poolWidth: window.size, stride: window.stride,
                                                      layout: .nhwc)
        #expect(try ImageLayout.nhwc.convert(nhwc, to: .nchw) == nchw)
        let dout = randomNormal(nchw.shape, seed: 8, as: Float.self)
        let dx = try MaxPool2D.backward(ImageLayout.nchw.convert(dout, to: .nhwc), nhwcCache)
        #expect(try ImageLayout.nhwc.convert(dx, to: .nchw) == MaxPool2D.backward(dout, nchwCache))
    }

    /// A floor-rounded 2×2 pool over planes with an odd side (W6's 31 → 15, 15 → 7, 7 → 3): the
    /// backward of either layout writes every tap of each window and zeros the row and column
    /// the pool leaves out, as the naive loops give; ties included.
    @Test(arguments: [(31, 31), (7, 9), (15, 4)])
    func floorRoundedPoolBackwardMatchesNaive(_ side: (height: Int, width: Int)) throws {
        let x = randomNormal([2, 5, side.height, side.width], seed: 17, as: Float.self).map { ($0 * 1.5).rounded() }
        let nchw = try MaxPool2D.geometry(input: x.shape, rounding: .floor)
        let (naive, naiveCache) = try MaxPool2D.forwardNaive(x, geometry: nchw)
        let last = try ImageLayout.nchw.convert(x, to: .nhwc)
        let g = try MaxPool2D.geometry(input: last.shape, layout: .nhwc, rounding: .floor)
        let (out, cache) = try MaxPool2D.forward(last, geometry: g)
        #expect(try ImageLayout.nhwc.convert(out, to: .nchw) == naive)
        let dout = randomNormal(naive.shape, seed: 18, as: Float.self)
        let dx = try MaxPool2D.backward(ImageLayout.nchw.convert(dout, to: .nhwc), cache)
        #expect(try ImageLayout.nhwc.convert(dx, to: .nchw) == MaxPool2D.backwardNaive(dout, naiveCache))
        let (planes, planesCache) = try MaxPool2D.forward(x, geometry: nchw)
        #expect(planes == naive)
        #expect(try MaxPool2D.backward(dout, planesCache) == MaxPool2D.backwardNaive(dout, naiveCache))
    }

    @Test func maxPoolGradientCheck() throws {
        var generator = RandomGenerator(seed: 8)
        let x = smoothRandn([2, 5, 4, 3], using: &generator)
        let g = try MaxPool2D.geometry(input: x.shape, layout: .nhwc, rounding: .floor)
        let (out, cache) = try MaxPool2D.forward(x, geometry: g)
        let dout = Tensor<Double>.randn(out.shape, using: &generator)
        try expectLayerGradient("max pool", at: x, dout: dout, analytic: MaxPool2D.backward(dout, cache)) {
            try MaxPool2D.forward($0, geometry: g).out
        }
    }

    /// airbench's BN–GELU: batch norm with γ frozen at 1, GELU as its epilogue.
    @Test(arguments: [Mode.train, Mode.test])
    func batchNormGELUGradientCheck(_ mode: Mode) throws {
        var generator = RandomGenerator(seed: 9)
        let x = Tensor<Double>.randn([3, 2, 3, 4], using: &generator)
        let beta = Tensor<Double>.randn([4], using: &generator)
        var state = BatchNormState<Double>(features: 4, momentum: 0.6, epsilon: 1e-12, unbiasedRunningVariance: true)
        state.runningMean = Tensor.randn([4], using: &generator)
        state.runningVariance = Tensor.randn([4], using: &generator).abs() + 1
        let dout = Tensor<Double>.randn(x.shape, using: &generator)
        func forward(_ x: Tensor<Double>, _ beta: Tensor<Double>) throws -> Tensor<Double> {
            var copy = state
            return try BatchNorm.forward(x, gamma: nil, beta: beta, state: &copy, mode: mode, layout: .nhwc, activation: .gelu).out
        }
        var probe = state
        let (_, cache) = try BatchNorm.forward(x, gamma: nil, beta: beta, state: &probe, mode: mode, layout: .nhwc, activation: .gelu)
        let (dx, _, dbeta) = try BatchNorm.backward(dout, cache, needs: [.input, .biases])
        let numeric = try GradientCheck.numericGradient(at: x, upstream: dout) { try forward($0, beta) }
        // Test mode divides by running variances near 1: entries are small and the element-wise
        // error is noise-bound there, so train mode is held to the course's 1e-7 and test mode to its scale.
        if mode == .train { expectClose("BN-GELU dx", analytic: try #require(dx), numeric: numeric) } else {
            #expect(normwiseRelativeError(try #require(dx), numeric) < 1e-8)
        }
        try expectLayerGradient("BN-GELU dβ", at: beta, dout: dout, analytic: try #require(dbeta)) { try forward(x, $0) }
    }

    /// The channels-last BN–GELU applies the GELU as it normalizes and as it sums the gradient:
    /// the bits of batch norm and the GELU layer one after the other, forward and backward.
    @Test(arguments: [Mode.train, Mode.test])
    func batchNormGELUIsTheTwoLayersInSequence(_ mode: Mode) throws {
        var generator = RandomGenerator(seed: 11)
        let x = Tensor<Double>.randn([4, 5, 3, 37], scale: 2, using: &generator).converted(to: Float.self)
        let beta = Tensor<Double>.randn([37], using: &generator).converted(to: Float.self)
        let dout = Tensor<Double>.randn(x.shape, using: &generator).converted(to: Float.self)
        let trainedGamma = Tensor<Double>.randn([37], scale: 0.3, using: &generator).converted(to: Float.self) + 1
        var state = BatchNormState<Float>(features: 37, momentum: 0.6, epsilon: 1e-12)
        state.runningVariance = Tensor.randn([37], using: &generator).abs() + 1
        // γ frozen at 1 (airbench) and trained.
        for gamma in [nil, trainedGamma] {
            var (fusedState, layeredState) = (state, state)
            let (fused, fusedCache) = try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &fusedState, mode: mode,
                                                            layout: .nhwc, activation: .gelu)
            let (normalized, normCache) = try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &layeredState, mode: mode,
                                                                layout: .nhwc)
            let (activated, geluCache) = GELU.forward(normalized)
            #expect(fused == activated)
            let viaFused = try BatchNorm.backward(dout, fusedCache, needs: .all)
            let layered = try BatchNorm.backward(GELU.backward(dout, geluCache), normCache, needs: .all)
            #expect(viaFused.dx == layered.dx && viaFused.dbeta == layered.dbeta && viaFused.dgamma == layered.dgamma)
        }
    }

    @Test func batchNormRunningStatisticsFollowPyTorch() throws {
        // Channel 0 holds 1, 2, 3, 6 over the batch: mean 3, biased variance 3.5, unbiased 14/3.
        let x = try Tensor<Double>(shape: [2, 1, 2, 1], scalars: [1, 2, 3, 6])
        var state = BatchNormState<Double>(features: 1, momentum: 0.6, epsilon: 1e-12, unbiasedRunningVariance: true)
        let (out, _) = try BatchNorm.forward(x, gamma: nil, beta: .zeros([1]), state: &state, mode: .train, layout: .nhwc,
                                             activation: .gelu)
        #expect(Swift.abs(state.runningMean.scalars[0] - 0.4 * 3) < 1e-12)
        #expect(Swift.abs(state.runningVariance.scalars[0] - 0.4 * 14.0 / 3) < 1e-12)
        let xhat = (1 - 3) / 3.5.squareRoot()
        #expect(Swift.abs(out.scalars[0] - xhat * GELU.cumulativeNormal(xhat)) < 1e-12)
    }

    /// The whitening layer's bias and GELU, as a convolution's epilogue.
    @Test func biasGELUEpilogueGradientCheck() throws {
        var generator = RandomGenerator(seed: 10)
        let x = Tensor<Double>.randn([2, 4, 4, 3], using: &generator)
        let w = Tensor<Double>.randn([5, 3, 2, 2], using: &generator), bias = Tensor<Double>.randn([5], using: &generator)
        let g = try Conv2D.geometry(input: x.shape, weights: w.shape, layout: .nhwc)
        let epilogue = Conv2D.Epilogue(activation: .gelu)
        let (out, cache) = try Conv2D.forward(x, w, bias, geometry: g, epilogue: epilogue)
        let dout = Tensor<Double>.randn(out.shape, using: &generator)
        let (dx, _, dbias) = try Conv2D.backward(dout, cache, needs: [.input, .biases])
        try expectLayerGradient("bias-GELU dx", at: x, dout: dout, analytic: try #require(dx)) {
            try Conv2D.forward($0, w, bias, geometry: g, epilogue: epilogue).out
        }
        try expectLayerGradient("bias-GELU db", at: bias, dout: dout, analytic: try #require(dbias)) {
            try Conv2D.forward(x, w, $0, geometry: g, epilogue: epilogue).out
        }
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
