import Testing
@testable import CS231nTensor

struct ParallelTests {
    @Test func chunksCoverEveryIndexOnce() {
        for count in [0, 1, 5, 1000, 1001] {
            for parts in [1, 2, 3, 7] where parts <= Swift.max(count, 1) {
                let ranges = (0..<parts).map { Parallel.chunkRange($0, of: parts, count: count) }
                #expect(ranges.flatMap { Array($0) } == Array(0..<count))
            }
        }
    }

    @Test func forEachChunkWritesEveryItem() {
        var out = [Int](repeating: 0, count: 10_007)
        out.withUnsafeMutableBufferPointer { buffer in
            let target = SendablePointer(buffer.baseAddress!)
            Parallel.forEachChunk(buffer.count) { range in
                for i in range { target.base[i] = i * 2 }
                // A nested loop runs serially on this worker instead of oversubscribing.
                Parallel.forEachChunk(4) { inner in #expect(inner == 0..<4) }
            }
        }
        #expect(out == (0..<10_007).map { $0 * 2 })
    }
}

struct GradientCheckTests {
    /// The ordered sum that adds its partials to the result on every thread gives the bits of
    /// the one that adds them on the calling thread: each scalar adds the blocks in order.
    @Test func orderedSumIntoAResultMatchesTheSerialCombine() {
        let items = 29, size = 70_001
        var rng = RandomGenerator(seed: 47)
        let terms = Tensor<Float>.randn([items, size], scale: 1e3, using: &rng)
        var serial = [Float](repeating: 0, count: size), parallel = [Float](repeating: 0, count: size)
        terms.withUnsafeBufferPointer { t in
            let source = SendableConstPointer(t.baseAddress!)
            let fill: @Sendable (OrderedSum.Partials<Float>, Range<Int>) -> Void = { sums, blocks in
                for block in blocks {
                    for item in sums.items(of: block) {
                        for i in 0..<size { sums.partial(block)[i] += source.base[item * size + i] }
                    }
                }
            }
            serial.withUnsafeMutableBufferPointer { result in
                OrderedSum.sum(items: items, size: size, fill: fill) { partial in
                    for i in 0..<size { result[i] += partial[i] }
                }
            }
            parallel.withUnsafeMutableBufferPointer { result in
                OrderedSum.sum(items: items, size: size, into: result.baseAddress!, fill: fill)
            }
        }
        #expect(serial == parallel)
        #expect(serial.contains { $0 != 0 })
    }

    @Test func numericGradientOfSmoothFunction() throws {
        let x = try Tensor<Double>(shape: [2, 2], scalars: [0.5, -1, 2, 0.25])
        // f = Σ x³ ⇒ ∂f/∂x = 3x²
        let numeric = GradientCheck.numericGradient(at: x) { $0.pow(3).sum() }
        #expect(GradientCheck.relativeError(numeric, x.pow(2) * 3) < 1e-8)
        let upstream = try Tensor<Double>(shape: [2, 2], scalars: [1, 2, 3, 4])
        let arrayNumeric = try GradientCheck.numericGradient(at: x, upstream: upstream) { $0.exp() }
        #expect(GradientCheck.relativeError(arrayNumeric, try x.exp() * upstream) < 1e-8)
    }

    @Test func relativeErrorMatchesCS231n() {
        #expect(GradientCheck.relativeError(1.0, 1.0) == 0)
        #expect(Swift.abs(GradientCheck.relativeError(1.0, 3.0) - 0.5) < 1e-15)
        #expect(GradientCheck.relativeError(0.0, 0.0) == 0)
    }

    @Test func sparseCheckSkipsKinks() throws {
        // f = Σ max(0, x): coordinates within h of 0 are kinks.
        let x = try Tensor<Double>(shape: [4], scalars: [1, -2, 1e-7, 3])
        let analytic = x .> 0
        let report = try GradientCheck.sparse(at: x, analytic: analytic, samples: 40, h: 1e-5, seed: 1) {
            $0.maximum(0).sum()
        }
        #expect(report.skippedKinks > 0)
        #expect(report.checked + report.skippedKinks == 40)
        #expect(report.maxRelativeError < 1e-9)
        #expect(!report.rows.contains { $0.index == 2 })
    }

    @Test func sparseCheckCatchesAWrongGradient() throws {
        let x = try Tensor<Double>(shape: [3], scalars: [1, 2, 3])
        let wrong = x * 3  // the true gradient of Σx² is 2x
        let report = try GradientCheck.sparse(at: x, analytic: wrong, samples: 5) { $0.pow(2).sum() }
        #expect(report.maxRelativeError > 0.1)
    }
}
