import CS231nNN
import Testing

/// Gradient checks as CS231n does them: every coordinate by centred differences in Double, and
/// the course's relative error, max |a − b| / max(1e-8, |a| + |b|).
let gradientTolerance = 1e-7

/// Inputs whose entries all lie at least `margin` from 0, so that no ReLU sits on its kink.
func smoothRandn(_ shape: [Int], scale: Double = 1, margin: Double = 0.05, using generator: inout RandomGenerator) -> Tensor<Double> {
    var t = Tensor<Double>.randn(shape, scale: scale, using: &generator)
    t.mapInPlace { $0 >= 0 ? $0 + margin : $0 - margin }
    return t
}

/// Asserts analytic and numeric gradients agree, naming what was checked and the error found.
func expectClose(_ label: String, analytic: Tensor<Double>, numeric: Tensor<Double>,
                 tolerance: Double = gradientTolerance, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(analytic.shape == numeric.shape, "\(label): shapes differ", sourceLocation: sourceLocation)
    guard analytic.shape == numeric.shape else { return }
    let error = GradientCheck.relativeError(analytic, numeric)
    #expect(error < tolerance, "\(label): relative error \(error)", sourceLocation: sourceLocation)
}

/// Checks dx of a tensor-valued layer against the numeric gradient with upstream `dout`.
func expectLayerGradient(_ label: String, at x: Tensor<Double>, dout: Tensor<Double>, analytic: Tensor<Double>,
                         tolerance: Double = gradientTolerance, sourceLocation: SourceLocation = #_sourceLocation,
                         _ f: (Tensor<Double>) throws -> Tensor<Double>) throws {
    let numeric = try GradientCheck.numericGradient(at: x, upstream: dout, f)
    expectClose(label, analytic: analytic, numeric: numeric, tolerance: tolerance, sourceLocation: sourceLocation)
}

/// Checks every parameter gradient of a model's loss. Parameters listed in `vanishing` have a
/// gradient that is zero in exact arithmetic (a bias followed by batch norm, which subtracts it
/// again); relative error means nothing there, so both gradients must be zero to 1e-9 instead.
func expectModelGradients<M: Model>(_ label: String, _ model: M, _ x: Tensor<Double>, _ y: [Int], h: Double = 1e-5,
                                    vanishing: Set<String> = [], sourceLocation: SourceLocation = #_sourceLocation) throws
where M.Scalar == Double {
    var probe = model
    let (_, gradients) = try probe.loss(x, y)
    #expect(gradients.names == model.parameters.names, sourceLocation: sourceLocation)
    for (name, parameter) in model.parameters {
        let numeric = try GradientCheck.numericGradient(at: parameter, h: h) { value in
            var copy = model
            copy.parameters[name] = value
            return try copy.loss(x, y).loss
        }
        let analytic = try #require(gradients[name])
        if vanishing.contains(name) {
            #expect(analytic.abs().max() < 1e-9 && numeric.abs().max() < 1e-9,
                    "\(label) \(name): expected zero gradients, got \(analytic.abs().max()) and \(numeric.abs().max())",
                    sourceLocation: sourceLocation)
        } else {
            expectClose("\(label) \(name)", analytic: analytic, numeric: numeric, sourceLocation: sourceLocation)
        }
    }
}
