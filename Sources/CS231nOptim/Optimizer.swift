import CS231nNN
import Foundation

/// The update rules of CS231n's `optim.py`, plus PyTorch's momentum and Nesterov momentum.
public enum UpdateRule: String, Sendable, CaseIterable, Codable {
    /// w −= lr · g
    case sgd
    /// CS231n's `sgd_momentum`: v = μv − lr·g; w += v
    case momentum
    /// Nesterov momentum as the course notes write it: v′ = μv − lr·g; w += −μv + (1 + μ)v′
    case nesterov
    /// c = ρc + (1 − ρ)g²; w −= lr · g / (√c + ε)
    case rmsprop
    /// Bias-corrected Adam; t is incremented before the step, as in the course.
    case adam
    /// PyTorch's `SGD(momentum=μ)`: v = μv + g; w −= lr·v
    case pytorchMomentum = "pytorch-momentum"
    /// PyTorch's `SGD(momentum=μ, nesterov=True)`: v = μv + g; w −= lr·(g + μv)
    case pytorchNesterov = "pytorch-nesterov"

    /// The course's default learning rate for the rule.
    public var defaultLearningRate: Double {
        switch self {
        case .adam: return 1e-3
        case .sgd, .momentum, .nesterov, .rmsprop, .pytorchMomentum, .pytorchNesterov: return 1e-2
        }
    }

    /// The per-parameter state the rule keeps, by slot name.
    public var slots: [String] {
        switch self {
        case .sgd: return []
        case .momentum, .nesterov, .pytorchMomentum, .pytorchNesterov: return ["velocity"]
        case .rmsprop: return ["cache"]
        case .adam: return ["m", "v"]
        }
    }
}

/// An update rule and its hyper-parameters, with the course's defaults.
public struct OptimizerSettings: Codable, Sendable, Equatable {
    public var rule: UpdateRule
    public var learningRate: Double
    /// μ for the momentum rules.
    public var momentum: Double
    /// ρ for rmsprop.
    public var decayRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    /// λ of PyTorch's (coupled) `weight_decay`: every rule sees the gradient g + λ·w.
    public var weightDecay: Double

    public init(rule: UpdateRule, learningRate: Double? = nil, momentum: Double = 0.9, decayRate: Double = 0.99,
                beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.rule = rule
        self.learningRate = learningRate ?? rule.defaultLearningRate
        self.momentum = momentum
        self.decayRate = decayRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// Settings saved before weight decay existed read as λ = 0.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(rule: try c.decode(UpdateRule.self, forKey: .rule),
                  learningRate: try c.decode(Double.self, forKey: .learningRate),
                  momentum: try c.decode(Double.self, forKey: .momentum),
                  decayRate: try c.decode(Double.self, forKey: .decayRate),
                  beta1: try c.decode(Double.self, forKey: .beta1), beta2: try c.decode(Double.self, forKey: .beta2),
                  epsilon: try c.decode(Double.self, forKey: .epsilon),
                  weightDecay: try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? 0)
    }
}

/// Applies an update rule to a model's parameters, keeping each parameter's moments.
public struct Optimizer<S: TensorScalar>: Sendable {
    public var settings: OptimizerSettings
    /// The moments, named "<parameter>.<slot>" (e.g. "W1.velocity", "W1.m"), zero at first.
    public var state = ParameterStore<S>()
    /// Updates taken so far (Adam's t).
    public var step = 0

    public init(_ settings: OptimizerSettings) { self.settings = settings }

    /// One step on every parameter that has a gradient of the same shape.
    ///
    /// Parameter `name` moves with learning rate lr·`learningRateFactor`·s and weight decay λ/s,
    /// s = `learningRateScales[name]` (default 1): the decay a step applies, lr·λ, is the same
    /// for every parameter, as in airbench's `dict(params=norm_biases, lr=lr*64,
    /// weight_decay=wd/(lr*64))`. The factor is a schedule's multiplier (as torch's
    /// `LambdaLR`), which scales the rate and not λ. Parameters named in `frozen` are left as
    /// they are, moments and decay included (PyTorch's `requires_grad = False`).
    @inlinable
    public mutating func update(_ parameters: inout ParameterStore<S>, gradients: ParameterStore<S>,
                                learningRateScales: [String: Double] = [:], learningRateFactor: Double = 1,
                                frozen: Set<String> = []) throws {
        if let (name, scale) = learningRateScales.first(where: { !($0.value > 0 && $0.value.isFinite) }) {
            throw TensorError.invalidArgument(operation: "Optimizer.update",
                                              detail: "learning-rate scale \(scale) for \(name) is not a positive number")
        }
        step += 1
        for index in 0..<parameters.count {
            let name = parameters.names[index]
            if frozen.contains(name) { continue }
            let scale = learningRateScales[name] ?? 1
            let h = Hyper<S>(settings, step: step, learningRateMultiplier: learningRateFactor * scale,
                             weightDecay: settings.weightDecay / scale)
            guard let gradient = gradients[name] else {
                throw TensorError.invalidArgument(operation: "Optimizer.update", detail: "no gradient for parameter \(name)")
            }
            guard gradient.shape == parameters[index: index].shape else {
                throw TensorError.shapeMismatch(operation: "Optimizer.update",
                    detail: "gradient \(describeShape(gradient.shape)) for parameter \(name) \(describeShape(parameters[index: index].shape))")
            }
            let count = gradient.count
            let slotIndices = settings.rule.slots.map { slot -> Int in
                let key = "\(name).\(slot)"
                if state[key]?.shape != gradient.shape { state[key] = .zeros(gradient.shape) }
                return state.index(of: key)!
            }
            // The moments leave the store while they are written, so each is uniquely held and
            // is updated in place rather than copied.
            var moments = slotIndices.map { index -> Tensor<S> in
                var taken = Tensor<S>(shape: [0], repeating: 0)
                swap(&taken, &state[index: index])
                return taken
            }
            defer { for (index, moment) in zip(slotIndices, moments) { state[index: index] = moment } }
            let pointers = moments.indices.map { k in moments[k].withUnsafeMutableBufferPointer { SendablePointer($0.baseAddress!) } }
            gradient.withUnsafeBufferPointer { g in
                parameters[index: index].withUnsafeMutableBufferPointer { w in
                    UpdateKernels.apply(settings.rule, h, count: count, w: SendablePointer(w.baseAddress!),
                                        g: SendableConstPointer(g.baseAddress!), a: pointers.first,
                                        b: pointers.dropFirst().first)
                }
            }
            withExtendedLifetime(moments) {}
        }
    }
}

/// One parameter's hyper-parameters in its precision, with Adam's bias corrections for step t.
@usableFromInline
struct Hyper<S: TensorScalar>: Sendable {
    @usableFromInline let lr, mu, rho, beta1, beta2, epsilon, correction1, correction2, weightDecay: S

    @inlinable
    init(_ s: OptimizerSettings, step: Int, learningRateMultiplier: Double, weightDecay: Double) {
        lr = S(s.learningRate * learningRateMultiplier); mu = S(s.momentum); rho = S(s.decayRate)
        self.weightDecay = S(weightDecay)
        beta1 = S(s.beta1); beta2 = S(s.beta2); epsilon = S(s.epsilon)
        correction1 = S(1 - Foundation.pow(s.beta1, Double(step)))
        correction2 = S(1 - Foundation.pow(s.beta2, Double(step)))
    }
}
