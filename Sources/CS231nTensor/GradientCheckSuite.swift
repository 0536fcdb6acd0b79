/// One line of a gradient-check suite: what was compared and how far apart it was.
public struct GradientCheckLine: Sendable, Equatable {
    public var check: String
    public var relativeError: Double
    /// Coordinates compared, and those skipped because a kink lay within the step.
    public var checked: Int
    public var skippedKinks: Int
    /// Per-coordinate lines, as `grad_check_sparse` prints them.
    public var details: [String]

    public init(check: String, relativeError: Double, checked: Int, skippedKinks: Int = 0, details: [String] = []) {
        self.check = check; self.relativeError = relativeError; self.checked = checked
        self.skippedKinks = skippedKinks; self.details = details
    }
}

/// A named group of gradient checks, all in Double: `cs231n gradcheck <name>` runs one, and
/// `GradientCheckTarget.all` (in the `CS231n` module) lists the library's.
public struct GradientCheckTarget: Sendable {
    public var name: String
    public var summary: String
    public var run: @Sendable (_ seed: UInt64) throws -> [GradientCheckLine]

    public init(name: String, summary: String, run: @escaping @Sendable (_ seed: UInt64) throws -> [GradientCheckLine]) {
        self.name = name; self.summary = summary; self.run = run
    }
}

extension GradientCheck {
    /// Compares `analytic` with ∂f/∂x from Richardson extrapolation of centred differences,
    /// (4·D(h/4) − D(h/2))/3 (error O(h⁴)). How far D(h), D(h/2) and D(h/4) disagree measures how
    /// far the numeric value can be trusted: at a net's loss rounding costs ~ε·|f|/h, so where
    /// regularization and data gradients nearly cancel no step size resolves the course's 1e-7;
    /// and where a ReLU kink lies within h the differences jump. Coordinates resolved to 1e-7
    /// are held to the tolerance; the others are not hidden: a rounding-limited one must agree
    /// within 3× its uncertainty, and kinks are skipped and counted, as `grad_check_sparse` does.
    public static func line(_ check: String, at x: Tensor<Double>, analytic: Tensor<Double>, h: Double = 1e-4,
                            _ f: (Tensor<Double>) throws -> Double) throws -> GradientCheckLine {
        guard analytic.shape == x.shape else {
            throw TensorError.shapeMismatch(operation: "GradientCheck.line",
                detail: "\(check): gradient \(describeShape(analytic.shape)) vs point \(describeShape(x.shape))")
        }
        let steps = try [h, h / 2, h / 4].map { try numericGradient(at: x, h: $0, f).scalars }
        // A difference of two values of f near |f| is exact only to ~ε·|f|, which differences at
        // nearby steps can share (they then agree while both being off).
        let roundingFloor = 2 * Double.ulpOfOne * Swift.max(1, Swift.abs(try f(x))) / (h / 4)
        let exact = analytic.scalars
        var worst = 0.0, resolved = 0, roundingLimited = 0, kinks = 0
        for i in exact.indices {
            let numeric = (4 * steps[2][i] - steps[1][i]) / 3
            let disagreement = Swift.max(Swift.abs(steps[0][i] - steps[1][i]), Swift.abs(steps[1][i] - steps[2][i]))
            let uncertainty = Swift.max(disagreement, roundingFloor)
            let scale = Swift.abs(exact[i]) + Swift.abs(numeric)
            if uncertainty <= 1e-7 * scale || (exact[i] == 0 && steps.allSatisfy { $0[i] == 0 }) {
                resolved += 1
                worst = Swift.max(worst, relativeError(exact[i], numeric))
            } else if disagreement > 1e-3 * scale && disagreement > 10 * roundingFloor {
                kinks += 1
            } else {
                roundingLimited += 1
                if Swift.abs(exact[i] - numeric) > 3 * uncertainty + 1e-7 * scale { worst = .infinity }
            }
        }
        let note = roundingLimited > 0 ? " (\(roundingLimited) at rounding limit)" : ""
        return GradientCheckLine(check: check + note, relativeError: worst, checked: resolved, skippedKinks: kinks)
    }

    /// `line` for a layer `f` at `x` under the upstream gradient `dout`: the numeric gradient
    /// of Σ dout·f(x) against the backward's `analytic`.
    public static func layerLine(_ check: String, at x: Tensor<Double>, dout: Tensor<Double>, analytic: Tensor<Double>,
                                 _ f: (Tensor<Double>) throws -> Tensor<Double>) throws -> GradientCheckLine {
        try line(check, at: x, analytic: analytic) { point in
            let out = try f(point)
            guard out.shape == dout.shape else {
                throw TensorError.shapeMismatch(operation: "GradientCheck.layerLine",
                    detail: "\(check): output \(describeShape(out.shape)) vs upstream \(describeShape(dout.shape))")
            }
            return try (out * dout).sum()
        }
    }

    /// Standard normal values pushed at least 0.05 away from 0, so that no ReLU sits on its kink.
    public static func smoothPoint(_ shape: [Int], using generator: inout RandomGenerator) -> Tensor<Double> {
        Tensor<Double>.randn(shape, using: &generator).map { $0 >= 0 ? $0 + 0.05 : $0 - 0.05 }
    }
}
