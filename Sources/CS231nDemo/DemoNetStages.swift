import CS231n
import Foundation

/// Demo stages for backpropagation through layers: a two-layer net and a deeper fully-connected
/// net with batch norm and dropout, trained by the Solver, then the confusion matrix.
extension DemoPipeline {
    struct NetRecipe {
        let name: String
        let configuration: ModelConfiguration
        let optimizer: OptimizerSettings
        let options: SolverOptions
        var inputs: [String: String] {
            ["\(name).config": configuration.jsonString(), "\(name).update": optimizer.rule.rawValue,
             "\(name).lr": String(optimizer.learningRate), "\(name).epochs": String(options.epochs),
             "\(name).batch": String(options.batchSize), "\(name).lr_decay": String(options.learningRateDecay)]
        }
    }

    static func netRecipes(seed: UInt64) -> [NetRecipe] {
        [
            NetRecipe(name: "two-layer net",
                      configuration: ModelConfiguration(kind: "two-layer", inputShape: [LabeledImages.imageSize],
                                                        hiddenSizes: [200], classes: 10, regularization: 1e-3, seed: seed),
                      optimizer: OptimizerSettings(rule: .pytorchMomentum, learningRate: 0.02),
                      options: SolverOptions(epochs: 8, batchSize: 100, learningRateDecay: 0.95, seed: seed)),
            NetRecipe(name: "fully-connected net",
                      configuration: ModelConfiguration(kind: "fully-connected", inputShape: [LabeledImages.imageSize],
                                                        hiddenSizes: [256, 128], classes: 10, normalization: .batchnorm,
                                                        keepProbability: 0.9, regularization: 1e-3, seed: seed),
                      optimizer: OptimizerSettings(rule: .adam, learningRate: 1e-3),
                      options: SolverOptions(epochs: 8, batchSize: 100, learningRateDecay: 0.95, seed: seed)),
        ]
    }

    static func netsStage(seed: UInt64) -> DemoStage {
        let recipes = netRecipes(seed: seed)
        return DemoStage(name: "nets", title: "Neural networks: backpropagation through layers",
                         inputs: recipes.reduce(into: ["compression": "prune 0.9 in 3 steps, 1 retrain epoch, bits 8,4,2, 1 fine-tune epoch"]) { $0.merge($1.inputs) { a, _ in a } }) { context in
            let data = try PreparedData<Float>(context.splits, fitting: .meanImage)
            var blocks: [ReportBlock] = [
                .paragraph("Layers with a forward and a backward pass side by side (affine, ReLU, batch norm, dropout, softmax loss), "
                           + "composed into nets and trained by the Solver on (pixels − mean image)/255. The best-validation "
                           + "parameters are kept."),
            ]
            var confusion: [[Int]] = []
            var compression: [ReportBlock] = []
            for recipe in recipes {
                let (recipeBlocks, model) = try train(recipe, data: data, context: context, stage: "nets")
                blocks += recipeBlocks
                confusion = try confusionCounts(model, data.val)
                if recipe.configuration.kind == "two-layer" {
                    compression = try compressionBlocks(model, data: data, recipe: recipe)
                }
            }
            let matrix = TrainingFigures.confusionMatrix(confusion, classNames: data.classNames,
                                                         title: "fully-connected net, validation split")
            blocks.append(.png(Data(matrix.encoded()), caption: "Confusion matrix of the fully-connected net on the validation "
                               + "split: rows are true classes, columns predictions", width: nil))
            return ReportSection(title: "Neural networks: backpropagation through layers", blocks: blocks + compression)
        }
    }

    /// Trains one recipe with the Solver and reports its accuracies, timing and curves.
    static func train(_ recipe: NetRecipe, data: PreparedData<Float>, context: DemoContext,
                      stage: String) throws -> ([ReportBlock], AnyModel<Float>) {
        var solver = try Solver(model: AnyModel<Float>(recipe.configuration), train: data.train, val: data.val,
                                optimizer: recipe.optimizer, options: recipe.options)
        let bar = ProgressBar("  \(recipe.name)", total: recipe.options.epochs * solver.stepsPerEpoch)
        let steps = solver.stepsPerEpoch
        solver.onEvent = { event in
            if case let .iteration(epoch, step, _, loss) = event {
                bar.update((epoch - 1) * steps + step, status: String(format: "loss %.3f", loss))
            }
        }
        let seconds = try TimingSummary.time { try solver.train() }
        bar.finish()
        var accuracies: [ReportBlock.KeyValue] = []
        for (name, split) in [("train", data.train), ("val", data.val)] + (data.test.map { [("test", $0)] } ?? []) {
            let accuracy = try solver.model.accuracy(split.x, split.y)
            accuracies.append(.init("\(recipe.name) \(name) accuracy", percent(accuracy)))
            context.report([("stage", .string(stage)), ("model", .string(recipe.name)), ("split", .string(name))],
                           metric: "accuracy", value: accuracy)
        }
        let configuration = recipe.configuration
        let layers = configuration.convolution.map { "conv \($0.filters)×\($0.filterSize)×\($0.filterSize) - ReLU - pool 2 - " } ?? ""
        var blocks: [ReportBlock] = [
            .keyValues([.init("architecture", "\(configuration.kind): \(layers)"
                              + ([configuration.inputSize] + configuration.hiddenSizes + [configuration.classes]).map(String.init).joined(separator: "-")),
                        .init("update", "\(recipe.optimizer.rule.rawValue), lr \(recipe.optimizer.learningRate), "
                              + "batch \(recipe.options.batchSize), \(recipe.options.epochs) epochs"),
                        .init("parameters", String(solver.model.parameters.scalarCount))] + accuracies),
            .timing(String(format: "%@: %.1f s of training, %.0f images/s", recipe.name, seconds,
                           Double(recipe.options.epochs * data.train.count) / seconds)),
            .svg(try TrainingFigures.lossPlot(solver.history, stepsPerEpoch: solver.stepsPerEpoch).render(),
                 caption: "\(recipe.name): loss per iteration"),
            .svg(try TrainingFigures.accuracyPlot(solver.history).render(),
                 caption: "\(recipe.name): train and val accuracy per epoch"),
        ]
        if let w1 = solver.model.parameters["W1"] {
            if w1.rank == 4, let picture = try TrainingFigures.firstLayerFilters(w1) {
                blocks.append(.png(Data(picture.encoded()), caption: "\(recipe.name): the first layer's filters", width: nil))
            } else if w1.rank == 2, let picture = try TrainingFigures.firstLayerWeights(w1) {
                blocks.append(.png(Data(picture.encoded()), caption: "\(recipe.name): first-layer weights as images", width: nil))
            }
        }
        return (blocks, solver.model)
    }

    static func confusionCounts(_ model: AnyModel<Float>, _ split: LabeledTensors<Float>) throws -> [[Int]] {
        let predictions = try model.predict(split.x)
        var counts = Array(repeating: Array(repeating: 0, count: Demo.classCount), count: Demo.classCount)
        for (truth, guess) in zip(split.y, predictions) { counts[truth][guess] += 1 }
        return counts
    }

    static func convNetStage(seed: UInt64) -> DemoStage {
        let recipe = NetRecipe(
            name: "ThreeLayerConvNet",
            configuration: ModelConfiguration(kind: ThreeLayerConvNet<Float>.kind, inputShape: [3, 32, 32], hiddenSizes: [100],
                                              classes: 10, regularization: 1e-3, seed: seed,
                                              convolution: ConvNetSettings(filters: 32, filterSize: 7)),
            optimizer: OptimizerSettings(rule: .adam, learningRate: 1e-3),
            options: SolverOptions(epochs: 4, batchSize: 64, learningRateDecay: 0.95, seed: seed))
        let inputs = recipe.inputs.merging(understandingInputs) { a, _ in a }
            .merging(["attribution": "saliency, guided, deconvnet; top 9 of pool1 channel 5"]) { a, _ in a }
        return DemoStage(name: "convnet", title: "A convolutional net", inputs: inputs) { context in
            let data = try PreparedData<Float>(context.splits, fitting: .meanImage, inputShape: [3, 32, 32])
            let (trained, model) = try train(recipe, data: data, context: context, stage: "convnet")
            var blocks = trained
            blocks.insert(.paragraph("CS231n's ThreeLayerConvNet: a 7×7 convolution with ReLU and 2×2 max pooling (fused, "
                                     + "parallel over the batch), then affine-ReLU-affine and the softmax loss, trained with Adam."),
                          at: 0)
            let matrix = TrainingFigures.confusionMatrix(try confusionCounts(model, data.val), classNames: data.classNames,
                                                         title: "ThreeLayerConvNet, validation split")
            blocks.append(.png(Data(matrix.encoded()), caption: "Confusion matrix of the conv net on the validation split", width: nil))
            blocks.append(.heading("Understanding the net"))
            blocks += try attributionBlocks(model, data: data)
            blocks += try understandingBlocks(model, data: data, seed: context.seed)
            return ReportSection(title: "A convolutional net", blocks: blocks)
        }
    }
}
