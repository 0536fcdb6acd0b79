import ArgumentParser
import CS231n
import Foundation

/// `cs231n visualize occlusion`: Zeiler & Fergus's occlusion sensitivity.
struct VisualizeOcclusionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "occlusion",
        abstract: "Occlusion sensitivity (Zeiler & Fergus): slide a patch over each image and map the class probability.",
        discussion: """
            For each chosen validation image (default 0-7) a --patch square moves by --stride pixels; at each \
            position the net scores the occluded copy (a forward pass per batch of copies). occlusion.png shows, \
            a row per image: the image, the true class's probability per position (black 0, white 1), the predicted \
            class per position in its class colour, and the total activation of --layer's channel that is strongest \
            on the unoccluded image (Zeiler and Fergus follow the top conv layer: pool1 for the conv net). --fill mean covers with the data mean (zero inputs), grey with pixel 128.
            """)

    enum FillChoice: String, ExpressibleByArgument, CaseIterable { case mean, grey }

    @OptionGroup var source: VisualizeSourceOptions

    @Option(help: "Side of the occluding square in pixels.")
    var patch = 8

    @Option(help: "Step between patch positions in pixels.")
    var stride = 2

    @Option(help: "What covers the patch: mean (the data mean) or grey (pixel 128).")
    var fill = FillChoice.mean

    @Option(help: "The layer whose strongest feature map is followed (default: the last with feature maps, else the first).")
    var layer: String?

    func validate() throws {
        // Both are checked against the image size once the checkpoint is read.
        try OptionRange.check(patch, in: 1...ModelShapes.maximumSize, "--patch")
        try OptionRange.check(stride, in: 1...ModelShapes.maximumSize, "--stride")
    }

    func run() throws {
        let context = try VisualizeContext(source)
        let layers = context.model.inspectableLayers
        let layer = try context.checkedLayer(layer ?? (layers.last { $0.shape.count == 3 } ?? layers[0]).name)
        let side = Swift.min(context.pixels.imageShape[1], context.pixels.imageShape[2])
        guard patch <= side else {
            throw ValidationError("--patch \(patch) is larger than the images (\(describeShape(context.pixels.imageShape))): it must be in 1...\(side)")
        }
        let (indices, x, labels) = try context.images(default: Array(0..<8))
        var settings = Occlusion.Settings(patch: patch, stride: stride, layer: layer)
        if fill == .grey { settings.fill = .image(try context.pixels.inputs(ofPixel: 128)) }
        var maps: Occlusion.Maps?
        let seconds = try TimingSummary.time { maps = try Occlusion.sensitivity(context.model, x, classes: labels, settings: settings) }
        guard let maps else { return }
        context.reportTime(seconds, command: "occlusion", what: "occlusion maps (\(maps.rows)x\(maps.columns) positions)", count: indices.count)
        let positions = maps.rows * maps.columns, probability = maps.probability.scalars
        for (slot, index) in indices.enumerated() {
            let range = (slot * positions)..<((slot + 1) * positions)
            let lowest = range.min { probability[$0] < probability[$1] }! - range.lowerBound
            let changed = maps.predicted[range].filter { $0 != maps.unoccludedPrediction[slot] }.count
            context.printer.say(String(format: "#%d %@: p %.3f unoccluded, lowest %.3f with the patch at (%d, %d); prediction changes at %d of %d positions",
                                       index, context.className(labels[slot]) as NSString, maps.unoccludedProbability[slot],
                                       probability[range.lowerBound + lowest], lowest / maps.columns * stride, lowest % maps.columns * stride,
                                       changed, positions))
            context.printer.figure([("command", "visualize occlusion"), ("image", .int(index))], metric: "lowest_probability",
                                   value: Double(probability[range.lowerBound + lowest]))
        }
        let shown = context.shownCount(indices.count)
        try context.write(NetFigures.occlusion(maps, images: x.slice(0..<shown), pixels: context.pixels, classNames: context.classNames,
                                               imageLabels: context.imageLabels(indices, labels, count: shown)),
                          "occlusion.png")
    }
}

/// `cs231n visualize neighbours`: nearest training images in a layer's features and in pixels.
struct VisualizeNeighboursCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neighbours",
        abstract: "Nearest training images in a layer's features beside those in raw pixels (AlexNet's figure 4).",
        discussion: """
            For each chosen validation image (default 0-7): its --k nearest training images by Euclidean distance \
            in --layer's activations, and its --k nearest in raw pixels. Exact (the kNN classifier's kernels, ties to \
            the smaller index). Writes neighbours-<layer>.png and prints how many neighbours share the query's class.
            """)

    @OptionGroup var source: VisualizeSourceOptions

    @OptionGroup var code: CodeLayerOptions

    @Option(help: "Neighbours per query.")
    var k = 8

    @Option(help: "Search only the first N training images (default: all).")
    var trainImages: Int?

    func validate() throws {
        try OptionRange.check(k, in: 1...Dataset.maximumBuiltinCount, "--k")
        if let trainImages { try OptionRange.check(trainImages, in: 1...Dataset.maximumBuiltinCount, "--train-images") }
    }

    func run() throws {
        let context = try VisualizeContext(source)
        let layer = try code.resolve(in: context)
        let count = Swift.min(trainImages ?? context.train.count, context.train.count)
        guard k <= count else { throw ValidationError("--k \(k) is more than the \(count) training images searched (1...\(count))") }
        let database = try context.train.x.slice(0..<count)
        let (indices, x, labels) = try context.images(default: Array(0..<8))
        var inFeatures: Neighbours?, inPixels: Neighbours?
        let seconds = try TimingSummary.time {
            inFeatures = try FeatureNeighbours.nearest(context.model, layer: layer, queries: x, database: database, k: k)
            inPixels = try FeatureNeighbours.nearestInPixels(queries: x, database: database, pixels: context.pixels, k: k)
        }
        guard let inFeatures, let inPixels else { return }
        context.reportTime(seconds, command: "neighbours", what: "\(k) nearest of \(count) training images in \(layer) and in pixels",
                           count: indices.count)
        var agreement = (features: 0, pixels: 0)
        for (slot, index) in indices.enumerated() {
            let same = (inFeatures.indices[slot].filter { context.train.y[$0] == labels[slot] }.count,
                        inPixels.indices[slot].filter { context.train.y[$0] == labels[slot] }.count)
            agreement = (agreement.features + same.0, agreement.pixels + same.1)
            context.printer.say("#\(index) \(context.className(labels[slot])): \(same.0) of \(k) \(layer) neighbours "
                                + "and \(same.1) of \(k) pixel neighbours share its class")
        }
        let total = Double(k * indices.count)
        for (space, value) in [(layer, agreement.features), ("pixels", agreement.pixels)] {
            context.printer.say(String(format: "neighbours in %@ sharing the query's class: %.1f%%", space as NSString, 100 * Double(value) / total))
            context.printer.figure([("command", "visualize neighbours"), ("space", .string(space)), ("k", .int(k)),
                                    ("images", .int(indices.count))], metric: "class_agreement", value: Double(value) / total)
        }
        let shown = context.shownCount(indices.count)
        let trim = { (list: Neighbours) in Neighbours(indices: Array(list.indices.prefix(shown)), distances: Array(list.distances.prefix(shown))) }
        try context.write(NetFigures.neighbours(queries: x.slice(0..<shown), inFeatures: trim(inFeatures), inPixels: trim(inPixels),
                                                training: database, pixels: context.pixels,
                                                queryLabels: context.imageLabels(indices, labels, count: shown),
                                                trainingClasses: context.train.y.map(context.className), layer: layer),
                          "neighbours-\(layer).png")
    }
}

/// --layer of the commands that work on each image's code, a layer's activations (neighbours
/// and tsne): the same option, default and check for both.
struct CodeLayerOptions: ParsableArguments {
    @Option(help: "The layer whose activations are the images' codes (default: the one before the scores).")
    var layer: String?

    /// --layer, checked against the net's layers, else the net's default code layer.
    func resolve(in context: VisualizeContext) throws -> String {
        try context.checkedLayer(layer ?? context.model.defaultCodeLayer)
    }
}

extension VisualizeContext {
    /// `name` when the net has such a layer, else an error listing the layers there are.
    func checkedLayer(_ name: String) throws -> String {
        if !model.inspectableLayers.contains(where: { $0.name == name }) { _ = try unit(layer: name, channel: 0, position: nil) }
        return name
    }

    /// "#12 cat" for the first `count` chosen images.
    func imageLabels(_ indices: [Int], _ labels: [Int], count: Int) -> [String] {
        zip(indices, labels).prefix(count).map { "#\($0) \(className($1))" }
    }
}
