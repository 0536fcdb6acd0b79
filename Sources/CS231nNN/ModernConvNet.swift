import Foundation

/// A modern fast CIFAR-10 CNN after Keller Jordan's airbench94 (workload W6):
///
///     whiten: conv 2×2 (3 → 24), frozen filters from the data's patch statistics, + bias, GELU
///     3 groups of width w: conv 3×3 → max pool 2 → BN → GELU → conv 3×3 → BN → GELU
///     head: max pool over the last plane → linear (no bias) → × scale (1/9)
///
/// The convolutions have no bias (batch norm's β follows each); batch norm's γ is frozen at 1.
/// It runs channels last (N, H, W, C) inside, through the same `Conv2D`, `MaxPool2D` and
/// `BatchNorm` as the course's nets: inputs arrive as NCHW batches and are transposed once. Scores at test time average the horizontally flipped view (test-time augmentation
/// level 1) and, at level 2, the views translated by one pixel (`ModernConvNetSettings`).
///
/// Its tensors are typed fields, `parameterTensors` and `bufferTensors`; `parameters` names them
/// "whiten.bias", "g<i>.conv1", "g<i>.norm1.beta", "g<i>.conv2", "g<i>.norm2.beta", "head"
/// (width × classes), and `buffers` "whiten.weight" and each norm's running mean and variance.
public struct ModernConvNet<S: TensorScalar>: Model {
    public typealias Scalar = S

    public static var kind: String { "cnn" }

    public let configuration: ModelConfiguration
    /// The trained tensors (`parameters` names them).
    public var parameterTensors: ParameterTensors
    /// The saved, untrained tensors (`buffers` names them).
    public var bufferTensors: BufferTensors
    public var trainingSteps = 0
    public let widths: [Int]
    /// Label smoothing ε of the training loss (summed over the batch, as airbench).
    public let labelSmoothing: Double
    public let testTimeAugmentation: Int
    public let outputScale: Double
    public let batchNormMomentum: Double, batchNormEpsilon: Double
    /// The whitening bias trains for this many epochs and is then frozen (airbench: 3).
    public let whitenBiasEpochs: Int
    /// The geometry of the whitening conv and of each group's convs and pool, checked when built.
    public let whiten: ConvGeometry
    public let groups: [(conv1: ConvGeometry, pool: ConvGeometry, conv2: ConvGeometry)]
    /// The plane the head pools over, and its pool.
    public let headPool: Int
    @usableFromInline let headPoolGeometry: ConvGeometry
    /// The whitening conv's filters: each principal direction of the patches and its negative.
    @usableFromInline var whitenFilters: Int { whiten.patchSize * 2 }
    /// Synchronized batch norm over these replicas when set (see `BatchNormState.replicas`);
    /// otherwise each replica's batch norm uses its own share's statistics, as PyTorch DDP's.
    public var batchNormReplicas: (any ReplicaGroup)?

    /// The W6 net: widths 64, 256, 256 on 3×32×32 images.
    public init(inputShape: [Int] = [3, 32, 32], widths: [Int] = [64, 256, 256], classes: Int = 10, seed: UInt64 = 0,
                settings: ModernConvNetSettings = ModernConvNetSettings()) throws {
        try self.init(configuration: ModelConfiguration(kind: Self.kind, inputShape: inputShape, hiddenSizes: widths,
                                                        classes: classes, seed: seed, modernConvNet: settings))
    }

    /// A freshly initialized net of `configuration`: the group widths are its hidden sizes, and
    /// its `modernConvNet` settings airbench94's when nil.
    public init(configuration: ModelConfiguration) throws {
        _ = try ModelShapes(configuration)  // sizes in range before anything is allocated
        // The defaults written out, so that equal nets have equal configurations.
        var c = configuration
        let settings = c.modernConvNet ?? ModernConvNetSettings()
        c.modernConvNet = settings
        func invalid(_ detail: String) -> TensorError { .invalidArgument(operation: "ModernConvNet", detail: detail) }
        guard c.inputShape.count == 3, c.inputShape.allSatisfy({ $0 > 0 }) else {
            throw invalid("input shape \(describeShape(c.inputShape)) is not an image (C, H, W)")
        }
        guard !c.hiddenSizes.isEmpty, c.hiddenSizes.allSatisfy({ $0 > 0 }), c.classes > 0 else {
            throw invalid("needs positive group widths and classes (got \(c.hiddenSizes), \(c.classes) classes)")
        }
        guard c.normalization == .none, c.keepProbability == 1, c.regularization == 0 else {
            throw invalid("has its own batch norm and no dropout or L2 term (use the optimizer's weight decay)")
        }
        let (kernel, tta) = (settings.whiteningKernel, settings.testTimeAugmentation)
        labelSmoothing = settings.labelSmoothing
        outputScale = settings.outputScale
        batchNormMomentum = settings.batchNormMomentum
        batchNormEpsilon = settings.batchNormEpsilon
        whitenBiasEpochs = settings.whiteningBiasEpochs
        guard kernel >= 1, (0...2).contains(tta), (0..<1).contains(labelSmoothing), (0..<1).contains(batchNormMomentum),
              batchNormEpsilon > 0, batchNormEpsilon.isFinite, outputScale.isFinite, whitenBiasEpochs >= 0 else {
            throw invalid("settings out of range: whiteningKernel \(kernel) ≥ 1, testTimeAugmentation \(tta) in 0...2, labelSmoothing "
                          + "\(labelSmoothing) and batchNormMomentum \(batchNormMomentum) in [0, 1), batchNormEpsilon "
                          + "\(batchNormEpsilon) > 0, outputScale \(outputScale) finite, whiteningBiasEpochs \(whitenBiasEpochs) ≥ 0")
        }
        testTimeAugmentation = tta
        widths = c.hiddenSizes
        self.configuration = c
        let (channels, height, width) = (c.inputShape[0], c.inputShape[1], c.inputShape[2])
        whiten = try ConvGeometry(layer: "whiten", channels: channels, height: height, width: width, kernelHeight: kernel,
                                  kernelWidth: kernel, layout: .nhwc)
        var built: [(ConvGeometry, ConvGeometry, ConvGeometry)] = []
        var (inChannels, h, w) = (whiten.patchSize * 2, whiten.outputHeight, whiten.outputWidth)
        for (index, groupWidth) in widths.enumerated() {
            let name = "group \(index + 1)"
            let conv1 = try ConvGeometry(layer: "\(name) conv1", channels: inChannels, height: h, width: w, kernelHeight: 3,
                                         kernelWidth: 3, padding: 1, layout: .nhwc)
            guard h >= 2, w >= 2 else {
                throw TensorError.shapeMismatch(operation: "\(name) pool",
                    detail: "a 2×2 max pool needs at least a 2×2 plane; the input \(describeShape(c.inputShape)) has shrunk to \(h)×\(w)")
            }
            let pool = try MaxPool2D.geometry(layer: "\(name) pool", input: [h, w, groupWidth], layout: .nhwc, rounding: .floor)
            (h, w) = (pool.outputHeight, pool.outputWidth)
            let conv2 = try ConvGeometry(layer: "\(name) conv2", channels: groupWidth, height: h, width: w, kernelHeight: 3,
                                         kernelWidth: 3, padding: 1, layout: .nhwc)
            built.append((conv1, pool, conv2))
            inChannels = groupWidth
        }
        guard h == w else {
            throw TensorError.shapeMismatch(operation: "head pool", detail: "the last plane \(h)×\(w) is not square")
        }
        headPoolGeometry = try MaxPool2D.geometry(layer: "head pool", input: [h, w, widths.last!], poolHeight: h, poolWidth: w,
                                                  stride: h, layout: .nhwc)
        groups = built.map { (conv1: $0.0, pool: $0.1, conv2: $0.2) }
        headPool = h
        (parameterTensors, bufferTensors) = Self.initialTensors(seed: c.seed, whiten: whiten, groups: groups, widths: widths,
                                                                  classes: c.classes)
    }

    /// PyTorch's defaults, as airbench keeps them: convolutions and the head uniform in
    /// ±1/√fan-in, then each group conv's first C_in filters set to the identity (dirac), so
    /// that the net starts close to passing its input through.
    static func initialTensors(seed: UInt64, whiten: ConvGeometry,
                               groups: [(conv1: ConvGeometry, pool: ConvGeometry, conv2: ConvGeometry)], widths: [Int],
                               classes: Int)
        -> (ParameterTensors, BufferTensors) {
        var generator = RandomGenerator(seed: seed, stream: .initialization)
        func uniform(_ shape: [Int], fanIn: Int) -> Tensor<S> {
            let bound = 1 / Double(fanIn).squareRoot()
            let values = (0..<shape.reduce(1, *)).map { _ in S(bound * (2 * generator.nextUniform() - 1)) }
            return try! Tensor(shape: shape, scalars: values)
        }
        func dirac(_ conv: ConvGeometry, width: Int) -> Tensor<S> {
            var filters = uniform([width, conv.channels, conv.kernelHeight, conv.kernelWidth], fanIn: conv.patchSize)
            filters.withUnsafeMutableBufferPointer { w in
                let (c, taps) = (conv.channels, conv.kernelHeight * conv.kernelWidth)
                for f in 0..<Swift.min(width, c) {
                    (w.baseAddress! + f * c * taps).update(repeating: 0, count: c * taps)
                    w[(f * c + f) * taps + taps / 2] = 1
                }
            }
            return filters
        }
        let whitenFilters = whiten.patchSize * 2
        let whitenWeight = uniform([whitenFilters, whiten.channels, whiten.kernelHeight, whiten.kernelWidth], fanIn: whiten.patchSize)
        var groupParameters: [GroupParameters] = [], groupBuffers: [GroupStatistics] = []
        for (group, width) in zip(groups, widths) {
            let conv1 = dirac(group.conv1, width: width), conv2 = dirac(group.conv2, width: width)
            groupParameters.append(GroupParameters(conv1: conv1, norm1Beta: .zeros([width]), conv2: conv2, norm2Beta: .zeros([width])))
            groupBuffers.append(GroupStatistics(norm1Mean: .zeros([width]), norm1Variance: .ones([width]),
                                                norm2Mean: .zeros([width]), norm2Variance: .ones([width])))
        }
        let last = widths.last ?? 0
        let head = uniform([last, classes], fanIn: last)
        return (ParameterTensors(whitenBias: .zeros([whitenFilters]), groups: groupParameters, head: head),
                BufferTensors(whitenWeight: whitenWeight, groups: groupBuffers))
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
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func loss(_ x: Tensor<S>, _ y: [Int]) throws -> (loss: S, gradients: ParameterStore<S>) {
        trainingSteps += 1
        let caches = try forward(x, mode: .train)
        bufferTensors.groups = caches.runningStatistics
        let (loss, dscores) = try SoftmaxLoss.forwardBackward(caches.scores, labels: y, smoothing: S(labelSmoothing),
                                                              reduction: lossReduction)
        let gradients = try backward(dscores, from: groups.count + 1, caches, needs: .parameters).gradients
        guard let gradients else { throw TensorError.invalidArgument(operation: "ModernConvNet", detail: "the backward returned no gradients") }
        return (loss, gradients.store)
    }

    /// Test-mode scores, averaged over the test-time views.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
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
    /// What the way back reads of one group: its layers' caches and its output.
    @usableFromInline
    struct GroupCache {
        @usableFromInline var conv1: Conv2D.Cache<S>, norm1: BatchNorm.Cache<S>
        @usableFromInline var conv2: Conv2D.Cache<S>, norm2: BatchNorm.Cache<S>
        @usableFromInline var output: Tensor<S>

        @inlinable
        init(conv1: Conv2D.Cache<S>, norm1: BatchNorm.Cache<S>, conv2: Conv2D.Cache<S>, norm2: BatchNorm.Cache<S>, output: Tensor<S>) {
            self.conv1 = conv1; self.norm1 = norm1; self.conv2 = conv2; self.norm2 = norm2; self.output = output
        }
    }

    /// What the way back reads: each layer's cache and input.
    @usableFromInline
    struct Caches {
        @usableFromInline var scores: Tensor<S>
        @usableFromInline var whitened: Conv2D.Cache<S>
        @usableFromInline var groups: [GroupCache]
        @usableFromInline var headPool: MaxPool2D.Cache<S>
        @usableFromInline var features: Tensor<S>
        /// Training's new running means and variances (empty when testing).
        @usableFromInline var runningStatistics: [GroupStatistics]

        @inlinable
        init(scores: Tensor<S>, whitened: Conv2D.Cache<S>, groups: [GroupCache], headPool: MaxPool2D.Cache<S>,
             features: Tensor<S>, runningStatistics: [GroupStatistics]) {
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
        var (activation, whitenCache) = try Conv2D.forward(ImageLayout.nchw.convert(x, to: .nhwc), bufferTensors.whitenWeight,
                                                           parameterTensors.whitenBias, geometry: whiten,
                                                           epilogue: Conv2D.Epilogue(activation: .gelu))
        var groupCaches: [GroupCache] = []
        var states = batchNormStates()
        for (index, group) in groups.enumerated() {
            let weights = parameterTensors.groups[index]
            let (pooled, conv1) = try Conv2D.forward(activation, weights.conv1, nil, geometry: group.conv1,
                                                     epilogue: Conv2D.Epilogue(pool: group.pool))
            let (hidden, norm1) = try BatchNorm.forward(pooled, gamma: nil, beta: weights.norm1Beta,
                                                        state: &states[2 * index], mode: mode, layout: .nhwc, activation: .gelu,
                                                        layer: "group \(index + 1) norm1")
            let (convolved, conv2) = try Conv2D.forward(hidden, weights.conv2, nil, geometry: group.conv2)
            let norm2: BatchNorm.Cache<S>
            (activation, norm2) = try BatchNorm.forward(convolved, gamma: nil, beta: weights.norm2Beta,
                                                        state: &states[2 * index + 1], mode: mode, layout: .nhwc, activation: .gelu,
                                                        layer: "group \(index + 1) norm2")
            groupCaches.append(GroupCache(conv1: conv1, norm1: norm1, conv2: conv2, norm2: norm2, output: activation))
        }
        let (pooled, headCache) = try MaxPool2D.forward(activation, geometry: headPoolGeometry)
        let features = try pooled.reshaped([n, widths.last!])
        let scores = try matmul(features, parameterTensors.head) * S(outputScale)
        let statistics = mode == .train ? runningStatistics(states) : []
        return Caches(scores: scores, whitened: whitenCache, groups: groupCaches,
                      headPool: headCache, features: features, runningStatistics: statistics)
    }

    /// Walks back from layer `layer` (0 the whitening's output, i the output of group i,
    /// groups + 1 the scores) with `upstream` there (channels last, or (N, classes) at the
    /// scores). Training wants the parameter gradients and stops at the whitening's bias (its
    /// filters are frozen); inspection wants the input's gradient (NCHW) instead.
    @inlinable
    func backward(_ upstream: Tensor<S>, from layer: Int, _ caches: Caches, needs: GradientNeeds) throws
        -> (dx: Tensor<S>?, gradients: ParameterTensors?) {
        let parameters = needs.intersection(.parameters), through = parameters.union(.input)
        var head: Tensor<S>?, groupGradients: [GroupParameters] = []
        var d = upstream
        if layer == groups.count + 1 {
            let scaled = upstream * S(outputScale)
            if !parameters.isEmpty { head = try matmul(caches.features, scaled, transposeA: true) }
            let dfeatures = try matmul(scaled, parameterTensors.head, transposeB: true)
            d = try MaxPool2D.backward(dfeatures.reshaped([upstream.shape[0], 1, 1, widths.last!]), caches.headPool)
        }
        for (index, cache) in caches.groups.enumerated().reversed() where index < layer {
            let (dconv2, _, dbeta2) = try BatchNorm.backward(d, cache.norm2, needs: [.input, .biases])
            let (dhidden, dw2, _) = try Conv2D.backward(dconv2!, cache.conv2, needs: through)
            let (dpooled, _, dbeta1) = try BatchNorm.backward(dhidden!, cache.norm1, needs: [.input, .biases])
            let (dinput, dw1, _) = try Conv2D.backward(dpooled!, cache.conv1, needs: through)
            if let dw1, let dbeta1, let dw2, let dbeta2, !parameters.isEmpty {
                groupGradients.insert(GroupParameters(conv1: dw1, norm1Beta: dbeta1, conv2: dw2, norm2Beta: dbeta2), at: 0)
            }
            d = dinput!
        }
        let (dx, _, dbias) = try Conv2D.backward(d, caches.whitened, needs: parameters.isEmpty ? .input : .biases)
        var gradients: ParameterTensors?
        if let dbias, let head { gradients = ParameterTensors(whitenBias: dbias, groups: groupGradients, head: head) }
        return (try dx.map { try ImageLayout.nhwc.convert($0, to: .nchw) }, gradients)
    }

    @inlinable
    func batchNormStates() -> [BatchNormState<S>] {
        bufferTensors.groups.flatMap { group in
            [(group.norm1Mean, group.norm1Variance), (group.norm2Mean, group.norm2Variance)].map { mean, variance in
                var state = BatchNormState<S>(features: 1, momentum: S(batchNormMomentum), epsilon: S(batchNormEpsilon),
                                              unbiasedRunningVariance: true)
                (state.runningMean, state.runningVariance) = (mean, variance)
                state.replicas = batchNormReplicas
                return state
            }
        }
    }

    @inlinable
    func runningStatistics(_ states: [BatchNormState<S>]) -> [GroupStatistics] {
        stride(from: 0, to: states.count, by: 2).map { index in
            GroupStatistics(norm1Mean: states[index].runningMean, norm1Variance: states[index].runningVariance,
                            norm2Mean: states[index + 1].runningMean, norm2Variance: states[index + 1].runningVariance)
        }
    }
}
