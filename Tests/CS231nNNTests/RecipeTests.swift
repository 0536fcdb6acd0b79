import CS231nData
import CS231nNN
import CS231nOptim
import Foundation
import Testing

/// The training recipes as library values, the Solver they assemble, and the checkpoint of a
/// model trained by a loop of one's own.
@Suite struct RecipeTests {
    static func same(_ a: ParameterStore<Float>, _ b: ParameterStore<Float>) -> Bool {
        a.names == b.names && a.names.allSatisfy { a[$0] == b[$0] }
    }

    @Test func airbench94FollowsItsFormulas() {
        let recipe = Recipe.airbench94()
        // 11.5 per kilostep of 1024 · (1 + 1/(1 − 0.85)) examples; 0.0153 · 1024 / 11.5.
        #expect(abs(recipe.learningRate! - 11.5 / (1024 * (1 + 1 / 0.15))) < 1e-15)
        #expect(abs(recipe.weightDecay - 0.0153 * 1024 / 11.5) < 1e-15)
        #expect(recipe.update == .pytorchNesterov && recipe.schedule == .warmupLinear && recipe.lookahead)
        #expect(recipe.augmentation == Augmentation(.alternatingFlipTranslate) && recipe.batchSize == 1024)
        let other = Recipe.airbench94(momentum: 0.9, batchSize: 48)
        #expect(other.learningRate == Recipe.airbenchLearningRate(momentum: 0.9) && other.momentum == 0.9)
        #expect(other.weightDecay == Recipe.airbenchWeightDecay(batchSize: 48) && other.batchSize == 48)
        #expect(Recipe.twoLayer.optimizerSettings == OptimizerSettings(rule: .pytorchMomentum, learningRate: 0.02, momentum: 0.9))
        #expect(Recipe.threeLayerConvNet.solverOptions(seed: 7) == SolverOptions(epochs: 5, batchSize: 128, seed: 7))
    }

    @Test func aRecipeSolverTrainsAsTheSolverItStandsFor() throws {
        let data = try PreparedData<Float>(DataSpec(dataset: .builtin, seed: 2, numTrain: 40, numVal: 10).load(), fitting: .meanImage,
                                           inputShape: [3, 32, 32])
        var recipe = Recipe.threeLayerConvNet
        (recipe.epochs, recipe.batchSize, recipe.augmentation) = (2, 16, Augmentation(.flipTranslate))
        let net = try AnyModel<Float>(ModelConfiguration(kind: ThreeLayerConvNet<Float>.kind, inputShape: [3, 32, 32], hiddenSizes: [6],
                                                         classes: 10, seed: 1, convolution: ConvNetSettings(filters: 2, filterSize: 3)))
        var byRecipe = try Solver(model: net, train: data.train, val: data.val, recipe: recipe, seed: 5)
        var byHand = try Solver(model: net, train: data.train, val: data.val, optimizer: recipe.optimizerSettings,
                                options: recipe.solverOptions(seed: 5))
        byHand.record(try CheckpointData(data, augmentation: recipe.augmentation))
        try byRecipe.train()
        try byHand.train()
        #expect(Self.same(byRecipe.model.parameters, byHand.model.parameters) && byRecipe.history == byHand.history)
    }

    @Test func aModelCheckpointLoadsBackWithItsData() throws {
        let data = try PreparedData<Float>(DataSpec(dataset: .builtin, seed: 4, numTrain: 30, numVal: 10).load(), fitting: .meanImage)
        let configuration = ModelConfiguration(kind: "two-layer", inputShape: [3072], hiddenSizes: [5], classes: 10, seed: 3)
        var net = try AnyModel<Float>(configuration)
        var optimizer = Optimizer<Float>(Recipe.twoLayer.optimizerSettings)
        let (_, gradients) = try net.loss(data.train.x, data.train.y)
        try optimizer.update(&net.parameters, gradients: gradients)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-model-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(net, data: CheckpointData(data), to: path)
        let (loaded, file) = try Checkpoint.loadModel(path, as: Float.self)
        #expect(loaded.configuration == configuration && Self.same(loaded.parameters, net.parameters))
        let again = try CheckpointData(checkpoint: file, path: path).prepare(inputShape: [3072])
        #expect(again.val.x == data.val.x && again.val.y == data.val.y)
    }
}
