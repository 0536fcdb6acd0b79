import Foundation

/// xoshiro256** (Blackman & Vigna), seeded through SplitMix64: small, fast and well tested.
/// Every random draw in the project goes through one of these, so the same seed gives the same
/// numbers on every run, whatever the thread count (no draw is made inside a parallel loop).
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    @usableFromInline var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator for `seed`. Different `stream`s give statistically independent sequences, so
    /// that, e.g., data order and weight initialisation do not disturb each other.
    public init(seed: UInt64, stream: RandomStream = .main) {
        var mixer = SplitMix64(state: seed ^ (stream.rawValue &* 0x9E37_79B9_7F4A_7C15))
        state = (mixer.next(), mixer.next(), mixer.next(), mixer.next())
    }

    @inlinable
    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    @inlinable
    func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1), from the top 53 bits.
    @inlinable
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Standard normal, by Box–Muller (both outputs of a pair are used in turn by `fillNormal`).
    @inlinable
    public mutating func nextNormalPair() -> (Double, Double) {
        var u1 = nextUniform()
        while u1 == 0 { u1 = nextUniform() }
        let u2 = nextUniform()
        let radius = (-2 * Foundation.log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        return (radius * Foundation.cos(angle), radius * Foundation.sin(angle))
    }

    public mutating func nextNormal() -> Double { nextNormalPair().0 }

    /// A uniformly random integer in 0..<upperBound (unbiased).
    @inlinable
    public mutating func nextInt(below upperBound: Int) -> Int {
        precondition(upperBound > 0, "RandomGenerator: upper bound must be positive")
        return Int(next(upperBound: UInt64(upperBound)))
    }

    /// The numbers 0..<n in random order (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var order = Array(0..<n)
        shuffle(&order)
        return order
    }

    public mutating func shuffle<T>(_ values: inout [T]) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            values.swapAt(i, nextInt(below: i + 1))
        }
    }

    /// `count` indices drawn from 0..<population with replacement (numpy's `choice(replace=True)`).
    public mutating func sampleWithReplacement(count: Int, from population: Int) -> [Int] {
        (0..<count).map { _ in nextInt(below: population) }
    }

    /// `count` distinct indices from 0..<population, in random order.
    public mutating func sampleWithoutReplacement(count: Int, from population: Int) -> [Int] {
        precondition(count <= population, "RandomGenerator: cannot draw \(count) distinct from \(population)")
        return Array(permutation(population).prefix(count))
    }
}

/// Named, independent random streams derived from one seed.
public struct RandomStream: RawRepresentable, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let main = RandomStream(rawValue: 0)
    public static let initialization = RandomStream(rawValue: 1)
    public static let dataOrder = RandomStream(rawValue: 2)
    public static let dropout = RandomStream(rawValue: 3)
    public static let augmentation = RandomStream(rawValue: 4)
    public static let dataset = RandomStream(rawValue: 5)
}

@usableFromInline
struct SplitMix64 {
    @usableFromInline var state: UInt64
    @usableFromInline
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Tensor {
    /// Standard normal samples times `scale` (numpy's `scale * randn(*shape)`).
    public static func randn(_ shape: [Int], scale: Scalar = 1, using rng: inout RandomGenerator) -> Tensor {
        var result = Tensor(uninitializedShape: shape)
        result.withUnsafeMutableBufferPointer { out in
            var i = 0
            while i < out.count {
                let (a, b) = rng.nextNormalPair()
                out[i] = Scalar(a) * scale
                if i + 1 < out.count { out[i + 1] = Scalar(b) * scale }
                i += 2
            }
        }
        return result
    }

    /// Uniform samples in [low, high).
    public static func uniform(_ shape: [Int], low: Scalar = 0, high: Scalar = 1,
                               using rng: inout RandomGenerator) -> Tensor {
        var result = Tensor(uninitializedShape: shape)
        result.withUnsafeMutableBufferPointer { out in
            for i in 0..<out.count { out[i] = low + (high - low) * Scalar(rng.nextUniform()) }
        }
        return result
    }
}
