import CS231nClassifiers
import CS231nData
import CS231nTensor

/// Figures of what a net's later layers learned: occlusion maps and nearest neighbours.
extension NetFigures {
    /// Zeiler & Fergus's figure 7, a row per image: the image (captioned with its class's
    /// probability p₀); that probability for each patch position relative to p₀, over the image
    /// (heat: white unchanged, black gone); the predicted class at each position in its class's
    /// colour, over the image; and, when a layer was followed, its strongest feature map's total
    /// activation per position (heat from its smallest, black, to its largest, white). A legend
    /// of the class colours closes the figure. `x` holds the maps' first images (all of them, or
    /// fewer to draw fewer rows).
    public static func occlusion(_ maps: Occlusion.Maps, images x: Tensor<Float>, pixels: InputPixels, classNames: [String],
                                 imageLabels: [String]) throws -> PNGImage {
        let (height, width) = (pixels.imageShape[1], pixels.imageShape[2])
        let plane = height * width, positions = maps.rows * maps.columns
        let settings = maps.settings
        // Each pixel shows the position whose patch centre is nearest.
        func position(_ pixel: Int, count: Int) -> Int {
            Swift.min(count - 1, Swift.max(0, Int(((Double(pixel) - Double(settings.patch - 1) / 2) / Double(settings.stride)).rounded())))
        }
        let lookup = (0..<plane).map { position($0 / width, count: maps.rows) * maps.columns + position($0 % width, count: maps.columns) }
        func overlay(_ image: [Float], _ colours: [(red: Float, green: Float, blue: Float)], weight: Float) -> [Float] {
            let mixed = lookup.map { colours[$0] }
            return [\(red: Float, green: Float, blue: Float).red, \.green, \.blue].enumerated().flatMap { channel, part in
                (0..<plane).map { (1 - weight) * image[(image.count == plane ? 0 : channel) * plane + $0] + weight * mixed[$0][keyPath: part] }
            }
        }
        var tiles = FigureTiles(imageShape: pixels.imageShape)
        let probability = maps.probability.scalars, totals = maps.featureTotal?.scalars
        for (i, image) in pixels.tiles(x).enumerated() {
            let range = (i * positions)..<((i + 1) * positions)
            tiles.add(image, caption: String(format: "p=%.2f", maps.unoccludedProbability[i]))
            let unoccluded = maps.unoccludedProbability[i]
            tiles.add(overlay(image, probability[range].map { FigureTiles.heat(unoccluded > 0 ? $0 / unoccluded : 1) }, weight: 0.6),
                      caption: String(format: "min %.2f", probability[range].min() ?? 0))
            tiles.add(overlay(image, maps.predicted[range].map(classColour), weight: 0.5),
                      caption: name(classNames, maps.unoccludedPrediction[i]))
            if let totals, let layer = settings.layer {
                let values = totals[range], (low, high) = (values.min() ?? 0, values.max() ?? 0)
                tiles.add(overlay(image, values.map { FigureTiles.heat(high > low ? ($0 - low) / (high - low) : 1) }, weight: 0.7),
                          caption: "\(layer) c\(maps.channels[i])")
            }
        }
        let columns = settings.layer == nil ? 3 : 4
        var rowLabels = imageLabels
        let imageRows = tiles.count / columns
        for (label, colour) in classNames.enumerated().map({ ($0.element, classColour($0.offset)) }) {
            tiles.add(Array(repeating: colour.red, count: plane) + Array(repeating: colour.green, count: plane)
                      + Array(repeating: colour.blue, count: plane), caption: label)
        }
        rowLabels += Array(repeating: "", count: (tiles.count + columns - 1) / columns - imageRows)
        let title = "occlusion \(settings.patch)x\(settings.patch)/\(settings.stride): p, argmax" + (settings.layer.map { ", \($0)" } ?? "")
        return try tiles.render(columns: columns, scale: 3, title: title, rowLabels: rowLabels)
    }

    /// AlexNet's figure 4, a row per query: the query, its k nearest training images in a
    /// layer's features, then (after a gap) its k nearest in raw pixels, captioned with classes.
    public static func neighbours(queries: Tensor<Float>, inFeatures: Neighbours, inPixels: Neighbours, training: Tensor<Float>,
                                  pixels: InputPixels, queryLabels: [String], trainingClasses: [String],
                                  layer: String) throws -> PNGImage {
        var tiles = FigureTiles(imageShape: pixels.imageShape)
        let blank = [Float](repeating: 1, count: pixels.imageShape.reduce(1, *))
        let k = inFeatures.indices.first?.count ?? 0
        for (q, query) in pixels.tiles(queries).enumerated() {
            tiles.add(query, caption: "query")
            for (side, list) in [inFeatures.indices[q], inPixels.indices[q]].enumerated() {
                if side == 1 { tiles.add(blank) }
                for (index, tile) in zip(list, pixels.tiles(try training.gather(list))) { tiles.add(tile, caption: trainingClasses[index]) }
                for _ in list.count..<k { tiles.add(blank) }
            }
        }
        return try tiles.render(columns: 2 * k + 2, scale: 2, title: "nearest training images: in \(layer) (left), in pixels (right)",
                                rowLabels: queryLabels)
    }

    /// Class c's colour (matplotlib's tab10, as the plots), 0…1 per channel.
    static func classColour(_ c: Int) -> (red: Float, green: Float, blue: Float) {
        let hex = Array(SVGPlot.palette[c % SVGPlot.palette.count].dropFirst())
        let value = { (start: Int) in Float(Int(String(hex[start..<(start + 2)]), radix: 16) ?? 0) / 255 }
        return (value(0), value(2), value(4))
    }
}
