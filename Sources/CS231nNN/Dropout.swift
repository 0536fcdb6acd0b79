/// Inverted dropout (Srivastava et al. 2014, as CS231n writes it): while training, each unit is
/// kept with probability p and scaled by 1/p, so testing is the identity.
public enum Dropout {
    public struct Cache<S: TensorScalar>: Sendable {
        /// 1/p where the unit was kept, 0 where it was dropped; empty when testing.
        public var mask: Tensor<S>
        public var mode: Mode

        @inlinable
        public init(mask: Tensor<S>, mode: Mode) { self.mask = mask; self.mode = mode }
    }

    /// `keepProbability` is p (CS231n's `dropout_param['p']`). The mask is drawn from
    /// `generator`, so the same generator state gives the same mask.
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, keepProbability: S, mode: Mode,
                                  generator: inout RandomGenerator) throws -> (out: Tensor<S>, cache: Cache<S>) {
        guard keepProbability > 0, keepProbability <= 1 else {
            throw TensorError.invalidArgument(operation: "Dropout.forward",
                                              detail: "keep probability \(keepProbability) is not in (0, 1]")
        }
        guard mode == .train, keepProbability < 1 else { return (x, Cache(mask: Tensor(shape: [0], repeating: 0), mode: .test)) }
        var mask = Tensor<S>(uninitializedShape: x.shape)
        let scale = 1 / keepProbability, threshold = Double(keepProbability)
        mask.withUnsafeMutableBufferPointer { m in
            for i in 0..<m.count { m[i] = generator.nextUniform() < threshold ? scale : 0 }
        }
        return (try x * mask, Cache(mask: mask, mode: .train))
    }

    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> Tensor<S> {
        guard cache.mode == .train else { return dout }
        guard dout.shape == cache.mask.shape else {
            throw TensorError.shapeMismatch(operation: "Dropout.backward",
                detail: "upstream gradient \(describeShape(dout.shape)) for mask \(describeShape(cache.mask.shape))")
        }
        return try dout * cache.mask
    }
}
