import CS231nData
import Testing

@Suite struct AugmenterTests {
    /// A batch whose every value is distinct: value = n·10⁴ + c·10³ + y·32 + x.
    func batch(_ n: Int) -> Tensor<Float> {
        var t = Tensor<Float>.zeros([n, 3, 32, 32])
        for i in 0..<n { for c in 0..<3 { for y in 0..<32 { for x in 0..<32 {
            t[i, c, y, x] = Float(i * 10_000 + c * 1_000 + y * 32 + x)
        } } } }
        return t
    }

    @Test func sameSeedSameBatches() throws {
        var first = Augmenter(seed: 11), second = Augmenter(seed: 11), other = Augmenter(seed: 12)
        var a = batch(6), b = batch(6), c = batch(6)
        for _ in 0..<3 {
            try first.apply(to: &a)
            try second.apply(to: &b)
            try other.apply(to: &c)
        }
        #expect(a == b)
        #expect(a != c)
    }

    @Test func eachImageIsItsFlipAndShift() throws {
        var augmenter = Augmenter(seed: 5)
        let original = batch(16)
        var augmented = original
        let draws = try augmenter.apply(to: &augmented)
        #expect(draws.contains { $0.mirrored } && draws.contains { !$0.mirrored })
        #expect(draws.allSatisfy { abs($0.shiftX) <= 4 && abs($0.shiftY) <= 4 })
        for (n, draw) in draws.enumerated() {
            for c in 0..<3 { for y in 0..<32 { for x in 0..<32 {
                let sy = y + draw.shiftY, sx = x + draw.shiftX
                let inside = (0..<32).contains(sy) && (0..<32).contains(sx)
                let expected = inside ? original[n, c, sy, draw.mirrored ? 31 - sx : sx] : 0
                #expect(augmented[n, c, y, x] == expected)
            } } }
        }
    }

    @Test func flipOnlyMirrorsExactly() throws {
        var augmenter = Augmenter(seed: 1, flip: true, padding: 0)
        let original = batch(8)
        var augmented = original
        let draws = try augmenter.apply(to: &augmented)
        for (n, draw) in draws.enumerated() {
            #expect(augmented[n, 1, 5, 0] == original[n, 1, 5, draw.mirrored ? 31 : 0])
        }
        var wrong = Tensor<Float>.zeros([2, 3072])
        #expect(throws: TensorError.self) { try augmenter.apply(to: &wrong) }
    }

    @Test func alternatingFlipShowsEveryImageBothWaysInAnyTwoEpochs() {
        let images = 0..<10_000
        for epoch in 0..<4 {
            #expect(images.allSatisfy {
                Augmenter.alternatingMirror(index: $0, epoch: epoch, seed: 3) != Augmenter.alternatingMirror(index: $0, epoch: epoch + 1, seed: 3)
            })
        }
        let mirrored = images.filter { Augmenter.alternatingMirror(index: $0, epoch: 0, seed: 3) }.count
        #expect(abs(mirrored - 5_000) < 250, "about half start mirrored: \(mirrored)")
        let otherSeed = images.filter {
            Augmenter.alternatingMirror(index: $0, epoch: 0, seed: 3) != Augmenter.alternatingMirror(index: $0, epoch: 0, seed: 4)
        }.count
        #expect(abs(otherSeed - 5_000) < 250, "another seed draws other coins: \(otherSeed) differ")
    }
}
