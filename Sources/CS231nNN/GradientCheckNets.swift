import Foundation

/// The gradient checks of whole nets: every parameter of the loss (data term and L2 together)
/// against centred differences, in Double: the course's nets, the three-layer conv net and a
/// `Sequential` conv net.
extension GradientCheckTarget {
    public static var nets: [GradientCheckTarget] {
        [
            GradientCheckTarget(name: "two-layer", summary: "TwoLayerNet (the notebook's toy net, reg 0.1): every parameter", run: twoLayerChecks),
            GradientCheckTarget(name: "fc", summary: "FullyConnectedNet, none/batchnorm/layernorm × dropout: every parameter", run: fullyConnectedChecks),
            GradientCheckTarget(name: "convnet", summary: "ThreeLayerConvNet and a Sequential conv-batchnorm-pool net: every parameter", run: convNetChecks),
        ]
    }

    /// One line per parameter of `model`'s loss. Under batch norm the bias before it has an
    /// exactly zero gradient; there both gradients must be below 1e-9 (reported as error 0).
    public static func modelLines<M: Model>(_ label: String, _ model: M, _ x: Tensor<Double>, _ y: [Int],
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
            return try GradientCheck.line("\(label) \(name)", at: value, analytic: analytic, loss)
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

    static func convNetChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([2, 3, 8, 8], &g), y = [1, 3]
        let threeLayer = try ThreeLayerConvNet<Double>(inputShape: [3, 8, 8], filters: 3, filterSize: 3, hiddenSize: 6, classes: 4,
                                                       weightScale: 0.3, regularization: 0.1, seed: seed)
        let sequential = try Sequential<Double>(inputShape: [3, 8, 8], layers: [
            ("conv1", Conv2DLayer(filters: 3, kernel: 3, padding: 1, weightScale: 0.3)),
            ("norm1", BatchNormLayer()),
            ("relu1", ReLULayer()),
            ("pool1", MaxPool2DLayer()),
            ("scores", AffineLayer(outputs: 4, weightScale: 0.3)),
        ], regularization: 0.1, seed: seed)
        // The conv bias before batch norm has an exactly zero gradient.
        return try modelLines("three-layer-convnet", threeLayer, x, y)
            + modelLines("sequential", sequential, x, y, vanishing: ["conv1.bias"])
    }
}
