import CS231n
import Foundation

/// What the demo shows beyond accuracies: what the conv net looks at (saliency, guided
/// backprop, deconvnet, Zeiler–Fergus top 9) and how far the two-layer net compresses.
extension DemoPipeline {
    static let attributionImages = 6

    static func attributionBlocks(_ model: AnyModel<Float>, data: PreparedData<Float>) throws -> [ReportBlock] {
        let pixels = try InputPixels(data.preprocessor, imageShape: [3, 32, 32])
        let count = Swift.min(attributionImages, data.val.y.count)
        let x = try data.val.x.slice(0..<count), labels = Array(data.val.y[0..<count])
        let names = labels.map { data.classNames[$0] }
        let comparison = try NetFigures.attributionComparison(model, x, classes: labels, pixels: pixels,
                                                              classNames: data.classNames, imageLabels: names)
        let pool = try data.val.x.slice(0..<Swift.min(500, data.val.y.count))
        let unit = LayerUnit(layer: "pool1", channel: 5)
        let top = try NetFigures.topActivations(model, pool, unit: unit, rule: .guided, pixels: pixels,
                                                imageLabels: data.val.y.prefix(500).map { data.classNames[$0] })
        return [
            .paragraph("What the net looks at. Saliency is |∂score/∂image| of the true class, the largest over channels "
                       + "(Simonyan et al.); guided backprop and deconvnet pass the same gradient back through the ReLUs "
                       + "with their own rules (Springenberg et al.; Zeiler & Fergus)."),
            .png(Data(comparison.encoded()), caption: "Validation images: saliency, guided backprop and deconvnet of the true class's score", width: nil),
            .png(Data(top.picture.encoded()), caption: "The 9 of 500 validation images that activate \(unit) most, each next to "
                 + "its guided-backprop projection (the other activations zeroed)", width: nil),
        ]
    }

    static func compressionBlocks(_ model: AnyModel<Float>, data: PreparedData<Float>, recipe: NetRecipe) throws -> [ReportBlock] {
        var solver = recipe.options
        solver.epochs = 1
        let settings = DeepCompressionSettings(sparsity: 0.9, retrainEpochs: 1, bits: 4, bitsSweep: [8, 4, 2], fineTuneEpochs: 1,
                                               optimizer: recipe.optimizer, solver: solver)
        let result = try DeepCompression.compress(model, train: data.train, val: data.val, settings: settings)
        let bytes = DeepCompression.readableSize
        let rows = (result.sparsityTable + result.bitsTable).map { row in
            [row.stage, percent(row.sparsity), row.bits.map { "\($0) bits" } ?? "float32", percent(row.valAccuracy), bytes(row.weightBytes)]
        }
        return [
            .paragraph("Deep Compression of the two-layer net (`cs231n compress`): magnitude pruning to 50%, 75% and 90% with a "
                       + "retraining epoch after each step, then k-means weight sharing of the survivors into 2^bits values with "
                       + "one epoch of centroid fine-tuning."),
            .table(header: ["stage", "sparsity", "values", "val acc", "weight bytes"], rows: rows, highlightRow: nil),
            .keyValues([.init("size on disk, float32 safetensors", bytes(result.denseFileBytes)),
                        .init("size on disk, sparse + 4-bit codebook", bytes(result.compressedFileBytes)),
                        .init("smaller by", String(format: "%.1f×", Double(result.denseFileBytes) / Double(result.compressedFileBytes)))]),
        ]
    }
}
