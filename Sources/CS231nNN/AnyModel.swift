/// Any model this toolkit builds, rebuilt from its configuration (e.g. a format 1 checkpoint's),
/// or a `Sequential` net, which `init(_:)` wraps: a format 2 checkpoint's, built by its
/// registered family (`ModelRegistry`), not by `init(_ configuration:)`, whose `kinds` are the
/// built-in nets.
///
/// A struct holding the one concrete net rather than an existential `any Model`: each call
/// forwards to a concrete, inlinable net and so runs specialized, where an existential would
/// run every layer as unspecialized generic code, many times slower. For the same reason every
/// model's `loss`, `scores` and `trace` are specialized for Float and Double: generic library code
/// (the visualisations, occlusion, feature neighbours) reaches them through the protocol's witness,
/// which would otherwise be the generic body.
public struct AnyModel<S: TensorScalar>: Model {
    public typealias Scalar = S

    public static var kinds: [String] { ["two-layer", "fully-connected", ThreeLayerConvNet<S>.kind, ModernConvNet<S>.kind] }

    @usableFromInline var twoLayer: TwoLayerNet<S>?
    @usableFromInline var fullyConnected: FullyConnectedNet<S>?
    @usableFromInline var threeLayerConv: ThreeLayerConvNet<S>?
    @usableFromInline var modernConv: ModernConvNet<S>?
    @usableFromInline var sequential: Sequential<S>?

    public init(_ configuration: ModelConfiguration) throws {
        switch configuration.kind {
        case "two-layer": twoLayer = try TwoLayerNet(configuration: configuration)
        case "fully-connected": fullyConnected = try FullyConnectedNet(configuration: configuration)
        case ThreeLayerConvNet<S>.kind: threeLayerConv = try ThreeLayerConvNet(configuration: configuration)
        case ModernConvNet<S>.kind: modernConv = try ModernConvNet(configuration: configuration)
        default:
            throw TensorError.invalidArgument(operation: "AnyModel",
                detail: "unknown model kind \"\(configuration.kind)\" (known: \(Self.kinds.joined(separator: ", ")))")
        }
    }

    public init(_ net: TwoLayerNet<S>) { twoLayer = net }
    public init(_ net: FullyConnectedNet<S>) { fullyConnected = net }
    public init(_ net: ThreeLayerConvNet<S>) { threeLayerConv = net }
    public init(_ net: ModernConvNet<S>) { modernConv = net }
    public init(_ net: Sequential<S>) { sequential = net }

    @inlinable
    public var configuration: ModelConfiguration {
        if let twoLayer { return twoLayer.configuration }
        if let threeLayerConv { return threeLayerConv.configuration }
        if let modernConv { return modernConv.configuration }
        if let sequential { return sequential.configuration }
        return fullyConnected!.configuration
    }

    @inlinable
    public var parameters: ParameterStore<S> {
        get {
            twoLayer?.parameters ?? threeLayerConv?.parameters ?? modernConv?.parameters ?? sequential?.parameters
                ?? fullyConnected!.parameters
        }
        _modify {
            if twoLayer != nil { yield &twoLayer!.parameters } else if threeLayerConv != nil {
                yield &threeLayerConv!.parameters
            } else if modernConv != nil { yield &modernConv!.parameters } else if sequential != nil {
                yield &sequential!.parameters
            } else { yield &fullyConnected!.parameters }
        }
    }

    @inlinable
    public var buffers: ParameterStore<S> {
        get { twoLayer?.buffers ?? threeLayerConv?.buffers ?? modernConv?.buffers ?? sequential?.buffers ?? fullyConnected!.buffers }
        set {
            if twoLayer != nil { twoLayer!.buffers = newValue } else if threeLayerConv != nil {
                threeLayerConv!.buffers = newValue
            } else if modernConv != nil { modernConv!.buffers = newValue } else if sequential != nil {
                sequential!.buffers = newValue
            } else { fullyConnected!.buffers = newValue }
        }
    }

    @inlinable
    public var trainingSteps: Int {
        get {
            twoLayer?.trainingSteps ?? threeLayerConv?.trainingSteps ?? modernConv?.trainingSteps ?? sequential?.trainingSteps
                ?? fullyConnected!.trainingSteps
        }
        set {
            if twoLayer != nil { twoLayer!.trainingSteps = newValue } else if threeLayerConv != nil {
                threeLayerConv!.trainingSteps = newValue
            } else if modernConv != nil { modernConv!.trainingSteps = newValue } else if sequential != nil {
                sequential!.trainingSteps = newValue
            } else { fullyConnected!.trainingSteps = newValue }
        }
    }

    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public mutating func loss(_ x: Tensor<S>, _ y: [Int]) throws -> (loss: S, gradients: ParameterStore<S>) {
        if twoLayer != nil { return try twoLayer!.loss(x, y) }
        if threeLayerConv != nil { return try threeLayerConv!.loss(x, y) }
        if modernConv != nil { return try modernConv!.loss(x, y) }
        if sequential != nil { return try sequential!.loss(x, y) }
        return try fullyConnected!.loss(x, y)
    }

    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func scores(_ x: Tensor<S>) throws -> Tensor<S> {
        if let twoLayer { return try twoLayer.scores(x) }
        if let threeLayerConv { return try threeLayerConv.scores(x) }
        if let modernConv { return try modernConv.scores(x) }
        if let sequential { return try sequential.scores(x) }
        return try fullyConnected!.scores(x)
    }

    public var learningRateScales: [String: Double] { modernConv?.learningRateScales ?? [:] }
    public func frozenParameters(epoch: Int) -> Set<String> { modernConv?.frozenParameters(epoch: epoch) ?? [] }
    public var lossReduction: LossReduction { modernConv?.lossReduction ?? .mean }
    /// A `Sequential` net's registered family, which its checkpoint names (format 2).
    public var family: ModelFamilyRecord? { sequential?.family }

    /// The `Sequential` net, when that is the model held.
    public var sequentialNet: Sequential<S>? { sequential }

    /// The modern CNN, when that is the model held (for its data-dependent initialization).
    public var modernConvNet: ModernConvNet<S>? {
        get { modernConv }
        set { if let newValue { modernConv = newValue } }
    }
}

extension AnyModel: InspectableModel {
    public var inspectableLayers: [InspectedLayer] {
        twoLayer?.inspectableLayers ?? threeLayerConv?.inspectableLayers ?? modernConv?.inspectableLayers
            ?? sequential?.inspectableLayers ?? fullyConnected!.inspectableLayers
    }

    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func trace(_ x: Tensor<S>) throws -> ForwardTrace<S> {
        if let twoLayer { return try twoLayer.trace(x) }
        if let threeLayerConv { return try threeLayerConv.trace(x) }
        if let modernConv { return try modernConv.trace(x) }
        if let sequential { return try sequential.trace(x) }
        return try fullyConnected!.trace(x)
    }
}
