import CS231nClassifiers
import CS231nData
import Foundation
import Testing

/// Linear models written before the safetensors codec moved to CS231nTensor still load.
@Suite struct LegacyLinearModelTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/legacy-v1/linear-softmax.safetensors").path

    @Test func linearModelOfVersionOneLoadsAndScores() throws {
        let model = try LinearModel<Float>.load(from: Self.fixture)
        #expect(model.loss == .softmax)
        #expect(model.weights.shape == [3073, 10])
        #expect(model.classNames.count == 10)
        // The fixtures' README: 0.313 on the built-in test set (1,000 images drawn with seed 0 + 1).
        let test = BuiltinDataset.generate(count: 1000, seed: 1)
        #expect(zip(try model.predict(test), test.labels).filter { $0 == $1 }.count == 313)
        // Saved again, it reads back the same.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-legacy-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path)
        let again = try LinearModel<Float>.load(from: path)
        #expect(again.weights == model.weights && again.normalization.mean == model.normalization.mean)
    }
}
