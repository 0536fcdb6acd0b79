import CS231nData
import Foundation
import Testing

/// Batches and augmentation draw exactly what the Solver and the training command drew before
/// they had their own types, so that training stays bit-identical and old runs resume alike.
@Suite struct BatchingTests {
    /// The Solver's former order: a permutation on the dataOrder stream, seeded by seed + epoch·φ.
    static func formerOrder(seed: UInt64, epoch: Int, count: Int) -> [Int] {
        var generator = RandomGenerator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15, stream: .dataOrder)
        return generator.permutation(count)
    }

    @Test func theOrderIsTheFormerPermutationCutIntoBatches() {
        for (seed, epoch, count, size) in [(0 as UInt64, 1, 103, 10), (7, 3, 64, 64), (123, 12, 5, 2)] {
            let order = BatchOrder(seed: seed, epoch: epoch, count: count, batchSize: size)
            let former = Self.formerOrder(seed: seed, epoch: epoch, count: count)
            #expect(order.order == former)
            #expect(order.count == (count + size - 1) / size)
            #expect((0..<order.count).flatMap { order[$0] } == former)
            #expect(order[order.count - 1].count == count - (order.count - 1) * size)
        }
        #expect(BatchOrder(seed: 1, epoch: 1, count: 50, batchSize: 5).order != BatchOrder(seed: 1, epoch: 2, count: 50, batchSize: 5).order)
    }

    @Test func gatheringCopiesTheRowsAndReusesTheBuffer() throws {
        let data = try LabeledTensors(x: Tensor<Float>(shape: [5, 2, 3], scalars: (0..<30).map { Float($0) }), y: [0, 1, 2, 3, 4])
        var batch = Tensor<Float>.zeros([0])
        data.gather([4, 0, 4], into: &batch)
        #expect(batch.shape == [3, 2, 3])
        let rows: [Int] = Array(24..<30) + Array(0..<6) + Array(24..<30)
        #expect(batch.scalars == rows.map { Float($0) })
        data.gather([1, 2, 3], into: &batch)
        #expect(batch.scalars == (6..<24).map { Float($0) })
        #expect(throws: TensorError.self) { try LabeledTensors(x: Tensor<Float>.zeros([3, 2]), y: [0, 1]) }
    }

    /// The training command's former augmentation closure, written out.
    static func formerAugmentation(_ batch: inout Tensor<Float>, alternating: Bool, seed: UInt64, indices: [Int], epoch: Int,
                                   iteration: Int) throws {
        var augmenter = Augmenter(seed: seed &+ UInt64(iteration) &* 0x2545_F491_4F6C_DD1D, flip: true, padding: 2,
                                  paddingMode: .reflect)
        var draws = try augmenter.draws(for: batch)
        if alternating {
            for (row, index) in indices.enumerated() {
                draws[row].mirrored = Augmenter.alternatingMirror(index: index, epoch: epoch, seed: seed)
            }
        }
        Augmenter.transform(&batch, draws: draws, paddingMode: .reflect)
    }

    @Test func augmentationDrawsWhatTheTrainingCommandDrew() throws {
        var rng = RandomGenerator(seed: 2)
        let original = Tensor<Float>.randn([12, 3, 32, 32], using: &rng)
        let indices = [5, 0, 17, 3, 99, 42, 8, 1, 2, 64, 30, 11]
        for kind in [Augmentation.Kind.flipTranslate, .alternatingFlipTranslate] {
            for (seed, epoch, iteration) in [(0 as UInt64, 0, 0), (9, 3, 41)] {
                var ours = original, former = original
                try Augmentation(kind).apply(to: &ours, origin: BatchOrigin(indices: indices, epoch: epoch, iteration: iteration, seed: seed))
                try Self.formerAugmentation(&former, alternating: kind == .alternatingFlipTranslate, seed: seed, indices: indices,
                                            epoch: epoch, iteration: iteration)
                #expect(ours == former && ours != original, "\(kind) seed \(seed) iteration \(iteration)")
            }
        }
        var untouched = original
        try Augmentation.none.apply(to: &untouched, origin: BatchOrigin(indices: indices, epoch: 0, iteration: 0, seed: 0))
        #expect(untouched == original)
        #expect(throws: TensorError.self) {
            try Augmentation(.alternatingFlipTranslate).apply(to: &untouched, origin: BatchOrigin(indices: [1], epoch: 0, iteration: 0, seed: 0))
        }
    }

    @Test func augmentationRoundTripsThroughJSON() throws {
        let augmentation = Augmentation(.alternatingFlipTranslate, padding: 4, paddingMode: .zeros)
        let json = try JSONEncoder().encode(augmentation)
        #expect(try JSONDecoder().decode(Augmentation.self, from: json) == augmentation)
        #expect(Augmentation(.flipTranslate) == Augmentation(.flipTranslate, padding: 2, paddingMode: .reflect))
    }
}
