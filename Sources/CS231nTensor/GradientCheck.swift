/// Numerical gradients by centred differences, the way CS231n checks every backward pass
/// (`eval_numerical_gradient`, `eval_numerical_gradient_array`, `grad_check_sparse`, `rel_error`).
/// Use Double: float32 differences are too noisy to assert on.
public enum GradientCheck {
    /// ∂f/∂x for a scalar function, at every coordinate of x.
    public static func numericGradient<S: TensorScalar>(
        at x: Tensor<S>, h: S = 1e-5, _ f: (Tensor<S>) throws -> S
    ) rethrows -> Tensor<S> {
        var point = x
        var gradient = Tensor<S>.zeros(x.shape)
        for i in 0..<x.count {
            let (plus, _, minus) = try probe(&point, i, h, f)
            gradient.withUnsafeMutableBufferPointer { $0[i] = (plus - minus) / (2 * h) }
        }
        return gradient
    }

    /// Σ upstream · ∂f/∂x for a tensor-valued function: the gradient a backward pass with
    /// incoming gradient `upstream` must return.
    public static func numericGradient<S: TensorScalar>(
        at x: Tensor<S>, upstream: Tensor<S>, h: S = 1e-5, _ f: (Tensor<S>) throws -> Tensor<S>
    ) throws -> Tensor<S> {
        try numericGradient(at: x, h: h) { point in
            let output = try f(point)
            guard output.shape == upstream.shape else {
                throw TensorError.shapeMismatch(operation: "GradientCheck",
                    detail: "function output \(describeShape(output.shape)) vs upstream \(describeShape(upstream.shape))")
            }
            return try (output * upstream).sum()
        }
    }

    /// max |a − b| / max(1e-8, |a| + |b|), elementwise, as CS231n's `rel_error`.
    public static func relativeError<S: TensorScalar>(_ a: Tensor<S>, _ b: Tensor<S>) -> S {
        precondition(a.shape == b.shape, "relativeError: \(describeShape(a.shape)) vs \(describeShape(b.shape))")
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                var worst: S = 0
                for i in 0..<pa.count { worst = Swift.max(worst, relativeError(pa[i], pb[i])) }
                return worst
            }
        }
    }

    public static func relativeError<S: TensorScalar>(_ a: S, _ b: S) -> S {
        Swift.abs(a - b) / Swift.max(1e-8, Swift.abs(a) + Swift.abs(b))
    }

    /// Checks `analytic` against centred differences at `samples` random coordinates, like
    /// `grad_check_sparse`. Kink-aware: where the forward and backward one-sided differences
    /// disagree, a hinge or max sits within h of the point and the centred difference is
    /// meaningless there, so the coordinate is skipped and counted instead of reported.
    public static func sparse<S: TensorScalar>(
        at x: Tensor<S>, analytic: Tensor<S>, samples: Int = 10, h: S = 1e-5, seed: UInt64 = 0,
        _ f: (Tensor<S>) throws -> S
    ) throws -> GradientCheckReport<S> {
        guard analytic.shape == x.shape else {
            throw TensorError.shapeMismatch(operation: "GradientCheck.sparse",
                detail: "gradient \(describeShape(analytic.shape)) vs point \(describeShape(x.shape))")
        }
        var rng = RandomGenerator(seed: seed)
        var point = x
        var report = GradientCheckReport<S>()
        let center = try f(x)
        for _ in 0..<samples where x.count > 0 {
            let i = rng.nextInt(below: x.count)
            let (plus, _, minus) = try probe(&point, i, h, f)
            let (halfPlus, _, halfMinus) = try probe(&point, i, h / 2, f)
            if isNearKink(plus: plus, halfPlus: halfPlus, center: center, halfMinus: halfMinus, minus: minus, h: h) {
                report.skippedKinks += 1
                continue
            }
            let numeric = (plus - minus) / (2 * h)
            let exact = analytic.withUnsafeBufferPointer { $0[i] }
            report.rows.append(.init(index: i, numeric: numeric, analytic: exact,
                                     relativeError: relativeError(numeric, exact)))
        }
        return report
    }

    /// True when f is not smooth on [x − h, x + h]. For a smooth f the one-sided slopes differ by
    /// f''·step, in proportion to the step, and the centred slope hardly depends on the step; a
    /// kink within h breaks one or the other wherever it lies. (Comparing the one-sided slopes
    /// alone mistakes strong curvature, e.g. softmax on raw pixels, for a kink.)
    static func isNearKink<S: TensorScalar>(plus: S, halfPlus: S, center: S, halfMinus: S, minus: S, h: S) -> Bool {
        let forward = (plus - center) / h, backward = (center - minus) / h
        let asymmetry = forward - backward
        let halfAsymmetry = ((halfPlus - center) - (center - halfMinus)) / (h / 2)
        let centred = (plus - minus) / (2 * h), halfCentred = (halfPlus - halfMinus) / h
        let tolerance = 1e-3 * Swift.max(Swift.abs(forward), Swift.abs(backward), 1)
        return Swift.abs(asymmetry - 2 * halfAsymmetry) > tolerance || Swift.abs(centred - halfCentred) > tolerance
    }

    /// f at x + h·eᵢ, x, x − h·eᵢ, leaving `point` as it was.
    private static func probe<S: TensorScalar>(
        _ point: inout Tensor<S>, _ i: Int, _ h: S, _ f: (Tensor<S>) throws -> S
    ) rethrows -> (S, S, S) {
        let original = point.withUnsafeBufferPointer { $0[i] }
        defer { point.withUnsafeMutableBufferPointer { $0[i] = original } }
        point.withUnsafeMutableBufferPointer { $0[i] = original + h }
        let plus = try f(point)
        point.withUnsafeMutableBufferPointer { $0[i] = original - h }
        let minus = try f(point)
        return (plus, .nan, minus)
    }
}

/// The outcome of a sparse gradient check.
public struct GradientCheckReport<S: TensorScalar>: Sendable {
    public struct Row: Sendable {
        public let index: Int
        public let numeric: S, analytic: S, relativeError: S
    }
    public var rows: [Row] = []
    /// Coordinates skipped because a kink lay within h of them.
    public var skippedKinks = 0
    public var checked: Int { rows.count }
    public var maxRelativeError: S { rows.map(\.relativeError).max() ?? 0 }
}
