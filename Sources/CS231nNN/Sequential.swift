/// The largest number of scalars (parameters and buffers together) a `Sequential` is built
/// with: about 1 GiB of Double. A configuration beyond it is refused before anything allocates.
public let maximumParameterCount = 1 << 27

/// The classification loss on a net's last output, the class scores (N, C).
public enum ClassificationLoss: String, Codable, Sendable, CaseIterable {
    /// Softmax cross-entropy, averaged over the batch.
    case softmax
    /// The multiclass SVM hinge, averaged over the batch.
    case svm
}

/// A net as an ordered list of named layers, each feeding the next, with a classification loss
/// on the last one's output: the course's nets in a few lines, and a user's own.
///
/// Its parameters are the layers' own, named `<layer>.<param>` (`conv1.weight`, `fc2.bias`)
/// unless `storedNames` gives another name (the course nets keep CS231n's `W1`, `b1`, `gamma1`);
/// the initial weights come from one generator seeded by `seed`, drawn in layer order. The
/// Solver trains it as any `Model`; `trace` looks inside by layer name.
public struct Sequential<S: TensorScalar>: Model, Sendable {
    public typealias Scalar = S

    /// One layer of the net and the name its activations and parameters go by.
    public struct Entry: Sendable {
        public let name: String
        public var layer: any Layer<S>
        /// The shape of one example's output of this layer.
        public let outputShape: [Int]
    }

    public private(set) var entries: [Entry]
    /// The shape of one example, e.g. [3, 32, 32].
    public let inputShape: [Int]
    public let loss: ClassificationLoss
    /// L2 strength: the loss gains 0.5 · reg · ΣW² over every layer's regularized parameters.
    public let regularization: Double
    public let seed: UInt64
    public var trainingSteps = 0
    /// The registered family that built this net and its configuration, which checkpoints store.
    public internal(set) var family: ModelFamilyRecord?
    /// The names parameters, buffers and gradients go by instead of `<layer>.<param>`, keyed by
    /// that qualified name (`["fc1.weight": "W1"]`); names not in it are the qualified ones.
    public let storedNames: [String: String]

    /// Builds `layers`, in order, for examples of `inputShape`. Every layer is planned first and
    /// the parameter count checked against `maximumParameterCount`; nothing is allocated for
    /// a net that would not fit. `storedNames` renames qualified parameter and buffer names;
    /// every name it gives must be new and unique.
    public init(inputShape: [Int], layers: [(name: String, layer: any Layer<S>)], loss: ClassificationLoss = .softmax,
                regularization: Double = 0, seed: UInt64 = 0, storedNames: [String: String] = [:]) throws {
        guard !layers.isEmpty else { throw TensorError.invalidArgument(operation: "Sequential", detail: "has no layers") }
        _ = try checked(regularization, in: 0...1e6, field: "regularization", layer: "Sequential")
        var seen = Set<String>(), shape = inputShape, total = 0, qualified = Set<String>()
        for (index, (name, layer)) in layers.enumerated() {
            guard !name.isEmpty, !name.contains("."), seen.insert(name).inserted else {
                throw TensorError.invalidArgument(operation: "Sequential",
                    detail: "layers[\(index)] name \"\(name)\" must be non-empty, without \".\", and unique")
            }
            let plan: LayerPlan
            do { plan = try layer.plan(inputShape: shape) } catch {
                throw TensorError.invalidArgument(operation: "Sequential", detail: "layers[\(index)] (\(name)): \(error)")
            }
            let (sum, overflow) = total.addingReportingOverflow(try plan.scalarCount(as: S.self))
            guard !overflow, sum <= maximumParameterCount else {
                throw TensorError.invalidArgument(operation: "Sequential",
                    detail: "layers[\(index)] (\(name)) brings the parameter count above \(maximumParameterCount) (valid: 1...\(maximumParameterCount))")
            }
            (shape, total) = (plan.outputShape, sum)
            for local in Array(plan.parameters.keys) + Array(plan.buffers.keys) { qualified.insert(name + "." + local) }
        }
        guard shape.count == 1 else {
            throw TensorError.invalidArgument(operation: "Sequential",
                detail: "the last layer's output \(describeShape(shape)) is not the class scores (C)")
        }
        try Self.checkStoredNames(storedNames, qualified: qualified)
        self.storedNames = storedNames
        var generator = RandomGenerator(seed: seed, stream: .initialization)
        shape = inputShape
        entries = []
        for (name, var layer) in layers {
            shape = try layer.build(inputShape: shape, using: &generator)
            entries.append(Entry(name: name, layer: layer, outputShape: shape))
        }
        self.inputShape = inputShape
        self.loss = loss
        self.regularization = regularization
        self.seed = seed
    }

    /// The name a layer's parameter or buffer `local` goes by.
    func storedName(layer: String, _ local: String) -> String {
        let qualified = layer + "." + local
        return storedNames[qualified] ?? qualified
    }

    /// Every name `storedNames` renames is one of the layers' `qualified` parameter and buffer
    /// names, and the stored names are all distinct.
    private static func checkStoredNames(_ storedNames: [String: String], qualified: Set<String>) throws {
        if let unknown = storedNames.keys.sorted().first(where: { !qualified.contains($0) }) {
            throw TensorError.invalidArgument(operation: "Sequential",
                detail: "storedNames renames \"\(unknown)\", which is no layer's parameter or buffer")
        }
        let stored = qualified.map { storedNames[$0] ?? $0 }
        if stored.count != Set(stored).count {
            throw TensorError.invalidArgument(operation: "Sequential", detail: "storedNames gives two parameters one name")
        }
    }

    /// The number of classes: the size of the last layer's output.
    public var classes: Int { entries.last?.outputShape.first ?? 0 }

    /// The legacy description the `Model` protocol asks for; a checkpoint of a registered net
    /// stores its family's own configuration instead.
    public var configuration: ModelConfiguration {
        ModelConfiguration(kind: family?.kind ?? "sequential", inputShape: inputShape, hiddenSizes: [], classes: classes,
                           regularization: regularization, seed: seed)
    }

    /// Every layer's parameters, named `<layer>.<param>`. Modifying them in place (as the
    /// optimizer does) takes the tensors out of the layers for the while, so that each has one
    /// owner and is updated without a copy.
    public var parameters: ParameterStore<S> {
        get { store(buffers: false) }
        set { assign(newValue, buffers: false) }
        _modify {
            var store = store(buffers: false)
            for index in entries.indices { entries[index].layer.parameters = entries[index].layer.parameters.mapTensors { _, _ in .zeros([0]) } }
            defer { assign(store, buffers: false) }
            yield &store
        }
    }

    /// Every layer's buffers (batch norm's running statistics), named `<layer>.<buffer>`.
    public var buffers: ParameterStore<S> {
        get { store(buffers: true) }
        set { assign(newValue, buffers: true) }
    }

    /// The names of the parameters L2 regularizes (the weights).
    public var regularizedParameters: [String] {
        entries.flatMap { entry in entry.layer.regularizedParameters.map { storedName(layer: entry.name, $0) } }
    }

    func store(buffers: Bool) -> ParameterStore<S> {
        var store = ParameterStore<S>()
        for entry in entries {
            for (name, tensor) in buffers ? entry.layer.buffers : entry.layer.parameters {
                store[storedName(layer: entry.name, name)] = tensor
            }
        }
        return store
    }

    /// Hands each layer the tensors stored under its names in `store`; names of no layer are ignored.
    mutating func assign(_ store: ParameterStore<S>, buffers: Bool) {
        for index in entries.indices {
            var local = ParameterStore<S>()
            for (name, _) in buffers ? entries[index].layer.buffers : entries[index].layer.parameters {
                local[name] = store[storedName(layer: entries[index].name, name)]
            }
            guard !local.isEmpty else { continue }
            if buffers { entries[index].layer.buffers = local } else { entries[index].layer.parameters = local }
        }
    }

    /// The index of the layer called `name`, or an error listing the layers there are.
    public func index(of name: String) throws -> Int {
        guard let index = entries.firstIndex(where: { $0.name == name }) else {
            throw TensorError.invalidArgument(operation: "Sequential",
                detail: "no layer \"\(name)\"; its layers are " + entries.map(\.name).joined(separator: ", "))
        }
        return index
    }

    /// Runs every layer, returning each one's output and cache; the output is nil at the first
    /// layer of a fused pair, whose cache (`FusedFirstLayer`) makes it when asked.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    mutating func forward(_ x: Tensor<S>, context: inout LayerContext) throws -> (outputs: [Tensor<S>?], caches: [any Sendable]) {
        guard x.rank >= 1, Array(x.shape.dropFirst()) == inputShape || (x.rank == 2 && x.shape[1] == inputShape.reduce(1, *)) else {
            throw TensorError.shapeMismatch(operation: "Sequential",
                detail: "input \(describeShape(x.shape)) for a net over examples of \(describeShape(inputShape))")
        }
        let input = x.rank == 2 && inputShape.count > 1 ? try x.reshaped([x.shape[0]] + inputShape) : x
        var outputs: [Tensor<S>?] = [], caches: [any Sendable] = []
        var h = input
        var index = 0
        while index < entries.count {
            if let (out, first, second) = try fusedForward(h, at: index) {
                outputs += [nil, out]
                caches += [first, second]
                (h, index) = (out, index + 2)
                continue
            }
            let (out, cache) = try entries[index].layer.forwardErased(h, context: &context)
            outputs.append(out)
            caches.append(cache)
            (h, index) = (out, index + 1)
        }
        return (outputs, caches)
    }

    /// Walks back from an upstream gradient at layer `start`'s output to the first layer,
    /// collecting the parameter gradients `needs` asks for, and returns dx when it asks for `.input`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func backward(_ upstream: Tensor<S>, from start: Int, caches: [any Sendable], needs: GradientNeeds, context: LayerContext,
                  into gradients: inout ParameterStore<S>) throws -> Tensor<S>? {
        var d = upstream
        var index = start
        while index >= 0 {
            // A fused pair's backward is its first layer's, through the pair's cache.
            let (layer, cache) = if let fused = caches[index] as? FusedPairCache { (index - 1, fused.pair) }
                else if let first = caches[index] as? FusedFirstLayer<S> { (index, try first.cache()) } else { (index, caches[index]) }
            let wantsInput = layer > 0 || needs.contains(.input)
            let layerNeeds = needs.intersection(.parameters).union(wantsInput ? .input : [])
            let (dx, layerGradients) = try entries[layer].layer.backwardErased(d, cache: cache, needs: layerNeeds, context: context)
            for (name, tensor) in layerGradients { gradients[storedName(layer: entries[layer].name, name)] = tensor }
            if wantsInput, let dx { d = dx }
            index = layer - 1
        }
        return needs.contains(.input) ? d : nil
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func loss(_ x: Tensor<S>, _ y: [Int]) throws -> (loss: S, gradients: ParameterStore<S>) {
        var context = LayerContext(mode: .train,
                                   generator: RandomGenerator(seed: seed &+ UInt64(trainingSteps) &* 0x9E37_79B9_7F4A_7C15, stream: .dropout),
                                   regularization: regularization)
        trainingSteps += 1
        let (outputs, caches) = try forward(x, context: &context)
        guard let last = outputs.last, let scores = last else { throw TensorError.invalidArgument(operation: "Sequential", detail: "has no layers") }
        var (total, dscores) = switch loss {
        case .softmax: try SoftmaxLoss.forwardBackward(scores, labels: y)
        case .svm: try SVMLoss.forwardBackward(scores, labels: y)
        }
        let reg = S(regularization)
        if reg != 0 {
            for entry in entries {
                let layerParameters = entry.layer.parameters
                for name in entry.layer.regularizedParameters {
                    total += 0.5 * reg * (try layerParameters.require(name)).squaredSum()
                }
            }
        }
        var unordered = ParameterStore<S>()
        _ = try backward(dscores, from: entries.count - 1, caches: caches, needs: .parameters, context: context, into: &unordered)
        let names = parameters.names
        return (total, ParameterStore(try names.map { ($0, try unordered.require($0)) }))
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func scores(_ x: Tensor<S>) throws -> Tensor<S> {
        var copy = self, context = LayerContext(mode: .test)
        guard let last = try copy.forward(x, context: &context).outputs.last, let scores = last else {
            throw TensorError.invalidArgument(operation: "Sequential", detail: "has no layers")
        }
        return scores
    }
}

extension Sequential: InspectableModel {
    /// Every named layer, input to scores, under the names the net was built with (the
    /// inspection tools look for the class scores under "scores": name the last layer so).
    public var inspectableLayers: [InspectedLayer] {
        entries.map {
            InspectedLayer(name: $0.name, shape: $0.outputShape, summary: $0.layer.summary,
                           isIdentityWhenTesting: $0.layer.isIdentityWhenTesting)
        }
    }

    /// A test-mode forward pass keeping every layer's output and cache: activations by layer
    /// name, and input gradients of upstream gradients placed at a layer's output, with the
    /// ReLU rule at every ReLU on the way back (the layer's own included).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func trace(_ x: Tensor<S>) throws -> ForwardTrace<S> {
        var copy = self, context = LayerContext(mode: .test)
        let (outputs, caches) = try copy.forward(x, context: &context)
        return ForwardTrace(model: "Sequential", layers: inspectableLayers, input: x, activations: { index in
            if let output = outputs[index] { return output }
            guard let first = caches[index] as? FusedFirstLayer<S> else {
                throw TensorError.invalidArgument(operation: "Sequential", detail: "layer \(index) kept no output")
            }
            return try first.output()
        },
                            backward: { index, upstream, rule in
            var unused = ParameterStore<S>()
            let inspection = LayerContext(mode: .test, rule: rule)
            guard let dx = try copy.backward(upstream, from: index, caches: caches, needs: .input, context: inspection, into: &unused) else {
                throw TensorError.invalidArgument(operation: "Sequential", detail: "the backward returned no input gradient")
            }
            return dx.shape == x.shape ? dx : try dx.reshaped(x.shape)
        })
    }
}
