import Testing
@testable import CS231nNN

struct ConvEpilogueTests {
    /// (x, w, conv stride, padding, pool size, pool stride): windows that tile (2×2 and 3×3, a
    /// strided 3×5 conv, a kernel wider than 8) and an overlapping 3/2 pool. With 16 or 32
    /// filters, Float takes the direct conv: rows of whole 4-pixel tiles, rows that end in single
    /// pixels, a strided 3×5 kernel and W5's 7×7 layer.
    static let blockCases: [([Int], [Int], Int, Int, Int, Int)] = [
        ([2, 3, 9, 17], [4, 3, 2, 2], 1, 0, 2, 2),
        ([2, 3, 10, 18], [4, 3, 2, 2], 1, 0, 3, 2),
        ([1, 2, 10, 13], [5, 2, 2, 2], 1, 0, 3, 3),
        ([2, 1, 11, 13], [3, 1, 3, 5], 2, 1, 2, 2),
        ([1, 2, 8, 12], [2, 2, 1, 9], 1, 0, 2, 2),
        ([2, 3, 8, 10], [16, 3, 3, 5], 1, 1, 2, 2),
        ([1, 2, 6, 6], [32, 2, 3, 3], 1, 1, 2, 2),
        ([2, 1, 11, 13], [16, 1, 3, 5], 2, 1, 2, 2),
        ([2, 3, 32, 32], [32, 3, 7, 7], 1, 3, 2, 2),
    ]

    /// conv → ReLU → max pool fused as the convolution's epilogue equals conv (naive) → ReLU →
    /// pool done one layer at a time, forward and backward for every ReLU rule, in both layouts.
    @Test(arguments: blockCases, ImageLayout.allCases)
    func fusedConvReLUPoolMatchesTheLayersInSequence(_ shapes: ([Int], [Int], Int, Int, Int, Int), _ layout: ImageLayout) throws {
        let (xShape, wShape, stride, padding, size, poolStride) = shapes
        func compare<S: TensorScalar>(_: S.Type, tolerance: S) throws {
            let x = randomNormal(xShape, seed: 1, as: S.self)
            let w = randomNormal(wShape, seed: 2, scale: 0.5, as: S.self)
            let b = randomNormal([wShape[0]], seed: 3, scale: 0.1, as: S.self)
            let input = try ImageLayout.nchw.convert(x, to: layout)
            let g = try Conv2D.geometry(input: input.shape, weights: wShape, stride: stride, padding: padding, layout: layout)
            let pool = try MaxPool2D.geometry(input: g.outputShape(batch: 1, channels: wShape[0]), poolHeight: size,
                                              poolWidth: size, stride: poolStride, layout: layout)
            let (out, cache) = try Conv2D.forward(input, w, b, geometry: g, epilogue: Conv2D.Epilogue(activation: .relu, pool: pool))
            let (a, convCache) = try Conv2D.forwardNaive(x, w, b, stride: stride, padding: padding)
            let (r, reluCache) = ReLU.forward(a)
            let (p, poolCache) = try MaxPool2D.forward(r, poolHeight: size, poolWidth: size, stride: poolStride)
            let toNCHW = { (t: Tensor<S>) in try layout.convert(t, to: .nchw) }
            #expect(normwiseRelativeError(try toNCHW(out), p) < tolerance)
            let activations = try #require(try cache.activations(in: .nchw))
            #expect(normwiseRelativeError(activations, r) < tolerance)
            let dout = randomNormal(p.shape, seed: 4, as: S.self)
            for rule in ReLUBackwardRule.allCases {
                let (dx, dw, db) = try Conv2D.backward(ImageLayout.nchw.convert(dout, to: layout), cache, needs: .all, rule: rule)
                let da = try ReLU.backward(try MaxPool2D.backward(dout, poolCache), reluCache, rule: rule)
                let layered = try Conv2D.backwardNaive(da, convCache)
                #expect(normwiseRelativeError(try toNCHW(dx!), layered.dx) < tolerance, "\(rule)")
                #expect(normwiseRelativeError(dw!, layered.dw) < tolerance, "\(rule)")
                #expect(normwiseRelativeError(db!, layered.db) < tolerance, "\(rule)")
            }
        }
        try compare(Double.self, tolerance: 1e-12)
        try compare(Float.self, tolerance: 1e-5)
    }

    /// The gradient at the feature maps before the pool (inspection's "conv1") goes back
    /// through the ReLU and the convolution only.
    @Test func aBackwardPassCanStartBeforeThePool() throws {
        let x = randomNormal([2, 3, 8, 8], seed: 5, as: Double.self)
        let w = randomNormal([16, 3, 3, 3], seed: 6, as: Double.self), b = randomNormal([16], seed: 7, as: Double.self)
        let g = try Conv2D.geometry(input: x.shape, weights: w.shape, padding: 1)
        let pool = try MaxPool2D.geometry(input: [16, 8, 8])
        let (_, cache) = try Conv2D.forward(x, w, b, geometry: g, epilogue: Conv2D.Epilogue(activation: .relu, pool: pool))
        let upstream = randomNormal([2, 16, 8, 8], seed: 8, as: Double.self)
        let dx = try Conv2D.backward(upstream, cache.beforePool(), needs: .input).dx!
        let (a, convCache) = try Conv2D.forwardNaive(x, w, b, padding: 1)
        let expected = try Conv2D.backwardNaive(ReLU.backward(upstream, ReLU.Cache(x: a)), convCache).dx
        #expect(normwiseRelativeError(dx, expected) < 1e-12)
    }

    /// A Winograd convolution with a 2×2 pool pools each tile as it comes out, without writing
    /// the convolution's output, and its gradients read the pooled gradient (dw unpools each
    /// tile, dx each chunk of images, where it reads them): the same bits, winners and
    /// gradients as the convolution and then the pool layer. Planes of W6's groups (odd sides drop a last row and column), a
    /// plane smaller than one 4×4 tile, and a non-square one; channels that are not a multiple
    /// of 8.
    @Test(arguments: [(31, 31, 12, 16), (15, 15, 16, 20), (7, 7, 8, 16), (3, 3, 8, 8), (6, 9, 5, 8)],
          [Conv2D.Algorithm.winograd, .winograd4x4])
    func winogradPoolsItsTilesAsThePoolLayerDoes(_ sizes: (height: Int, width: Int, channels: Int, filters: Int),
                                                 _ algorithm: Conv2D.Algorithm) throws {
        func compare<S: TensorScalar>(_: S.Type) throws {
            let x = randomNormal([2, sizes.height, sizes.width, sizes.channels], seed: 21, as: S.self)
            let w = randomNormal([sizes.filters, sizes.channels, 3, 3], seed: 22, scale: 0.3, as: S.self)
            let g = try Conv2D.geometry(input: x.shape, weights: w.shape, padding: 1, layout: .nhwc)
            let pool = try MaxPool2D.geometry(input: g.outputShape(batch: 2, channels: sizes.filters), layout: .nhwc,
                                              rounding: .floor)
            #expect(Conv2D.convolvePooledChannelsLast(x, w, g, algorithm, pool: pool) != nil)
            let (fused, cache) = try Conv2D.forward(x, w, nil, geometry: g, epilogue: Conv2D.Epilogue(pool: pool),
                                                    algorithm: algorithm)
            let (convolved, convCache) = try Conv2D.forward(x, w, nil, geometry: g, algorithm: algorithm)
            let (pooled, poolCache) = try MaxPool2D.forward(convolved, geometry: pool)
            #expect(fused == pooled)
            #expect(cache.pool?.winners == poolCache.winners)
            let dout = randomNormal(pooled.shape, seed: 23, as: S.self)
            let viaFused = try Conv2D.backward(dout, cache, needs: [.input, .weights])
            let layered = try Conv2D.backward(MaxPool2D.backward(dout, poolCache), convCache, needs: [.input, .weights])
            #expect(viaFused.dx == layered.dx && viaFused.dw == layered.dw)
            // Each gradient alone, as a net's first layer or a frozen one asks for it.
            let weightsOnly = try Conv2D.backward(dout, cache, needs: .weights)
            #expect(weightsOnly.dw == layered.dw && weightsOnly.dx == nil)
            let inputOnly = try Conv2D.backward(dout, cache, needs: .input)
            #expect(inputOnly.dx == layered.dx && inputOnly.dw == nil)
            // With a bias the forward writes its output and pools it; the backward reads the
            // pooled gradient for dx and dw, unless db needs the unpooled one.
            let b = randomNormal([sizes.filters], seed: 24, as: S.self)
            let (biased, biasedCache) = try Conv2D.forward(x, w, b, geometry: g, epilogue: Conv2D.Epilogue(pool: pool),
                                                           algorithm: algorithm)
            let (biasedConv, biasedConvCache) = try Conv2D.forward(x, w, b, geometry: g, algorithm: algorithm)
            let (biasedPooled, biasedPoolCache) = try MaxPool2D.forward(biasedConv, geometry: pool)
            #expect(biased == biasedPooled)
            let biasedLayered = try Conv2D.backward(MaxPool2D.backward(dout, biasedPoolCache), biasedConvCache, needs: .all)
            for needs: GradientNeeds in [.all, [.input, .weights]] {
                let grads = try Conv2D.backward(dout, biasedCache, needs: needs)
                #expect(grads.dx == biasedLayered.dx && grads.dw == biasedLayered.dw)
                #expect(grads.db == (needs.contains(.biases) ? biasedLayered.db : nil))
            }
        }
        try compare(Float.self)
        try compare(Double.self)
    }

    @Test func aPoolThatDoesNotFitTheConvolutionIsNamed() throws {
        let g = try Conv2D.geometry(layer: "block1 conv", input: [3, 32, 32], weights: [16, 3, 3, 3])
        let odd = thrownMessage { _ = try MaxPool2D.geometry(layer: "block1 pool", input: [16, 29, 29]) }
        #expect(odd.contains("block1 pool") && odd.contains("(29 − 2 + 2·0)/2 + 1 = 14.5"))
        let pool = try MaxPool2D.geometry(layer: "block1 pool", input: [16, 32, 32])
        let mismatch = thrownMessage {
            _ = try Conv2D.forward(Tensor<Float>.zeros([1, 3, 32, 32]), .zeros([16, 3, 3, 3]), nil, geometry: g,
                                   epilogue: Conv2D.Epilogue(pool: pool))
        }
        #expect(mismatch.contains("block1 pool") && mismatch.contains("(16×30×30)"))
    }

    @Test(arguments: [SpatialNormalization.batch, .group(2)], [Mode.train, Mode.test])
    func convNormReLUGradientsMatchNumericalGradients(_ normalization: SpatialNormalization, _ mode: Mode) throws {
        let x = randomNormal([2, 2, 5, 5], seed: 9, as: Double.self)
        let w = randomNormal([4, 2, 3, 3], seed: 10, as: Double.self)
        let b = randomNormal([4], seed: 11, as: Double.self)
        let gamma = try randomNormal([4], seed: 12, scale: 0.3, as: Double.self) + 1
        let beta = randomNormal([4], seed: 13, scale: 0.3, as: Double.self)
        var state = BatchNormState<Double>(features: 4)
        state.runningMean = randomNormal([4], seed: 14, as: Double.self)
        state.runningVariance = try randomNormal([4], seed: 15, as: Double.self).abs() + 1
        let frozen = state
        func forward(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>, _ g: Tensor<Double>,
                     _ be: Tensor<Double>) throws -> Tensor<Double> {
            var copy = frozen
            return try ConvNormReLU.forward(x, w, b, gamma: g, beta: be, stride: 2, padding: 1,
                                            normalization: normalization, state: &copy, mode: mode).out
        }
        let (out, cache) = try ConvNormReLU.forward(x, w, b, gamma: gamma, beta: beta, stride: 2, padding: 1,
                                                    normalization: normalization, state: &state, mode: mode)
        let dout = randomNormal(out.shape, seed: 16, as: Double.self)
        let grads = try ConvNormReLU.backward(dout, cache)
        // h = 1e-4 as for the normalizations alone (ConvNormTests).
        let numeric = [
            try GradientCheck.numericGradient(at: x, upstream: dout, h: 1e-4) { try forward($0, w, b, gamma, beta) },
            try GradientCheck.numericGradient(at: w, upstream: dout, h: 1e-4) { try forward(x, $0, b, gamma, beta) },
            try GradientCheck.numericGradient(at: b, upstream: dout, h: 1e-4) { try forward(x, w, $0, gamma, beta) },
            try GradientCheck.numericGradient(at: gamma, upstream: dout, h: 1e-4) { try forward(x, w, b, $0, beta) },
            try GradientCheck.numericGradient(at: beta, upstream: dout, h: 1e-4) { try forward(x, w, b, gamma, $0) },
        ]
        var analytic = [grads.dx, grads.dw, grads.db, grads.dgamma, grads.dbeta]
        if normalization == .batch && mode == .train {
            // Batch norm subtracts the bias again: db is zero in exact arithmetic, where a
            // relative error means nothing, so both gradients must vanish instead.
            #expect(grads.db.abs().max() < 1e-9 && numeric[2].abs().max() < 1e-9, "db: \(grads.db), \(numeric[2])")
            analytic[2] = numeric[2]
        }
        let errors = zip(analytic, numeric).map { GradientCheck.relativeError($0, $1) }
        #expect(errors.allSatisfy { $0 < 1e-7 }, "\(normalization) \(mode): \(errors)")
    }
}
