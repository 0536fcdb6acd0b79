/// The Gaussian error linear unit (Hendrycks & Gimpel 2016) in its exact form,
/// out = x·Φ(x) = ½·x·(1 + erf(x/√2)), the activation of modern conv nets.
public enum GELU {
    public struct Cache<S: TensorScalar>: Sendable {
        public var x: Tensor<S>

        @inlinable
        public init(x: Tensor<S>) { self.x = x }
    }

    @inlinable
    public static func forward<S>(_ x: Tensor<S>) -> (out: Tensor<S>, cache: Cache<S>) {
        var out = Tensor<S>(uninitializedShape: x.shape)
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                let input = SendableConstPointer(xb.baseAddress!), output = SendablePointer(ob.baseAddress!)
                Parallel.forEachChunk(xb.count, minimumChunk: 8192) { range in
                    for i in range { output.base[i] = input.base[i] * cumulativeNormal(input.base[i]) }
                }
            }
        }
        return (out, Cache(x: x))
    }

    /// d/dx x·Φ(x) = Φ(x) + x·φ(x), φ the standard normal density.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>, layer: String = "GELU") throws -> Tensor<S> {
        guard dout.shape == cache.x.shape else {
            throw TensorError.shapeMismatch(operation: layer,
                detail: "upstream gradient \(describeShape(dout.shape)) for input \(describeShape(cache.x.shape))")
        }
        var dx = Tensor<S>(uninitializedShape: dout.shape)
        let inverseSqrt2Pi = S(0.398_942_280_401_432_677_94)
        cache.x.withUnsafeBufferPointer { xb in
            dout.withUnsafeBufferPointer { db in
                dx.withUnsafeMutableBufferPointer { dxb in
                    let input = SendableConstPointer(xb.baseAddress!), upstream = SendableConstPointer(db.baseAddress!)
                    let target = SendablePointer(dxb.baseAddress!)
                    Parallel.forEachChunk(xb.count, minimumChunk: 8192) { range in
                        for i in range {
                            let x = input.base[i]
                            let density = inverseSqrt2Pi * S.exp(-x * x / 2)
                            target.base[i] = upstream.base[i] * (cumulativeNormal(x) + x * density)
                        }
                    }
                }
            }
        }
        return dx
    }

    /// Φ(x) = ½·(1 + erf(x/√2)).
    @inlinable @inline(__always)
    static func cumulativeNormal<S: TensorScalar>(_ x: S) -> S {
        (1 + S.erf(x * S(0.707_106_781_186_547_524_40))) / 2
    }
}
