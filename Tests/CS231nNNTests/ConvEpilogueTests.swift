import Testing
@testable import CS231nNN

struct ConvBlocksTests {
    /// (x, w, conv stride, padding, pool size, pool stride): tiling pools take the channels-last
    /// path (2×2 and 3×3, a strided 3×5 conv, a kernel wider than 8); the overlapping 3/2 pool
    /// takes the NCHW path. With 16 or 32 filters, Float takes the direct conv: rows of whole
    /// 4-pixel tiles, rows that end in single pixels, a strided 3×5 kernel and W5's 7×7 layer.
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

    /// The fused block equals conv (naive) → ReLU → pool done one layer at a time, forward and
    /// backward for every ReLU rule.
    @Test(arguments: blockCases)
    func fusedConvReLUPoolMatchesTheLayersInSequence(_ shapes: ([Int], [Int], Int, Int, Int, Int)) throws {
        let (xShape, wShape, stride, padding, size, poolStride) = shapes
        func compare<S: TensorScalar>(_: S.Type, tolerance: S) throws {
            let x = randomNormal(xShape, seed: 1, as: S.self)
            let w = randomNormal(wShape, seed: 2, scale: 0.5, as: S.self)
            let b = randomNormal([wShape[0]], seed: 3, scale: 0.1, as: S.self)
            let (out, cache) = try ConvReLUPool.forward(x, w, b, stride: stride, padding: padding, poolHeight: size,
                                                        poolWidth: size, poolStride: poolStride)
            #expect(cache.channelsLast == (size == poolStride))
            let (a, convCache) = try Conv2D.forwardNaive(x, w, b, stride: stride, padding: padding)
            let (r, reluCache) = ReLU.forward(a)
            let (p, poolCache) = try MaxPool2D.forward(r, poolHeight: size, poolWidth: size, stride: poolStride)
            #expect(normwiseRelativeError(out, p) < tolerance)
            #expect(normwiseRelativeError(try cache.activationsNCHW(), r) < tolerance)
            let dout = randomNormal(out.shape, seed: 4, as: S.self)
            for rule in ReLUBackwardRule.allCases {
                let fused = try ConvReLUPool.backward(dout, cache, rule: rule)
                let da = try ReLU.backward(try MaxPool2D.backward(dout, poolCache), reluCache, rule: rule)
                let layered = try Conv2D.backwardNaive(da, convCache)
                #expect(normwiseRelativeError(fused.dx, layered.dx) < tolerance, "\(rule)")
                #expect(normwiseRelativeError(fused.dw, layered.dw) < tolerance, "\(rule)")
                #expect(normwiseRelativeError(fused.db, layered.db) < tolerance, "\(rule)")
            }
        }
        try compare(Double.self, tolerance: 1e-12)
        try compare(Float.self, tolerance: 1e-5)
    }

    @Test func convReLUPoolGradientsMatchNumericalGradients() throws {
        let x = randomNormal([2, 2, 6, 6], seed: 5, as: Double.self)
        let w = randomNormal([3, 2, 3, 3], seed: 6, as: Double.self)
        let b = randomNormal([3], seed: 7, as: Double.self)
        func forward(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> {
            try ConvReLUPool.forward(x, w, b, padding: 1).out
        }
        let (out, cache) = try ConvReLUPool.forward(x, w, b, padding: 1)
        let dout = randomNormal(out.shape, seed: 8, as: Double.self)
        let (dx, dw, db) = try ConvReLUPool.backward(dout, cache)
        #expect(GradientCheck.relativeError(dx, try GradientCheck.numericGradient(at: x, upstream: dout) { try forward($0, w, b) }) < 1e-7)
        #expect(GradientCheck.relativeError(dw, try GradientCheck.numericGradient(at: w, upstream: dout) { try forward(x, $0, b) }) < 1e-7)
        #expect(GradientCheck.relativeError(db, try GradientCheck.numericGradient(at: b, upstream: dout) { try forward(x, w, $0) }) < 1e-7)
        var dw2 = Tensor<Double>(uninitializedShape: [0]), db2 = Tensor<Double>(uninitializedShape: [0])
        try ConvReLUPool.parameterGradients(dout, cache, dw: &dw2, db: &db2, regularization: 0.1)
        #expect(normwiseRelativeError(dw2, try dw + w * 0.1) < 1e-14 && db2 == db)
    }

    @Test func geometryNamesTheBlockAndTheNumbers() throws {
        let (conv, pool) = try ConvReLUPool.geometry(layer: "block1", input: [3, 32, 32], weights: [16, 3, 3, 3])
        #expect([conv.outputHeight, pool.outputHeight, pool.channels] == [30, 15, 16])
        let odd = thrownMessage {
            _ = try ConvReLUPool.geometry(layer: "block1", input: [3, 32, 32], weights: [16, 3, 4, 4])
        }
        #expect(odd.contains("block1 pool") && odd.contains("(29 − 2 + 2·0)/2 + 1 = 14.5"))
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
        let analytic = [grads.dx, grads.dw, grads.db, grads.dgamma, grads.dbeta]
        let errors = zip(analytic, numeric).map { GradientCheck.relativeError($0, $1) }
        #expect(errors.allSatisfy { $0 < 1e-7 }, "\(normalization) \(mode): \(errors)")
    }
}
