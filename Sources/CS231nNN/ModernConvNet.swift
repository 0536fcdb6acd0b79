import Foundation

/// A modern fast CIFAR-10 CNN after Keller Jordan's airbench94 (workload W6):
///
///     whiten: conv 2×2 (3 → 24), frozen filters from the data's patch statistics, + bias, GELU
///     3 groups of width w: conv 3×3 → max pool 2 → BN → GELU → conv 3×3 → BN → GELU
///     head: max pool over the last plane → linear (no bias) → × scale (1/9)
///
/// The convolutions have no bias (batch norm's β follows each); batch norm's γ is frozen at 1.
/// It runs channels-last (N, H, W, C) inside: inputs arrive as NCHW batches and are transposed
/// once. Scores at test time average the horizontally flipped view (test-time augmentation,
/// option "tta" 1) and, at level 2, the views translated by one pixel.
///
/// Parameters: "whiten.bias", "g<i>.conv1", "g<i>.norm1.beta", "g<i>.conv2", "g<i>.norm2.beta",
/// "head" (width × classes). Buffers: "whiten.weight" and each norm's running mean and variance.
public struct ModernConvNet<S: TensorScalar>: Model {
    public typealias Scalar = S

    public static var kind: String { "cnn" }

    public let configuration: ModelConfiguration
    public var parameters = ParameterStore<S>()
    public var buffers = ParameterStore<S>()
    public var trainingSteps = 0
    public let widths: [Int]
    /// Label smoothing ε of the training loss (summed over the batch, as airbench).
    public let labelSmoothing: Double
    public let testTimeAugmentation: Int
    public let outputScale: Double
    public let batchNormMomentum: Double, batchNormEpsilon: Double
    /// The whitening bias trains for this many epochs and is then frozen (airbench: 3).
    public let whitenBiasEpochs: Int
    /// The geometry of the whitening conv and of each group's two convs, checked when built.
    public let whiten: ChannelsLastConv.Geometry
    public let groups: [(conv1: ChannelsLastConv.Geometry, conv2: ChannelsLastConv.Geometry)]
    /// The plane the head pools over.
    public let headPool: Int
    /// Synchronized batch norm over these replicas when set (see `BatchNormState.replicas`);
    /// otherwise each replica's batch norm uses its own share's statistics, as PyTorch DDP's.
    public var batchNormReplicas: (any ReplicaGroup)?

    /// The W6 net: widths 64, 256, 256 on 3×32×32 images.
    public init(inputShape: [Int] = [3, 32, 32], widths: [Int] = [64, 256, 256], classes: Int = 10, seed: UInt64 = 0,
                options: [String: String] = [:]) throws {
        var all = options
        all["widths"] = widths.map(String.init).joined(separator: ",")
        try self.init(configuration: ModelConfiguration(kind: Self.kind, inputShape: inputShape, hiddenSizes: widths,
                                                        classes: classes, seed: seed, options: all))
    }

    /// Options (all optional): "whiten-kernel" (2), "label-smoothing" (0.2), "tta" (0, 1 or 2;
    /// default 2), "scale" (1/9), "bn-momentum" (0.6: running = 0.6·running + 0.4·batch),
    /// "bn-epsilon" (1e-12), "whiten-bias-epochs" (3). The widths are the hidden sizes.
    public init(configuration: ModelConfiguration) throws {
        let c = configuration
        func invalid(_ detail: String) -> TensorError { .invalidArgument(operation: "ModernConvNet", detail: detail) }
        func number(_ key: String, _ fallback: Double) throws -> Double {
            guard let text = c.options[key] else { return fallback }
            guard let value = Double(text), value.isFinite else { throw invalid("option \(key) \"\(text)\" is not a number") }
            return value
        }
        guard c.inputShape.count == 3, c.inputShape.allSatisfy({ $0 > 0 }) else {
            throw invalid("input shape \(describeShape(c.inputShape)) is not an image (C, H, W)")
        }
        guard !c.hiddenSizes.isEmpty, c.hiddenSizes.allSatisfy({ $0 > 0 }), c.classes > 0 else {
            throw invalid("needs positive group widths and classes (got \(c.hiddenSizes), \(c.classes) classes)")
        }
        guard c.normalization == .none, c.keepProbability == 1, c.regularization == 0 else {
            throw invalid("has its own batch norm and no dropout or L2 term (use the optimizer's weight decay)")
        }
        let kernel = Int(try number("whiten-kernel", 2)), tta = Int(try number("tta", 2))
        labelSmoothing = try number("label-smoothing", 0.2)
        outputScale = try number("scale", 1.0 / 9)
        batchNormMomentum = try number("bn-momentum", 0.6)
        batchNormEpsilon = try number("bn-epsilon", 1e-12)
        let biasEpochs = try number("whiten-bias-epochs", 3)
        guard biasEpochs >= 0, biasEpochs == biasEpochs.rounded() else {
            throw invalid("option whiten-bias-epochs \(biasEpochs) is not a whole number of epochs ≥ 0")
        }
        whitenBiasEpochs = Int(biasEpochs)
        guard kernel >= 1, (0...2).contains(tta), (0..<1).contains(labelSmoothing), (0..<1).contains(batchNormMomentum),
              batchNormEpsilon > 0 else {
            throw invalid("options out of range: whiten-kernel \(kernel) ≥ 1, tta \(tta) in 0...2, label-smoothing "
                          + "\(labelSmoothing) and bn-momentum \(batchNormMomentum) in [0, 1), bn-epsilon \(batchNormEpsilon) > 0")
        }
        testTimeAugmentation = tta
        widths = c.hiddenSizes
        self.configuration = c
        let (channels, height, width) = (c.inputShape[0], c.inputShape[1], c.inputShape[2])
        whiten = try ChannelsLastConv.Geometry(layer: "whiten", channels: channels, height: height, width: width,
                                               filters: 2 * channels * kernel * kernel, kernel: kernel, padding: 0)
        var built: [(ChannelsLastConv.Geometry, ChannelsLastConv.Geometry)] = []
        var (inChannels, h, w) = (whiten.filters, whiten.outputHeight, whiten.outputWidth)
        for (index, groupWidth) in widths.enumerated() {
            let name = "group \(index + 1)"
            let conv1 = try ChannelsLastConv.Geometry(layer: "\(name) conv1", channels: inChannels, height: h, width: w,
                                                      filters: groupWidth, kernel: 3, padding: 1)
            guard h >= 2, w >= 2 else {
                throw TensorError.shapeMismatch(operation: "\(name) pool",
                    detail: "a 2×2 max pool needs at least a 2×2 plane; the input \(describeShape(c.inputShape)) has shrunk to \(h)×\(w)")
            }
            (h, w) = (h / 2, w / 2)
            let conv2 = try ChannelsLastConv.Geometry(layer: "\(name) conv2", channels: groupWidth, height: h, width: w,
                                                      filters: groupWidth, kernel: 3, padding: 1)
            built.append((conv1, conv2))
            inChannels = groupWidth
        }
        guard h == w else {
            throw TensorError.shapeMismatch(operation: "head pool", detail: "the last plane \(h)×\(w) is not square")
        }
        groups = built
        headPool = h
        initializeParameters()
    }

    /// PyTorch's defaults, as airbench keeps them: convolutions and the head uniform in
    /// ±1/√fan-in, then each group conv's first C_in filters set to the identity (dirac), so
    /// that the net starts close to passing its input through.
    mutating func initializeParameters() {
        var generator = RandomGenerator(seed: configuration.seed, stream: .initialization)
        func uniform(_ shape: [Int], fanIn: Int) -> Tensor<S> {
            let bound = 1 / Double(fanIn).squareRoot()
            let values = (0..<shape.reduce(1, *)).map { _ in S(bound * (2 * generator.nextUniform() - 1)) }
            return try! Tensor(shape: shape, scalars: values)
        }
        buffers["whiten.weight"] = uniform(whiten.filterShape, fanIn: whiten.patchSize)
        parameters["whiten.bias"] = .zeros([whiten.filters])
        for (index, group) in groups.enumerated() {
            for (slot, conv) in [("1", group.conv1), ("2", group.conv2)] {
                var filters = uniform(conv.filterShape, fanIn: conv.patchSize)
                filters.withUnsafeMutableBufferPointer { w in
                    let (c, taps) = (conv.channels, conv.kernelHeight * conv.kernelWidth)
                    for f in 0..<Swift.min(conv.filters, c) {
                        (w.baseAddress! + f * c * taps).update(repeating: 0, count: c * taps)
                        w[(f * c + f) * taps + taps / 2] = 1
                    }
                }
                parameters["g\(index + 1).conv\(slot)"] = filters
                parameters["g\(index + 1).norm\(slot).beta"] = .zeros([conv.filters])
                buffers["g\(index + 1).norm\(slot).running_mean"] = .zeros([conv.filters])
                buffers["g\(index + 1).norm\(slot).running_var"] = .ones([conv.filters])
            }
        }
        parameters["head"] = uniform([widths.last!, configuration.classes], fanIn: widths.last!)
    }

    /// The whitening bias settles in the first epochs and then stays put, as in airbench.
    public func frozenParameters(epoch: Int) -> Set<String> { epoch >= whitenBiasEpochs ? ["whiten.bias"] : [] }

    /// The loss is summed over the batch, as airbench's.
    public var lossReduction: LossReduction { .sum }

    /// Batch norm's shifts learn 64× faster than the rest (airbench's bias scaler).
    public var learningRateScales: [String: Double] {
        Dictionary(uniqueKeysWithValues: parameters.names.filter { $0.hasSuffix(".beta") }.map { ($0, 64.0) })
    }

    @inlinable
    public mutating func loss(_ x: Tensor<S>, _ y: [Int]) throws -> (loss: S, gradients: ParameterStore<S>) {
        trainingSteps += 1
        let caches = try forward(x, mode: .train)
        for (name, statistic) in caches.runningStatistics { buffers[name] = statistic }
        let (loss, dscores) = try SoftmaxLoss.forwardBackward(caches.scores, labels: y, smoothing: S(labelSmoothing),
                                                              reduction: lossReduction)
        return (loss, try backward(dscores, caches))
    }

    /// Test-mode scores, averaged over the test-time views.
    @inlinable
    public func scores(_ x: Tensor<S>) throws -> Tensor<S> {
        let plain = try mirrorAveraged(x)
        guard testTimeAugmentation == 2 else { return plain }
        let translated = try (mirrorAveraged(Self.translated(x, by: 1)) + mirrorAveraged(Self.translated(x, by: -1))) * 0.5
        return try (plain + translated) * 0.5
    }

    @inlinable
    func mirrorAveraged(_ x: Tensor<S>) throws -> Tensor<S> {
        let plain = try forward(x, mode: .test).scores
        guard testTimeAugmentation >= 1 else { return plain }
        return try (plain + forward(Self.mirrored(x), mode: .test).scores) * 0.5
    }
}

extension ModernConvNet {
    /// What the way back reads of one group: the conv1 input, the pool's winners, norm1, the
    /// conv2 input (norm1's output) and norm2.
    @usableFromInline
    struct GroupCache {
        @usableFromInline var input: Tensor<S>
        @usableFromInline var pool: ChannelsLastMaxPool.Cache
        @usableFromInline var norm1: ChannelsLastBatchNormGELU.Cache<S>
        @usableFromInline var hidden: Tensor<S>
        @usableFromInline var norm2: ChannelsLastBatchNormGELU.Cache<S>
        @usableFromInline var output: Tensor<S>

        @inlinable
        init(input: Tensor<S>, pool: ChannelsLastMaxPool.Cache, norm1: ChannelsLastBatchNormGELU.Cache<S>, hidden: Tensor<S>,
             norm2: ChannelsLastBatchNormGELU.Cache<S>, output: Tensor<S>) {
            self.input = input; self.pool = pool; self.norm1 = norm1; self.hidden = hidden; self.norm2 = norm2; self.output = output
        }
    }

    /// What the way back reads: each layer's cache and input.
    @usableFromInline
    struct Caches {
        @usableFromInline var scores: Tensor<S>
        @usableFromInline var whitened: ChannelsLastBiasGELU.Cache<S>
        @usableFromInline var groups: [GroupCache]
        @usableFromInline var headPool: ChannelsLastMaxPool.Cache
        @usableFromInline var features: Tensor<S>
        /// Training's new running means and variances, by buffer name.
        @usableFromInline var runningStatistics: [(String, Tensor<S>)]

        @inlinable
        init(scores: Tensor<S>, whitened: ChannelsLastBiasGELU.Cache<S>, groups: [GroupCache], headPool: ChannelsLastMaxPool.Cache,
             features: Tensor<S>, runningStatistics: [(String, Tensor<S>)]) {
            self.scores = scores; self.whitened = whitened; self.groups = groups; self.headPool = headPool
            self.features = features; self.runningStatistics = runningStatistics
        }
    }

    @inlinable
    func forward(_ x: Tensor<S>, mode: Mode) throws -> Caches {
        guard x.rank == 4, Array(x.shape.dropFirst()) == configuration.inputShape else {
            throw TensorError.shapeMismatch(operation: "ModernConvNet",
                detail: "input \(describeShape(x.shape)) for a net over images of \(describeShape(configuration.inputShape)) (N, C, H, W)")
        }
        let n = x.shape[0]
        let whitened = try ChannelsLastConv.forward(ChannelsLast.fromNCHW(x), buffers["whiten.weight"]!, geometry: whiten)
        var (activation, whitenCache) = try ChannelsLastBiasGELU.forward(whitened, bias: parameters["whiten.bias"]!, layer: "whiten")
        var groupCaches: [GroupCache] = []
        var states = batchNormStates()
        for (index, group) in groups.enumerated() {
            let name = "g\(index + 1)"
            let input = activation
            let convolved = try ChannelsLastConv.forward(input, parameters["\(name).conv1"]!, geometry: group.conv1)
            let (pooled, poolCache) = try ChannelsLastMaxPool.forward(convolved, size: 2, layer: "group \(index + 1) pool")
            let (hidden, norm1) = try ChannelsLastBatchNormGELU.forward(pooled, beta: parameters["\(name).norm1.beta"]!,
                                                                         state: &states[2 * index], mode: mode,
                                                                         layer: "group \(index + 1) norm1")
            let convolved2 = try ChannelsLastConv.forward(hidden, parameters["\(name).conv2"]!, geometry: group.conv2)
            let norm2: ChannelsLastBatchNormGELU.Cache<S>
            (activation, norm2) = try ChannelsLastBatchNormGELU.forward(convolved2, beta: parameters["\(name).norm2.beta"]!,
                                                                        state: &states[2 * index + 1], mode: mode,
                                                                        layer: "group \(index + 1) norm2")
            groupCaches.append(GroupCache(input: input, pool: poolCache, norm1: norm1, hidden: hidden, norm2: norm2,
                                          output: activation))
        }
        let (pooled, headCache) = try ChannelsLastMaxPool.forward(activation, size: headPool, layer: "head pool")
        let features = try pooled.reshaped([n, widths.last!])
        let scores = try matmul(features, parameters["head"]!) * S(outputScale)
        let statistics = mode == .train ? runningStatistics(states) : []
        return Caches(scores: scores, whitened: whitenCache, groups: groupCaches,
                      headPool: headCache, features: features, runningStatistics: statistics)
    }

    /// Every parameter's gradient of the summed loss whose score gradient is `dscores`.
    @inlinable
    func backward(_ dscores: Tensor<S>, _ caches: Caches) throws -> ParameterStore<S> {
        let gradients = try backward(dscores, from: groups.count + 1, caches, parameterGradients: true).gradients
        return ParameterStore(parameters.names.map { ($0, gradients[$0]!) })
    }

    /// Walks back from layer `layer` (0 the whitening's output, i the output of group i,
    /// groups + 1 the scores) with `upstream` there (channels last, or (N, classes) at the
    /// scores). Training wants the parameter gradients and stops at the whitening's bias;
    /// inspection wants the input's gradient (NCHW) instead.
    @inlinable
    func backward(_ upstream: Tensor<S>, from layer: Int, _ caches: Caches, parameterGradients: Bool) throws
        -> (dx: Tensor<S>?, gradients: [String: Tensor<S>]) {
        var gradients: [String: Tensor<S>] = [:]
        var d = upstream
        if layer == groups.count + 1 {
            let scaled = try upstream * S(outputScale)
            if parameterGradients { gradients["head"] = try matmul(caches.features, scaled, transposeA: true) }
            let dfeatures = try matmul(scaled, parameters["head"]!, transposeB: true)
            d = try ChannelsLastMaxPool.backward(dfeatures.reshaped([upstream.shape[0], 1, 1, widths.last!]), caches.headPool,
                                                 layer: "head pool")
        }
        for (index, group) in groups.enumerated().reversed() where index < layer {
            let name = "g\(index + 1)", cache = caches.groups[index]
            let (dconv2, dbeta2) = try ChannelsLastBatchNormGELU.backward(d, cache.norm2)
            let dhidden = try ChannelsLastConv.inputGradient(dconv2, parameters["\(name).conv2"]!, geometry: group.conv2)
            let (dpooled, dbeta1) = try ChannelsLastBatchNormGELU.backward(dhidden, cache.norm1)
            let dconv1 = try ChannelsLastMaxPool.backward(dpooled, cache.pool, layer: "group \(index + 1) pool")
            if parameterGradients {
                gradients["\(name).norm2.beta"] = dbeta2
                gradients["\(name).conv2"] = try ChannelsLastConv.filterGradient(cache.hidden, dconv2, geometry: group.conv2)
                gradients["\(name).norm1.beta"] = dbeta1
                gradients["\(name).conv1"] = try ChannelsLastConv.filterGradient(cache.input, dconv1, geometry: group.conv1)
            }
            d = try ChannelsLastConv.inputGradient(dconv1, parameters["\(name).conv1"]!, geometry: group.conv1)
        }
        let (dwhitened, dbias) = try ChannelsLastBiasGELU.backward(d, caches.whitened, layer: "whiten")
        if parameterGradients {
            gradients["whiten.bias"] = dbias
            return (nil, gradients)
        }
        let dx = try ChannelsLastConv.inputGradient(dwhitened, buffers["whiten.weight"]!, geometry: whiten)
        return (try ChannelsLast.toNCHW(dx), gradients)
    }

    @inlinable
    func batchNormStates() -> [BatchNormState<S>] {
        groups.indices.flatMap { index in
            ["1", "2"].map { slot in
                let name = "g\(index + 1).norm\(slot)"
                var state = BatchNormState<S>(features: 1, momentum: S(batchNormMomentum), epsilon: S(batchNormEpsilon))
                state.runningMean = buffers["\(name).running_mean"]!
                state.runningVariance = buffers["\(name).running_var"]!
                state.replicas = batchNormReplicas
                return state
            }
        }
    }

    @inlinable
    func runningStatistics(_ states: [BatchNormState<S>]) -> [(String, Tensor<S>)] {
        states.enumerated().flatMap { index, state in
            let name = "g\(index / 2 + 1).norm\(index % 2 + 1)"
            return [("\(name).running_mean", state.runningMean), ("\(name).running_var", state.runningVariance)]
        }
    }
}
