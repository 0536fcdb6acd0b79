import CS231nData
import Foundation
import Testing

/// The three preprocessings against the formulas they replace, written out here plainly: the
/// nets' mean image and channel statistics, and the linear classifiers' feature statistics.
@Suite struct PreprocessorTests {
    static let images = BuiltinDataset.generate(count: 64, seed: 3)

    /// Per-value means in Double, row by row.
    static func referenceMeans(_ rows: [[Double]]) -> [Double] {
        (0..<rows[0].count).map { j in rows.reduce(0) { $0 + $1[j] } / Double(rows.count) }
    }

    static func pixelRows(_ images: LabeledImages) -> [[Double]] {
        (0..<images.count).map { images.imageBytes($0).map(Double.init) }
    }

    @Test func theMeanImageIsTheTrainingMeanAndDividesBy255() throws {
        let preprocessor = try Preprocessor.fit(.meanImage, on: Self.images)
        #expect(preprocessor.kind == .meanImage && preprocessor.dimension == 3072)
        #expect(preprocessor.mean == Self.referenceMeans(Self.pixelRows(Self.images)))
        #expect(preprocessor.scale.allSatisfy { $0 == 255 })
        #expect(try Preprocessor.fit(.meanImage, on: Self.images.rows(Float.self)) == preprocessor)
        let x = try preprocessor.rows(Self.images, as: Float.self)
        for (n, j) in [(0, 0), (5, 1500), (63, 3071)] {
            let expected = (Float(Self.images.pixels[n * 3072 + j]) - Float(preprocessor.mean[j])) / 255
            #expect(x[n, j] == expected)
        }
        var inPlace = Self.images.rows(Float.self)
        try preprocessor.apply(to: &inPlace)
        #expect(inPlace == x)
        let pixels = try preprocessor.inverse(x)
        #expect(zip(pixels.scalars, Self.images.pixels).allSatisfy { abs($0 - Float($1)) < 1e-3 })
    }

    /// airbench's per-channel statistics: the mean square minus the squared mean, plus 1e-8.
    @Test func channelStandardizationGivesEachChannelZeroMeanAndUnitVariance() throws {
        let preprocessor = try Preprocessor.fit(.channelStandardization, on: Self.images)
        #expect(try Preprocessor.fit(.channelStandardization, on: Self.images.images(Float.self)) == preprocessor)
        let rows = Self.pixelRows(Self.images)
        for c in 0..<3 {
            let values = rows.flatMap { $0[(c * 1024)..<((c + 1) * 1024)] }
            let mean = values.reduce(0, +) / Double(values.count)
            let meanSquare = values.reduce(0) { $0 + $1 * $1 } / Double(values.count)
            #expect(abs(preprocessor.mean[c * 1024 + 17] - mean) < 1e-9)
            #expect(abs(preprocessor.scale[c * 1024 + 1023] - ((meanSquare - mean * mean).squareRoot() + 1e-8)) < 1e-9)
        }
        var x = Self.images.images(Float.self)
        try preprocessor.apply(to: &x)
        for c in 0..<3 {
            var sum = 0.0, squares = 0.0
            for n in 0..<64 { for y in 0..<32 { for col in 0..<32 {
                let v = Double(x[n, c, y, col])
                sum += v
                squares += v * v
            } } }
            #expect(abs(sum / 65536) < 1e-3 && abs(squares / 65536 - 1) < 1e-3)
        }
        let back = try preprocessor.inverse(x)
        #expect(zip(back.scalars, Self.images.pixels).allSatisfy { abs($0 - Float($1)) < 1e-3 })
    }

    /// The features notebook: two-pass population deviation, a constant feature left unscaled,
    /// and 1/std multiplied in, in the input's precision; then the bias column.
    @Test func featureStandardizationMatchesNumPyStdAndAppendsTheBias() throws {
        let values: [Double] = [1, 5, 7, 2, 5, -1, 3, 5, 4, 10, 5, 0]
        let rows = try Tensor<Double>(shape: [4, 3], scalars: values)
        let preprocessor = try Preprocessor.fit(.featureStandardization, on: rows)
        let means = Self.referenceMeans((0..<4).map { Array(values[($0 * 3)..<($0 * 3 + 3)]) })
        #expect(preprocessor.mean == means)
        let first = (0..<4).map { values[$0 * 3] }
        let deviation = (first.reduce(0) { $0 + ($1 - means[0]) * ($1 - means[0]) } / 4).squareRoot()
        #expect(preprocessor.scale[0] == deviation && preprocessor.scale[1] == 1)
        let floats = rows.converted(to: Float.self)
        let inputs = try preprocessor.applied(to: floats, appendingBias: true)
        #expect(inputs.shape == [4, 4])
        for n in 0..<4 {
            for d in 0..<3 {
                let expected = (floats[n, d] - Float(means[d])) * (1 / Float(preprocessor.scale[d]))
                #expect(inputs[n, d] == expected)
            }
            #expect(inputs[n, 3] == 1)
        }
        let standardized = try preprocessor.applied(to: rows)
        #expect(abs(standardized[3, 0] - (10 - means[0]) / deviation) < 1e-12 && standardized[2, 1] == 0)
    }

    @Test func itRoundTripsThroughJSONAndRefusesBadStatistics() throws {
        let preprocessor = try Preprocessor.fit(.channelStandardization, on: Self.images)
        let json = try JSONEncoder().encode(preprocessor)
        #expect(try JSONDecoder().decode(Preprocessor.self, from: json) == preprocessor)
        let bad = #"{"kind":"mean-image","mean":[1,2],"scale":[255,0]}"#
        #expect(throws: TensorError.self) { try JSONDecoder().decode(Preprocessor.self, from: Data(bad.utf8)) }
        #expect(throws: TensorError.self) { try Preprocessor(kind: .meanImage, mean: [1, 2], scale: [255]) }
        #expect(throws: TensorError.self) { try Preprocessor(kind: .meanImage, mean: [.nan], scale: [255]) }
    }

    @Test func shapesThatDoNotFitAreNamed() throws {
        let preprocessor = try Preprocessor.fit(.meanImage, on: Self.images)
        var wrong = Tensor<Float>.zeros([2, 3071])
        #expect(throws: TensorError.self) { try preprocessor.apply(to: &wrong) }
        #expect(throws: TensorError.self) { try preprocessor.inverse(Tensor<Float>.zeros([3072])) }
        let features = try Preprocessor.fit(.featureStandardization, on: Tensor<Float>.ones([3, 5]))
        #expect(throws: TensorError.self) { try features.rows(Self.images, as: Float.self) }
        #expect(throws: TensorError.self) { try Preprocessor.fit(.meanImage, on: Tensor<Float>.zeros([0, 4])) }
        #expect(throws: TensorError.self) { try Preprocessor.meanImage(of: Self.images.slice(0..<0)) }
    }

    @Test func preparedDataShapesEverySplitAndKeepsItsOrigin() throws {
        let splits = try Dataset.builtin(count: 50, seed: 2, testCount: 8).split(numTrain: 40, numVal: 10)
        let data = try PreparedData<Float>(splits, fitting: .meanImage, inputShape: [3, 32, 32])
        #expect(data.train.x.shape == [40, 3, 32, 32] && data.val.x.shape == [10, 3, 32, 32] && data.test?.x.shape == [8, 3, 32, 32])
        let fitted = try Preprocessor.fit(.meanImage, on: splits.train)
        #expect(data.val.y == splits.val.labels && data.preprocessor == fitted)
        #expect(data.origin == DataSpec(dataset: .builtin, seed: 2, numTrain: 40, numVal: 10))
        #expect(throws: TensorError.self) { try PreparedData<Float>(splits, fitting: .meanImage, inputShape: [3, 32, 31]) }
    }
}
