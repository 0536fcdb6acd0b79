import CS231nNN
import Foundation
import Testing

/// SoftmaxLoss with label smoothing and either reduction, as PyTorch's CrossEntropyLoss.
@Suite struct LabelSmoothingTests {
    /// Two rows of three classes, worked out from log-softmax directly.
    @Test func matchesAHandComputation() throws {
        let rows: [[Double]] = [[1, 2, 0.5], [-1, 0, 3]], labels = [1, 2], epsilon = 0.1
        var expectedTotal = 0.0
        var expectedGradient: [Double] = []
        for (row, label) in zip(rows, labels) {
            let logNormalizer = log(row.map { exp($0) }.reduce(0, +))
            for (j, score) in row.enumerated() {
                let target = (j == label ? 1 - epsilon : 0) + epsilon / 3
                expectedTotal -= target * (score - logNormalizer)
                expectedGradient.append(exp(score - logNormalizer) - target)
            }
        }
        let scores = try Tensor<Double>(shape: [2, 3], scalars: rows.flatMap { $0 })
        let sum = try SoftmaxLoss.forwardBackward(scores, labels: labels, smoothing: epsilon, reduction: .sum)
        let mean = try SoftmaxLoss.forwardBackward(scores, labels: labels, smoothing: epsilon, reduction: .mean)
        #expect(abs(sum.loss - expectedTotal) < 1e-12)
        #expect(abs(mean.loss - expectedTotal / 2) < 1e-12)
        for (k, expected) in expectedGradient.enumerated() {
            #expect(abs(sum.dx.scalars[k] - expected) < 1e-12)
            #expect(abs(mean.dx.scalars[k] - expected / 2) < 1e-12)
        }
    }

    @Test func noSmoothingIsTheUnsmoothedLoss() throws {
        var generator = RandomGenerator(seed: 8)
        let scores = Tensor<Float>.randn([7, 5], scale: 3, using: &generator)
        let labels = [0, 4, 2, 2, 1, 3, 0]
        let plain = try SoftmaxLoss.forwardBackward(scores, labels: labels)
        let mean = try SoftmaxLoss.forwardBackward(scores, labels: labels, smoothing: 0, reduction: .mean)
        #expect(plain.loss == mean.loss && plain.dx == mean.dx)
        let sum = try SoftmaxLoss.forwardBackward(scores, labels: labels, smoothing: 0, reduction: .sum)
        #expect(abs(sum.loss - 7 * plain.loss) < 1e-5)
        #expect(try (sum.dx - plain.dx * 7).abs().max() < 1e-6)
    }

    @Test(arguments: [SoftmaxLoss.Reduction.mean, .sum])
    func gradientMatchesNumericalGradient(_ reduction: SoftmaxLoss.Reduction) throws {
        var generator = RandomGenerator(seed: 9)
        let scores = Tensor<Double>.randn([6, 4], using: &generator)
        let labels = [3, 0, 1, 1, 2, 0]
        let (_, dx) = try SoftmaxLoss.forwardBackward(scores, labels: labels, smoothing: 0.2, reduction: reduction)
        let numeric = try GradientCheck.numericGradient(at: scores) {
            try SoftmaxLoss.forwardBackward($0, labels: labels, smoothing: 0.2, reduction: reduction).loss
        }
        expectClose("smoothed softmax dx (\(reduction))", analytic: dx, numeric: numeric)
    }

    @Test func smoothingOutsideTheUnitIntervalIsRejected() {
        let scores = Tensor<Double>.zeros([2, 3])
        for epsilon in [-0.1, 1, .nan] {
            #expect(throws: TensorError.invalidArgument(operation: "SoftmaxLoss",
                                                        detail: "label smoothing \(epsilon) is not in [0, 1)")) {
                try SoftmaxLoss.forwardBackward(scores, labels: [0, 1], smoothing: epsilon, reduction: .mean)
            }
        }
    }
}
