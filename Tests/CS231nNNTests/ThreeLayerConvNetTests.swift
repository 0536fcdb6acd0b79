import CS231nData
import CS231nNN
import CS231nOptim
import Foundation
import Testing

@Suite struct ThreeLayerConvNetTests {
    /// Random images and labels of a small shape.
    func images<S: TensorScalar>(_: S.Type, count: Int, shape: [Int] = [3, 8, 8], classes: Int = 10,
                                 seed: UInt64) -> (x: Tensor<S>, y: [Int]) {
        var g = RandomGenerator(seed: seed, stream: .dataset)
        let x = Tensor<S>.randn([count] + shape, using: &g)
        return (x, (0..<count).map { _ in g.nextInt(below: classes) })
    }

    @Test func parametersHaveTheCourseShapes() throws {
        let net = try ThreeLayerConvNet<Float>(filters: 32, hiddenSize: 100)
        #expect(net.parameters.names == ["W1", "b1", "W2", "b2", "W3", "b3"])
        #expect(net.parameters["W1"]!.shape == [32, 3, 7, 7] && net.parameters["b1"]!.shape == [32])
        #expect(net.parameters["W2"]!.shape == [32 * 16 * 16, 100] && net.parameters["b2"]!.shape == [100])
        #expect(net.parameters["W3"]!.shape == [100, 10] && net.parameters["b3"]!.shape == [10])
        let he = try ThreeLayerConvNet<Double>(filters: 32, weightScale: nil)
        let std = (he.parameters["W1"]!.squaredSum() / Double(32 * 147)).squareRoot()
        #expect(abs(std - (2.0 / 147).squareRoot()) < 0.01, "He std of W1: \(std)")
    }

    @Test func everyParameterGradientMatchesTheNumericOne() throws {
        let net = try ThreeLayerConvNet<Double>(inputShape: [3, 8, 8], filters: 2, hiddenSize: 5, classes: 4,
                                                weightScale: nil, regularization: 0.1, seed: 1)
        let (x, y) = images(Double.self, count: 2, classes: 4, seed: 2)
        try expectModelGradients("ThreeLayerConvNet", net, x, y)
    }

    @Test func initialLossIsLogOfTheClassCount() throws {
        var net = try ThreeLayerConvNet<Double>(inputShape: [3, 16, 16], filters: 4, hiddenSize: 20, weightScale: 1e-3)
        let (x, y) = images(Double.self, count: 40, shape: [3, 16, 16], seed: 3)
        let loss = try net.loss(x, y).loss
        #expect(abs(loss - log(10.0)) < 0.01, "initial loss \(loss)")
        let regularized = try ThreeLayerConvNet<Double>(inputShape: [3, 16, 16], filters: 4, hiddenSize: 20,
                                                        weightScale: 1e-3, regularization: 10)
        var copy = regularized
        let expectedPenalty = 0.5 * 10 * ["W1", "W2", "W3"].map { regularized.parameters[$0]!.squaredSum() }.reduce(0, +)
        #expect(abs(try copy.loss(x, y).loss - loss - expectedPenalty) < 1e-9)
    }

    @Test func badGeometryAndInputsAreNamed() throws {
        #expect(throws: TensorError.self) { try ThreeLayerConvNet<Float>(inputShape: [3, 7, 7]) }
        do {
            _ = try ThreeLayerConvNet<Float>(inputShape: [3, 7, 7])
        } catch {
            #expect("\(error)".contains("ThreeLayerConvNet layer 1"), "\(error)")
        }
        #expect(throws: TensorError.self) { try ThreeLayerConvNet<Float>(filterSize: 4) }
        #expect(throws: TensorError.self) { try ThreeLayerConvNet<Float>(inputShape: [3072]) }
        let net = try ThreeLayerConvNet<Float>(inputShape: [3, 8, 8], filters: 2, hiddenSize: 4)
        #expect(throws: TensorError.self) { try net.scores(Tensor<Float>.zeros([2, 3, 16, 16])) }
    }

    func solver(train: (x: Tensor<Float>, y: [Int]), epochs: Int, learningRate: Double = 1e-2)
        throws -> Solver<ThreeLayerConvNet<Float>> {
        let model = try ThreeLayerConvNet<Float>(inputShape: [3, 8, 8], filters: 8, hiddenSize: 50,
                                                 weightScale: nil, regularization: 1e-4, seed: 5)
        let data = try LabeledTensors(x: train.x, y: train.y)
        return try Solver(model: model, train: data, val: data,
                          optimizer: OptimizerSettings(rule: .adam, learningRate: learningRate),
                          options: SolverOptions(epochs: epochs, batchSize: 25, trainAccuracySamples: nil, seed: 6))
    }

    @Test func overfitsFiftyExamples() throws {
        let train = images(Float.self, count: 50, seed: 7)
        var solver = try solver(train: train, epochs: 30)
        try solver.train()
        let accuracy = try solver.model.accuracy(train.x, train.y)
        #expect(accuracy == 1, "train accuracy \(accuracy) after \(solver.iteration) iterations")
    }

    @Test func checkpointRoundTripIsBitIdentical() throws {
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let train = images(Float.self, count: 50, seed: 8)
        var solver = try solver(train: train, epochs: 1, learningRate: 1e-3)
        let path = folder + "/convnet.safetensors"
        solver.checkpointPath = path
        try solver.train()
        let file = try Checkpoint.read(path)
        let matchesSolver = file == solver.checkpointFile(completed: true)
        #expect(matchesSolver, "the file read back differs from what the solver wrote")
        #expect(file.serialized() == [UInt8](FileManager.default.contents(atPath: path)!))
        let (model, _) = try Checkpoint.loadModel(path, as: Float.self)
        #expect(model.configuration == solver.model.configuration)
        #expect(model.configuration.kind == "three-layer-convnet")
        for (name, tensor) in solver.bestParameters { #expect(model.parameters[name] == tensor, "\(name)") }
        var best = solver.model
        best.parameters = solver.bestParameters
        #expect(try model.scores(train.x) == best.scores(train.x))
    }
}
