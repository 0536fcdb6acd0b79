import CS231nClassifiers
import CS231nData
import Foundation
import Testing

/// A linear model written before the preprocessing had its own type (`Tests/Fixtures/legacy-v1`)
/// loads into a `Preprocessor` that prepares its inputs exactly as before, and scores what it
/// scored then.
@Suite struct LegacyLinearModelTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/legacy-v1/linear-softmax.safetensors").path

    @Test func itsMeanImageIsSubtractedAsBefore() throws {
        let model = try LinearModel<Float>.load(from: Self.path)
        let storedMean = try #require(try Self.float32Tensor("input_mean"))
        #expect(try Self.float32Tensor("input_std") == nil)
        #expect(model.preprocessor.kind == .meanImage && model.preprocessor.mean == storedMean.map(Double.init))
        let images = BuiltinDataset.generate(count: 5, seed: 9)
        let inputs = try model.inputs(for: images)
        #expect(inputs.shape == [5, 3073])
        for n in 0..<5 {
            // What the model file's reader has always computed: pixel − input_mean, then the bias.
            let expected = (0..<3072).map { Float(images.pixels[n * 3072 + $0]) - storedMean[$0] } + [1]
            #expect(Array(inputs.scalars[(n * 3073)..<((n + 1) * 3073)]) == expected)
        }
    }

    /// A float32 tensor of the fixture, read with nothing but the safetensors layout (an 8-byte
    /// little-endian header length, a JSON header of offsets, the data).
    static func float32Tensor(_ name: String) throws -> [Float]? {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        let header = try #require(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
        guard let entry = header[name] as? [String: Any], let offsets = entry["data_offsets"] as? [Int] else { return nil }
        let start = 8 + headerLength + offsets[0]
        return (0..<((offsets[1] - offsets[0]) / 4)).map { i in
            Float(bitPattern: bytes[(start + 4 * i)..<(start + 4 * i + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
    }

    /// `linear --loss softmax --dataset builtin --num-train 200 --num-val 50` wrote it: val 0.32,
    /// test 0.313 on the built-in test set.
    @Test func itScoresWhatItScoredWhenWritten() throws {
        let model = try LinearModel<Float>.load(from: Self.path)
        let splits = try Dataset.builtin(count: 250, seed: 0).split(numTrain: 200, numVal: 50)
        func accuracy(_ images: LabeledImages) throws -> Double {
            Double(zip(try model.predict(images), images.labels).filter { $0 == $1 }.count) / Double(images.count)
        }
        #expect(try accuracy(splits.val) == 0.32)
        #expect(try accuracy(try #require(splits.test)) == 0.313)
    }

    /// Saved again with the one safetensors codec, it reads back the same.
    @Test func itSavesAndLoadsAgain() throws {
        let model = try LinearModel<Float>.load(from: Self.path)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-legacy-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path)
        let again = try LinearModel<Float>.load(from: path)
        #expect(again.weights == model.weights && again.preprocessor == model.preprocessor)
    }
}
