import CS231nClassifiers
import CS231nData
import CS231nNN
import CS231nVisualize
import Foundation
import Testing

/// Occlusion sensitivity and nearest neighbours in feature space on small nets.
@Suite struct InsightTests {
    /// A conv net over 3×8×8 images whose scores depend only on the pixels in rows and columns
    /// 2..<6: a 1×1 convolution, 2×2 pooling, and W2 zero outside pooled cells (1...2, 1...2).
    static func regionNet() throws -> ThreeLayerConvNet<Float> {
        var net = try ThreeLayerConvNet<Float>(inputShape: [3, 8, 8], filters: 2, filterSize: 1, hiddenSize: 6, classes: 3,
                                               weightScale: nil, seed: 4)
        var w2 = net.parameters["W2"]!
        w2.withUnsafeMutableBufferPointer { w in
            for channel in 0..<2 {
                for py in 0..<4 {
                    for px in 0..<4 where !((1...2).contains(py) && (1...2).contains(px)) {
                        for h in 0..<6 { w[((channel * 4 + py) * 4 + px) * 6 + h] = 0 }
                    }
                }
            }
        }
        net.parameters["W2"] = w2
        return net
    }

    @Test func occludingOutsideTheRegionTheNetReadsChangesNothing() throws {
        let net = try Self.regionNet()
        var generator = RandomGenerator(seed: 2, stream: .dataset)
        let x = Tensor<Float>.randn([2, 3, 8, 8], using: &generator)
        for fill in [Occlusion.Fill.zero, .image(Tensor(shape: [3, 8, 8], repeating: 3))] {
            let maps = try Occlusion.sensitivity(net, x, classes: [0, 2], settings: .init(patch: 2, stride: 1, fill: fill, layer: "fc2"))
            #expect(maps.rows == 7 && maps.columns == 7 && maps.probability.shape == [2, 7, 7])
            var changedInside = 0
            for image in 0..<2 {
                for r in 0..<7 {
                    for c in 0..<7 {
                        // The patch covers rows r...r+1 and columns c...c+1.
                        let overlaps = r + 1 >= 2 && r <= 5 && c + 1 >= 2 && c <= 5
                        let change = Swift.abs(maps.probability[image, r, c] - maps.unoccludedProbability[image])
                        let featureChange = Swift.abs(maps.featureTotal![image, r, c] - maps.unoccludedFeatureTotal[image])
                        if overlaps {
                            if change > 1e-4 { changedInside += 1 }
                        } else {
                            #expect(change < 1e-6 && featureChange < 1e-5, "image \(image), patch at (\(r), \(c)) is outside the region")
                            #expect(maps.predicted[(image * 7 + r) * 7 + c] == maps.unoccludedPrediction[image])
                        }
                    }
                }
            }
            #expect(changedInside > 20, "\(fill): only \(changedInside) positions inside the region changed the probability")
        }
    }

    @Test func theFollowedFeatureMapIsTheStrongestAndItsTotalIsRecorded() throws {
        let net = try Self.regionNet()
        var generator = RandomGenerator(seed: 3, stream: .dataset)
        let x = Tensor<Float>.randn([3, 3, 8, 8], using: &generator)
        let maps = try Occlusion.sensitivity(net, x, classes: [0, 1, 2], settings: .init(patch: 3, stride: 2, layer: "conv1"))
        let activations = try net.activations(x, layer: "conv1")
        for image in 0..<3 {
            let values = try activations.slice(image..<(image + 1)).scalars
            let strongest = values.indices.max { values[$0] < values[$1] || (values[$0] == values[$1] && $0 > $1) }! / 64
            #expect(maps.channels[image] == strongest)
            let total = values[(strongest * 64)..<((strongest + 1) * 64)].reduce(0, +)
            #expect(Swift.abs(maps.unoccludedFeatureTotal[image] - total) < 1e-4 * Swift.max(1, total))
        }
        #expect(maps.rows == 3 && maps.columns == 3)
        let scores = try net.scores(x)
        #expect(try scores.argmax(axis: 1) == maps.unoccludedPrediction)
    }

    @Test func occlusionNamesBadSettings() throws {
        let net = try Self.regionNet()
        let x = Tensor<Float>.zeros([1, 3, 8, 8])
        let cases: [(Occlusion.Settings, [Int], String)] = [
            (.init(patch: 9), [0], "it must be in 1...8"),
            (.init(patch: 2, stride: 0), [0], "stride 0"),
            (.init(patch: 2, layer: "conv7"), [0], "no layer \"conv7\""),
            (.init(patch: 2), [3], "classes 0...2"),
        ]
        for (settings, classes, message) in cases {
            #expect { try Occlusion.sensitivity(net, x, classes: classes, settings: settings) } throws: { "\($0)".contains(message) }
        }
    }

    /// Brute force in Double: every database row by (distance, index).
    static func bruteForce(_ queries: Tensor<Float>, _ database: Tensor<Float>, k: Int) -> [[Int]] {
        let d = queries.shape[1], q = queries.scalars.map(Double.init), t = database.scalars.map(Double.init)
        return (0..<queries.shape[0]).map { i in
            let distances = (0..<database.shape[0]).map { j in (0..<d).reduce(0.0) { $0 + (q[i * d + $1] - t[j * d + $1]) * (q[i * d + $1] - t[j * d + $1]) } }
            return Array(distances.indices.sorted { (distances[$0], $0) < (distances[$1], $1) }.prefix(k))
        }
    }

    @Test func featureNeighboursEqualABruteForceSearch() throws {
        var generator = RandomGenerator(seed: 5, stream: .dataset)
        // Small integers make many exact ties, which go to the smaller index.
        let database = try Tensor<Float>(shape: [150, 6], scalars: (0..<900).map { _ in Float(generator.nextInt(below: 4)) })
        var queries = try Tensor<Float>(shape: [7, 6], scalars: (0..<42).map { _ in Float(generator.nextInt(below: 4)) })
        queries = try Tensor.concatenate([queries, database.slice(10..<11)])
        for part in [nil, 37, 1] as [Int?] {
            let found = try FeatureNeighbours.nearest(queries: queries, database: database, k: 9, partSize: part) { $0 }
            #expect(found.indices == Self.bruteForce(queries, database, k: 9), "part \(String(describing: part))")
            #expect(found.distances[7][0] == 0 && found.indices[7][0] <= 10)
        }
        let net = try Self.regionNet()
        let images = Tensor<Float>.randn([40, 3, 8, 8], using: &generator), probes = Tensor<Float>.randn([3, 3, 8, 8], using: &generator)
        let inFeatures = try FeatureNeighbours.nearest(net, layer: "fc2", queries: probes, database: images, k: 5)
        #expect(inFeatures.indices == Self.bruteForce(try net.activations(probes, layer: "fc2"), try net.activations(images, layer: "fc2"), k: 5))
        let pixels = try InputPixels(mean: .zeros([192]), scale: 2, imageShape: [3, 8, 8])
        let inPixels = try FeatureNeighbours.nearestInPixels(queries: probes, database: images, pixels: pixels, k: 5)
        #expect(inPixels.indices == Self.bruteForce(probes.flattenedRows(), images.flattenedRows(), k: 5))
        #expect(throws: TensorError.self) { try FeatureNeighbours.nearest(net, layer: "fc9", queries: probes, database: images, k: 5) }
        #expect(throws: TensorError.self) { try FeatureNeighbours.nearest(queries: probes, database: images, k: 41) { $0 } }
    }
}
