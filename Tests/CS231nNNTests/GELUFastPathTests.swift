import CS231nNN
import Foundation
import Testing

/// The Float vector GELU against the exact formula evaluated in Double.
@Suite struct GELUFastPathTests {
    static func exactValue(_ x: Double) -> Double { x * (1 + erf(x / 2.squareRoot())) / 2 }

    static func exactDerivative(_ x: Double) -> Double {
        (1 + erf(x / 2.squareRoot())) / 2 + x * exp(-x * x / 2) / (2 * Double.pi).squareRoot()
    }

    /// The largest |vector − exact| over `points`, 16 at a time.
    static func worstError(_ points: [Float], _ vector: (SIMD16<Float>) -> SIMD16<Float>,
                           _ exact: (Double) -> Double) -> Double {
        var worst = 0.0
        for start in stride(from: 0, to: points.count, by: 16) {
            var x = SIMD16<Float>()
            for k in 0..<16 { x[k] = points[Swift.min(start + k, points.count - 1)] }
            let y = vector(x)
            for k in 0..<16 { worst = Swift.max(worst, Swift.abs(Double(y[k]) - exact(Double(x[k])))) }
        }
        return worst
    }

    /// Every 1/1024 over [−10, 10], which hits both sides of every polynomial's range.
    static let grid = (-10_240...10_240).map { Float($0) / 1024 }

    @Test func valueIsAccurateOnADenseGrid() {
        let error = Self.worstError(Self.grid, GELU.value, Self.exactValue)
        #expect(error <= 2e-6, "max |error| \(error)")
    }

    @Test func derivativeIsAccurateOnADenseGrid() {
        let error = Self.worstError(Self.grid, GELU.derivative, Self.exactDerivative)
        #expect(error <= 2e-6, "max |error| \(error)")
    }

    @Test func extremesSaturateWithoutNaN() {
        let x = SIMD16<Float>(1e30, -1e30, 50, -50, 20, -20, 88, -88, 200, -200, 1e10, -1e10, 14, -14, 0, -0)
        let value = GELU.value(x), derivative = GELU.derivative(x)
        for k in 0..<16 {
            let exactValue = Self.exactValue(Double(x[k])), exactDerivative = Self.exactDerivative(Double(x[k]))
            #expect(!value[k].isNaN && !derivative[k].isNaN, "x = \(x[k])")
            #expect(Swift.abs(Double(value[k]) - exactValue) <= 2e-6 * Swift.max(1, Swift.abs(exactValue)), "GELU(\(x[k])) = \(value[k])")
            #expect(Swift.abs(Double(derivative[k]) - exactDerivative) <= 2e-6, "GELU′(\(x[k])) = \(derivative[k])")
        }
        #expect(value[0] == 1e30 && value[1] == 0 && derivative[0] == 1 && derivative[1] == 0)
    }

    @Test func nanStaysNaN() {
        var x = SIMD16<Float>(repeating: 1)
        x[3] = .nan
        let value = GELU.value(x), derivative = GELU.derivative(x)
        #expect(value[3].isNaN && derivative[3].isNaN)
        #expect((0..<16).allSatisfy { $0 == 3 || !(value[$0].isNaN || derivative[$0].isNaN) })
    }

    /// 1000 values split into parallel chunks and a partial last vector: every element, tail
    /// included, matches the Double layer at the same (Float-representable) points.
    @Test func floatLayerMatchesDoubleLayer() throws {
        var generator = RandomGenerator(seed: 41)
        let x = Tensor<Double>.randn([10, 100], scale: 3, using: &generator).converted(to: Float.self)
        let dout = Tensor<Double>.randn([10, 100], using: &generator).converted(to: Float.self)
        let (doubleOut, doubleCache) = GELU.forward(x.converted(to: Double.self))
        let (floatOut, floatCache) = GELU.forward(x)
        let doubleDx = try GELU.backward(dout.converted(to: Double.self), doubleCache)
        let floatDx = try GELU.backward(dout, floatCache)
        #expect(try (floatOut.converted(to: Double.self) - doubleOut).abs().max() <= 2e-6)
        #expect(try (floatDx.converted(to: Double.self) - doubleDx).abs().max() <= 2e-6)
    }

    /// The forward keeps the derivative the backward multiplies by: the bits of the vector
    /// derivative, which the backward evaluated itself before.
    @Test func theForwardKeepsTheVectorDerivative() throws {
        var generator = RandomGenerator(seed: 43)
        let x = Tensor<Double>.randn([37], scale: 4, using: &generator).converted(to: Float.self)
        let derivative = GELU.forward(x).cache.derivative
        for start in stride(from: 0, to: 37, by: 16) {
            var lanes = SIMD16<Float>()
            for lane in 0..<Swift.min(16, 37 - start) { lanes[lane] = x[start + lane] }
            let expected = GELU.derivative(lanes)
            for lane in 0..<Swift.min(16, 37 - start) { #expect(derivative[start + lane] == expected[lane]) }
        }
    }
}
