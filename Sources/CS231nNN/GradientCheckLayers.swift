/// The gradient checks of assignment 2's layers, and of the convolution and pooling kernels
/// under `Conv2D` and `MaxPool2D`: every input and parameter gradient against centred
/// differences over all coordinates, in Double, at smooth points (ReLU inputs kept away from 0,
/// unit-scale activations). `cs231n gradcheck` and the tests run the same targets.
extension GradientCheckTarget {
    public static var layers: [GradientCheckTarget] {
        [
            GradientCheckTarget(name: "affine", summary: "affine layer: dx, dW, db", run: affineChecks),
            GradientCheckTarget(name: "relu", summary: "ReLU and leaky ReLU: dx", run: reluChecks),
            GradientCheckTarget(name: "losses", summary: "softmax and SVM losses as layers: dx", run: lossChecks),
            GradientCheckTarget(name: "batchnorm", summary: "batch norm, full and alt backward, train and test: dx, dγ, dβ", run: batchNormChecks),
            GradientCheckTarget(name: "layernorm", summary: "layer norm: dx, dγ, dβ", run: layerNormChecks),
            GradientCheckTarget(name: "dropout", summary: "inverted dropout with a fixed mask: dx", run: dropoutChecks),
            GradientCheckTarget(name: "sandwich", summary: "affine-relu and affine-norm-relu: dx and every parameter", run: sandwichChecks),
            GradientCheckTarget(name: "conv", summary: "Conv2D by every algorithm that computes the layer, strided, and with the ReLU-pool epilogue: dx, dW, db", run: convChecks),
            GradientCheckTarget(name: "pool", summary: "max pool, average pool and spatial batch norm: dx (dγ, dβ)", run: poolChecks),
        ]
    }

    static func randn(_ shape: [Int], _ g: inout RandomGenerator, scale: Double = 1) -> Tensor<Double> {
        Tensor<Double>.randn(shape, scale: scale, using: &g)
    }

    static func smooth(_ shape: [Int], _ g: inout RandomGenerator) -> Tensor<Double> {
        GradientCheck.smoothPoint(shape, using: &g)
    }

    static func affineChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([10, 2, 3], &g), w = randn([6, 5], &g), b = randn([5], &g), dout = randn([10, 5], &g)
        let (dx, dw, db) = try Affine.backward(dout, Affine.forward(x, w, b).cache)
        return [
            try GradientCheck.layerLine("affine dx", at: x, dout: dout, analytic: dx) { try Affine.forward($0, w, b).out },
            try GradientCheck.layerLine("affine dW", at: w, dout: dout, analytic: dw) { try Affine.forward(x, $0, b).out },
            try GradientCheck.layerLine("affine db", at: b, dout: dout, analytic: db) { try Affine.forward(x, w, $0).out },
        ]
    }

    static func reluChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = smooth([10, 10], &g), dout = randn([10, 10], &g)
        let dx = try ReLU.backward(dout, ReLU.forward(x).cache)
        let leaky = try LeakyReLU.backward(dout, LeakyReLU.forward(x, slope: 0.1).cache)
        return [
            try GradientCheck.layerLine("relu dx", at: x, dout: dout, analytic: dx) { ReLU.forward($0).out },
            try GradientCheck.layerLine("leaky relu (slope 0.1) dx", at: x, dout: dout, analytic: leaky) { LeakyReLU.forward($0, slope: 0.1).out },
        ]
    }

    static func lossChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([50, 10], &g, scale: 0.001)
        let y = (0..<50).map { _ in g.nextInt(below: 10) }
        return try [
            GradientCheck.line("softmax loss dx", at: x, analytic: SoftmaxLoss.forwardBackward(x, labels: y).dx) {
                try SoftmaxLoss.forwardBackward($0, labels: y).loss
            },
            GradientCheck.line("svm loss dx", at: x, analytic: SVMLoss.forwardBackward(x, labels: y).dx) {
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
                    try GradientCheck.layerLine("\(mode) \(form) dx", at: x, dout: dout, analytic: grads.dx) { try run($0, gamma, beta) },
                    try GradientCheck.layerLine("\(mode) \(form) dgamma", at: gamma, dout: dout, analytic: grads.dgamma) { try run(x, $0, beta) },
                    try GradientCheck.layerLine("\(mode) \(form) dbeta", at: beta, dout: dout, analytic: grads.dbeta) { try run(x, gamma, $0) },
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
            try GradientCheck.layerLine("layernorm dx", at: x, dout: dout, analytic: dx) { try LayerNorm.forward($0, gamma: gamma, beta: beta).out },
            try GradientCheck.layerLine("layernorm dgamma", at: gamma, dout: dout, analytic: dgamma) { try LayerNorm.forward(x, gamma: $0, beta: beta).out },
            try GradientCheck.layerLine("layernorm dbeta", at: beta, dout: dout, analytic: dbeta) { try LayerNorm.forward(x, gamma: gamma, beta: $0).out },
        ]
    }

    static func dropoutChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([10, 10], &g), dout = randn([10, 10], &g)
        let masks = RandomGenerator(seed: seed, stream: .dropout)
        var generator = masks
        let cache = try Dropout.forward(x, keepProbability: 0.6, mode: .train, generator: &generator).cache
        return [try GradientCheck.layerLine("dropout (p = 0.6) dx", at: x, dout: dout, analytic: Dropout.backward(dout, cache)) {
            var same = masks
            return try Dropout.forward($0, keepProbability: 0.6, mode: .train, generator: &same).out
        }]
    }

    static func sandwichChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([2, 3, 4], &g), w = randn([12, 10], &g), b = randn([10], &g), dout = randn([2, 10], &g)
        let plain = try AffineReLU.backward(dout, AffineReLU.forward(x, w, b).cache)
        var lines = [
            try GradientCheck.layerLine("affine-relu dx", at: x, dout: dout, analytic: plain.dx) { try AffineReLU.forward($0, w, b).out },
            try GradientCheck.layerLine("affine-relu dW", at: w, dout: dout, analytic: plain.dw) { try AffineReLU.forward(x, $0, b).out },
            try GradientCheck.layerLine("affine-relu db", at: b, dout: dout, analytic: plain.db) { try AffineReLU.forward(x, w, $0).out },
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
                try GradientCheck.layerLine("\(name) dx", at: x2, dout: dout2, analytic: grads.dx) { try run($0, w2, gamma, beta) },
                try GradientCheck.layerLine("\(name) dW", at: w2, dout: dout2, analytic: grads.dw) { try run(x2, $0, gamma, beta) },
                try GradientCheck.layerLine("\(name) dgamma", at: gamma, dout: dout2, analytic: grads.dgamma) { try run(x2, w2, $0, beta) },
                try GradientCheck.layerLine("\(name) dbeta", at: beta, dout: dout2, analytic: grads.dbeta) { try run(x2, w2, gamma, $0) },
            ]
        }
        return lines
    }

    static func convChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([2, 3, 6, 6], &g), w = randn([4, 3, 3, 3], &g, scale: 0.5), b = randn([4], &g)
        var lines: [GradientCheckLine] = []
        // 6×6 at stride 1 and 7×7 at stride 2, so that (W − F + 2P)/S + 1 is an integer.
        for (x, stride) in [(x, 1), (randn([2, 3, 7, 7], &g), 2)] {
            let padding = 1
            let geometry = try Conv2D.geometry(input: x.shape, weights: w.shape, stride: stride, padding: padding)
            let algorithms = Conv2D.Algorithm.allCases.filter { Conv2D.unavailability(of: $0, for: geometry, filters: 4) == nil }
            for algorithm in algorithms {
                func run(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> {
                    try Conv2D.forward(x, w, b, geometry: geometry, algorithm: algorithm).out
                }
                let (out, cache) = try Conv2D.forward(x, w, b, geometry: geometry, algorithm: algorithm)
                let dout = randn(out.shape, &g)
                let (dx, dw, db) = try Conv2D.backward(dout, cache)
                let name = "conv \(algorithm.rawValue) stride \(stride)"
                lines += [
                    try GradientCheck.layerLine("\(name) dx", at: x, dout: dout, analytic: dx) { try run($0, w, b) },
                    try GradientCheck.layerLine("\(name) dW", at: w, dout: dout, analytic: dw) { try run(x, $0, b) },
                    try GradientCheck.layerLine("\(name) db", at: b, dout: dout, analytic: db) { try run(x, w, $0) },
                ]
            }
        }
        // The ReLU and the 2×2 max pool as the convolution's epilogue, as the course's conv nets use it.
        let geometry = try Conv2D.geometry(input: x.shape, weights: w.shape, padding: 1)
        let pool = try MaxPool2D.geometry(input: [4, geometry.outputHeight, geometry.outputWidth])
        let epilogue = Conv2D.Epilogue(activation: .relu, pool: pool)
        func fused(_ x: Tensor<Double>, _ w: Tensor<Double>) throws -> Tensor<Double> {
            try Conv2D.forward(x, w, b, geometry: geometry, epilogue: epilogue).out
        }
        let (out, cache) = try Conv2D.forward(x, w, b, geometry: geometry, epilogue: epilogue)
        let dout = randn(out.shape, &g)
        let (dx, dw, _) = try Conv2D.backward(dout, cache)
        lines += [
            try GradientCheck.layerLine("conv-relu-pool dx", at: x, dout: dout, analytic: dx) { try fused($0, w) },
            try GradientCheck.layerLine("conv-relu-pool dW", at: w, dout: dout, analytic: dw) { try fused(x, $0) },
        ]
        return lines
    }

    static func poolChecks(seed: UInt64) throws -> [GradientCheckLine] {
        var g = RandomGenerator(seed: seed)
        let x = randn([2, 3, 4, 4], &g), dout = randn([2, 3, 2, 2], &g)
        let maxPooled = try MaxPool2D.backward(dout, MaxPool2D.forward(x).cache)
        let averaged = try AvgPool2D.backward(dout, AvgPool2D.forward(x).cache)
        let gamma = Tensor<Double>.uniform([3], low: 0.5, high: 1.5, using: &g), beta = randn([3], &g)
        let dnorm = randn(x.shape, &g)
        func normalize(_ x: Tensor<Double>, _ gamma: Tensor<Double>, _ beta: Tensor<Double>) throws -> Tensor<Double> {
            var state = BatchNormState<Double>(features: 3)
            return try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &state, mode: .train).out
        }
        var state = BatchNormState<Double>(features: 3)
        let spatial = try BatchNorm.backward(dnorm, BatchNorm.forward(x, gamma: gamma, beta: beta, state: &state, mode: .train).cache)
        return [
            try GradientCheck.layerLine("max pool 2×2 dx", at: x, dout: dout, analytic: maxPooled) { try MaxPool2D.forward($0).out },
            try GradientCheck.layerLine("average pool 2×2 dx", at: x, dout: dout, analytic: averaged) { try AvgPool2D.forward($0).out },
            try GradientCheck.layerLine("spatial batchnorm dx", at: x, dout: dnorm, analytic: spatial.dx) { try normalize($0, gamma, beta) },
            try GradientCheck.layerLine("spatial batchnorm dgamma", at: gamma, dout: dnorm, analytic: spatial.dgamma) { try normalize(x, $0, beta) },
            try GradientCheck.layerLine("spatial batchnorm dbeta", at: beta, dout: dnorm, analytic: spatial.dbeta) { try normalize(x, gamma, $0) },
        ]
    }
}
