import Testing
@testable import CS231nNN

/// (x shape, w shape, stride, padding): odd shapes with stride 2, padding 1, 3×5 kernels,
/// one channel, one image, and the 1×1 case that skips im2col.
private let convCases: [([Int], [Int], Int, Int)] = [
    ([1, 1, 7, 9], [2, 1, 3, 5], 2, 1),
    ([3, 2, 6, 5], [3, 2, 3, 5], 1, 1),
    ([2, 3, 5, 5], [4, 3, 3, 3], 2, 0),
    ([2, 3, 4, 6], [5, 3, 1, 1], 1, 0),
    ([1, 2, 5, 5], [2, 2, 1, 1], 2, 1),
    ([9, 2, 4, 4], [3, 2, 2, 2], 2, 0),
]

struct Conv2DTests {
    @Test func forwardOfAKnownExample() throws {
        let x = try Tensor<Double>(shape: [1, 1, 3, 3], scalars: (1...9).map(Double.init))
        let w = Tensor<Double>.ones([2, 1, 2, 2])
        let b = Tensor<Double>([0, 10])
        let (out, _) = try Conv2D.forward(x, w, b)
        #expect(out.shape == [1, 2, 2, 2])
        #expect(out.scalars == [12, 16, 24, 28, 22, 26, 34, 38])
        let (padded, _) = try Conv2D.forwardNaive(x, Tensor<Double>.ones([2, 1, 3, 3]), b, stride: 2, padding: 1)
        // 3×3 windows at (−1, −1), (−1, 1), (1, −1), (1, 1) of the zero-padded image.
        #expect(padded.scalars == [12, 16, 24, 28, 22, 26, 34, 38])
    }

    @Test(arguments: convCases)
    func fastMatchesNaiveInDouble(_ shapes: ([Int], [Int], Int, Int)) throws {
        let (xShape, wShape, stride, padding) = shapes
        let x = randomNormal(xShape, seed: 1, as: Double.self)
        let w = randomNormal(wShape, seed: 2, as: Double.self)
        let b = randomNormal([wShape[0]], seed: 3, as: Double.self)
        let (fast, fastCache) = try Conv2D.forward(x, w, b, stride: stride, padding: padding)
        let (naive, naiveCache) = try Conv2D.forwardNaive(x, w, b, stride: stride, padding: padding)
        #expect(normwiseRelativeError(fast, naive) < 1e-12)
        let dout = randomNormal(naive.shape, seed: 4, as: Double.self)
        let fastGrads = try Conv2D.backward(dout, fastCache)
        let naiveGrads = try Conv2D.backwardNaive(dout, naiveCache)
        #expect(normwiseRelativeError(fastGrads.dx, naiveGrads.dx) < 1e-12)
        #expect(normwiseRelativeError(fastGrads.dw, naiveGrads.dw) < 1e-12)
        #expect(normwiseRelativeError(fastGrads.db, naiveGrads.db) < 1e-12)
    }

    @Test(arguments: convCases)
    func fastMatchesNaiveInFloat(_ shapes: ([Int], [Int], Int, Int)) throws {
        let (xShape, wShape, stride, padding) = shapes
        let x = randomNormal(xShape, seed: 5, as: Float.self)
        let w = randomNormal(wShape, seed: 6, as: Float.self)
        let b = randomNormal([wShape[0]], seed: 7, as: Float.self)
        let (fast, fastCache) = try Conv2D.forward(x, w, b, stride: stride, padding: padding)
        let (naive, naiveCache) = try Conv2D.forwardNaive(x, w, b, stride: stride, padding: padding)
        #expect(normwiseRelativeError(fast, naive) < 1e-5)
        let dout = randomNormal(naive.shape, seed: 8, as: Float.self)
        let fastGrads = try Conv2D.backward(dout, fastCache)
        let naiveGrads = try Conv2D.backwardNaive(dout, naiveCache)
        #expect(normwiseRelativeError(fastGrads.dx, naiveGrads.dx) < 1e-5)
        #expect(normwiseRelativeError(fastGrads.dw, naiveGrads.dw) < 1e-5)
        #expect(normwiseRelativeError(fastGrads.db, naiveGrads.db) < 1e-5)
    }

    @Test(arguments: [true, false])
    func gradientsMatchNumericalGradients(naive: Bool) throws {
        let (xShape, wShape, stride, padding) = ([2, 2, 5, 7], [3, 2, 3, 5], 2, 1)
        let x = randomNormal(xShape, seed: 11, as: Double.self)
        let w = randomNormal(wShape, seed: 12, as: Double.self)
        let b = randomNormal([3], seed: 13, as: Double.self)
        func forward(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>) throws
            -> (out: Tensor<Double>, cache: Conv2D.Cache<Double>) {
            naive ? try Conv2D.forwardNaive(x, w, b, stride: stride, padding: padding)
                  : try Conv2D.forward(x, w, b, stride: stride, padding: padding)
        }
        let (out, cache) = try forward(x, w, b)
        let dout = randomNormal(out.shape, seed: 14, as: Double.self)
        let (dx, dw, db) = naive ? try Conv2D.backwardNaive(dout, cache) : try Conv2D.backward(dout, cache)
        let dxNumeric = try GradientCheck.numericGradient(at: x, upstream: dout) { try forward($0, w, b).out }
        let dwNumeric = try GradientCheck.numericGradient(at: w, upstream: dout) { try forward(x, $0, b).out }
        let dbNumeric = try GradientCheck.numericGradient(at: b, upstream: dout) { try forward(x, w, $0).out }
        #expect(GradientCheck.relativeError(dx, dxNumeric) < 1e-7)
        #expect(GradientCheck.relativeError(dw, dwNumeric) < 1e-7)
        #expect(GradientCheck.relativeError(db, dbNumeric) < 1e-7)
    }

    @Test func parameterGradientsSkipDxAndAddRegularization() throws {
        let x = randomNormal([3, 2, 5, 5], seed: 21, as: Double.self)
        let w = randomNormal([4, 2, 3, 3], seed: 22, as: Double.self)
        let b = randomNormal([4], seed: 23, as: Double.self)
        let (out, cache) = try Conv2D.forward(x, w, b, padding: 1)
        let dout = randomNormal(out.shape, seed: 24, as: Double.self)
        let full = try Conv2D.backward(dout, cache)
        let (dx, dw, db) = try Conv2D.backward(dout, cache, needs: .parameters, regularization: 0.5)
        #expect(dx == nil)
        #expect(normwiseRelativeError(try #require(dw), try full.dw + w * 0.5) < 1e-14)
        #expect(db == full.db)
        let input = try Conv2D.backward(dout, cache, needs: .input)
        #expect(input.dw == nil && input.db == nil && input.dx == full.dx)
    }

    @Test func fusedReLUEpilogue() throws {
        let x = randomNormal([2, 3, 6, 6], seed: 31, as: Float.self)
        let w = randomNormal([4, 3, 3, 3], seed: 32, as: Float.self)
        let b = randomNormal([4], seed: 33, as: Float.self)
        let geometry = try Conv2D.geometry(input: x.shape, weights: w.shape, padding: 1)
        let (out, _) = try Conv2D.forward(x, w, b, geometry: geometry, epilogue: Conv2D.Epilogue(activation: .relu))
        #expect(out == (try Conv2D.forward(x, w, b, padding: 1).out.maximum(0)))
    }

    @Test func geometryErrorNamesTheLayerAndTheNumbers() throws {
        let message = thrownMessage {
            _ = try Conv2D.geometry(layer: "conv1", input: [3, 32, 32], weights: [32, 3, 7, 7], stride: 2, padding: 0)
        }
        #expect(message.contains("conv1"))
        #expect(message.contains("(32 − 7 + 2·0)/2 + 1 = 13.5 is not an integer"))
        let tooBig = thrownMessage {
            _ = try ConvGeometry(layer: "pool3", channels: 8, height: 2, width: 2, kernelHeight: 3, kernelWidth: 3)
        }
        #expect(tooBig.contains("pool3") && tooBig.contains("does not fit"))
        #expect(try Conv2D.geometry(input: [128, 3, 32, 32], weights: [32, 3, 7, 7], padding: 3).outputPlane == 1024)
    }

    @Test func shapeErrorsNameTheLayer() throws {
        let geometry = try Conv2D.geometry(layer: "conv2", input: [3, 8, 8], weights: [4, 3, 3, 3], padding: 1)
        let w = Tensor<Float>.zeros([4, 3, 3, 3]), b = Tensor<Float>.zeros([4])
        let wrongInput = thrownMessage {
            _ = try Conv2D.forward(Tensor<Float>.zeros([2, 3, 9, 8]), w, b, geometry: geometry)
        }
        #expect(wrongInput.contains("conv2") && wrongInput.contains("(2×3×9×8)"))
        let wrongBias = thrownMessage {
            _ = try Conv2D.forward(Tensor<Float>.zeros([2, 3, 8, 8]), w, Tensor<Float>.zeros([3]), geometry: geometry)
        }
        #expect(wrongBias.contains("conv2") && wrongBias.contains("bias (3)"))
        let (_, cache) = try Conv2D.forward(Tensor<Float>.zeros([2, 3, 8, 8]), w, b, padding: 1, layer: "conv2")
        let wrongUpstream = thrownMessage { _ = try Conv2D.backward(Tensor<Float>.zeros([2, 4, 7, 8]), cache) }
        #expect(wrongUpstream.contains("conv2") && wrongUpstream.contains("(2×4×8×8)"))
    }
}
