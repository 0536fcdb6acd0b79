import CS231nData
import Foundation

/// The gradient checks of assignment 1's linear classifiers.
extension GradientCheckTarget {
    /// The linear losses, as assignment 1 checks them: sparse checks at random weights on a
    /// development set (built-in images, standardised, bias column) without and with
    /// regularization, then whole-array checks and naive against vectorised on a small problem.
    public static var linearLosses: [GradientCheckTarget] {
        LinearLoss.allCases.map { loss in
            GradientCheckTarget(name: loss.rawValue, summary: "\(loss) loss of a linear classifier, naive and vectorized") { seed in
                try linearChecks(loss, seed: seed)
            }
        }
    }

    static func linearChecks(_ loss: LinearLoss, seed: UInt64) throws -> [GradientCheckLine] {
        // 100 images drawn at random, so the classes are not exactly balanced: with balanced
        // classes and near-zero weights the bias row's gradient is 0 or nearly, and a relative
        // error of a zero is meaningless.
        let images = try BuiltinDataset.generate(count: 1_000, seed: seed).randomSubset(count: 100, seed: seed)
        // Standardised pixels and weights of 1e-2 (scores of about ±0.5) rather than raw pixels and
        // 1e-4: raw pixels curve the loss so sharply that no step suits both the pixel weights
        // (truncation error) and the bias row (rounding error).
        let pixels = images.rows(Double.self)
        let inputs = try Preprocessor.fit(.featureStandardization, on: pixels).applied(to: pixels, appendingBias: true)
        var rng = RandomGenerator(seed: seed, stream: .initialization)
        let weights = Tensor<Double>.randn([inputs.shape[1], 10], scale: 1e-2, using: &rng)
        var lines: [GradientCheckLine] = []
        let forms: [(String, LossFunction)] = [
            ("naive", { try loss.naive(weights: $0, inputs: $1, labels: $2, regularization: $3) }),
            ("vectorized", { try loss.vectorized(weights: $0, inputs: $1, labels: $2, regularization: $3) }),
        ]
        for (form, evaluate) in forms {
            for regularization in [0.0, 5e1] {
                let analytic = try evaluate(weights, inputs, images.labels, regularization).gradient
                let report = try GradientCheck.sparse(at: weights, analytic: analytic, samples: 10, h: 5e-5, seed: seed) {
                    try evaluate($0, inputs, images.labels, regularization).loss
                }
                lines.append(GradientCheckLine(
                    check: "\(form), reg \(regularization), 10 sampled weights", relativeError: report.maxRelativeError,
                    checked: report.checked, skippedKinks: report.skippedKinks,
                    details: report.rows.map {
                        String(format: "W[%d, %d]  numerical %+.9f  analytic %+.9f  relative error %.2e",
                               $0.index / 10, $0.index % 10, $0.numeric, $0.analytic, $0.relativeError)
                    }))
            }
        }
        let naive = try loss.naive(weights: weights, inputs: inputs, labels: images.labels, regularization: 5e1)
        let fast = try loss.vectorized(weights: weights, inputs: inputs, labels: images.labels, regularization: 5e1)
        lines.append(GradientCheckLine(check: "naive vs vectorized loss", relativeError: GradientCheck.relativeError(naive.loss, fast.loss), checked: 1))
        lines.append(GradientCheckLine(check: "naive vs vectorized dW", relativeError: GradientCheck.relativeError(naive.gradient, fast.gradient),
                                       checked: naive.gradient.count))

        let smallInputs = Tensor<Double>.randn([8, 16], using: &rng)
        let smallLabels = (0..<8).map { _ in rng.nextInt(below: 5) }
        let smallWeights = Tensor<Double>.randn([16, 5], scale: 0.3, using: &rng)
        let analytic = try loss.vectorized(weights: smallWeights, inputs: smallInputs, labels: smallLabels, regularization: 0.1).gradient
        // The SVM is piecewise linear plus a quadratic: away from kinks a wide step is exact and
        // rounds less. Softmax curves, so it needs the usual small step.
        let numeric = try GradientCheck.numericGradient(at: smallWeights, h: loss == .svm ? 1e-4 : 1e-5) {
            try loss.vectorized(weights: $0, inputs: smallInputs, labels: smallLabels, regularization: 0.1).loss
        }
        lines.append(GradientCheckLine(check: "vectorized, reg 0.1, whole 16×5 W", relativeError: GradientCheck.relativeError(analytic, numeric),
                                       checked: numeric.count))
        return lines
    }

    private typealias LossFunction = (Tensor<Double>, Tensor<Double>, [Int], Double) throws -> LossAndGradient<Double>
}
