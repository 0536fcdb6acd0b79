import CS231nClassifiers
import CS231nData
import Foundation
import Testing

/// The CIFAR-10 folder: $CS231N_DATA_DIR, else ../shared/data next to the package.
private let cifarDirectory: String? = {
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let candidates: [String?] = [ProcessInfo.processInfo.environment["CS231N_DATA_DIR"],
                                 packageRoot.appendingPathComponent("../shared/data/cifar-10-batches-bin").standardized.path]
    return candidates.compactMap { $0 }.first {
        FileManager.default.fileExists(atPath: ($0 as NSString).appendingPathComponent("data_batch_5.bin"))
    }
}()

@Suite("Linear classifiers on CIFAR-10 (recipe W3)",
       .enabled(if: cifarDirectory != nil, "CIFAR-10 not found in $CS231N_DATA_DIR or ../shared/data: skipped"))
struct LinearCIFARTests {
    /// BENCHMARKS.md W3: the numpy and PyTorch peers reach 30.0% (Softmax) and 34.0% (SVM) on the
    /// validation split; the issue asks for the same within a point. Our random streams differ
    /// from numpy's, so the numbers differ a little (seeds 0–4: Softmax 30.2–31.0%, SVM 33.8–34.9%).
    @Test("W3 reproduces the peers' validation accuracy within a point")
    func recipeW3() throws {
        let directory = try #require(cifarDirectory)
        let splits = try Dataset.cifar10(directory: directory).split()
        let inputs = try LinearInputs<Float>(splits: splits)
        #expect(inputs.train.x.shape == [49_000, 3073] && inputs.validation.x.shape == [1_000, 3073])
        let settings = SGDSettings()   // W3: lr 1e-7, reg 2.5e4, 1500 iterations of 200, W = 1e-4·randn
        var softmax = Softmax<Float>()
        let history = try softmax.train(inputs: inputs.train.x, labels: inputs.train.y, classCount: 10,
                                        settings: settings)
        // Loss at the start: ln 10 plus the regulariser 2.5e4 · 3073·10 · 1e-8 ≈ 7.7.
        #expect(abs(Double(history[0]) - (log(10) + 2.5e4 * 30_730 * 1e-8)) < 0.3)
        let softmaxAccuracy = try softmax.accuracy(inputs: inputs.validation.x, labels: inputs.validation.y)
        #expect(abs(softmaxAccuracy - 0.300) <= 0.0105, "Softmax val accuracy \(softmaxAccuracy)")
        var svm = LinearSVM<Float>()
        try svm.train(inputs: inputs.train.x, labels: inputs.train.y, classCount: 10, settings: settings)
        let svmAccuracy = try svm.accuracy(inputs: inputs.validation.x, labels: inputs.validation.y)
        #expect(abs(svmAccuracy - 0.340) <= 0.0105, "SVM val accuracy \(svmAccuracy)")
    }
}
