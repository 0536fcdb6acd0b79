import Testing
@testable import CS231nNN

/// (x shape, w shape (Cin, Cout, KH, KW), stride, padding).
private let transposedCases: [([Int], [Int], Int, Int)] = [
    ([1, 1, 3, 4], [1, 2, 3, 5], 2, 1),
    ([2, 3, 4, 4], [3, 2, 4, 4], 2, 1),
    ([3, 2, 3, 2], [2, 3, 3, 3], 1, 1),
    ([1, 2, 2, 3], [2, 1, 1, 1], 3, 0),
]

struct TransposedConvTests {
    @Test func outputSizeFollowsTheFormula() throws {
        // S·(in − 1) + K − 2P
        #expect(try TransposedConv2D.outputSize(axis: "height", input: 16, kernel: 4, stride: 2, padding: 1) == 32)
        #expect(try TransposedConv2D.outputSize(axis: "width", input: 3, kernel: 3, stride: 1, padding: 1) == 3)
        #expect(try TransposedConv2D.outputSize(axis: "width", input: 5, kernel: 2, stride: 3, padding: 0) == 14)
        let g = try TransposedConv2D.geometry(input: [8, 64, 7, 5], weights: [64, 16, 4, 3], stride: 2, padding: 1)
        #expect([g.channels, g.height, g.width] == [16, 14, 9])
        let (out, _) = try TransposedConv2D.forward(Tensor<Float>.zeros([2, 64, 7, 5]), Tensor<Float>.zeros([64, 16, 4, 3]),
                                                    Tensor<Float>.zeros([16]), stride: 2, padding: 1)
        #expect(out.shape == [2, 16, 14, 9])
        let message = thrownMessage {
            _ = try TransposedConv2D.geometry(layer: "up1", input: [1, 8, 1, 1], weights: [8, 4, 1, 1], padding: 1)
        }
        #expect(message.contains("up1") && message.contains("1·(1 − 1) + 1 − 2·1 = -1 < 1"))
        let wrongFilters = thrownMessage {
            _ = try TransposedConv2D.geometry(layer: "up2", input: [1, 8, 4, 4], weights: [4, 8, 3, 3])
        }
        #expect(wrongFilters.contains("up2") && wrongFilters.contains("(4×8×3×3)"))
    }

    @Test func stride2With2x2OnesUpsamplesByRepetition() throws {
        let x = try Tensor<Double>(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4])
        let (out, _) = try TransposedConv2D.forward(x, Tensor<Double>.ones([1, 1, 2, 2]), Tensor<Double>([0.5]), stride: 2)
        #expect(out.scalars == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4].map { $0 + 0.5 })
    }

    /// The forward is the convolution's input gradient with the same filter array.
    @Test(arguments: transposedCases)
    func forwardIsTheConvolutionsInputGradient(_ shapes: ([Int], [Int], Int, Int)) throws {
        let (xShape, wShape, stride, padding) = shapes
        let x = randomNormal(xShape, seed: 1, as: Double.self)
        let w = randomNormal(wShape, seed: 2, as: Double.self)
        let (out, _) = try TransposedConv2D.forward(x, w, Tensor<Double>.zeros([wShape[1]]), stride: stride, padding: padding)
        let (_, convCache) = try Conv2D.forward(Tensor<Double>.zeros(out.shape), w, Tensor<Double>.zeros([wShape[0]]),
                                                stride: stride, padding: padding)
        #expect(normwiseRelativeError(out, try Conv2D.backward(x, convCache).dx) < 1e-13)
    }

    @Test(arguments: transposedCases)
    func fastMatchesNaive(_ shapes: ([Int], [Int], Int, Int)) throws {
        let (xShape, wShape, stride, padding) = shapes
        func compare<S: TensorScalar>(_: S.Type, tolerance: S) throws {
            let x = randomNormal(xShape, seed: 3, as: S.self), w = randomNormal(wShape, seed: 4, as: S.self)
            let b = randomNormal([wShape[1]], seed: 5, as: S.self)
            let (fast, fastCache) = try TransposedConv2D.forward(x, w, b, stride: stride, padding: padding)
            let (naive, naiveCache) = try TransposedConv2D.forwardNaive(x, w, b, stride: stride, padding: padding)
            #expect(normwiseRelativeError(fast, naive) < tolerance)
            let dout = randomNormal(naive.shape, seed: 6, as: S.self)
            let f = try TransposedConv2D.backward(dout, fastCache), r = try TransposedConv2D.backwardNaive(dout, naiveCache)
            #expect(normwiseRelativeError(f.dx, r.dx) < tolerance)
            #expect(normwiseRelativeError(f.dw, r.dw) < tolerance)
            #expect(normwiseRelativeError(f.db, r.db) < tolerance)
        }
        try compare(Double.self, tolerance: 1e-12)
        try compare(Float.self, tolerance: 1e-5)
    }

    @Test func gradientsMatchNumericalGradients() throws {
        let x = randomNormal([2, 3, 3, 4], seed: 7, as: Double.self)
        let w = randomNormal([3, 2, 3, 4], seed: 8, as: Double.self)
        let b = randomNormal([2], seed: 9, as: Double.self)
        func forward(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> {
            try TransposedConv2D.forward(x, w, b, stride: 2, padding: 1).out
        }
        let (out, cache) = try TransposedConv2D.forward(x, w, b, stride: 2, padding: 1)
        let dout = randomNormal(out.shape, seed: 10, as: Double.self)
        let (dx, dw, db) = try TransposedConv2D.backward(dout, cache)
        #expect(GradientCheck.relativeError(dx, try GradientCheck.numericGradient(at: x, upstream: dout) { try forward($0, w, b) }) < 1e-7)
        #expect(GradientCheck.relativeError(dw, try GradientCheck.numericGradient(at: w, upstream: dout) { try forward(x, $0, b) }) < 1e-7)
        #expect(GradientCheck.relativeError(db, try GradientCheck.numericGradient(at: b, upstream: dout) { try forward(x, w, $0) }) < 1e-7)
    }
}
