import CS231n
import Foundation

/// The demo's views of what the conv net's later layers learned: occlusion sensitivity, nearest
/// neighbours in feature space and a t-SNE map of its fc2 codes, at sizes that keep the stage short.
extension DemoPipeline {
    static let occlusionSettings = Occlusion.Settings(patch: 8, stride: 2, layer: "pool1")
    static let neighbourCount = 6, tsneImages = 500

    /// What the stage cache key must know about these figures.
    static let understandingInputs = ["understanding": "occlusion 8/2 pool1; neighbours fc2 k \(neighbourCount); "
                                      + "t-SNE of \(tsneImages) val images at fc2, scikit-learn defaults"]

    static func understandingBlocks(_ model: AnyModel<Float>, data: PreparedData<Float>, seed: UInt64) throws -> [ReportBlock] {
        let pixels = try InputPixels(data.preprocessor, imageShape: [3, 32, 32])
        let count = Swift.min(attributionImages, data.val.y.count)
        let x = try data.val.x.slice(0..<count), labels = Array(data.val.y[0..<count])
        let names = labels.map { data.classNames[$0] }
        let maps = try Occlusion.sensitivity(model, x, classes: labels, settings: occlusionSettings)
        let occlusion = try NetFigures.occlusion(maps, images: x, pixels: pixels, classNames: data.classNames, imageLabels: names)
        let inFeatures = try FeatureNeighbours.nearest(model, layer: "fc2", queries: x, database: data.train.x, k: neighbourCount)
        let inPixels = try FeatureNeighbours.nearestInPixels(queries: x, database: data.train.x, pixels: pixels, k: neighbourCount)
        let neighbours = try NetFigures.neighbours(queries: x, inFeatures: inFeatures, inPixels: inPixels, training: data.train.x,
                                                   pixels: pixels, queryLabels: names,
                                                   trainingClasses: data.train.y.map { data.classNames[$0] }, layer: "fc2")
        let shared = { (list: Neighbours) in
            zip(list.indices, labels).reduce(0) { sum, row in sum + row.0.filter { data.train.y[$0] == row.1 }.count }
        }

        let mapped = Swift.min(tsneImages, data.val.y.count)
        let tsneX = try data.val.x.slice(0..<mapped), tsneLabels = Array(data.val.y[0..<mapped])
        let codes = try model.activations(tsneX, layer: "fc2")
        var result: TSNE.Result?
        let seconds = try TimingSummary.time { result = try TSNE.embed(codes, settings: TSNE.Settings(seed: seed)) }
        guard let result else { return [] }
        let agreement = try TSNE.neighbourAgreement(result.embedding, labels: tsneLabels, k: 5)
        let trust = try TSNE.trustworthiness(high: codes, low: result.embedding, k: 5)
        let scatter = try TSNE.scatterPlot(result.embedding, labels: tsneLabels, classNames: data.classNames,
                                           title: "t-SNE of \(mapped) validation images at fc2")
        let grid = try TSNE.imageGrid(result.embedding, tiles: pixels.tiles(tsneX), imageShape: [3, 32, 32], tileSize: 16)
        let total = Double(neighbourCount * count)
        return [
            .paragraph("Occlusion sensitivity (Zeiler & Fergus): an 8×8 patch of the mean image slides over each image by 2 "
                       + "pixels; each position shows the true class's probability with the patch there, the class the net "
                       + "then predicts, and the total activation of the pool1 map that is strongest on the whole image."),
            .png(Data(occlusion.encoded()), caption: "Occlusion maps of validation images: the true class's probability against the unoccluded "
                 + "image's (white unchanged, black gone), the predicted class (colours as the legend), the strongest pool1 map "
                 + "(black its least, white its most)", width: nil),
            .paragraph("Nearest neighbours (AlexNet's figure 4): the training images closest to each query in the fc2 "
                       + "activations, beside those closest in raw pixels; exact, on the kNN classifier's distance kernels."),
            .png(Data(neighbours.encoded()), caption: "Each query, its \(neighbourCount) nearest training images in fc2, then "
                 + "in pixels", width: nil),
            .keyValues([.init("fc2 neighbours sharing the query's class", percent(Double(shared(inFeatures)) / total)),
                        .init("pixel neighbours sharing the query's class", percent(Double(shared(inPixels)) / total))]),
            .paragraph("A t-SNE map of the fc2 codes (exact gradient, perplexity 30, 1,000 iterations, PCA start): images the "
                       + "net codes alike land together, and every image is then snapped to the nearest free cell of a grid."),
            .svg(try scatter.render(), caption: "t-SNE of \(mapped) validation images' fc2 activations, by class"),
            .png(Data(grid.encoded()), caption: "The same map with each image at its grid cell", width: nil),
            .keyValues([.init("KL divergence", String(format: "%.4f", result.klDivergence)),
                        .init("images whose 5 nearest map neighbours vote for their class", percent(agreement)),
                        .init("trustworthiness (5 neighbours)", String(format: "%.4f", trust))]),
            .timing(String(format: "t-SNE of %d points: %.2f s", mapped, seconds)),
        ]
    }
}
