import CS231nData

/// How to train a net: the update rule and its hyper-parameters, the learning-rate schedule,
/// the batch size, the regularisation, the epochs and the training augmentation.
///
/// The course's benchmark nets each have one: ``twoLayer`` (W4), ``threeLayerConvNet`` (W5) and
/// ``airbench94(momentum:batchSize:)`` (W6), whose learning rate and weight decay follow from
/// its momentum and batch size by airbench's formulas. A recipe is a value: change a field and
/// hand it to ``Solver/init(model:train:val:recipe:seed:)``.
///
/// ```swift
/// var recipe = Recipe.twoLayer
/// recipe.epochs = 2
/// var solver = try Solver(model: net, train: data.train, val: data.val, recipe: recipe, seed: 0)
/// try solver.train()
/// ```
public struct Recipe: Sendable, Equatable {
    public var update: UpdateRule
    /// nil: the rule's course default (``UpdateRule/defaultLearningRate``).
    public var learningRate: Double?
    /// μ of the momentum rules.
    public var momentum: Double
    /// The learning rate is multiplied by this after each epoch.
    public var learningRateDecay: Double
    public var schedule: LearningRateSchedule
    public var batchSize: Int
    /// The L2 strength of the model's loss, 0.5·reg·ΣW² over the weight matrices (the
    /// model's configuration carries it; the optimizer does not see it).
    public var regularization: Double
    /// PyTorch-style weight decay λ, added to every gradient as λ·w by the optimizer.
    public var weightDecay: Double
    public var epochs: Int
    public var augmentation: Augmentation
    /// airbench's lookahead (``SolverOptions/lookahead``).
    public var lookahead: Bool

    public init(update: UpdateRule, learningRate: Double? = nil, momentum: Double = 0.9, learningRateDecay: Double = 1,
                schedule: LearningRateSchedule = .constant, batchSize: Int, regularization: Double = 0,
                weightDecay: Double = 0, epochs: Int, augmentation: Augmentation = .none, lookahead: Bool = false) {
        self.update = update
        self.learningRate = learningRate
        self.momentum = momentum
        self.learningRateDecay = learningRateDecay
        self.schedule = schedule
        self.batchSize = batchSize
        self.regularization = regularization
        self.weightDecay = weightDecay
        self.epochs = epochs
        self.augmentation = augmentation
        self.lookahead = lookahead
    }

    /// W4: the two-layer (and fully-connected) net on raw pixels, PyTorch's SGD momentum.
    public static let twoLayer = Recipe(update: .pytorchMomentum, learningRate: 0.02, momentum: 0.9, learningRateDecay: 0.95,
                                        batchSize: 200, regularization: 1e-3, epochs: 10)

    /// W5: the course's three-layer conv net with Adam.
    public static let threeLayerConvNet = Recipe(update: .adam, learningRate: 1e-3, momentum: 0.9, batchSize: 128,
                                                 regularization: 1e-3, epochs: 5)

    /// W6: airbench94's recipe for the modern conv net: Nesterov momentum with the rate and decay
    /// of ``airbenchLearningRate(momentum:)`` and ``airbenchWeightDecay(batchSize:)``, the
    /// warm-up-linear schedule, alternating flips with translations, and lookahead.
    public static func airbench94(momentum: Double = 0.85, batchSize: Int = 1024) -> Recipe {
        Recipe(update: .pytorchNesterov, learningRate: airbenchLearningRate(momentum: momentum), momentum: momentum,
               schedule: .warmupLinear, batchSize: batchSize, weightDecay: airbenchWeightDecay(batchSize: batchSize),
               epochs: 10, augmentation: Augmentation(.alternatingFlipTranslate), lookahead: true)
    }

    /// airbench's learning rate 11.5 per "kilostep" of 1024·(1 + 1/(1 − μ)) examples, in
    /// PyTorch's un-decoupled units.
    public static func airbenchLearningRate(momentum: Double) -> Double { 11.5 / (1024 * (1 + 1 / (1 - momentum))) }

    /// airbench's decay 0.0153·batch per kilostep, as PyTorch's weight_decay (divided by the rate).
    public static func airbenchWeightDecay(batchSize: Int) -> Double { 0.0153 * Double(batchSize) / 11.5 }

    /// The optimizer's part of the recipe.
    public var optimizerSettings: OptimizerSettings {
        OptimizerSettings(rule: update, learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
    }

    /// The Solver's part of the recipe, its data order and samples drawn with `seed`.
    public func solverOptions(seed: UInt64) -> SolverOptions {
        SolverOptions(epochs: epochs, batchSize: batchSize, learningRateDecay: learningRateDecay, seed: seed,
                      schedule: schedule, lookahead: lookahead)
    }
}

extension Solver {
    /// A Solver that trains `model` by `recipe`: its optimizer, options and augmentation. The
    /// recipe's ``Recipe/regularization`` belongs to the model's configuration.
    public init(model: M, train: LabeledTensors<S>, val: LabeledTensors<S>, recipe: Recipe, seed: UInt64) throws {
        try self.init(model: model, train: train, val: val, optimizer: recipe.optimizerSettings,
                      options: recipe.solverOptions(seed: seed))
        useAugmentation(recipe.augmentation)
    }

    /// Augments each training batch as `augmentation` says (nothing for `.none`).
    mutating func useAugmentation(_ augmentation: Augmentation) {
        augment = augmentation.kind == .none ? nil : { batch, origin in try augmentation.apply(to: &batch, origin: origin) }
    }
}
