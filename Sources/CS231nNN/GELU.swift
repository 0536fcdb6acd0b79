/// The Gaussian error linear unit (Hendrycks & Gimpel 2016) in its exact form,
/// out = x·Φ(x) = ½·x·(1 + erf(x/√2)), the activation of modern conv nets.
///
/// Float runs on 16-lane vectors with a polynomial erfc and exp, within 5e-7 of the exact
/// function: libm's erff costs ~12 ns an element on one core, the vectors ~1.2 ns. Double keeps
/// libm, so that gradient checks see the exact function.
///
/// The forward computes the derivative with the value, since both are built on the same Φ(x)
/// and e^(−x²/2): the backward then only multiplies, instead of evaluating them again.
public enum GELU {
    /// What the backward reads: GELU′ at the input, Φ(x) + x·φ(x), shaped as the input.
    public struct Cache<S: TensorScalar>: Sendable {
        public var derivative: Tensor<S>

        @inlinable
        public init(derivative: Tensor<S>) { self.derivative = derivative }
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>) -> (out: Tensor<S>, cache: Cache<S>) {
        var out = Tensor<S>(uninitializedShape: x.shape), derivative = Tensor<S>(uninitializedShape: x.shape)
        withSendablePointers(writing: &out, &derivative, reading: x) { output, slope, input in
            Parallel.forEachChunk(x.count, minimumChunk: 8192) { range in
                let i = range.lowerBound
                apply(input.base + i, into: output.base + i, derivative: slope.base + i, count: range.count)
            }
        }
        return (out, Cache(derivative: derivative))
    }

    /// dx = dout ⊙ GELU′(x), GELU′ = Φ(x) + x·φ(x), φ the standard normal density.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>, layer: String = "GELU") throws -> Tensor<S> {
        guard dout.shape == cache.derivative.shape else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "upstream gradient \(describeShape(dout.shape)) for input \(describeShape(cache.derivative.shape))")
        }
        var dx = Tensor<S>(uninitializedShape: dout.shape)
        withSendablePointers(writing: &dx, reading: dout, cache.derivative) { target, upstream, slope in
            Parallel.forEachChunk(dout.count, minimumChunk: 8192) { range in
                let i = range.lowerBound
                backward(upstream.base + i, derivative: slope.base + i, into: target.base + i, count: range.count)
            }
        }
        return dx
    }

    /// out[i] = x[i]·Φ(x[i]) and derivative[i] = GELU′(x[i]) for `count` values, on the
    /// calling thread.
    @inlinable
    static func apply<S: TensorScalar>(_ x: UnsafePointer<S>, into out: UnsafeMutablePointer<S>,
                                       derivative slope: UnsafeMutablePointer<S>, count: Int) {
        if S.self == Float.self {
            let (x, out, slope) = (floats(x), mutableFloats(out), mutableFloats(slope))
            forEachVector(count) { i, lanes in
                let v = SIMD16(loading: x + i, lanes: lanes), g = gaussian(v), phi = cumulativeNormal(v, gaussian: g)
                (v * phi).store(to: out + i, lanes: lanes)
                derivative(v, gaussian: g, cumulative: phi).store(to: slope + i, lanes: lanes)
            }
        } else {
            let inverseSqrt2Pi = S(0.398_942_280_401_432_677_94)
            for i in 0..<count {
                let phi = cumulativeNormal(x[i])
                out[i] = x[i] * phi
                slope[i] = phi + x[i] * (inverseSqrt2Pi * S.exp(-x[i] * x[i] / 2))
            }
        }
    }

    /// dx[i] = d[i]·derivative[i] for `count` values, on the calling thread; dx may be d.
    @inlinable
    static func backward<S: TensorScalar>(_ d: UnsafePointer<S>, derivative slope: UnsafePointer<S>,
                                          into dx: UnsafeMutablePointer<S>, count: Int) {
        for i in 0..<count { dx[i] = d[i] * slope[i] }
    }

    @inlinable @inline(__always)
    static func floats<S>(_ p: UnsafePointer<S>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }

    @inlinable @inline(__always)
    static func mutableFloats<S>(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    /// Φ(x) = ½·(1 + erf(x/√2)).
    @inlinable @inline(__always)
    static func cumulativeNormal<S: TensorScalar>(_ x: S) -> S {
        (1 + S.erf(x * S(0.707_106_781_186_547_524_40))) / 2
    }

    // MARK: Float vectors

    /// x·Φ(x), within 5e-7 of the exact value on [−10, 10]; x beyond, 0 below.
    @inlinable
    public static func value(_ x: SIMD16<Float>) -> SIMD16<Float> {
        x * cumulativeNormal(x, gaussian: gaussian(x))
    }

    /// Φ(x) + x·φ(x), within 5e-7 of the exact value on [−10, 10]; 1 beyond, 0 below.
    @inlinable
    public static func derivative(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let g = gaussian(x)
        return derivative(x, gaussian: g, cumulative: cumulativeNormal(x, gaussian: g))
    }

    /// Φ(x) + x·φ(x) from Φ(x) and e^(−x²/2), which the value has computed already.
    @inlinable @inline(__always)
    static func derivative(_ x: SIMD16<Float>, gaussian g: SIMD16<Float>, cumulative phi: SIMD16<Float>) -> SIMD16<Float> {
        phi.addingProduct(x, g * 0.398_942_280)
    }

    /// e^(−x²/2), which both Φ and φ are built on. x² overflows to ∞ for huge |x|, and the
    /// exponential takes −∞ to 0.
    @inlinable @inline(__always)
    static func gaussian(_ x: SIMD16<Float>) -> SIMD16<Float> {
        exponential(x * x * -0.5)
    }

    /// Φ(x) from the normal tail Φ(−|x|) = ½·erfc(|x|/√2), with erfc(z) = t·P(t)·e^(−z²),
    /// t = 1/(1 + p·z) (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7). Working from the tail
    /// keeps Φ's tiny values for negative x accurate instead of rounding 1 + erf to 0.
    @inlinable @inline(__always)
    static func cumulativeNormal(_ x: SIMD16<Float>, gaussian: SIMD16<Float>) -> SIMD16<Float> {
        let magnitude = unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7fff_ffff, to: SIMD16<Float>.self)
        let t = 1 / (magnitude * (0.327_591_1 * 0.707_106_781) + 1)
        var p = SIMD16<Float>(repeating: 1.061_405_429)
        p = SIMD16(repeating: -1.453_152_027).addingProduct(p, t)
        p = SIMD16(repeating: 1.421_413_741).addingProduct(p, t)
        p = SIMD16(repeating: -0.284_496_736).addingProduct(p, t)
        p = SIMD16(repeating: 0.254_829_592).addingProduct(p, t)
        let tail = p * t * gaussian * 0.5
        // A NaN fails the comparison and stays NaN through 1 − tail.
        return (1 - tail).replacing(with: tail, where: x .< 0)
    }

    /// e^x for x ≤ 0, as Cephes' expf: x = n·ln 2 + r with |r| ≤ ½·ln 2, e^r by a degree-6
    /// polynomial and 2^n written straight into the exponent bits. Below −87.34 2^n would leave
    /// the normal range, so the result flushes to 0 there (e^x < 1.2e-38).
    @inlinable @inline(__always)
    static func exponential(_ x: SIMD16<Float>) -> SIMD16<Float> {
        // Adding 1.5·2²³ rounds to an integer that lands in the low mantissa bits.
        let roundingShift: Float = 12_582_912
        let shifted = x * 1.442_695_041 + roundingShift
        let n = shifted - roundingShift
        // ln 2 in two parts, so n·ln 2 is exact for every n this range produces.
        let r = x.addingProduct(n, -0.693_359_375).addingProduct(n, 2.121_944_40e-4)
        var p = SIMD16<Float>(repeating: 1.987_569_150e-4)
        p = SIMD16(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
        p = SIMD16(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
        p = SIMD16(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
        p = SIMD16(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
        p = SIMD16(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
        let polynomial = (r + 1).addingProduct(p, r * r)
        let exponent = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- Int32(bitPattern: roundingShift.bitPattern)
        let powerOfTwo = unsafeBitCast((exponent &+ 127) &<< 23, to: SIMD16<Float>.self)
        return (polynomial * powerOfTwo).replacing(with: 0, where: x .< -87.336_54)
    }

    /// Runs `body(i, lanes)` on each 16-element vector of 0..<count; the last may be partial.
    @inlinable @inline(__always)
    static func forEachVector(_ count: Int, _ body: (Int, Int) -> Void) {
        var i = 0
        while i < count {
            body(i, Swift.min(16, count - i))
            i += 16
        }
    }
}
