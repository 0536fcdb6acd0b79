import ArgumentParser
import CS231n
import Foundation

/// `cs231n visualize tsne`: a t-SNE map of a layer's codes.
struct VisualizeTSNECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tsne",
        abstract: "A t-SNE map of a layer's activations: a scatter plot by class and the images on a grid.",
        discussion: """
            Embeds the chosen images' --layer activations in the plane with t-SNE (exact up to 2,000 points, \
            Barnes–Hut above; scikit-learn's defaults). --images N takes the first N images of --split (or give \
            indices and ranges as the other commands). Writes tsne-<layer>.svg (points coloured by class) and \
            tsne-grid-<layer>.png (every image at the free grid cell nearest its place), and prints the final KL \
            divergence, the 5-NN class agreement (the share of images whose 5 nearest map neighbours vote for \
            their class) and the trustworthiness of the map (5 neighbours). --raw saves the codes, the affinities \
            and the map for scripts/tsne_reference.py.
            """)

    enum SplitChoice: String, ExpressibleByArgument, CaseIterable { case val, train }
    enum MethodChoice: String, ExpressibleByArgument, CaseIterable { case auto, exact, barnesHut = "barnes-hut" }

    @OptionGroup var source: VisualizeSourceOptions

    @OptionGroup var code: CodeLayerOptions

    @Option(help: "The split the images come from: val or train.")
    var split = SplitChoice.val

    @Option(help: "t-SNE's perplexity: the effective number of neighbours of each point.")
    var perplexity = 30.0

    @Option(help: "Gradient-descent iterations (the first 250 with early exaggeration 12).")
    var iterations = 1_000

    @Option(help: "auto (exact up to 2,000 points), exact or barnes-hut.")
    var method = MethodChoice.auto

    @Option(name: .customLong("init"), help: "Initialisation: pca or random.")
    var initialization = TSNE.Initialization.pca

    @Option(help: "Pixels per image in the grid picture (default: the image size).")
    var tile: Int?

    @Option(help: "Also save the codes, labels, affinities and map as safetensors, for scripts/tsne_reference.py.")
    var raw: String?

    func validate() throws {
        try OptionRange.positive(perplexity, "--perplexity")
        try OptionRange.check(iterations, in: 1...OptionRange.maximumSteps, "--iterations")
        if let tile { try OptionRange.check(tile, in: 1...ModelShapes.maximumSize, "--tile") }
    }

    func run() throws {
        let context = try VisualizeContext(source)
        let layer = try code.resolve(in: context)
        let images = split == .val ? context.val : context.train
        let indices = try chosenIndices(available: images.count)
        guard indices.count >= 2, perplexity < Double(indices.count) else {
            throw ValidationError("--perplexity \(perplexity) must be below the number of images (\(indices.count)); give more --images")
        }
        if let tile, !(1...context.pixels.imageShape[1]).contains(tile) {
            throw ValidationError("--tile \(tile) must be in 1...\(context.pixels.imageShape[1]), the image size")
        }
        let x = try images.x.gather(indices), labels = indices.map { images.y[$0] }
        let codes = try Tensor.concatenate(stride(from: 0, to: indices.count, by: 500).map {
            try context.model.activations(x.slice($0..<Swift.min(indices.count, $0 + 500)), layer: layer).flattenedRows()
        })
        var settings = TSNE.Settings(perplexity: perplexity, iterations: iterations, initialization: initialization, seed: source.common.seed)
        settings.method = switch method {
        case .auto: nil
        case .exact: .exact
        case .barnesHut: .barnesHut
        }
        let bar = ProgressBar("  t-SNE", total: iterations, enabled: !source.common.json)
        var result: TSNE.Result?
        let seconds = try TimingSummary.time { result = try TSNE.embed(codes, settings: settings) { bar.update($0) } }
        bar.finish()
        guard let result else { return }
        let agreement = try TSNE.neighbourAgreement(result.embedding, labels: labels, k: 5)
        let trust = try TSNE.trustworthiness(high: codes, low: result.embedding, k: Swift.min(5, (indices.count - 1) / 2))
        let what = "\(indices.count) \(split.rawValue) images at \(layer) (\(codes.shape[1]) values)"
        context.printer.say(String(format: "t-SNE of %@: %@, perplexity %g, %d iterations, learning rate %g: %.2f s",
                                   what as NSString, result.method.rawValue as NSString, perplexity, iterations, result.learningRate, seconds))
        context.printer.say(String(format: "KL divergence %.4f; 5-NN class agreement in the map %.1f%%; trustworthiness %.4f",
                                   result.klDivergence, 100 * agreement, trust))
        let keys: [(String, JSONValue)] = [("command", "visualize tsne"), ("layer", .string(layer)), ("split", .string(split.rawValue)),
                                           ("images", .int(indices.count)), ("method", .string(result.method.rawValue)),
                                           ("perplexity", .double(perplexity)), ("iterations", .int(iterations))]
        context.printer.figure(keys, metric: "kl_divergence", value: result.klDivergence)
        context.printer.figure(keys, metric: "seconds", value: seconds)
        context.printer.figure(keys, metric: "neighbour_class_agreement", value: agreement)
        context.printer.figure(keys, metric: "trustworthiness", value: trust)

        let plot = try TSNE.scatterPlot(result.embedding, labels: labels, classNames: context.classNames,
                                        title: "t-SNE of \(indices.count) \(split.rawValue) images at \(layer)")
        let svgPath = context.options.output + "/tsne-\(layer).svg"
        try plot.write(to: svgPath)
        context.printer.say("wrote \(svgPath)")
        try context.write(TSNE.imageGrid(result.embedding, tiles: context.pixels.tiles(x), imageShape: context.pixels.imageShape,
                                         tileSize: tile ?? context.pixels.imageShape[1]),
                          "tsne-grid-\(layer).png")
        try writeRaw(context, codes: codes, labels: labels, indices: indices, result: result)
    }

    /// --images N is the first N images of the split; otherwise indices as the other commands take them.
    func chosenIndices(available: Int) throws -> [Int] {
        let valid = "the \(split.rawValue) split has \(available) images"
        if let text = source.images, let count = Int(text.trimmingCharacters(in: .whitespaces)) {
            guard (1...available).contains(count) else { throw ValidationError("--images \(count) is out of range: \(valid) (1...\(available))") }
            return Array(0..<count)
        }
        return try source.imageIndices(default: Array(0..<Swift.min(1_000, available)), available: available, split: split.rawValue)
    }

    func writeRaw(_ context: VisualizeContext, codes: Tensor<Float>, labels: [Int], indices: [Int], result: TSNE.Result) throws {
        guard let raw else { return }
        let entries = result.affinities.entries()
        try context.writeRaw(raw, tensors: [
            ("codes", codes), ("labels", Tensor(labels.map(Float.init))), ("embedding", result.embedding),
            ("affinities.rows", Tensor(entries.rows.map(Float.init))), ("affinities.columns", Tensor(entries.columns.map(Float.init))),
            ("affinities.values", Tensor(entries.values)),
        ], metadata: ["perplexity": String(perplexity), "iterations": String(iterations), "method": result.method.rawValue,
                      "initialization": initialization.rawValue, "kl_divergence": String(result.klDivergence),
                      "learning_rate": String(result.learningRate), "indices": "\(indices.first ?? 0)...\(indices.last ?? 0)",
                      "split": split.rawValue])
    }
}

extension TSNE.Initialization: ExpressibleByArgument {}
