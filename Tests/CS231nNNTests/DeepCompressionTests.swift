import CS231nData
import CS231nNN
@testable import CS231nCompression
@testable import CS231nOptim
import Foundation
import Testing

/// Deep Compression: magnitude pruning, weight sharing with centroid fine-tuning, and the
/// sparse + codebook file.
@Suite struct DeepCompressionTests {
    static func net(hidden: [Int] = [40, 30], seed: UInt64 = 3) throws -> FullyConnectedNet<Float> {
        try FullyConnectedNet<Float>(inputShape: [12], hiddenSizes: hidden, classes: 4, regularization: 1e-3, weightScale: nil, seed: seed)
    }

    static func zeroPositions(_ tensor: Tensor<Float>) -> Set<Int> {
        Set(tensor.scalars.indices.filter { tensor.scalars[$0] == 0 })
    }

    @Test func scheduleHalvesWhatIsLeftThenReachesTheTarget() {
        #expect(Pruning.schedule(to: 0.9) == [0.5, 0.75, 0.9])
        #expect(Pruning.schedule(to: 0.95) == [0.5, 0.75, 0.875, 0.95])
        #expect(Pruning.schedule(to: 0.5) == [0.5])
        #expect(Pruning.schedule(to: 0.3) == [0.3])
    }

    @Test func pruningHitsTheSparsityExactlyPerLayerAndKeepsEarlierPrunes() throws {
        let model = try Self.net()
        let half = try Pruning.masks(for: model.parameters, sparsity: 0.5)
        let most = try Pruning.masks(for: model.parameters, sparsity: 0.8, keeping: half)
        #expect(half.names == ["W1", "W2", "W3"], "weights only, no biases")
        for (name, mask) in most {
            let weights = model.parameters[name]!
            #expect(Self.zeroPositions(mask).count == Int((0.8 * Double(weights.count)).rounded()), "\(name)")
            #expect(Self.zeroPositions(half[name]!).isSubset(of: Self.zeroPositions(mask)), "\(name): a pruned weight came back")
            // The pruned ones are the smallest in magnitude.
            let values = weights.scalars, zeros = Self.zeroPositions(mask)
            let largestPruned = zeros.map { abs(values[$0]) }.max()!
            let smallestKept = values.indices.filter { !zeros.contains($0) }.map { abs(values[$0]) }.min()!
            #expect(largestPruned <= smallestKept, "\(name)")
        }
        #expect(throws: TensorError.self) { try Pruning.masks(for: model.parameters, sparsity: 1) }
    }

    @Test(arguments: [UpdateRule.pytorchMomentum, .adam, .rmsprop])
    func prunedWeightsStayZeroThroughRetraining(rule: UpdateRule) throws {
        let masks = try Pruning.masks(for: Self.net().parameters, sparsity: 0.75)
        let pruned = try PrunedModel(Self.net(), masks: masks)
        var solver = try Solver(model: pruned, train: clusters(count: 200, seed: 1), val: clusters(count: 60, seed: 2),
                                optimizer: OptimizerSettings(rule: rule, learningRate: 1e-2),
                                options: SolverOptions(epochs: 3, batchSize: 25, trainAccuracySamples: 50, seed: 4))
        try solver.train()
        for (name, mask) in masks {
            let before = pruned.parameters[name]!, after = solver.model.parameters[name]!
            #expect(Self.zeroPositions(after) == Self.zeroPositions(mask), "\(name): zeros moved")
            #expect(before != after, "\(name): the kept weights should have trained")
        }
        #expect(Pruning.weightSparsity(of: solver.model.parameters) > 0.749)
        #expect(solver.bestValAccuracy > 0.7, "the pruned net still learns the clusters: \(solver.bestValAccuracy)")
    }

    @Test func kMeansGivesAtMostTwoToTheBitsValuesAndLowersTheError() {
        var g = RandomGenerator(seed: 9)
        let values = (0..<2_000).map { _ in g.nextNormal() * (g.nextUniform() < 0.1 ? 4 : 1) }
        for bits in [1, 2, 3, 5] {
            let result = KMeans.cluster(values, clusters: 1 << bits)
            #expect(result.centroids.count == 1 << bits && Set(result.assignments).count <= 1 << bits)
            #expect(result.centroids == result.centroids.sorted(), "centroids stay sorted")
            let initial = (0..<(1 << bits)).map { values.min()! + (values.max()! - values.min()!) * Double($0) / Double((1 << bits) - 1) }
            let initialError = KMeans.error(values, initial, KMeans.assign(values, to: initial))
            #expect(result.errors.first! <= initialError)
            for (previous, next) in zip(result.errors, result.errors.dropFirst()) { #expect(next <= previous * (1 + 1e-12), "\(bits) bits: \(result.errors)") }
            #expect(result.errors.last! < 0.9 * initialError, "\(bits) bits: \(initialError) → \(result.errors)")
            #expect(result.assignments == KMeans.assign(values, to: result.centroids), "each value at its nearest centroid")
        }
    }

    @Test func sharedLayerKeepsZerosAndUsesAtMostTwoToTheBitsValues() throws {
        var model = try Self.net()
        try Pruning.apply(Pruning.masks(for: model.parameters, sparsity: 0.6), to: &model.parameters)
        let shared = try SharedWeightsModel(model, bits: 3)
        for layer in shared.layers {
            let weights = shared.base.parameters[layer.name]!
            #expect(Self.zeroPositions(weights) == Self.zeroPositions(model.parameters[layer.name]!), "\(layer.name)")
            #expect(Set(weights.scalars.filter { $0 != 0 }).count <= 8, "\(layer.name)")
        }
        #expect(shared.parameters["W1"]!.shape == [8] && shared.parameters["b1"] == model.parameters["b1"])
    }

    @Test func centroidGradientsAreTheGroupedSumsAndPassTheGradientCheck() throws {
        var g = RandomGenerator(seed: 5)
        var net = try TwoLayerNet<Double>(inputSize: 6, hiddenSize: 7, classes: 3, weightScale: 0.5, regularization: 0.1, seed: 2)
        var parameters = net.parameters
        try Pruning.apply(Pruning.masks(for: parameters, sparsity: 0.5), to: &parameters)
        net.parameters = parameters
        var shared = try SharedWeightsModel(net, bits: 2)
        let x = Tensor<Double>.randn([5, 6], using: &g), y = [0, 2, 1, 1, 0]
        var base = shared.base
        let weightGradients = try base.loss(x, y).gradients
        let gradients = try shared.loss(x, y).gradients
        for layer in shared.layers {
            var sums = [Double](repeating: 0, count: layer.codebook.count)
            for (i, cluster) in layer.assignments.enumerated() where cluster >= 0 { sums[Int(cluster)] += weightGradients[layer.name]!.scalars[i] }
            #expect(gradients[layer.name]!.scalars == sums, "\(layer.name)")
        }
        #expect(gradients["b1"] == weightGradients["b1"])
        try expectModelGradients("shared two-layer net", shared, x, y)
    }

    /// A 90%-pruned, 4-bit shared net with a mean image, as `cs231n compress` writes it.
    static func compressedNet() throws -> (CompressedModel, SharedWeightsModel<AnyModel<Float>>) {
        var model = try AnyModel<Float>(ModelConfiguration(kind: "two-layer", inputShape: [300], hiddenSizes: [200], classes: 10, seed: 1))
        try Pruning.apply(Pruning.masks(for: model.parameters, sparsity: 0.9), to: &model.parameters)
        let shared = try SharedWeightsModel(model, bits: 4)
        var g = RandomGenerator(seed: 1)
        let compressed = CompressedModel(shared, data: ParameterStore([("mean_image", Tensor<Float>.randn([300], using: &g))]),
                                         metadata: ["data.dataset": "builtin"])
        return (compressed, shared)
    }

    @Test func compressedFileRoundTripsBitIdenticallyAndIsSmallerByTheExpectedFactor() throws {
        let (compressed, shared) = try Self.compressedNet()
        let bytes = compressed.serialized()
        let read = try CompressedModel(parsing: bytes, path: "net.cs231nz")
        #expect(read.layers == shared.layers && read.metadata == compressed.metadata && read.configuration == compressed.configuration)
        let expanded = try read.expandedModel()
        for (name, tensor) in shared.base.parameters {
            #expect(expanded.parameters[name]!.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern), "\(name)")
        }
        #expect(read.dense["data.mean_image"] == compressed.dense["data.mean_image"])
        #expect(try read.checkpointFile().tensor("params.W1", as: Float.self) == shared.base.parameters["W1"])
        // 90% pruned with 4-bit indices: each surviving weight costs its 4-bit index and a
        // relative position of about 5 bits, a tenth of the weights instead of 32 bits each.
        let denseBytes = DeepCompression.denseWeightBytes(shared.base.parameters)
        let weightBytes = DeepCompression.sharedWeightBytes(read.layers)
        let nonzeros = read.layers.reduce(0) { $0 + $1.positions.count }
        #expect(nonzeros == 6_200, "90% of 300·200 + 200·10 pruned")
        #expect(weightBytes <= nonzeros * (4 + 6) / 8 + 2 * 4 * 16 + 2, "\(weightBytes) bytes for \(nonzeros) weights")
        #expect(Double(denseBytes) / Double(weightBytes) > 32, "\(denseBytes) → \(weightBytes)")
        let floats = 4 * (shared.base.parameters.scalarCount - denseBytes / 4 + 300)
        #expect(bytes.count > weightBytes + floats && bytes.count < weightBytes + floats + 2_000, "header ~1 KB")
        let path = try temporaryDirectory() + "/net.cs231nz"
        try compressed.write(to: path)
        #expect(try CompressedModel(contentsOf: path).layers == shared.layers)
    }

    func expectCorrupt(_ bytes: [UInt8], mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try CompressedModel(parsing: bytes, path: "damaged.cs231nz")
            Issue.record("a damaged file was accepted", sourceLocation: sourceLocation)
        } catch let error as CompressedModelError {
            let message = error.description
            #expect(message.contains("damaged.cs231nz") && message.contains("at byte"), "\(message)", sourceLocation: sourceLocation)
            for word in words { #expect(message.contains(word), "\(message) lacks \(word)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func damagedFilesAreRejectedNamingTheFileAndTheOffset() throws {
        let bytes = try Self.compressedNet().0.serialized()
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16
        let dataStart = 24 + headerLength
        expectCorrupt(Array(bytes.prefix(10)), mentioning: ["truncated", "at byte 10"])
        expectCorrupt(Array(bytes.prefix(dataStart - 5)), mentioning: ["header length", "truncated", "at byte 8"])
        expectCorrupt(Array(bytes.prefix(dataStart + 100)), mentioning: ["truncated", "W1.positions"])
        expectCorrupt(Array(bytes.dropLast(3)), mentioning: ["truncated", "data.mean_image"])
        expectCorrupt(bytes + [0], mentioning: ["1 bytes follow the last section"])
        var flipped = bytes
        flipped[dataStart + 70] ^= 0x10
        expectCorrupt(flipped, mentioning: ["W1.positions", "CRC-32", "at byte \(dataStart + 64)"])
        var header = bytes
        header[40] ^= 1
        expectCorrupt(header, mentioning: ["header", "CRC-32", "at byte 24"])
        var magic = bytes
        magic[0] = UInt8(ascii: "X")
        expectCorrupt(magic, mentioning: ["not a compressed model", "at byte 0"])
        #expect(throws: CompressedModelError.unreadable(path: "/no/such.cs231nz", reason: "no such file")) {
            try CompressedModel(contentsOf: "/no/such.cs231nz")
        }
    }

    @Test func relativeIndexUsesFillersForLongGaps() throws {
        let positions = [0, 3, 4, 40, 41]
        let codes = RelativeIndex.encode(positions, bits: 3)
        #expect(codes == [1, 3, 1, 0, 0, 0, 0, 0, 1, 1], "gap 36 = five fillers of 7 and a 1")
        #expect(RelativeIndex.entryCount(positions, bits: 3) == codes.count)
        #expect(try RelativeIndex.decode(codes, bits: 3, limit: 42).get() == positions)
        #expect((try? RelativeIndex.decode(codes, bits: 3, limit: 41).get()) == nil)
        #expect(BitPacking.unpack(BitPacking.pack(codes, bits: 3)[...], count: codes.count, bits: 3) == codes)
    }
}
