import ArgumentParser
import CS231n
import Foundation

/// One line of a gradient check: what was compared and how far apart it was.
struct GradientCheckLine {
    var check: String
    var relativeError: Double
    /// Coordinates compared, and those skipped because a kink lay within h.
    var checked: Int
    var skippedKinks = 0
    /// Per-coordinate lines, as `grad_check_sparse` prints them (shown with --verbose).
    var details: [String] = []
}

/// Something `cs231n gradcheck` can check: a name to ask for it by and the checks to run.
/// Other modules add theirs to `GradCheckCommand.targets`.
struct GradientCheckTarget {
    var name: String
    var summary: String
    var run: (_ seed: UInt64) throws -> [GradientCheckLine]
}

/// `cs231n gradcheck`: analytic gradients against centred differences, in Double, the way the
/// assignments check every backward pass.
struct GradCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "Check analytic gradients against centred differences (Double) and print the relative errors.",
        discussion: "Targets:\n" + targets.map { "  \($0.name.padded(12)) \($0.summary)" }.joined(separator: "\n"))

    /// Every checkable piece, in the order `all` runs them.
    static var targets: [GradientCheckTarget] { linearTargets + networkTargets }

    @Argument(help: "What to check: \(targets.map(\.name).joined(separator: ", ")), or all.")
    var names: [String] = ["all"]

    @Option(help: ArgumentHelp("Largest relative error that passes.", discussion:
        "CS231n: below 1e-7 you should be happy. A coordinate whose gradient is ~1e-4 reads ~1e-7 from rounding alone, hence 1e-6."))
    var tolerance = 1e-6

    @Flag(help: "Also print every compared coordinate: numerical, analytic, relative error.")
    var verbose = false

    @OptionGroup var common: CommonOptions

    func validate() throws {
        try OptionRange.positive(tolerance, "--tolerance")
        let known = Set(Self.targets.map(\.name))
        if let unknown = names.first(where: { $0 != "all" && !known.contains($0) }) {
            throw ValidationError("unknown gradcheck target '\(unknown)'; choose from \(Self.targets.map(\.name).joined(separator: ", ")) or all")
        }
    }

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        let chosen = names.contains("all") ? Self.targets : Self.targets.filter { names.contains($0.name) }
        var failures = 0
        for target in chosen {
            printer.say("\(target.name): \(target.summary)")
            for line in try target.run(common.seed) {
                let passed = line.relativeError < tolerance
                if !passed { failures += 1 }
                let kinks = line.skippedKinks > 0 ? ", \(line.skippedKinks) skipped near kinks" : ""
                printer.say("  " + line.check.padded(44)
                            + String(format: "rel error %.2e  (%d compared%@)  %@", line.relativeError, line.checked,
                                     kinks as NSString, passed ? "ok" : "FAIL"))
                if verbose { line.details.forEach { printer.say("      " + $0) } }
                printer.figure([("command", "gradcheck"), ("target", .string(target.name)), ("check", .string(line.check)),
                                ("checked", .int(line.checked)), ("skipped_kinks", .int(line.skippedKinks))],
                               metric: "relative_error", value: line.relativeError)
            }
        }
        if failures > 0 {
            printer.say("\(failures) check(s) above the tolerance \(tolerance)")
            throw ExitCode(1)
        }
    }
}

extension GradCheckCommand {
    /// The linear losses, as assignment 1 checks them: sparse checks at random weights on a
    /// development set (built-in images, standardised, bias column) without and with
    /// regularization, then whole-array checks and naive against vectorised on a small problem.
    static var linearTargets: [GradientCheckTarget] {
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
