import Testing
@testable import CS231nNN

/// Gradient checks of a layer f(x, γ, β) at every input, in Double. h = 1e-4: the normalized
/// layers' dx has entries near 1e-3 (they sum to zero per group), where the round-off of
/// h = 1e-5 alone reaches a relative 1e-7; the truncation error at 1e-4 is far below it.
private func checkNormGradients(_ x: Tensor<Double>, _ gamma: Tensor<Double>, _ beta: Tensor<Double>,
                                _ f: (Tensor<Double>, Tensor<Double>, Tensor<Double>) throws -> Tensor<Double>,
                                analytic: (Tensor<Double>) throws -> (dx: Tensor<Double>, dgamma: Tensor<Double>, dbeta: Tensor<Double>))
    throws -> [Double] {
    let dout = randomNormal(try f(x, gamma, beta).shape, seed: 99, as: Double.self)
    let (dx, dgamma, dbeta) = try analytic(dout)
    return [
        GradientCheck.relativeError(dx, try GradientCheck.numericGradient(at: x, upstream: dout, h: 1e-4) { try f($0, gamma, beta) }),
        GradientCheck.relativeError(dgamma, try GradientCheck.numericGradient(at: gamma, upstream: dout, h: 1e-4) { try f(x, $0, beta) }),
        GradientCheck.relativeError(dbeta, try GradientCheck.numericGradient(at: beta, upstream: dout, h: 1e-4) { try f(x, gamma, $0) }),
    ]
}

struct SpatialBatchNormTests {
    @Test func trainingNormalizesEachChannelAndRecordsRunningStatistics() throws {
        let x = try randomNormal([4, 3, 5, 6], seed: 1, scale: 4, as: Double.self) + 7
        let gamma = Tensor<Double>([1, 2, 3]), beta = Tensor<Double>([0, -1, 5])
        var state = BatchNormState<Double>(features: 3, momentum: 0.9)
        let (out, _) = try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &state, mode: .train)
        let perChannel = try out.permuted([1, 0, 2, 3]).reshaped([3, -1])
        #expect(normwiseRelativeError(try perChannel.mean(axis: 1), beta) < 1e-12)
        #expect(normwiseRelativeError(try perChannel.variance(axis: 1).sqrt(), gamma) < 1e-5)
        let columns = try x.permuted([1, 0, 2, 3]).reshaped([3, -1])
        #expect(normwiseRelativeError(state.runningMean, try columns.mean(axis: 1) * 0.1) < 1e-12)
        #expect(normwiseRelativeError(state.runningVariance, try columns.variance(axis: 1) * 0.1) < 1e-12)
    }

    /// CS231n's definition: batch norm on x reshaped NCHW → (N·H·W, C) by the course's graph.
    @Test(arguments: [Mode.train, Mode.test])
    func matchesBatchNormOnTheReshapedInput(mode: Mode) throws {
        let x = randomNormal([3, 4, 2, 5], seed: 2, as: Double.self)
        let gamma = randomNormal([4], seed: 3, as: Double.self), beta = randomNormal([4], seed: 4, as: Double.self)
        var spatialState = BatchNormState<Double>(features: 4), rowState = BatchNormState<Double>(features: 4)
        for state in [\BatchNormState<Double>.runningMean, \.runningVariance] {
            spatialState[keyPath: state] = randomNormal([4], seed: 5, as: Double.self).abs()
            rowState[keyPath: state] = spatialState[keyPath: state]
        }
        let (out, cache) = try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &spatialState, mode: mode)
        let rows = try x.permuted([0, 2, 3, 1]).reshaped([-1, 4])
        let (rowOut, rowCache) = try BatchNorm.forward(rows, gamma: gamma, beta: beta, state: &rowState, mode: mode)
        let backToNCHW = { (t: Tensor<Double>) in try t.reshaped([3, 2, 5, 4]).permuted([0, 3, 1, 2]) }
        #expect(normwiseRelativeError(out, try backToNCHW(rowOut)) < 1e-12)
        #expect(normwiseRelativeError(spatialState.runningMean, rowState.runningMean) < 1e-12)
        #expect(normwiseRelativeError(spatialState.runningVariance, rowState.runningVariance) < 1e-12)
        let dout = randomNormal(x.shape, seed: 6, as: Double.self)
        let (dx, dgamma, dbeta) = try BatchNorm.backward(dout, cache)
        let rowGrads = try BatchNorm.backward(try dout.permuted([0, 2, 3, 1]).reshaped([-1, 4]), rowCache)
        #expect(normwiseRelativeError(dx, try backToNCHW(rowGrads.dx)) < 1e-12)
        #expect(normwiseRelativeError(dgamma, rowGrads.dgamma) < 1e-12)
        #expect(normwiseRelativeError(dbeta, rowGrads.dbeta) < 1e-12)
    }

    @Test(arguments: [Mode.train, Mode.test])
    func gradientsMatchNumericalGradients(mode: Mode) throws {
        let x = try randomNormal([2, 3, 4, 3], seed: 7, scale: 2, as: Double.self) + 1
        let gamma = randomNormal([3], seed: 8, as: Double.self), beta = randomNormal([3], seed: 9, as: Double.self)
        var state = BatchNormState<Double>(features: 3)
        state.runningVariance = .ones([3])
        let frozen = state
        let (_, cache) = try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &state, mode: mode)
        let errors = try checkNormGradients(x, gamma, beta, { x, g, b in
            var copy = frozen
            return try BatchNorm.forward(x, gamma: g, beta: b, state: &copy, mode: mode).out
        }, analytic: { try BatchNorm.backward($0, cache) })
        #expect(errors.allSatisfy { $0 < 1e-7 }, "\(errors)")
    }

    @Test func shapeErrorsNameTheLayer() {
        var state = BatchNormState<Float>(features: 3)
        let message = thrownMessage {
            _ = try BatchNorm.forward(Tensor<Float>.zeros([2, 4, 3, 3]), gamma: .ones([3]), beta: .zeros([3]),
                                      state: &state, mode: .train, layer: "bn2")
        }
        #expect(message.contains("bn2") && message.contains("(2×4×3×3)"))
    }
}

struct SpatialGroupNormTests {
    @Test func eachExampleAndGroupIsNormalized() throws {
        let x = try randomNormal([2, 6, 3, 4], seed: 10, scale: 3, as: Double.self) - 2
        let (out, _) = try SpatialGroupNorm.forward(x, gamma: .ones([6]), beta: .zeros([6]), groups: 3)
        let blocks = try out.reshaped([6, -1])
        #expect(try blocks.mean(axis: 1).abs().max() < 1e-12)
        #expect(try (blocks.variance(axis: 1) - 1).abs().max() < 1e-3)
    }

    /// One group is layer norm over (C, H, W).
    @Test func oneGroupIsLayerNorm() throws {
        let x = randomNormal([3, 4, 2, 3], seed: 11, as: Double.self)
        let gamma = randomNormal([4], seed: 12, as: Double.self), beta = randomNormal([4], seed: 13, as: Double.self)
        let (out, cache) = try SpatialGroupNorm.forward(x, gamma: gamma, beta: beta, groups: 1)
        let expand = { (v: Tensor<Double>) in try v.reshaped([4, 1]) * Tensor<Double>.ones([4, 6]) }
        let (layerOut, layerCache) = try LayerNorm.forward(x.reshaped([3, 24]), gamma: try expand(gamma).reshaped([24]),
                                                           beta: try expand(beta).reshaped([24]))
        #expect(normwiseRelativeError(out, try layerOut.reshaped(x.shape)) < 1e-12)
        let dout = randomNormal(x.shape, seed: 14, as: Double.self)
        let (dx, dgamma, _) = try SpatialGroupNorm.backward(dout, cache)
        let layerGrads = try LayerNorm.backward(dout.reshaped([3, 24]), layerCache)
        #expect(normwiseRelativeError(dx, try layerGrads.dx.reshaped(x.shape)) < 1e-12)
        #expect(normwiseRelativeError(dgamma, try layerGrads.dgamma.reshaped([4, 6]).sum(axis: 1)) < 1e-12)
    }

    @Test(arguments: [1, 2, 4])
    func gradientsMatchNumericalGradients(groups: Int) throws {
        let x = try randomNormal([2, 4, 3, 3], seed: 15, scale: 2, as: Double.self) + 0.5
        let gamma = randomNormal([4], seed: 16, as: Double.self), beta = randomNormal([4], seed: 17, as: Double.self)
        let (_, cache) = try SpatialGroupNorm.forward(x, gamma: gamma, beta: beta, groups: groups)
        let errors = try checkNormGradients(x, gamma, beta, { x, g, b in
            try SpatialGroupNorm.forward(x, gamma: g, beta: b, groups: groups).out
        }, analytic: { try SpatialGroupNorm.backward($0, cache) })
        #expect(errors.allSatisfy { $0 < 1e-7 }, "\(errors)")
    }

    @Test func groupsMustDivideTheChannels() {
        let message = thrownMessage {
            _ = try SpatialGroupNorm.forward(Tensor<Float>.zeros([1, 6, 2, 2]), gamma: .ones([6]), beta: .zeros([6]),
                                             groups: 4, layer: "gn1")
        }
        #expect(message.contains("gn1") && message.contains("6 channels do not split into 4 groups"))
    }
}

struct GELUTests {
    @Test func exactValues() throws {
        let (out, _) = GELU.forward(Tensor<Double>([0, 1, -1, 3, -6]))
        // x·Φ(x) with Φ from the normal table.
        let expected = Tensor<Double>([0, 0.841_344_746_068_542_9, -0.158_655_253_931_457_05, 2.995_950_305_905_11, -5.919_525_869_479_969e-9])
        #expect(try (out - expected).abs().max() < 1e-9)
        let single = GELU.forward(Tensor<Float>([1, -1])).out
        #expect(normwiseRelativeError(single.converted(to: Double.self), try expected.slice(1..<3)) < 1e-6)
    }

    /// Smooth points where the derivative is not tiny: a grid over [−2.5, 2.5] that skips the
    /// derivative's zero near −0.75, where any relative error is meaningless.
    @Test func gradientMatchesNumericalGradient() throws {
        let points = stride(from: -2.5, through: 2.5, by: 0.13).filter { Swift.abs($0 + 0.75) > 0.1 }
        let x = try Tensor<Double>(shape: [points.count], scalars: points)
        let (_, cache) = GELU.forward(x)
        let dout = randomNormal(x.shape, seed: 19, as: Double.self)
        let numeric = try GradientCheck.numericGradient(at: x, upstream: dout) { GELU.forward($0).out }
        #expect(GradientCheck.relativeError(try GELU.backward(dout, cache), numeric) < 1e-7)
    }
}
