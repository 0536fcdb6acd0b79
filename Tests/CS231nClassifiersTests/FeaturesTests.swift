import CS231nClassifiers
import CS231nData
import Foundation
import Testing

@Suite("Image features")
struct FeaturesTests {
    /// Expected HOG of a one-cell-high image as (cell, bin) → value; every other bin is 0.
    private func expectHistogram(_ features: [Float], cells: Int, _ expected: [Int: [Int: Float]],
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(features.count == cells * 9, sourceLocation: sourceLocation)
        for cell in 0..<cells {
            for bin in 0..<9 {
                let want = expected[cell]?[bin] ?? 0
                #expect(abs(features[cell * 9 + bin] - want) < 1e-5,
                        "cell \(cell) bin \(bin): \(features[cell * 9 + bin]) vs \(want)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("HOG of a horizontal ramp: all gradient in bin 0, the last column has none")
    func hogOfRamp() {
        // 8×16, gray = 3x: gx = 3 except in the last column (0), gy = 0. Orientation 0° → bin 0.
        // Cell 0 (x 0…7): 64 pixels of magnitude 3 → mean 3. Cell 1: 56 of 3, 8 of 0 → 2.625.
        let rising = (0..<8).flatMap { _ in (0..<16).map { Float(3 * $0) } }
        expectHistogram(HOG.features(gray: rising, height: 8, width: 16), cells: 2, [0: [0: 3], 1: [0: 2.625]])
        // A falling ramp points the other way (180°), which unsigned HOG folds onto 0°.
        let falling = rising.map { 100 - $0 }
        expectHistogram(HOG.features(gray: falling, height: 8, width: 16), cells: 2, [0: [0: 3], 1: [0: 2.625]])
    }

    @Test("HOG of a diagonal ramp: 45° inside, 90° on the last column, 0° on the last row")
    func hogOfDiagonal() {
        // 8×8, gray = 2x + 2y. Interior 7×7: gx = gy = 2, 45° → bin 2 (40°–60°), magnitude 2√2.
        // Last column (7 pixels): gx = 0, gy = 2, 90° → bin 4. Last row (7): gx = 2, 0° → bin 0.
        // The corner has no gradient. Each bin holds Σ magnitude / 64.
        let gray = (0..<8).flatMap { y in (0..<8).map { x in Float(2 * x + 2 * y) } }
        expectHistogram(HOG.features(gray: gray, height: 8, width: 8), cells: 1,
                        [0: [2: 49 * 2 * Float(2).squareRoot() / 64, 4: 14.0 / 64, 0: 14.0 / 64]])
    }

    @Test("Hue follows matplotlib's rgb_to_hsv")
    func hues() {
        #expect(HueHistogram.hue(red: 1, green: 0, blue: 0) == 0)
        #expect(abs(HueHistogram.hue(red: 1, green: 1, blue: 0) - 1.0 / 6) < 1e-6)   // yellow, 60°
        #expect(abs(HueHistogram.hue(red: 0, green: 1, blue: 0) - 1.0 / 3) < 1e-6)
        #expect(abs(HueHistogram.hue(red: 0, green: 1, blue: 1) - 0.5) < 1e-6)       // cyan
        #expect(abs(HueHistogram.hue(red: 0, green: 0, blue: 1) - 2.0 / 3) < 1e-6)
        #expect(abs(HueHistogram.hue(red: 1, green: 0, blue: 1) - 5.0 / 6) < 1e-6)   // magenta
        #expect(abs(HueHistogram.hue(red: 1, green: 0, blue: 0.5) - 11.0 / 12) < 1e-6)
        #expect(HueHistogram.hue(red: 0.5, green: 0.5, blue: 0.5) == 0)               // gray
    }

    @Test("Hue histogram of red, green, blue and gray pixels")
    func hueHistogram() {
        // CHW planes of 4 pixels: red, green, blue, gray. Hues 0, 1/3, 2/3, 0 → bins 0, 3, 6, 0.
        let rgb: [UInt8] = [255, 0, 0, 128, 0, 255, 0, 128, 0, 0, 255, 128]
        let histogram = HueHistogram.features(rgb, pixels: 4, bins: 10)
        #expect(histogram == [0.5, 0, 0, 0.25, 0, 0, 0.25, 0, 0, 0])
    }

    @Test("The extractor concatenates HOG and hue per image, the same in parallel as one by one")
    func extractor() throws {
        let images = BuiltinDataset.generate(count: 130, seed: 4)
        let extractor = FeatureExtractor([.hog, .color])
        #expect(extractor.dimension == 144 + 10)
        let all = extractor.extract(images, as: Float.self)
        #expect(all.shape == [130, 154])
        for index in [0, 77, 129] {
            let one = extractor.extract(images.subset([index]), as: Float.self)
            #expect(one.scalars == Array(all.scalars[index * 154..<(index + 1) * 154]))
            let hue = HueHistogram.features(Array(images.imageBytes(index)), pixels: 1024)
            #expect(Array(one.scalars[144...]) == hue)
        }
        #expect(FeatureExtractor([.color]).extract(images, as: Double.self).shape == [130, 10])
    }

    @Test("A flat gray image has no gradients and all its hue in bin 0")
    func flatImage() {
        let images = LabeledImages(pixels: [UInt8](repeating: 90, count: 3072), labels: [0], classNames: ["flat"])
        let features = FeatureExtractor().extract(images, as: Float.self).scalars
        #expect(features[0..<144].allSatisfy { $0 == 0 })
        #expect(Array(features[144...]) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test("Feature names parse, unknown ones are named in the error")
    func parseFeatures() throws {
        #expect(try ImageFeature.parseList("hog+color") == [.hog, .color])
        #expect(try ImageFeature.parseList("color") == [.color])
        #expect(throws: LinearClassifierError.invalidSetting("unknown feature 'sift' in 'hog+sift'; expected hog, color or hog+color")) {
            try ImageFeature.parseList("hog+sift")
        }
    }

    @Test("Standardisation centres and scales with training statistics and appends the bias column")
    func normalization() throws {
        let rows = try Tensor<Double>(shape: [4, 2], scalars: [1, 10, 3, 10, 5, 10, 7, 10])
        let fitted = try Preprocessor.fit(.featureStandardization, on: rows)
        #expect(fitted.mean == [4, 10])
        #expect(abs(fitted.scale[0] - 5.0.squareRoot()) < 1e-12)
        #expect(fitted.scale[1] == 1)   // a constant column is left unscaled
        let applied = try fitted.applied(to: rows, appendingBias: true)
        #expect(applied.shape == [4, 3])
        let root5 = 5.0.squareRoot()
        let expected = [-3 / root5, 0, 1, -1 / root5, 0, 1, 1 / root5, 0, 1, 3 / root5, 0, 1]
        #expect(zip(applied.scalars, expected).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(throws: TensorError.self) { try fitted.applied(to: Tensor<Double>.zeros([2, 3]), appendingBias: true) }
    }

    @Test("The mean image from bytes matches the mean of the rows")
    func meanImage() throws {
        let images = BuiltinDataset.generate(count: 20, seed: 1)
        let fromBytes = try Preprocessor.meanImage(of: images, scale: 1)
        let fromRows = try Preprocessor.fit(.meanImage, on: images.rows(Double.self))
        #expect(fromBytes.mean == fromRows.mean)
        let inputs = try fromBytes.rows(images, appendingBias: true, as: Double.self)
        #expect(inputs.shape == [20, 3073])
        #expect(inputs[3, 3072] == 1)
        #expect(inputs[3, 5] == Double(images.pixels[3 * 3072 + 5]) - fromBytes.mean[5])
    }
}
