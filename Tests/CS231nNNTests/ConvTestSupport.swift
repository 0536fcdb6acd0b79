import Testing
@testable import CS231nNN

/// max |a − b| / max |b|: the error relative to the tensor's scale. Element-wise relative error
/// is meaningless for two summation orders of an output that happens to be near zero.
func normwiseRelativeError<S: TensorScalar>(_ a: Tensor<S>, _ b: Tensor<S>) -> S {
    precondition(a.shape == b.shape, "normwiseRelativeError: \(a.shape) vs \(b.shape)")
    let scale = Swift.max(b.abs().max(), a.abs().max(), S.leastNormalMagnitude)
    return (try! a - b).abs().max() / scale
}

/// Standard-normal test data from a fixed stream.
func randomNormal<S: TensorScalar>(_ shape: [Int], seed: UInt64, scale: S = 1, as _: S.Type = S.self) -> Tensor<S> {
    var generator = RandomGenerator(seed: seed)
    return Tensor<S>.randn(shape, scale: scale, using: &generator)
}

/// The error message of what `body` throws, or "" when it does not throw.
func thrownMessage(_ body: () throws -> Void) -> String {
    do { try body() } catch { return String(describing: error) }
    return ""
}
