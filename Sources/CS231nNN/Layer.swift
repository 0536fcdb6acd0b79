/// What a layer's forward and backward passes read besides the tensors: the mode, the random
/// draws of a training step, the ReLU backward rule of an inspection and the L2 strength.
public struct LayerContext: Sendable {
    /// Training (batch statistics, dropout masks) or testing.
    public var mode: Mode
    /// Dropout's masks, drawn in layer order; a model seeds it from (its seed, the step count)
    /// so that a resumed run draws the same masks.
    public var generator: RandomGenerator
    /// How every ReLU on the way back passes the gradient (inspection uses the other rules).
    public var rule: ReLUBackwardRule
    /// L2 strength, folded into the gradient of every regularized parameter by its layer's
    /// backward (where the course's nets fold it, so the arithmetic is theirs).
    public var regularization: Double

    public init(mode: Mode, generator: RandomGenerator = RandomGenerator(seed: 0, stream: .dropout),
                rule: ReLUBackwardRule = .standard, regularization: Double = 0) {
        self.mode = mode; self.generator = generator; self.rule = rule; self.regularization = regularization
    }
}

/// What a layer would create for one example of a given shape, known before anything is
/// allocated: its output shape and the shapes of its parameters and buffers (local names).
public struct LayerPlan: Sendable, Equatable {
    public var outputShape: [Int]
    public var parameters: [String: [Int]]
    public var buffers: [String: [Int]]

    public init(outputShape: [Int], parameters: [String: [Int]] = [:], buffers: [String: [Int]] = [:]) {
        self.outputShape = outputShape; self.parameters = parameters; self.buffers = buffers
    }

    /// The scalars of every parameter and buffer, counted with overflow checks.
    public func scalarCount<S: TensorScalar>(as _: S.Type) throws -> Int {
        var total = 0
        for shape in Array(parameters.values) + Array(buffers.values) {
            let (sum, overflow) = total.addingReportingOverflow(try Tensor<S>.checkedCount(shape: shape))
            guard !overflow else {
                throw TensorError.invalidArgument(operation: "LayerPlan", detail: "the parameter count overflows")
            }
            total = sum
        }
        return total
    }
}

/// A layer as a value: its configuration and its own typed parameters, a forward pass that
/// returns its output and the cache its backward needs, and that backward beside it.
///
/// A layer is declared without its input size (`AffineLayer<Float>(outputs: 100)`) and built
/// for the shape of one example by its container, which draws the initial weights from one
/// seeded generator in layer order. The kernels are the course-facing functions of `Affine`,
/// `Conv2D`, `MaxPool2D`, `BatchNorm`, …; a conformance only holds the parameters and calls them.
///
/// Conformances mark `forward` and `backward` `@_specialize(where S == Float)` and
/// `(where S == Double)`: a container calls them through `any Layer<S>`, which otherwise runs
/// unspecialized generic code, many times slower in element loops.
public protocol Layer<Scalar>: Sendable {
    associatedtype Scalar: TensorScalar
    /// What the forward keeps for the backward.
    associatedtype Cache: Sendable

    /// What the layer computes, for listings ("affine 100 + ReLU").
    var summary: String { get }
    /// Whether a test-mode forward returns its input unchanged (dropout; false by default).
    var isIdentityWhenTesting: Bool { get }

    /// The output shape and the parameters for one example of `inputShape`, with every size
    /// checked against its valid range and every product against overflow; allocates nothing.
    func plan(inputShape: [Int]) throws -> LayerPlan

    /// Creates the parameters for one example of `inputShape` from `generator` and returns the
    /// output shape (`plan`'s).
    mutating func build(inputShape: [Int], using generator: inout RandomGenerator) throws -> [Int]

    /// The trained tensors by local name ("weight", "bias", "gamma", "beta"). Setting replaces
    /// those named; the container checks their shapes against `plan` first.
    var parameters: ParameterStore<Scalar> { get set }
    /// Saved state that is not trained ("running_mean", "running_var").
    var buffers: ParameterStore<Scalar> { get set }
    /// The local names of the parameters L2 regularizes (the weights, not biases or norms).
    var regularizedParameters: [String] { get }

    /// out and the cache; mutating for state a forward updates (batch norm's running statistics).
    mutating func forward(_ x: Tensor<Scalar>, context: inout LayerContext) throws -> (out: Tensor<Scalar>, cache: Cache)

    /// The gradients `needs` asks for: dx in the input's shape, and the parameters' by local name.
    func backward(_ dout: Tensor<Scalar>, cache: Cache, needs: GradientNeeds, context: LayerContext) throws
        -> (dx: Tensor<Scalar>?, gradients: ParameterStore<Scalar>)
}

/// The defaults of a layer without parameters or buffers: nothing to create, store or regularize.
extension Layer {
    public var isIdentityWhenTesting: Bool { false }

    public mutating func build(inputShape: [Int], using _: inout RandomGenerator) throws -> [Int] {
        try plan(inputShape: inputShape).outputShape
    }

    public var parameters: ParameterStore<Scalar> {
        get { ParameterStore() }
        set {}
    }

    public var buffers: ParameterStore<Scalar> {
        get { ParameterStore() }
        set {}
    }

    public var regularizedParameters: [String] { [] }

    /// `forward` with the cache's type erased, for containers of `any Layer`.
    @inlinable
    public mutating func forwardErased(_ x: Tensor<Scalar>, context: inout LayerContext) throws -> (out: Tensor<Scalar>, cache: any Sendable) {
        let (out, cache) = try forward(x, context: &context)
        return (out, cache)
    }

    /// `backward` of a cache `forwardErased` returned.
    @inlinable
    public func backwardErased(_ dout: Tensor<Scalar>, cache: any Sendable, needs: GradientNeeds, context: LayerContext) throws
        -> (dx: Tensor<Scalar>?, gradients: ParameterStore<Scalar>) {
        guard let cache = cache as? Cache else {
            throw TensorError.invalidArgument(operation: summary, detail: "backward got the cache of another layer (\(type(of: cache)))")
        }
        return try backward(dout, cache: cache, needs: needs, context: context)
    }
}

/// A layer whose parameters are a weight, which L2 regularizes, and a bias: affine and
/// convolutional layers.
public protocol WeightAndBiasLayer: Layer {
    var weight: Tensor<Scalar> { get set }
    var bias: Tensor<Scalar> { get set }
}

extension WeightAndBiasLayer {
    public var parameters: ParameterStore<Scalar> {
        get { ParameterStore([("weight", weight), ("bias", bias)]) }
        set { replace(from: newValue, ["weight": \.weight, "bias": \.bias]) }
    }

    public var regularizedParameters: [String] { ["weight"] }

    static func gradients(weight: Tensor<Scalar>?, bias: Tensor<Scalar>?) -> ParameterStore<Scalar> {
        named(["weight": weight, "bias": bias])
    }
}

extension Layer {
    /// Sets each field whose local name `store` holds; the others keep their tensors.
    mutating func replace(from store: ParameterStore<Scalar>, _ fields: KeyValuePairs<String, WritableKeyPath<Self, Tensor<Scalar>>>) {
        for (name, field) in fields {
            if let value = store[name] { self[keyPath: field] = value }
        }
    }

    /// The gradients a backward returns, under the parameters' local names in this order (nil
    /// ones, not asked for, left out).
    static func named(_ gradients: KeyValuePairs<String, Tensor<Scalar>?>) -> ParameterStore<Scalar> {
        var store = ParameterStore<Scalar>()
        for (name, gradient) in gradients { store[name] = gradient }
        return store
    }
}

/// `value` when it lies in `range`, else an error naming the field, the value and the range.
@inlinable
func checked<T: Comparable>(_ value: T, in range: ClosedRange<T>, field: String, layer: String) throws -> T {
    guard range.contains(value) else {
        throw TensorError.invalidArgument(operation: layer, detail: "\(field) \(value) is not in \(range.lowerBound)...\(range.upperBound)")
    }
    return value
}

/// A floating-point setting checked to be finite and inside `range`.
@inlinable
func checked(_ value: Double, in range: ClosedRange<Double>, excludingLower: Bool = false, field: String, layer: String) throws -> Double {
    guard value.isFinite, range.contains(value), !(excludingLower && value == range.lowerBound) else {
        throw TensorError.invalidArgument(operation: layer,
            detail: "\(field) \(value) is not in \(excludingLower ? "(" : "[")\(range.lowerBound), \(range.upperBound)]")
    }
    return value
}

/// The largest size a layer accepts for one dimension, filter count or unit count: far above
/// any net this toolkit trains, far below where products of a few sizes could overflow.
public let maximumLayerDimension = 1 << 20
/// The largest convolution or pooling window side, stride or padding.
public let maximumWindowSize = 1 << 10
