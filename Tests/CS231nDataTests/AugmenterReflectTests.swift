import CS231nData
import Testing

/// Reflect padding on a 4×4 image whose pixel (y, x) holds 4y + x:
///
///      0  1  2  3
///      4  5  6  7
///      8  9 10 11
///     12 13 14 15
///
/// Reflected about the edges, index −1 reads 1, −2 reads 2, 4 reads 2 and 5 reads 1.
@Suite struct AugmenterReflectTests {
    static let image = try! Tensor<Float>(shape: [1, 1, 4, 4], scalars: (0..<16).map(Float.init))

    func shifted(_ draw: Augmenter.Draw) -> [Float] {
        var batch = Self.image
        Augmenter.transform(&batch, draws: [draw], paddingMode: .reflect)
        return batch.scalars
    }

    @Test func horizontalShifts() {
        #expect(shifted(.init(mirrored: false, shiftX: 1, shiftY: 0)) == [1, 2, 3, 2, 5, 6, 7, 6, 9, 10, 11, 10, 13, 14, 15, 14])
        #expect(shifted(.init(mirrored: false, shiftX: -1, shiftY: 0)) == [1, 0, 1, 2, 5, 4, 5, 6, 9, 8, 9, 10, 13, 12, 13, 14])
        #expect(shifted(.init(mirrored: false, shiftX: 2, shiftY: 0)) == [2, 3, 2, 1, 6, 7, 6, 5, 10, 11, 10, 9, 14, 15, 14, 13])
        #expect(shifted(.init(mirrored: false, shiftX: -2, shiftY: 0)) == [2, 1, 0, 1, 6, 5, 4, 5, 10, 9, 8, 9, 14, 13, 12, 13])
    }

    @Test func verticalAndDiagonalShifts() {
        #expect(shifted(.init(mirrored: false, shiftX: 0, shiftY: 2)) == [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7])
        #expect(shifted(.init(mirrored: false, shiftX: 0, shiftY: -1)) == [4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
        #expect(shifted(.init(mirrored: false, shiftX: -2, shiftY: 1)) == [6, 5, 4, 5, 10, 9, 8, 9, 14, 13, 12, 13, 10, 9, 8, 9])
        #expect(shifted(.init(mirrored: false, shiftX: 2, shiftY: -2)) == [10, 11, 10, 9, 6, 7, 6, 5, 2, 3, 2, 1, 6, 7, 6, 5])
    }

    /// Flip first, then reflect-pad and crop: the flipped image's row 0 is 3 2 1 0, and a shift
    /// of +1 reads its columns 1, 2, 3, 2.
    @Test func flipThenShift() {
        #expect(shifted(.init(mirrored: true, shiftX: 1, shiftY: -1)) == [6, 5, 4, 5, 2, 1, 0, 1, 6, 5, 4, 5, 10, 9, 8, 9])
        #expect(shifted(.init(mirrored: true, shiftX: -2, shiftY: 0)) == [1, 2, 3, 2, 5, 6, 7, 6, 9, 10, 11, 10, 13, 14, 15, 14])
    }

    /// The padding mode changes only the pixels, not what a seed draws.
    @Test func sameDrawsAsZeroPadding() throws {
        var zeros = Augmenter(seed: 3, padding: 2), reflect = Augmenter(seed: 3, padding: 2, paddingMode: .reflect)
        var zeroBatch = Tensor<Float>.zeros([20, 1, 4, 4]), reflectBatch = zeroBatch
        #expect(try zeros.apply(to: &zeroBatch) == reflect.apply(to: &reflectBatch))
    }

    @Test func paddingMustBeSmallerThanTheImage() throws {
        var fits = Augmenter(seed: 1, padding: 3, paddingMode: .reflect)
        var square = Self.image
        try fits.apply(to: &square)
        var tooLarge = Augmenter(seed: 1, padding: 3, paddingMode: .reflect)
        var wide = Tensor<Float>.zeros([1, 1, 3, 5])
        #expect(throws: TensorError.invalidArgument(operation: "Augmenter.apply",
                                                    detail: "reflect padding 3 needs images larger than 3×3, got 3×5")) {
            try tooLarge.apply(to: &wide)
        }
        var zeroPadded = Augmenter(seed: 1, padding: 3)
        try zeroPadded.apply(to: &wide)
    }
}
