import ArgumentParser
import CS231n
import Foundation

extension LearningRateSchedule: ExpressibleByArgument {}

extension Augmentation.Kind: ExpressibleByArgument {}

extension TrainCommand.ModelChoice {
    /// What `cs231n train --model …` does when no option overrides it: two-layer and fc follow
    /// W4, three-layer-convnet W5, cnn W6's 94% recipe (BENCHMARKS.md and airbench94).
    func recipe(momentum: Double?, batchSize: Int?) -> Recipe {
        switch self {
        case .twoLayer, .fc: return .twoLayer
        case .threeLayerConvnet: return .threeLayerConvNet
        case .cnn: return .airbench94(momentum: momentum ?? 0.85, batchSize: batchSize ?? 1024)
        }
    }
}

extension TrainCommand {
    /// The model's recipe with every option the user gave put in its place. A different
    /// momentum or batch size moves the cnn's derived learning rate and weight decay with it.
    func recipe() -> Recipe {
        // The cnn's learning rate and weight decay follow its momentum and batch size.
        var r = model.recipe(momentum: momentum, batchSize: batchSize)
        if let update, update != r.update {
            // Another rule than the recipe's starts from that rule's own default rate.
            r.update = update
            r.learningRate = nil
        }
        if let momentum { r.momentum = momentum }
        if let batchSize { r.batchSize = batchSize }
        if let lr { r.learningRate = lr }
        if let lrDecay { r.learningRateDecay = lrDecay }
        if let schedule { r.schedule = schedule }
        if let reg { r.regularization = reg }
        if let weightDecay { r.weightDecay = weightDecay }
        if let epochs { r.epochs = epochs }
        if let augment { r.augmentation = Augmentation(augment) }
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
        return ModelConfiguration(kind: kind, inputShape: inputShape, hiddenSizes: try hiddenSizes(), classes: classes,
                                  normalization: norm.normalization, keepProbability: dropout,
                                  regularization: r.regularization, weightScale: model == .cnn ? nil : try initialScale(),
                                  seed: common.seed,
                                  convolution: model == .threeLayerConvnet ? ConvNetSettings(filters: filters, filterSize: 7) : nil,
                                  modernConvNet: model == .cnn ? ModernConvNetSettings(labelSmoothing: labelSmoothing,
                                                                                       testTimeAugmentation: tta) : nil)
    }
}
