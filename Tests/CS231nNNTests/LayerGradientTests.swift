import CS231nNN
import Foundation
import Testing

/// Each layer's backward against centred differences of its forward, in Double.
@Suite struct LayerGradientTests {
    @Test func affine() throws {
        var g = RandomGenerator(seed: 1)
        let x = Tensor<Double>.randn([4, 2, 3], using: &g), w = Tensor<Double>.randn([6, 5], using: &g)
        let b = Tensor<Double>.randn([5], using: &g), dout = Tensor<Double>.randn([4, 5], using: &g)
        let (out, cache) = try Affine.forward(x, w, b)
        #expect(out.shape == [4, 5])
        let (dx, dw, db) = try Affine.backward(dout, cache)
        #expect(dx.shape == x.shape)
        try expectLayerGradient("affine dx", at: x, dout: dout, analytic: dx) { try Affine.forward($0, w, b).out }
        try expectLayerGradient("affine dw", at: w, dout: dout, analytic: dw) { try Affine.forward(x, $0, b).out }
        try expectLayerGradient("affine db", at: b, dout: dout, analytic: db) { try Affine.forward(x, w, $0).out }
    }

    @Test func affineMatchesTheDefinition() throws {
        let x = try Tensor<Double>(shape: [2, 2], scalars: [1, 2, 3, 4])
        let w = try Tensor<Double>(shape: [2, 3], scalars: [1, 0, -1, 2, 1, 0])
        let out = try Affine.forward(x, w, Tensor([0.5, -0.5, 1])).out
        #expect(out.scalars == [5.5, 1.5, 0, 11.5, 3.5, -2])
    }

    @Test(arguments: ReLUBackwardRule.allCases)
    func reluRules(rule: ReLUBackwardRule) throws {
        let x = Tensor<Double>([-2, -1, 1, 2]), dout = Tensor<Double>([3, -3, 3, -3])
        let (out, cache) = ReLU.forward(x)
        #expect(out.scalars == [0, 0, 1, 2])
        let dx = try ReLU.backward(dout, cache, rule: rule)
        switch rule {
        case .standard: #expect(dx.scalars == [0, 0, 3, -3])
        case .deconvnet: #expect(dx.scalars == [3, 0, 3, 0])
        case .guided: #expect(dx.scalars == [0, 0, 3, 0])
        }
    }

    @Test func reluGradient() throws {
        var g = RandomGenerator(seed: 2)
        let x = smoothRandn([5, 7], using: &g), dout = Tensor<Double>.randn([5, 7], using: &g)
        let dx = try ReLU.backward(dout, ReLU.forward(x).cache)
        try expectLayerGradient("relu dx", at: x, dout: dout, analytic: dx) { ReLU.forward($0).out }
    }

    @Test func leakyReLUGradient() throws {
        var g = RandomGenerator(seed: 3)
        let x = smoothRandn([5, 7], using: &g), dout = Tensor<Double>.randn([5, 7], using: &g)
        let (out, cache) = LeakyReLU.forward(x, slope: 0.1)
        #expect(out[0, 0] == (x[0, 0] > 0 ? x[0, 0] : 0.1 * x[0, 0]))
        try expectLayerGradient("leaky relu dx", at: x, dout: dout, analytic: LeakyReLU.backward(dout, cache)) {
            LeakyReLU.forward($0, slope: 0.1).out
        }
    }

    @Test func softmaxLoss() throws {
        var g = RandomGenerator(seed: 4)
        let x = Tensor<Double>.randn([50, 10], scale: 0.001, using: &g)
        let y = (0..<50).map { $0 % 10 }
        let (loss, dx) = try SoftmaxLoss.forwardBackward(x, labels: y)
        #expect(abs(loss - log(10)) < 1e-3, "small scores give loss ≈ ln 10, got \(loss)")
        let numeric = try GradientCheck.numericGradient(at: x) { try SoftmaxLoss.forwardBackward($0, labels: y).loss }
        expectClose("softmax dx", analytic: dx, numeric: numeric)
    }

    @Test func svmLoss() throws {
        var g = RandomGenerator(seed: 5)
        let x = Tensor<Double>.randn([50, 10], scale: 0.001, using: &g)
        let y = (0..<50).map { ($0 * 7) % 10 }
        let (loss, dx) = try SVMLoss.forwardBackward(x, labels: y)
        #expect(abs(loss - 9) < 1e-2, "small scores give loss ≈ C − 1 = 9, got \(loss)")
        let numeric = try GradientCheck.numericGradient(at: x) { try SVMLoss.forwardBackward($0, labels: y).loss }
        expectClose("svm dx", analytic: dx, numeric: numeric)
    }

    @Test func lossesRejectBadLabels() {
        let x = Tensor<Double>.zeros([2, 3])
        #expect(throws: TensorError.self) { try SoftmaxLoss.forwardBackward(x, labels: [0, 3]) }
        #expect(throws: TensorError.self) { try SVMLoss.forwardBackward(x, labels: [0]) }
    }

    @Test func batchNormTrainForwardNormalizes() throws {
        var g = RandomGenerator(seed: 6)
        let x = try Tensor<Double>.randn([200, 3], scale: 5, using: &g) + 12
        var state = BatchNormState<Double>(features: 3)
        let gamma = Tensor<Double>([1, 2, 3]), beta = Tensor<Double>([11, 12, 13])
        let out = try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &state, mode: .train).out
        let means = try out.mean(axis: 0).scalars, stds = try out.variance(axis: 0).sqrt().scalars
        for j in 0..<3 {
            #expect(abs(means[j] - beta[j]) < 1e-9)
            #expect(abs(stds[j] - gamma[j]) < 1e-3)
        }
        // One step of momentum 0.9 from zero: running mean = 0.1 · batch mean.
        #expect(try abs(state.runningMean[0] - 0.1 * x.mean(axis: 0)[0]) < 1e-12)
    }

    @Test func batchNormRunningStatisticsServeTestMode() throws {
        var g = RandomGenerator(seed: 7)
        var state = BatchNormState<Double>(features: 4)
        let gamma = Tensor<Double>.ones([4]), beta = Tensor<Double>.zeros([4])
        for _ in 0..<60 {
            let x = try Tensor<Double>.randn([200, 4], scale: 2, using: &g) + 3
            _ = try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &state, mode: .train)
        }
        let x = try Tensor<Double>.randn([500, 4], scale: 2, using: &g) + 3
        let out = try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &state, mode: .test).out
        for m in try out.mean(axis: 0).scalars { #expect(abs(m) < 0.2) }
        for v in try out.variance(axis: 0).scalars { #expect(abs(v - 1) < 0.2) }
    }

    @Test(arguments: [Mode.train, .test])
    func batchNormGradients(mode: Mode) throws {
        var g = RandomGenerator(seed: 8)
        let x = try Tensor<Double>.randn([4, 5], scale: 5, using: &g) + 12
        let gamma = Tensor<Double>.randn([5], using: &g), beta = Tensor<Double>.randn([5], using: &g)
        let dout = Tensor<Double>.randn([4, 5], using: &g)
        var state = BatchNormState<Double>(features: 5)
        state.runningMean = Tensor.randn([5], using: &g)
        state.runningVariance = Tensor.uniform([5], low: 0.5, high: 2, using: &g)
        let initial = state
        func run(_ x: Tensor<Double>, _ gamma: Tensor<Double>, _ beta: Tensor<Double>) throws -> Tensor<Double> {
            var s = initial
            return try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &s, mode: mode).out
        }
        var s = initial
        let cache = try BatchNorm.forward(x, gamma: gamma, beta: beta, state: &s, mode: mode).cache
        let full = try BatchNorm.backward(dout, cache), alt = try BatchNorm.backwardAlt(dout, cache)
        for (form, grads) in [("full", full), ("alt", alt)] {
            try expectLayerGradient("batchnorm \(mode) \(form) dx", at: x, dout: dout, analytic: grads.dx) { try run($0, gamma, beta) }
            try expectLayerGradient("batchnorm \(mode) \(form) dgamma", at: gamma, dout: dout, analytic: grads.dgamma) { try run(x, $0, beta) }
            try expectLayerGradient("batchnorm \(mode) \(form) dbeta", at: beta, dout: dout, analytic: grads.dbeta) { try run(x, gamma, $0) }
        }
        expectClose("batchnorm full vs alt", analytic: full.dx, numeric: alt.dx, tolerance: 1e-10)
    }

    @Test func layerNormGradients() throws {
        var g = RandomGenerator(seed: 9)
        let x = try Tensor<Double>.randn([4, 5], scale: 5, using: &g) + 12
        let gamma = Tensor<Double>.randn([5], using: &g), beta = Tensor<Double>.randn([5], using: &g)
        let dout = Tensor<Double>.randn([4, 5], using: &g)
        let cache = try LayerNorm.forward(x, gamma: gamma, beta: beta).cache
        let plain = try LayerNorm.forward(x, gamma: .ones([5]), beta: .zeros([5])).out
        for m in try plain.mean(axis: 1).scalars { #expect(abs(m) < 1e-9, "each row has mean 0") }
        for v in try plain.variance(axis: 1).scalars { #expect(abs(v - 1) < 1e-3, "each row has variance 1") }
        let (dx, dgamma, dbeta) = try LayerNorm.backward(dout, cache)
        try expectLayerGradient("layernorm dx", at: x, dout: dout, analytic: dx) { try LayerNorm.forward($0, gamma: gamma, beta: beta).out }
        try expectLayerGradient("layernorm dgamma", at: gamma, dout: dout, analytic: dgamma) { try LayerNorm.forward(x, gamma: $0, beta: beta).out }
        try expectLayerGradient("layernorm dbeta", at: beta, dout: dout, analytic: dbeta) { try LayerNorm.forward(x, gamma: gamma, beta: $0).out }
    }

    @Test func dropout() throws {
        var g = RandomGenerator(seed: 10)
        let x = try Tensor<Double>.randn([500, 500], using: &g) + 10
        for p in [0.25, 0.4, 0.7] {
            var maskSource = RandomGenerator(seed: 11, stream: .dropout)
            let train = try Dropout.forward(x, keepProbability: p, mode: .train, generator: &maskSource).out
            let test = try Dropout.forward(x, keepProbability: p, mode: .test, generator: &maskSource).out
            #expect(abs(train.mean() - x.mean()) < 0.05 * x.mean(), "inverted dropout keeps the mean")
            #expect(test == x)
            let kept = Double(train.withUnsafeBufferPointer { $0.filter { $0 != 0 }.count }) / Double(x.count)
            #expect(abs(kept - p) < 0.01, "keeps a fraction p of the units (p = \(p), kept \(kept))")
        }
        let small = Tensor<Double>.randn([6, 5], using: &g), dout = Tensor<Double>.randn([6, 5], using: &g)
        let seeded = RandomGenerator(seed: 12, stream: .dropout)
        var generator = seeded
        let cache = try Dropout.forward(small, keepProbability: 0.6, mode: .train, generator: &generator).cache
        try expectLayerGradient("dropout dx", at: small, dout: dout, analytic: Dropout.backward(dout, cache)) {
            var same = seeded
            return try Dropout.forward($0, keepProbability: 0.6, mode: .train, generator: &same).out
        }
    }

    @Test func affineReLUSandwich() throws {
        var g = RandomGenerator(seed: 13)
        let x = Tensor<Double>.randn([2, 3, 4], using: &g), w = Tensor<Double>.randn([12, 10], using: &g)
        let b = Tensor<Double>.randn([10], using: &g), dout = Tensor<Double>.randn([2, 10], using: &g)
        let (out, cache) = try AffineReLU.forward(x, w, b)
        let reference = try ReLU.forward(Affine.forward(x, w, b).out).out
        expectClose("fused affine-relu forward", analytic: out, numeric: reference, tolerance: 1e-14)
        let (dx, dw, db) = try AffineReLU.backward(dout, cache)
        try expectLayerGradient("affine-relu dx", at: x, dout: dout, analytic: dx) { try AffineReLU.forward($0, w, b).out }
        try expectLayerGradient("affine-relu dw", at: w, dout: dout, analytic: dw) { try AffineReLU.forward(x, $0, b).out }
        try expectLayerGradient("affine-relu db", at: b, dout: dout, analytic: db) { try AffineReLU.forward(x, w, $0).out }
    }

    @Test(arguments: [Normalization.batchnorm, .layernorm])
    func affineNormReLUSandwich(normalization: Normalization) throws {
        var g = RandomGenerator(seed: 14)
        let x = Tensor<Double>.randn([4, 6], using: &g), w = Tensor<Double>.randn([6, 5], using: &g)
        let b = Tensor<Double>.randn([5], using: &g), dout = Tensor<Double>.randn([4, 5], using: &g)
        let gamma = Tensor<Double>.uniform([5], low: 0.5, high: 1.5, using: &g), beta = Tensor<Double>.randn([5], using: &g)
        func run(_ x: Tensor<Double>, _ w: Tensor<Double>, _ b: Tensor<Double>, _ gamma: Tensor<Double>,
                 _ beta: Tensor<Double>) throws -> Tensor<Double> {
            var state = BatchNormState<Double>(features: 5)
            return try AffineNormReLU.forward(x, w, b, gamma: gamma, beta: beta, normalization: normalization,
                                              state: &state, mode: .train).out
        }
        var state = BatchNormState<Double>(features: 5)
        let cache = try AffineNormReLU.forward(x, w, b, gamma: gamma, beta: beta, normalization: normalization,
                                               state: &state, mode: .train).cache
        let grads = try AffineNormReLU.backward(dout, cache)
        let label = "affine-\(normalization.rawValue)-relu"
        try expectLayerGradient("\(label) dx", at: x, dout: dout, analytic: grads.dx) { try run($0, w, b, gamma, beta) }
        try expectLayerGradient("\(label) dw", at: w, dout: dout, analytic: grads.dw) { try run(x, $0, b, gamma, beta) }
        try expectLayerGradient("\(label) dgamma", at: gamma, dout: dout, analytic: grads.dgamma) { try run(x, w, b, $0, beta) }
        try expectLayerGradient("\(label) dbeta", at: beta, dout: dout, analytic: grads.dbeta) { try run(x, w, b, gamma, $0) }
        if normalization == .batchnorm {
            #expect(grads.db.abs().max() < 1e-12, "batch norm subtracts the bias again, so its gradient is zero")
        } else {
            try expectLayerGradient("\(label) db", at: b, dout: dout, analytic: grads.db) { try run(x, w, $0, gamma, beta) }
        }
    }
}
