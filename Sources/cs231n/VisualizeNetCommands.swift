import ArgumentParser
import CS231n
import Foundation

/// `cs231n visualize saliency`: saliency maps, guided backprop and deconvnet of the class score.
struct VisualizeSaliencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "saliency",
        abstract: "Saliency maps (|d score_y / d image|, max over channels) with guided backprop and deconvnet, per image.",
        discussion: """
            For each chosen validation image (default 0-7) and its true class y: the image, the saliency map, \
            and the gradient of score_y with the guided-backprop and deconvnet ReLU rules (for a net with ReLUs). Writes saliency.png \
            (at most \(VisualizeContext.pictureRows) rows); --json prints the seconds the saliency maps took.
            """)

    @OptionGroup var source: VisualizeSourceOptions

    @Option(help: "Also save the images and raw class-score gradients (standard, guided, deconvnet) as safetensors, for scripts/visualize_reference.py.")
    var raw: String?

    func run() throws {
        let context = try VisualizeContext(source)
        let (indices, x, labels) = try context.images(default: Array(0..<8))
        var saliency = Tensor<Float>.zeros([0])
        let seconds = try TimingSummary.time { saliency = try Attribution.saliency(context.model, x, classes: labels) }
        context.reportTime(seconds, command: "saliency", what: "saliency maps", count: indices.count)
        let shown = context.shownCount(indices.count)
        try context.write(NetFigures.attributionComparison(context.model, x.slice(0..<shown), classes: Array(labels.prefix(shown)),
                                                           pixels: context.pixels, classNames: context.classNames,
                                                           imageLabels: indices.prefix(shown).map { "#\($0)" }), "saliency.png")
        guard raw != nil else { return }
        let trace = try context.model.trace(x)
        let gradients = try trace.rules.map {
            ("gradient.\($0.rawValue)", try Attribution.classGradient(trace, classes: labels, rule: $0))
        }
        try context.writeRaw(raw, tensors: [("images", x), ("classes", Tensor(labels.map(Float.init))), ("saliency", saliency)] + gradients,
                             metadata: ["indices": indices.map(String.init).joined(separator: ",")])
    }
}

/// The options of `guided` and `deconv`.
struct ProjectionOptions: ParsableArguments {
    @Option(help: "Project one unit of this layer (e.g. conv1, pool1, fc2, fc1) instead of the class score.")
    var layer: String?

    @Option(help: "The unit's channel (a unit of a flat layer).")
    var channel: Int?

    @Option(help: "The unit's position y,x in the feature map (default: each image's strongest).")
    var position: String?

    @Option(help: "Also save the images and raw input gradients as safetensors, for scripts/visualize_reference.py.")
    var raw: String?
}

/// What tells `guided` and `deconv` apart: the ReLU rule they project with.
protocol ProjectionRule {
    static var rule: ReLUBackwardRule { get }
}

/// `cs231n visualize guided` and `deconv`: projections with one ReLU rule, of the class score
/// or of one unit with its top-9 figure. One command type serves both rules.
struct VisualizeProjectionCommand<Rule: ProjectionRule>: ParsableCommand {
    static var configuration: CommandConfiguration { projectionCommands[Rule.rule]! }

    @OptionGroup var source: VisualizeSourceOptions
    @OptionGroup var projection: ProjectionOptions

    func run() throws {
        let rule = Rule.rule, command = Self.configuration.commandName!
        let context = try VisualizeContext(source)
        guard let layer = projection.layer else {
            let (indices, x, labels) = try context.images(default: Array(0..<8))
            var gradients = Tensor<Float>.zeros([0])
            let seconds = try TimingSummary.time { gradients = try Attribution.classGradient(context.model, x, classes: labels, rule: rule) }
            context.reportTime(seconds, command: command, what: "\(rule.rawValue) gradients of the class score", count: indices.count)
            let shown = context.shownCount(indices.count)
            try context.write(NetFigures.attributionComparison(context.model, x.slice(0..<shown), classes: Array(labels.prefix(shown)),
                                                               pixels: context.pixels, classNames: context.classNames,
                                                               imageLabels: indices.prefix(shown).map { "#\($0)" }, maps: [.gradient(rule)]),
                              "\(rule.rawValue).png")
            try context.writeRaw(projection.raw, tensors: [("images", x), ("classes", Tensor(labels.map(Float.init))),
                                                           ("gradient.\(rule.rawValue)", gradients)],
                                 metadata: ["indices": indices.map(String.init).joined(separator: ",")])
            return
        }
        let unit = try context.unit(layer: layer, channel: projection.channel, position: projection.position)
        let name = "\(rule.rawValue)-\(layer)-c\(unit.channel)"
        if source.images != nil {
            let (indices, x, _) = try context.images(default: [])
            var projected: Projection<Float>?
            let seconds = try TimingSummary.time { projected = try Attribution.project(context.model.trace(x), unit: unit, rule: rule) }
            context.reportTime(seconds, command: command, what: "\(rule.rawValue) projections of \(unit)", count: indices.count)
            let shown = context.shownCount(indices.count)
            try context.write(NetFigures.projections(context.model, x.slice(0..<shown), unit: unit, rules: [rule], pixels: context.pixels,
                                                     imageLabels: indices.prefix(shown).map { "#\($0)" }), "projection-\(name).png")
            try context.writeRaw(projection.raw, tensors: [
                ("images", x), ("projection.\(rule.rawValue)", projected!.gradients),
                ("projection.activations", Tensor(projected!.activations)),
                ("projection.positions", Tensor(projected!.positions.flatMap { $0.map(Float.init) })),
            ], metadata: ["indices": indices.map(String.init).joined(separator: ","), "unit.layer": layer,
                          "unit.channel": String(unit.channel)])
        }
        let (picture, top) = try NetFigures.topActivations(context.model, context.val.x, unit: unit, rule: rule, pixels: context.pixels,
                                                           imageLabels: context.val.y.indices.map { "#\($0)" })
        try context.write(picture, "top9-\(name).png")
        context.printer.say("top images of \(unit): " + top.map { "#\($0) \(context.className(context.val.y[$0]))" }.joined(separator: ", "))
    }
}

/// `cs231n visualize guided`.
typealias VisualizeGuidedCommand = VisualizeProjectionCommand<GuidedRule>
enum GuidedRule: ProjectionRule { static let rule = ReLUBackwardRule.guided }

/// `cs231n visualize deconv`.
typealias VisualizeDeconvCommand = VisualizeProjectionCommand<DeconvRule>
enum DeconvRule: ProjectionRule { static let rule = ReLUBackwardRule.deconvnet }

/// The words of each projection command, by its rule.
private let projectionCommands: [ReLUBackwardRule: CommandConfiguration] = [
    .guided: CommandConfiguration(
        commandName: "guided",
        abstract: "Guided backprop (Springenberg et al.): of the class score, or of one unit with the top-9 figure.",
        discussion: """
            Without --layer: the gradient of each chosen image's true-class score with the guided ReLU rule \
            (guided.png). With --layer and --channel: the unit's activation is kept, all others zeroed, and \
            that is projected back to the image (Zeiler and Fergus): top9-guided-<layer>-c<channel>.png shows \
            the 9 validation images that activate it most, each next to its projection; with --images also \
            projection-guided-<layer>-c<channel>.png for those images.
            """),
    .deconvnet: CommandConfiguration(
        commandName: "deconv",
        abstract: "Deconvnet projections (Zeiler & Fergus): of the class score, or of one unit with the top-9 figure.",
        discussion: "As `guided`, with the deconvnet ReLU rule max(dout, 0); pictures are named deconvnet-…."),
]

/// `cs231n visualize features`.
struct VisualizeFeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "All channels of a layer for each chosen image, as a grid of activation maps on one heat scale.",
        discussion: "Writes features-<layer>-<image>.png per image (default: image 0, the first layer).")

    @OptionGroup var source: VisualizeSourceOptions

    @Option(help: "The layer (default: the first).")
    var layer: String?

    func run() throws {
        let context = try VisualizeContext(source)
        let chosen = try context.checkedLayer(layer ?? context.model.inspectableLayers[0].name)
        let (indices, x, labels) = try context.images(default: [0])
        for (slot, index) in indices.enumerated() {
            let title = "\(chosen) of val #\(index) (\(context.className(labels[slot])))"
            try context.write(NetFigures.featureMaps(context.model, x.slice(slot..<(slot + 1)), layer: chosen, title: title),
                              "features-\(chosen)-\(index).png")
        }
    }
}

/// `cs231n visualize class`.
struct VisualizeClassCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "class",
        abstract: "Class model visualisation: gradient ascent on an image for a class score, from noise.",
        discussion: """
            Each step rolls the image by a random jitter, moves it along the normalised gradient of the class \
            score minus l2·‖image‖², rolls it back and clamps it to valid pixels; every --blur-every steps a \
            small Gaussian blur. Writes class-<name>.png (a frame every --frame-every steps) per class and, \
            for several classes, class-models.png.
            """)

    @OptionGroup var source: VisualizeSourceOptions

    @Option(help: "The class, by index or name (default: every class).")
    var target: String?

    @Option(help: "Ascent steps.")
    var steps = 200

    @Option(help: "Step length in input units (pixels/255).")
    var lr: Float = 0.25

    @Option(help: "L2 penalty λ on the image.")
    var l2: Float = 1e-3

    @Option(help: "Largest random shift in pixels.")
    var jitter = 2

    @Option(help: "Blur every this many steps (0: never).")
    var blurEvery = 10

    @Option(help: "A frame every this many steps.")
    var frameEvery = 25

    func validate() throws {
        try OptionRange.check(steps, in: 1...OptionRange.maximumSteps, "--steps")
        try OptionRange.check(frameEvery, in: 1...OptionRange.maximumSteps, "--frame-every")
        try OptionRange.check(blurEvery, in: 0...OptionRange.maximumSteps, "--blur-every")
        try OptionRange.check(jitter, in: 0...ModelShapes.maximumSize, "--jitter")
        try OptionRange.positive(lr, "--lr")
        try OptionRange.nonNegative(l2, "--l2")
    }

    func run() throws {
        let context = try VisualizeContext(source)
        var settings = ImageAscent.ClassModelSettings()
        (settings.steps, settings.learningRate, settings.l2) = (steps, lr, l2)
        (settings.jitter, settings.blurEvery, settings.frameEvery, settings.seed) = (jitter, blurEvery, frameEvery, source.common.seed)
        let classes = try target.map { [try context.classIndex($0)] } ?? Array(context.classNames.indices)
        var finals: [Tensor<Float>] = []
        for label in classes {
            let (image, frames) = try ImageAscent.classModel(context.model, target: label, pixels: context.pixels, settings: settings)
            finals.append(image)
            let score = try context.model.scores(image)[0, label]
            context.printer.say(String(format: "%@: score %.3f after %d steps", context.className(label) as NSString, score, steps))
            context.printer.figure([("command", "visualize class"), ("class", .string(context.className(label)))],
                                   metric: "score", value: Double(score))
            try context.write(ImageAscent.framesFigure(frames, pixels: context.pixels, title: "class model: \(context.className(label))"),
                              "class-\(context.className(label)).png")
        }
        guard classes.count > 1 else { return }
        var tiles = FigureTiles(imageShape: context.pixels.imageShape)
        for (label, tile) in zip(classes, context.pixels.tiles(try Tensor.concatenate(finals))) {
            tiles.add(tile, caption: context.className(label))
        }
        try context.write(tiles.render(columns: Swift.min(5, classes.count), scale: 4, title: "class models after \(steps) steps"),
                          "class-models.png")
    }
}

/// `cs231n visualize fool`.
struct VisualizeFoolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fool",
        abstract: "Fooling images: gradient ascent on an image toward a target class until the net predicts it.",
        discussion: """
            For each chosen image (default 0): steps along the normalised gradient of the target's score until \
            it is predicted. Prints the steps and the change (L2 and largest, in pixels 0-255) and writes \
            fool-<image>-<from>-to-<target>.png: original, fooled, difference magnified.
            """)

    @OptionGroup var source: VisualizeSourceOptions

    @Option(help: "The target class, by index or name (default: the class after each image's own).")
    var target: String?

    @Option(help: "Step length in input units (pixels/255).")
    var lr: Float = 0.1

    @Option(help: "Give up after this many steps.")
    var maxSteps = 500

    @Option(help: "Magnification of the difference picture.")
    var magnify: Float = 10

    func validate() throws {
        try OptionRange.positive(lr, "--lr")
        try OptionRange.check(maxSteps, in: 1...OptionRange.maximumSteps, "--max-steps")
        try OptionRange.positive(magnify, "--magnify")
    }

    func run() throws {
        let context = try VisualizeContext(source)
        let chosenTarget = try target.map(context.classIndex)
        let (indices, x, labels) = try context.images(default: [0])
        for (slot, index) in indices.enumerated() {
            let original = try x.slice(slot..<(slot + 1))
            let before = try context.model.predict(original)[0]
            let goal = chosenTarget ?? (labels[slot] + 1) % context.classNames.count
            let result = try ImageAscent.fool(context.model, original, target: goal, pixels: context.pixels,
                                              learningRate: lr, maxSteps: maxSteps)
            let (from, to) = (context.className(before), context.className(goal))
            context.printer.say(String(format: "#%d %@ (predicted %@) -> %@: %@ after %d steps, change L2 %.1f, max %.2f of 255",
                                       index, context.className(labels[slot]) as NSString, from as NSString, to as NSString,
                                       (result.fooled ? "fooled" : "not fooled") as NSString, result.steps, result.changeL2,
                                       result.changeMaximum))
            let keys: [(String, JSONValue)] = [("command", "visualize fool"), ("image", .int(index)), ("target", .string(to)),
                                               ("fooled", .bool(result.fooled))]
            context.printer.figure(keys, metric: "steps", value: Double(result.steps))
            context.printer.figure(keys, metric: "change_l2", value: result.changeL2)
            context.printer.figure(keys, metric: "change_max", value: result.changeMaximum)
            let title = "\(from) -> \(to): \(result.steps) steps"
            try context.write(ImageAscent.foolingFigure(original: original, result, pixels: context.pixels, title: title,
                                                        captions: [from, "-> " + context.className(result.predicted)],
                                                        magnification: magnify),
                              "fool-\(index)-\(from)-to-\(to).png")
        }
    }
}
