import CS231n
import Foundation

/// `cs231n gradcheck` targets for the layers and nets of assignment 2: every input and
/// parameter gradient against centred differences over all coordinates, in Double, at
/// smooth points (ReLU inputs kept away from 0, unit-scale activations).
extension GradCheckCommand {
    static var networkTargets: [GradientCheckTarget] {
        [
            GradientCheckTarget(name: "affine", summary: "affine layer: dx, dW, db", run: affineChecks),
            GradientCheckTarget(name: "relu", summary: "ReLU and leaky ReLU: dx", run: reluChecks),
            GradientCheckTarget(name: "losses", summary: "softmax and SVM losses as layers: dx", run: lossChecks),
            GradientCheckTarget(name: "batchnorm", summary: "batch norm, full and alt backward, train and test: dx, dγ, dβ", run: batchNormChecks),
            GradientCheckTarget(name: "layernorm", summary: "layer norm: dx, dγ, dβ", run: layerNormChecks),
            GradientCheckTarget(name: "dropout", summary: "inverted dropout with a fixed mask: dx", run: dropoutChecks),
            GradientCheckTarget(name: "sandwich", summary: "affine-relu and affine-norm-relu: dx and every parameter", run: sandwichChecks),
            GradientCheckTarget(name: "two-layer", summary: "TwoLayerNet (the notebook's toy net, reg 0.1): every parameter", run: twoLayerChecks),
            GradientCheckTarget(name: "fc", summary: "FullyConnectedNet, none/batchnorm/layernorm × dropout: every parameter", run: fullyConnectedChecks),
        ]
    }

    /// One line comparing the analytic gradient of a layer `f` at `x`, under upstream `dout`,
    /// with the numeric gradient of Σ dout·f(x).
    static func layerLine(_ check: String, at x: Tensor<Double>, dout: Tensor<Double>, analytic: Tensor<Double>,
                          _ f: (Tensor<Double>) throws -> Tensor<Double>) throws -> GradientCheckLine {
        try parameterLine(check, at: x, analytic: analytic) { try (f($0) * dout).sum() }
    }

    static func randn(_ shape: [Int], _ g: inout RandomGenerator, scale: Double = 1) -> Tensor<Double> {
        Tensor<Double>.randn(shape, scale: scale, using: &g)
    }

    /// Standard normal values pushed at least 0.05 away from 0, so no ReLU sits on its kink.
    static func smooth(_ shape: [Int], _ g: inout RandomGenerator) -> Tensor<Double> {
        randn(shape, &g).map { $0 >= 0 ? $0 + 0.05 : $0 - 0.05 }
    }

    static func affineChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([10, 2, 3], &g), w = randn([6, 5], &g), b = randn([5], &g), dout = randn([10, 5], &g)
        let (dx, dw, db) = try Affine.backward(dout, Affine.forward(x, w, b).cache)
        return [
            try layerLine("affine dx", at: x, dout: dout, analytic: dx) { try Affine.forward($0, w, b).out },
            try layerLine("affine dW", at: w, dout: dout, analytic: dw) { try Affine.forward(x, $0, b).out },
            try layerLine("affine db", at: b, dout: dout, analytic: db) { try Affine.forward(x, w, $0).out },
        ]
    }

    static func reluChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = smooth([10, 10], &g), dout = randn([10, 10], &g)
        let dx = try ReLU.backward(dout, ReLU.forward(x).cache)
        let leaky = try LeakyReLU.backward(dout, LeakyReLU.forward(x, slope: 0.1).cache)
        return [
            try layerLine("relu dx", at: x, dout: dout, analytic: dx) { ReLU.forward($0).out },
            try layerLine("leaky relu (slope 0.1) dx", at: x, dout: dout, analytic: leaky) { LeakyReLU.forward($0, slope: 0.1).out },
        ]
    }

    static func lossChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([50, 10], &g, scale: 0.001)
        let y = (0..<50).map { _ in g.nextInt(below: 10) }
        return try [
            parameterLine("softmax loss dx", at: x, analytic: SoftmaxLoss.forwardBackward(x, labels: y).dx) {
                try SoftmaxLoss.forwardBackward($0, labels: y).loss
            },
            parameterLine("svm loss dx", at: x, analytic: SVMLoss.forwardBackward(x, labels: y).dx) {
                try SVMLoss.forwardBackward($0, labels: y).loss
            },
        ]
    }

    static func batchNormChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([4, 5], &g, scale: 5) + 12, gamma = randn([5], &g), beta = randn([5], &g), dout = randn([4, 5], &g)
        var initial = BatchNormState<Double>(features: 5)
        initial.runningMean = randn([5], &g)
        initial.runningVariance = Tensor.uniform([5], low: 0.5, high: 2, using: &g)
        var lines: [GradientCheckLine] = []
        for mode in Mode.allCases {
            func run(_ x: Tensor<Double>, _ gamma: Tensor<Double>, _ beta: Tensor<Double>) throws -> Tensor<Double> {
                var state = initial
                return try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &state, mode: mode).out
            }
            var state = initial
            let cache = try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &state, mode: mode).cache
            for (form, grads) in [("full", try BatchNorm.backward(dout, cache)), ("alt", try BatchNorm.backwardAlt(dout, cache))] {
                lines += [
                    try layerLine("\(mode) \(form) dx", at: x, dout: dout, analytic: grads.dx) { try run($0, gamma, beta) },
                    try layerLine("\(mode) \(form) dgamma", at: gamma, dout: dout, analytic: grads.dgamma) { try run(x, $0, beta) },
                    try layerLine("\(mode) \(form) dbeta", at: beta, dout: dout, analytic: grads.dbeta) { try run(x, gamma, $0) },
                ]
            }
        }
        return lines
    }

    static func layerNormChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([4, 5], &g, scale: 5) + 12, gamma = randn([5], &g), beta = randn([5], &g), dout = randn([4, 5], &g)
        let (dx, dgamma, dbeta) = try LayerNorm.backward(dout, LayerNorm.forward(x, gamma: gamma, beta: beta).cache)
        return [
            try layerLine("layernorm dx", at: x, dout: dout, analytic: dx) { try LayerNorm.forward($0, gamma: gamma, beta: beta).out },
            try layerLine("layernorm dgamma", at: gamma, dout: dout, analytic: dgamma) { try LayerNorm.forward(x, gamma: $0, beta: beta).out },
            try layerLine("layernorm dbeta", at: beta, dout: dout, analytic: dbeta) { try LayerNorm.forward(x, gamma: gamma, beta: $0).out },
        ]
    }

    static func dropoutChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([10, 10], &g), dout = randn([10, 10], &g)
        let masks = RandomGenerator(seed: seed, stream: .dropout)
        var generator = masks
        let cache = try Dropout.forward(x, keepProbability: 0.6, mode: .train, generator: &generator).cache
        return [try layerLine("dropout (p = 0.6) dx", at: x, dout: dout, analytic: Dropout.backward(dout, cache)) {
            var same = masks
            return try Dropout.forward($0, keepProbability: 0.6, mode: .train, generator: &same).out
        }]
    }

    static func sandwichChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([2, 3, 4], &g), w = randn([12, 10], &g), b = randn([10], &g), dout = randn([2, 10], &g)
        let plain = try AffineReLU.backward(dout, AffineReLU.forward(x, w, b).cache)
        var lines = [
            try layerLine("affine-relu dx", at: x, dout: dout, analytic: plain.dx) { try AffineReLU.forward($0, w, b).out },
            try layerLine("affine-relu dW", at: w, dout: dout, analytic: plain.dw) { try AffineReLU.forward(x, $0, b).out },
            try layerLine("affine-relu db", at: b, dout: dout, analytic: plain.db) { try AffineReLU.forward(x, w, $0).out },
        ]
        let x2 = randn([4, 6], &g), w2 = randn([6, 5], &g), b2 = randn([5], &g), dout2 = randn([4, 5], &g)
        let gamma = Tensor<Double>.uniform([5], low: 0.5, high: 1.5, using: &g), beta = randn([5], &g)
        for normalization in [Normalization.batchnorm, .layernorm] {
            func run(_ x: Tensor<Double>, _ w: Tensor<Double>, _ gamma: Tensor<Double>, _ beta: Tensor<Double>) throws -> Tensor<Double> {
                var state = BatchNormState<Double>(features: 5)
                return try AffineNormReLU.forward(x, w, b2, gamma: gamma, beta: beta, normalization: normalization,
                                                  state: &state, mode: .train).out
            }
            var state = BatchNormState<Double>(features: 5)
            let grads = try AffineNormReLU.backward(dout2, AffineNormReLU.forward(x2, w2, b2, gamma: gamma, beta: beta,
                normalization: normalization, state: &state, mode: .train).cache)
            let name = "affine-\(normalization.rawValue)-relu"
            lines += [
                try layerLine("\(name) dx", at: x2, dout: dout2, analytic: grads.dx) { try run($0, w2, gamma, beta) },
                try layerLine("\(name) dW", at: w2, dout: dout2, analytic: grads.dw) { try run(x2, $0, gamma, beta) },
                try layerLine("\(name) dgamma", at: gamma, dout: dout2, analytic: grads.dgamma) { try run(x2, w2, $0, beta) },
                try layerLine("\(name) dbeta", at: beta, dout: dout2, analytic: grads.dbeta) { try run(x2, w2, gamma, $0) },
            ]
        }
        return lines
    }

    /// Compares `analytic` with ∂f/∂x from Richardson extrapolation of centred differences,
    /// (4·D(h/4) − D(h/2))/3 (error O(h⁴)). How far D(h), D(h/2) and D(h/4) disagree measures how
    /// far the numeric value can be trusted: at a net's loss rounding costs ~ε·|f|/h, so where
    /// regularization and data gradients nearly cancel no step size resolves the course's 1e-7;
    /// and where a ReLU kink lies within h the differences jump. Coordinates resolved to 1e-7
    /// are held to the tolerance; the others are not hidden: a rounding-limited one must agree
    /// within 3× its uncertainty, and kinks are skipped and counted, as `grad_check_sparse` does.
    static func parameterLine(_ check: String, at x: Tensor<Double>, analytic: Tensor<Double>, h: Double = 1e-4,
                              _ f: (Tensor<Double>) throws -> Double) throws -> GradientCheckLine {
        let steps = try [h, h / 2, h / 4].map { try GradientCheck.numericGradient(at: x, h: $0, f).scalars }
        // A difference of two values of f near |f| is exact only to ~ε·|f|, which differences at
        // nearby steps can share (they then agree while both being off).
        let roundingFloor = 2 * Double.ulpOfOne * Swift.max(1, abs(try f(x))) / (h / 4)
        let exact = analytic.scalars
        var worst = 0.0, resolved = 0, roundingLimited = 0, kinks = 0
        for i in exact.indices {
            let numeric = (4 * steps[2][i] - steps[1][i]) / 3
            let disagreement = Swift.max(abs(steps[0][i] - steps[1][i]), abs(steps[1][i] - steps[2][i]))
            let uncertainty = Swift.max(disagreement, roundingFloor)
            let scale = abs(exact[i]) + abs(numeric)
            if uncertainty <= 1e-7 * scale || (exact[i] == 0 && steps.allSatisfy { $0[i] == 0 }) {
                resolved += 1
                worst = Swift.max(worst, GradientCheck.relativeError(exact[i], numeric))
            } else if disagreement > 1e-3 * scale && disagreement > 10 * roundingFloor {
                kinks += 1
            } else {
                roundingLimited += 1
                if abs(exact[i] - numeric) > 3 * uncertainty + 1e-7 * scale { worst = .infinity }
            }
        }
        let note = roundingLimited > 0 ? " (\(roundingLimited) at rounding limit)" : ""
        return GradientCheckLine(check: check + note, relativeError: worst, checked: resolved, skippedKinks: kinks)
    }

    /// One line per parameter of `model`'s loss. Under batch norm the bias before it has an
    /// exactly zero gradient; there both gradients must be below 1e-9 (reported as error 0).
    static func modelLines<M: Model>(_ label: String, _ model: M, _ x: Tensor<Double>, _ y: [Int],
                                     vanishing: Set<String> = []) throws -> [GradientCheckLine] where M.Scalar == Double {
        var probe = model
        let gradients = try probe.loss(x, y).gradients
        return try model.parameters.map { name, value in
            let analytic = try gradients.require(name)
            let loss = { (point: Tensor<Double>) throws -> Double in
                var copy = model
                copy.parameters[name] = point
                return try copy.loss(x, y).loss
            }
            if vanishing.contains(name) {
                let numeric = try GradientCheck.numericGradient(at: value, loss)
                let largest = Swift.max(analytic.abs().max(), numeric.abs().max())
                return GradientCheckLine(check: "\(label) \(name) (zero under batchnorm; max |grad| \(String(format: "%.0e", largest)))",
                                         relativeError: largest < 1e-9 ? 0 : 1, checked: value.count)
            }
            return try parameterLine("\(label) \(name)", at: value, analytic: analytic, loss)
        }
    }

    static func twoLayerChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([5, 4], &g, scale: 10), y = [0, 1, 2, 2, 1]
        let net = try TwoLayerNet<Double>(inputSize: 4, hiddenSize: 10, classes: 3, weightScale: 0.1, regularization: 0.1, seed: seed)
        return try modelLines("two-layer", net, x, y)
    }

    static func fullyConnectedChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        var lines: [GradientCheckLine] = []
        let x = randn([2, 15], &g), y = [3, 7]
        for reg in [0.0, 3.14] {
            let net = try FullyConnectedNet<Double>(inputShape: [15], hiddenSizes: [20, 30], classes: 10, regularization: reg,
                                                    weightScale: nil, seed: seed)
            lines += try modelLines("reg \(reg)", net, x, y)
        }
        let x4 = randn([4, 8], &g), y4 = [1, 4, 0, 2]
        for normalization in [Normalization.batchnorm, .layernorm] {
            for keep in [1.0, 0.5] {
                var net = try FullyConnectedNet<Double>(inputShape: [8], hiddenSizes: [9, 7], classes: 5, normalization: normalization,
                                                        keepProbability: keep, regularization: 0.5, weightScale: 0.3, seed: seed)
                // γ = 1, β = 0 would put a ReLU exactly on its kink wherever a normalized value is
                // 0 (e.g. a row that dropout emptied): move them off the identity.
                for (layer, size) in [(1, 9), (2, 7)] {
                    net.parameters["gamma\(layer)"] = Tensor.uniform([size], low: 0.5, high: 1.5, using: &g)
                    net.parameters["beta\(layer)"] = Tensor.uniform([size], low: -0.2, high: 0.2, using: &g)
                }
                lines += try modelLines("\(normalization.rawValue) keep \(keep)", net, x4, y4,
                                        vanishing: normalization == .batchnorm ? ["b1", "b2"] : [])
            }
        }
        return lines
    }
}
