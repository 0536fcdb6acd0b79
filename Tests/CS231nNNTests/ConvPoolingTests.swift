import Testing
@testable import CS231nNN

/// (x shape, pool height, pool width, stride): the 2×2 reshape path, other tiling windows,
/// overlapping and rectangular windows, one channel, one image.
private let poolCases: [([Int], Int, Int, Int)] = [
    ([2, 3, 4, 6], 2, 2, 2),
    ([2, 2, 6, 34], 2, 2, 2),
    ([1, 1, 6, 9], 3, 3, 3),
    ([2, 2, 7, 5], 3, 3, 2),
    ([1, 2, 5, 6], 2, 3, 1),
    ([3, 1, 5, 5], 1, 1, 2),
]

struct MaxPoolTests {
    @Test func forwardOfAKnownExample() throws {
        let x = try Tensor<Double>(shape: [1, 1, 4, 4], scalars: [1, 2, 5, 3,
                                                                   4, 0, 1, 1,
                                                                   9, 8, 2, 6,
                                                                   7, 7, 6, 3])
        let (out, cache) = try MaxPool2D.forward(x)
        #expect(out.scalars == [4, 5, 9, 6])
        let dx = try MaxPool2D.backward(Tensor<Double>(shape: [1, 1, 2, 2], scalars: [10, 20, 30, 40]), cache)
        // The two 6s are in different windows; each window's gradient goes to its maximum.
        #expect(dx.scalars == [0, 0, 20, 0, 10, 0, 0, 0, 30, 0, 0, 40, 0, 0, 0, 0])
    }

    @Test(arguments: poolCases)
    func fastMatchesNaive(_ shapes: ([Int], Int, Int, Int)) throws {
        let (xShape, ph, pw, stride) = shapes
        for seed: UInt64 in [1, 2] {
            // Seed 2 rounds the values to a few integers: windows full of ties.
            let noise = randomNormal(xShape, seed: seed, as: Float.self)
            let x = seed == 1 ? noise : noise.map { ($0 * 1.5).rounded() }
            let (fast, fastCache) = try MaxPool2D.forward(x, poolHeight: ph, poolWidth: pw, stride: stride)
            let (naive, naiveCache) = try MaxPool2D.forwardNaive(x, poolHeight: ph, poolWidth: pw, stride: stride)
            #expect(fast == naive)
            let dout = randomNormal(fast.shape, seed: seed + 10, as: Float.self)
            #expect(try MaxPool2D.backward(dout, fastCache) == MaxPool2D.backwardNaive(dout, naiveCache))
        }
    }

    @Test(arguments: poolCases)
    func gradientMatchesNumericalGradient(_ shapes: ([Int], Int, Int, Int)) throws {
        let (xShape, ph, pw, stride) = shapes
        // Distinct values (no ties within 2h): the max is differentiable at the point.
        let x = randomNormal(xShape, seed: 3, as: Double.self)
        let (out, cache) = try MaxPool2D.forward(x, poolHeight: ph, poolWidth: pw, stride: stride)
        let dout = randomNormal(out.shape, seed: 4, as: Double.self)
        let dx = try MaxPool2D.backward(dout, cache)
        let numeric = try GradientCheck.numericGradient(at: x, upstream: dout) {
            try MaxPool2D.forward($0, poolHeight: ph, poolWidth: pw, stride: stride).out
        }
        #expect(GradientCheck.relativeError(dx, numeric) < 1e-7)
        #expect(GradientCheck.relativeError(try MaxPool2D.backwardNaive(dout, cache), numeric) < 1e-7)
    }

    /// Windows of equal values: the gradient goes to each window's top-left corner, which for
    /// 2×2 / stride 2 on 4×4 and 3×3 / stride 2 on 5×5 are the inputs (0, 0), (0, 2), (2, 0), (2, 2).
    @Test(arguments: [(4, 2), (5, 3)])
    func tiesSendTheGradientToTheFirstMaximum(_ window: (Int, Int)) throws {
        let (side, pool) = window
        let x = Tensor<Float>.ones([1, 1, side, side])
        let (out, cache) = try MaxPool2D.forward(x, poolHeight: pool, poolWidth: pool, stride: 2)
        let dout = try Tensor<Float>(shape: out.shape, scalars: [1, 2, 3, 4])
        let fast = try MaxPool2D.backward(dout, cache)
        #expect(fast == (try MaxPool2D.backwardNaive(dout, cache)))
        var expected = Tensor<Float>.zeros(x.shape)
        (expected[0, 0, 0, 0], expected[0, 0, 0, 2], expected[0, 0, 2, 0], expected[0, 0, 2, 2]) = (1, 2, 3, 4)
        #expect(fast == expected)
    }

    @Test func geometryErrorNamesThePool() {
        let message = thrownMessage {
            _ = try MaxPool2D.geometry(layer: "pool1", input: [8, 32, 32], poolHeight: 3, poolWidth: 3, stride: 2)
        }
        #expect(message.contains("pool1") && message.contains("(32 − 3 + 2·0)/2 + 1 = 15.5"))
        let wrongGradient = thrownMessage {
            let (_, cache) = try MaxPool2D.forward(Tensor<Float>.zeros([2, 3, 4, 4]), layer: "pool2")
            _ = try MaxPool2D.backward(Tensor<Float>.zeros([2, 3, 4, 4]), cache)
        }
        #expect(wrongGradient.contains("pool2") && wrongGradient.contains("(2×3×2×2)"))
    }
}

struct AveragePoolTests {
    @Test func forwardOfAKnownExample() throws {
        let x = try Tensor<Double>(shape: [1, 1, 2, 4], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
        let (out, cache) = try AvgPool2D.forward(x)
        #expect(out.scalars == [3.5, 5.5])
        let dx = try AvgPool2D.backward(Tensor<Double>(shape: [1, 1, 1, 2], scalars: [4, 8]), cache)
        #expect(dx.scalars == [1, 1, 2, 2, 1, 1, 2, 2])
    }

    @Test(arguments: poolCases)
    func gradientMatchesNumericalGradient(_ shapes: ([Int], Int, Int, Int)) throws {
        let (xShape, ph, pw, stride) = shapes
        let x = randomNormal(xShape, seed: 5, as: Double.self)
        let (out, cache) = try AvgPool2D.forward(x, poolHeight: ph, poolWidth: pw, stride: stride)
        let dout = randomNormal(out.shape, seed: 6, as: Double.self)
        let numeric = try GradientCheck.numericGradient(at: x, upstream: dout) {
            try AvgPool2D.forward($0, poolHeight: ph, poolWidth: pw, stride: stride).out
        }
        #expect(GradientCheck.relativeError(try AvgPool2D.backward(dout, cache), numeric) < 1e-7)
    }

    @Test func globalAveragePoolMeansEachPlane() throws {
        let x = randomNormal([3, 4, 5, 3], seed: 7, as: Double.self)
        let (out, cache) = try GlobalAvgPool.forward(x)
        #expect(out.shape == [3, 4])
        let expected = try x.reshaped([12, 15]).mean(axis: 1).reshaped([3, 4])
        #expect(normwiseRelativeError(out, expected) < 1e-14)
        let dout = randomNormal([3, 4], seed: 8, as: Double.self)
        let numeric = try GradientCheck.numericGradient(at: x, upstream: dout) { try GlobalAvgPool.forward($0).out }
        #expect(GradientCheck.relativeError(try GlobalAvgPool.backward(dout, cache), numeric) < 1e-7)
        let message = thrownMessage { _ = try GlobalAvgPool.forward(Tensor<Double>.zeros([3, 4]), layer: "gap") }
        #expect(message.contains("gap") && message.contains("(3×4)"))
    }
}
