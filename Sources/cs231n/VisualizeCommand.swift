import ArgumentParser
import CS231n
import Foundation

/// `cs231n visualize`: pictures of what a trained net learned.
struct VisualizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "visualize",
        abstract: "Pictures of what a trained net learned.",
        discussion: """
            Every command takes a checkpoint from `cs231n train` (two-layer, fc or three-layer-convnet) and \
            draws validation images of the data it was trained on (--dataset to choose another). Layers: \
            conv1, pool1, fc2, scores for the conv net; fc1…, scores for the fully-connected ones.
            """,
        subcommands: [VisualizeSaliencyCommand.self, VisualizeGuidedCommand.self, VisualizeDeconvCommand.self,
                      VisualizeFeaturesCommand.self, VisualizeClassCommand.self, VisualizeFoolCommand.self,
                      VisualizeFiltersCommand.self])
}

/// `cs231n visualize filters <checkpoint>`: the first convolution's filters as an image grid.
struct VisualizeFiltersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filters",
        abstract: "Draw a conv net checkpoint's first-layer filters as an upscaled image grid.",
        discussion: """
            Each filter (C, K, K) is one tile, stretched from its own minimum to its maximum, so that \
            a trained 7×7 layer shows its edge and colour-blob detectors. Uses the best-val weights \
            unless --latest.
            """)

    @Argument(help: ArgumentHelp("A conv net checkpoint (.safetensors) from `cs231n train --model three-layer-convnet`.",
                                 valueName: "checkpoint"))
    var positionalCheckpoint: String?

    @Option(name: .customLong("checkpoint"), help: "The checkpoint, as an option (as the other visualize commands take it).")
    var checkpointOption: String?

    @Flag(help: "Use the last epoch's weights instead of the best-val ones.")
    var latest = false

    @Option(help: "Pixels per filter weight.")
    var scale = 8

    @Option(name: [.short, .long], help: "The PNG to write, or a folder to write filters.png into.")
    var output = "filters.png"

    @OptionGroup var common: CommonOptions

    var checkpoint: String { checkpointOption ?? positionalCheckpoint ?? "" }

    func validate() throws {
        guard (1...64).contains(scale) else { throw ValidationError("--scale must be in 1...64, got \(scale)") }
        guard (checkpointOption == nil) != (positionalCheckpoint == nil) else {
            throw ValidationError("give the checkpoint once: as an argument or with --checkpoint")
        }
    }

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        var isFolder: ObjCBool = false
        let output = output.hasSuffix(".png") && !(FileManager.default.fileExists(atPath: output, isDirectory: &isFolder) && isFolder.boolValue)
            ? output : output + "/filters.png"
        try FileManager.default.createDirectory(atPath: (output as NSString).deletingLastPathComponent.isEmpty ? "." : (output as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let (model, _) = try Checkpoint.loadModel(checkpoint, as: Float.self, latest: latest)
        guard let w1 = model.parameters["W1"], let picture = try FilterPicture.render(w1, scale: scale) else {
            throw FilterPictureError.notConvolutional(path: checkpoint, kind: model.configuration.kind,
                                                      shape: model.parameters["W1"]?.shape ?? [])
        }
        try picture.write(to: output)
        printer.say("wrote \(output) (\(picture.width)×\(picture.height), \(w1.shape[0]) filters of \(describeShape(Array(w1.shape.dropFirst()))))")
        printer.figure([("command", "visualize filters"), ("output", .string(output))], metric: "filters", value: Double(w1.shape[0]))
    }
}

enum FilterPictureError: Error, CustomStringConvertible {
    case notConvolutional(path: String, kind: String, shape: [Int])

    var description: String {
        switch self {
        case let .notConvolutional(path, kind, shape):
            "\(path): the \(kind) model's first layer W1 \(describeShape(shape)) is not a convolution of 1 or 3 channels (F, C, K, K)"
        }
    }
}

/// First-layer conv filters as a grid: RGB tiles for 3 input channels, grey for 1.
enum FilterPicture {
    static func render(_ w1: Tensor<Float>, scale: Int = 8) throws -> PNGImage? {
        guard w1.rank == 4, [1, 3].contains(w1.shape[1]) else { return nil }
        let filters = w1.shape[0]
        var grid = ImageGrid(columns: Swift.min(filters, 8), scale: scale, scaling: .perImage)
        // The bitmap font has no ×, so the title spells the shape with x.
        grid.title = "first-layer filters: \(filters) of " + w1.shape.dropFirst().map(String.init).joined(separator: "x")
        return try grid.render(w1)
    }
}
