import CS231nClassifiers
import CS231nData
import Foundation
import Testing

private func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-linear-\(getpid())-\(name)").path
}

@Suite("Linear models: templates, saving, loading")
struct LinearModelTests {
    @Test("Ten class templates of 3×32×32, the bias row left out of the rescaling")
    func templates() throws {
        var rng = RandomGenerator(seed: 1)
        var weights = Tensor<Float>.randn([3073, 10], scale: 1e-3, using: &rng)
        for c in 0..<10 { weights[3072, c] = 1e6 }   // a huge bias must not flatten the pictures
        let names = (0..<10).map { "class\($0)" }
        let templates = try ClassTemplates.images(weights: weights, classNames: names)
        #expect(templates.count == 10)
        #expect(templates.pixels.count == 10 * 3 * 32 * 32)
        #expect(templates.images(Float.self).shape == [10, 3, 32, 32])
        #expect(templates.classNames == names)
        #expect(templates.pixels.min() == 0 && templates.pixels.max() == 255)
        // Template c, pixel d is W[d, c] rescaled: the ordering of the weights survives.
        let w = weights.scalars
        let (a, b) = (5 * 10 + 2, 900 * 10 + 2)
        #expect((w[a] < w[b]) == (templates.pixels[2 * 3072 + 5] <= templates.pixels[2 * 3072 + 900]))

        let picture = try ClassTemplates.picture(weights: weights, classNames: names, columns: 5, scale: 4)
        #expect(picture.width >= 5 * 128 && picture.width < 5 * 128 + 40)
        #expect(picture.height >= 2 * 128 && picture.height < 2 * 128 + 60)
        #expect(throws: LinearClassifierError.self) {
            try ClassTemplates.images(weights: Tensor<Float>.zeros([155, 10]), classNames: names)
        }
    }

    @Test("A raw-pixel model survives a save and load, predictions included")
    func rawRoundTrip() throws {
        let images = BuiltinDataset.generate(count: 40, seed: 2)
        let preprocessor = try Preprocessor.meanImage(of: images, scale: 1)
        var rng = RandomGenerator(seed: 3)
        let model = LinearModel<Float>(loss: .softmax, weights: .randn([3073, 10], scale: 1e-3, using: &rng),
                                preprocessor: preprocessor, features: [], classNames: images.classNames,
                                settings: SGDSettings(learningRate: 5e-7, regularization: 1e4, seed: 4),
                                validationAccuracy: 0.375)
        let path = temporaryPath("raw.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path)
        let loaded = try LinearModel<Float>.load(from: path)
        #expect(loaded.loss == .softmax)
        #expect(loaded.weights == model.weights)
        // Saved as float32, so the mean comes back rounded to it.
        #expect(loaded.preprocessor.mean == preprocessor.mean.map { Double(Float($0)) })
        #expect(loaded.preprocessor.kind == .meanImage && loaded.preprocessor.scale.allSatisfy { $0 == 1 })
        #expect(loaded.features.isEmpty && loaded.featureName == "raw")
        #expect(loaded.classNames == images.classNames)
        #expect(loaded.settings == model.settings)
        #expect(loaded.validationAccuracy == 0.375)
        #expect(try loaded.predict(images) == model.predict(images))
    }

    @Test("A hog+color model keeps its standardisation; Double loads the F32 file")
    func featureRoundTrip() throws {
        let images = BuiltinDataset.generate(count: 30, seed: 5)
        let splits = DatasetSplits(train: images.slice(0..<20), val: images.slice(20..<30), test: nil)
        let inputs = try LinearInputs<Float>(splits: splits, features: [.hog, .color])
        #expect(inputs.dimension == 155)
        #expect(inputs.train.x.shape == [20, 155] && inputs.validation.x.shape == [10, 155])
        var svm = LinearSVM<Float>()
        try svm.train(inputs: inputs.train.x, labels: inputs.train.y, classCount: 10,
                      settings: SGDSettings(learningRate: 1e-2, regularization: 1e-3, iterations: 20, batchSize: 10))
        let model = LinearModel(loss: .svm, weights: svm.weights!, preprocessor: inputs.preprocessor,
                                features: [.hog, .color], classNames: images.classNames, settings: SGDSettings())
        let path = temporaryPath("features.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path)
        let loaded = try LinearModel<Double>.load(from: path)
        #expect(loaded.featureName == "hog+color")
        #expect(loaded.preprocessor.kind == .featureStandardization && loaded.preprocessor.dimension == 154)
        #expect(try model.predict(splits.val) == svm.predict(inputs.validation.x))
        #expect(try loaded.predict(splits.val) == model.predict(splits.val))
    }

    @Test("The file is standard safetensors: header length, JSON header, F32 data")
    func fileLayout() throws {
        let images = BuiltinDataset.generate(count: 10, seed: 6)
        let model = LinearModel(loss: .svm, weights: Tensor<Float>.ones([3073, 10]),
                                preprocessor: try .meanImage(of: images, scale: 1), features: [], classNames: images.classNames,
                                settings: SGDSettings())
        let path = temporaryPath("layout.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(headerLength % 8 == 0)
        let header = try #require(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
        let weights = try #require(header["weights"] as? [String: Any])
        #expect(weights["dtype"] as? String == "F32")
        #expect(weights["shape"] as? [Int] == [3073, 10])
        let offsets = try #require(weights["data_offsets"] as? [Int])
        #expect(offsets[1] - offsets[0] == 3073 * 10 * 4)
        #expect((header["__metadata__"] as? [String: String])?["format"] == "cs231n-linear")
        #expect(bytes.count == 8 + headerLength + (3073 * 10 + 3072) * 4)
        let first = 8 + headerLength + offsets[0]
        #expect(Float(bitPattern: bytes[first..<first + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }) == 1)
    }

    @Test("Truncated or foreign files are refused with the path and the problem")
    func badFiles() throws {
        let path = temporaryPath("bad.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        #expect(throws: LinearClassifierError.badModelFile(
            path: path, detail: "at byte 0, the file is 3 bytes long, too short for the 8-byte header length (it is truncated)")) {
            try LinearModel<Float>.load(from: path)
        }
        try Data([255, 0, 0, 0, 0, 0, 0, 0, 123]).write(to: URL(fileURLWithPath: path))
        #expect(throws: LinearClassifierError.badModelFile(
            path: path, detail: "at byte 0, the header length 255 runs past the end of the file (9 bytes; it is truncated or not safetensors)")) {
            try LinearModel<Float>.load(from: path)
        }
        let images = BuiltinDataset.generate(count: 10, seed: 6)
        let model = LinearModel(loss: .svm, weights: Tensor<Float>.ones([3073, 10]),
                                preprocessor: try .meanImage(of: images, scale: 1), features: [], classNames: images.classNames,
                                settings: SGDSettings())
        try model.save(to: path)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes.removeLast(100)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: LinearClassifierError.self) { try LinearModel<Float>.load(from: path) }
        #expect(throws: LinearClassifierError.badModelFile(path: path + ".missing", detail: "no such file")) {
            try LinearModel<Float>.load(from: path + ".missing")
        }
    }
}
