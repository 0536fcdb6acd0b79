import ArgumentParser
import CS231n
import Foundation

extension LearningRateSchedule: ExpressibleByArgument {}

extension Augmentation.Kind: ExpressibleByArgument {}

/// The training recipe of each model: what `cs231n train --model …` does when no option
/// overrides it. two-layer and fc follow W4, three-layer-convnet W5, cnn W6's 94% recipe
/// (BENCHMARKS.md and airbench94).
struct TrainRecipe {
    var update: UpdateRule
    var learningRate: Double?
    var momentum: Double
    var learningRateDecay: Double
    var schedule: LearningRateSchedule
    var batchSize: Int
    var regularization: Double
    var weightDecay: Double
    var epochs: Int
    var augmentation: Augmentation.Kind
    var lookahead: Bool

    /// airbench's learning rate 11.5 per "kilostep" of 1024·(1 + 1/(1 − μ)) examples, in
    /// PyTorch's un-decoupled units.
    static func airbenchLearningRate(momentum: Double) -> Double { 11.5 / (1024 * (1 + 1 / (1 - momentum))) }

    /// airbench's decay 0.0153·batch per kilostep, as PyTorch's weight_decay (divided by the lr).
    static func airbenchWeightDecay(batchSize: Int) -> Double { 0.0153 * Double(batchSize) / 11.5 }

    static func defaults(for model: TrainCommand.ModelChoice) -> TrainRecipe {
        switch model {
        case .twoLayer, .fc:
            return TrainRecipe(update: .pytorchMomentum, learningRate: 0.02, momentum: 0.9, learningRateDecay: 0.95,
                               schedule: .constant, batchSize: 200, regularization: 1e-3, weightDecay: 0, epochs: 10,
                               augmentation: .none, lookahead: false)
        case .threeLayerConvnet:
            return TrainRecipe(update: .adam, learningRate: 1e-3, momentum: 0.9, learningRateDecay: 1, schedule: .constant,
                               batchSize: 128, regularization: 1e-3, weightDecay: 0, epochs: 5, augmentation: .none,
                               lookahead: false)
        case .cnn:
            return TrainRecipe(update: .pytorchNesterov, learningRate: airbenchLearningRate(momentum: 0.85), momentum: 0.85,
                               learningRateDecay: 1, schedule: .warmupLinear, batchSize: 1024, regularization: 0,
                               weightDecay: airbenchWeightDecay(batchSize: 1024), epochs: 10,
                               augmentation: .alternatingFlipTranslate,
                               lookahead: true)
        }
    }
}

extension TrainCommand {
    /// The model's recipe with every option the user gave put in its place. A different
    /// momentum or batch size moves the cnn's derived learning rate and weight decay with it.
    func recipe() -> TrainRecipe {
        var r = TrainRecipe.defaults(for: model)
        if let update, update != r.update {
            // Another rule than the recipe's starts from that rule's own default rate.
            r.update = update
            r.learningRate = nil
        }
        if let momentum {
            r.momentum = momentum
            if model == .cnn { r.learningRate = TrainRecipe.airbenchLearningRate(momentum: momentum) }
        }
        if let batchSize {
            r.batchSize = batchSize
            if model == .cnn { r.weightDecay = TrainRecipe.airbenchWeightDecay(batchSize: batchSize) }
        }
        if let lr { r.learningRate = lr }
        if let lrDecay { r.learningRateDecay = lrDecay }
        if let schedule { r.schedule = schedule }
        if let reg { r.regularization = reg }
        if let weightDecay { r.weightDecay = weightDecay }
        if let epochs { r.epochs = epochs }
        if let augment { r.augmentation = augment }
        if let lookahead { r.lookahead = lookahead }
        return r
    }

    func validateRecipe() throws {
        let r = recipe()
        try OptionRange.check(r.batchSize, in: 1...SolverOptions.maximumBatchSize, "--batch-size")
        try OptionRange.positive(r.learningRateDecay, "--lr-decay")
        try OptionRange.nonNegative(r.regularization, "--reg")
        try OptionRange.nonNegative(r.weightDecay, "--weight-decay")
        if let momentum, !(0..<1).contains(momentum) { throw ValidationError("--momentum is \(momentum), outside the valid range [0, 1)") }
        if model == .cnn {
            guard (0..<1).contains(labelSmoothing) else { throw ValidationError("--label-smoothing must be in [0, 1)") }
            guard (0...2).contains(tta) else { throw ValidationError("--tta must be 0, 1 or 2") }
            if r.regularization != 0 { throw ValidationError("--model cnn has no L2 term: use --weight-decay") }
        }
    }

    /// The model's configuration for `data`.
    func modelConfiguration(classes: Int, inputShape: [Int]) throws -> ModelConfiguration {
        let r = recipe()
        let kind = [.twoLayer: "two-layer", .fc: "fully-connected", .threeLayerConvnet: ThreeLayerConvNet<Float>.kind,
                    .cnn: ModernConvNet<Float>.kind][model]!
        var options: [String: String] = [:]
        switch model {
        case .threeLayerConvnet: options = ["filters": String(filters), "filter-size": "7"]
        case .cnn: options = ["label-smoothing": String(labelSmoothing), "tta": String(tta)]
        case .twoLayer, .fc: break
        }
        return ModelConfiguration(kind: kind, inputShape: inputShape, hiddenSizes: try hiddenSizes(), classes: classes,
                                  normalization: norm.normalization, keepProbability: dropout,
                                  regularization: r.regularization, weightScale: model == .cnn ? nil : try initialScale(),
                                  seed: common.seed, options: options)
    }
}
