import CS231nClassifiers
import CS231nTensor
import Foundation
import Testing

/// The 3-example, 4-dimension, 3-class case worked by hand in the comments below.
///   W = [[1, 0, -1], [0, 2, 0], [1, -1, 1], [0, 0, 1]]   ΣW² = 10
///   x0 = e0 (×2), y0 = 0 → scores [2, 0, -2]
///   x1 = e1,      y1 = 2 → scores [0, 2, 0]
///   x2 = e2,      y2 = 2 → scores [1, -1, 1]
private enum HandCase {
    static let weights = try! Tensor<Double>(shape: [4, 3], scalars: [1, 0, -1, 0, 2, 0, 1, -1, 1, 0, 0, 1])
    static let inputs = try! Tensor<Double>(shape: [3, 4], scalars: [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0])
    static let labels = [0, 2, 2]
    static let regularization = 0.1
    static let scores: [[Double]] = [[2, 0, -2], [0, 2, 0], [1, -1, 1]]
}

private func expectClose(_ actual: Tensor<Double>, _ expected: [Double], tolerance: Double = 1e-12,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (index, (a, e)) in zip(actual.scalars, expected).enumerated() {
        #expect(abs(a - e) <= tolerance, "element \(index): \(a) vs \(e)", sourceLocation: sourceLocation)
    }
}

@Suite("Linear losses")
struct LinearLossTests {
    @Test("SVM loss and gradient on the hand-worked case", arguments: ["naive", "vectorized"])
    func svmHandCase(form: String) throws {
        // Margins s_j − s_y + 1: x0 → (−1, −3), none counts; x1 → (1, 3), both count;
        // x2 → (1, −1), only class 0. Data loss (0 + 4 + 1)/3, regulariser 0.1·10 = 1.
        // dW = (x1·[1, 1, −2] + x2·[1, 0, −1]) / 3 + 0.2·W.
        let result = try form == "naive"
            ? LinearLoss.svm.naive(weights: HandCase.weights, inputs: HandCase.inputs, labels: HandCase.labels,
                                   regularization: HandCase.regularization)
            : LinearLoss.svm.vectorized(weights: HandCase.weights, inputs: HandCase.inputs, labels: HandCase.labels,
                                        regularization: HandCase.regularization)
        #expect(abs(result.loss - (5.0 / 3 + 1)) < 1e-12)
        expectClose(result.gradient, [0.2, 0, -0.2,
                                      1.0 / 3, 1.0 / 3 + 0.4, -2.0 / 3,
                                      1.0 / 3 + 0.2, -0.2, -1.0 / 3 + 0.2,
                                      0, 0, 0.2])
    }

    @Test("Softmax loss and gradient on the hand-worked case", arguments: ["naive", "vectorized"])
    func softmaxHandCase(form: String) throws {
        // Per row: loss = log Σ e^{s_j} − s_y; ∂/∂s_j = e^{s_j}/Σ − [j = y]; dW row d gets x_d · that.
        var expectedLoss = 0.0
        var expected = [Double](repeating: 0, count: 12)
        for (i, row) in HandCase.scores.enumerated() {
            let total = row.map { exp($0) }.reduce(0, +)
            expectedLoss += log(total) - row[HandCase.labels[i]]
            for j in 0..<3 {
                let coefficient = exp(row[j]) / total - (j == HandCase.labels[i] ? 1 : 0)
                for d in 0..<4 { expected[d * 3 + j] += HandCase.inputs[i, d] * coefficient / 3 }
            }
        }
        expectedLoss = expectedLoss / 3 + 1
        for k in 0..<12 { expected[k] += 0.2 * HandCase.weights.scalars[k] }
        // By hand: row 0 log(1 + e⁻² + e⁻⁴) ≈ 0.14293, row 1 log(2 + e²) ≈ 2.23954,
        // row 2 log(2e + e⁻¹) − 1 ≈ 0.75862; mean + 1 ≈ 2.04703.
        #expect(abs(expectedLoss - 2.04703) < 1e-5)

        let result = try form == "naive"
            ? LinearLoss.softmax.naive(weights: HandCase.weights, inputs: HandCase.inputs, labels: HandCase.labels,
                                       regularization: HandCase.regularization)
            : LinearLoss.softmax.vectorized(weights: HandCase.weights, inputs: HandCase.inputs,
                                            labels: HandCase.labels, regularization: HandCase.regularization)
        #expect(abs(result.loss - expectedLoss) < 1e-12)
        expectClose(result.gradient, expected)
    }

    @Test("Naive and vectorized agree to 1e-9 relative in Double", arguments: LinearLoss.allCases)
    func naiveMatchesVectorized(loss: LinearLoss) throws {
        var rng = RandomGenerator(seed: 7)
        let weights = Tensor<Double>.randn([30, 6], scale: 0.1, using: &rng)
        let inputs = Tensor<Double>.randn([25, 30], using: &rng)
        let labels = (0..<25).map { _ in rng.nextInt(below: 6) }
        for regularization in [0.0, 0.5] {
            let naive = try loss.naive(weights: weights, inputs: inputs, labels: labels, regularization: regularization)
            let fast = try loss.vectorized(weights: weights, inputs: inputs, labels: labels, regularization: regularization)
            #expect(GradientCheck.relativeError(naive.loss, fast.loss) < 1e-9)
            #expect(GradientCheck.relativeError(naive.gradient, fast.gradient) < 1e-9)
        }
    }

    @Test("Softmax loss with W = 1e-4·randn is close to ln 10")
    func softmaxSanityCheck() throws {
        // Every class equally likely: −log(0.1). The small random scores move it only slightly.
        var rng = RandomGenerator(seed: 0)
        let weights = Tensor<Double>.randn([3073, 10], scale: 1e-4, using: &rng)
        let inputs = Tensor<Double>.randn([40, 3073], scale: 60, using: &rng)
        let labels = (0..<40).map { _ in rng.nextInt(below: 10) }
        let result = try LinearLoss.softmax.vectorized(weights: weights, inputs: inputs, labels: labels, regularization: 0)
        #expect(abs(result.loss - log(10.0)) < 0.1, "loss \(result.loss) vs ln 10 = \(log(10.0))")
    }

    @Test("Gradients match centred differences (rel error < 1e-7, Double)",
          arguments: LinearLoss.allCases, ["naive", "vectorized"])
    func gradientCheck(loss: LinearLoss, form: String) throws {
        var rng = RandomGenerator(seed: 3)
        let weights = Tensor<Double>.randn([12, 4], scale: 0.5, using: &rng)
        let inputs = Tensor<Double>.randn([9, 12], using: &rng)
        let labels = (0..<9).map { _ in rng.nextInt(below: 4) }
        func evaluate(_ w: Tensor<Double>) throws -> LossAndGradient<Double> {
            form == "naive"
                ? try loss.naive(weights: w, inputs: inputs, labels: labels, regularization: 0.3)
                : try loss.vectorized(weights: w, inputs: inputs, labels: labels, regularization: 0.3)
        }
        let analytic = try evaluate(weights).gradient
        let numeric = try GradientCheck.numericGradient(at: weights) { try evaluate($0).loss }
        #expect(GradientCheck.relativeError(analytic, numeric) < 1e-7)

        let sparse = try GradientCheck.sparse(at: weights, analytic: analytic, samples: 20, seed: 1) { try evaluate($0).loss }
        #expect(sparse.checked + sparse.skippedKinks == 20)
        #expect(sparse.maxRelativeError < 1e-7)
    }

    @Test("A weight on the SVM hinge is skipped by the kink-aware check")
    func svmKinkIsSkipped() throws {
        // Scores [0, −1] for label 0: the class-1 margin is exactly 0, so W[0,1] sits on the kink.
        let weights = try Tensor<Double>(shape: [1, 2], scalars: [0, -1])
        let inputs = try Tensor<Double>(shape: [1, 1], scalars: [1])
        let analytic = try LinearLoss.svm.vectorized(weights: weights, inputs: inputs, labels: [0], regularization: 0).gradient
        let report = try GradientCheck.sparse(at: weights, analytic: analytic, samples: 10, seed: 2) {
            try LinearLoss.svm.vectorized(weights: $0, inputs: inputs, labels: [0], regularization: 0).loss
        }
        #expect(report.skippedKinks == 10)
        #expect(report.checked == 0)
    }

    @Test("Scores of ±1e4 give finite losses and gradients", arguments: LinearLoss.allCases)
    func stableAtExtremeScores(loss: LinearLoss) throws {
        // One-hot inputs make the scores the weight rows themselves.
        let weights = try Tensor<Float>(shape: [2, 3], scalars: [1e4, -1e4, 0, -1e4, 0, 1e4])
        let inputs = try Tensor<Float>(shape: [2, 2], scalars: [1, 0, 0, 1])
        for form in ["naive", "vectorized"] {
            let result = form == "naive"
                ? try loss.naive(weights: weights, inputs: inputs, labels: [1, 0], regularization: 0)
                : try loss.vectorized(weights: weights, inputs: inputs, labels: [1, 0], regularization: 0)
            #expect(result.loss.isFinite, "\(form)")
            let gradient = result.gradient.scalars
            #expect(gradient.allSatisfy { $0.isFinite }, "\(form)")
            // Row 0 scores [1e4, −1e4, 0] with label 1; row 1 [−1e4, 0, 1e4] with label 0.
            let expected: Float = loss == .softmax ? (2e4 + 2e4) / 2 : ((2e4 + 1 + 1e4 + 1) + (1e4 + 1 + 2e4 + 1)) / 2
            #expect(abs(result.loss - expected) <= 1e-3 * expected, "\(form): \(result.loss) vs \(expected)")
        }
    }

    @Test("Mismatched shapes and bad labels are reported clearly")
    func badInput() throws {
        let weights = Tensor<Double>.zeros([4, 3])
        #expect(throws: LinearClassifierError.shapeMismatch(
            "SVM loss (naive): inputs (2×5) do not match weights (4×3): expected N×4")) {
            try LinearLoss.svm.naive(weights: weights, inputs: .zeros([2, 5]), labels: [0, 1], regularization: 0)
        }
        #expect(throws: LinearClassifierError.labelOutOfRange(row: 1, label: 3, classes: 3)) {
            try LinearLoss.softmax.vectorized(weights: weights, inputs: .zeros([2, 4]), labels: [0, 3], regularization: 0)
        }
        #expect(throws: LinearClassifierError.self) {
            try LinearLoss.softmax.vectorized(weights: weights, inputs: .zeros([2, 4]), labels: [0], regularization: 0)
        }
    }
}
