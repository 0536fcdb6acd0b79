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
                      VisualizeFiltersCommand.self, VisualizeOcclusionCommand.self, VisualizeNeighboursCommand.self,
                      VisualizeTSNECommand.self])
}

/// `cs231n visualize filters <checkpoint>`: the first convolution's filters as an image grid.
struct VisualizeFiltersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filters",
        abstract: "Draw a conv net checkpoint's first-layer filters as an upscaled image grid.",
        discussion: """
            Each filter (C, K, K) is one tile, stretched from its own minimum to its maximum, so that \
            a trained 7×7 layer shows its edge and colour-blob detectors. For the cnn these are the \
            2×2 whitening filters: the eigenvectors of the data's patch covariance and their negatives. \
            Uses the best-val weights unless --latest.
            """)

    @OptionGroup var checkpoint: CheckpointOptions
    @OptionGroup var figure: FilterPictureOptions
    @OptionGroup var common: CommonOptions

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        let output = try figure.preparedPath()
        let (model, _) = try checkpoint.model()
        let w1 = FilterPicture.firstConvolution(of: model)
        guard let w1, let picture = try TrainingFigures.firstLayerFilters(w1, scale: figure.scale) else {
            throw FilterPictureError.notConvolutional(path: checkpoint.path, kind: model.configuration.kind, shape: w1?.shape ?? [])
        }
        try picture.write(to: output)
        printer.say("wrote \(output) (\(picture.width)×\(picture.height), \(w1.shape[0]) filters of \(describeShape(Array(w1.shape.dropFirst()))))")
        printer.figure([("command", "visualize filters"), ("output", .string(output))], metric: "filters", value: Double(w1.shape[0]))
    }
}

/// How `visualize filters` draws its picture and where it goes: --scale and -o, a PNG or a
/// folder to put filters.png into.
struct FilterPictureOptions: ParsableArguments {
    @Option(help: "Pixels per filter weight (default: 8, more for kernels under 6×6, so that a tile is at least 48 pixels).")
    var scale: Int?

    @Option(name: [.short, .long], help: "The PNG to write, or a folder to write filters.png into.")
    var output = "filters.png"

    func validate() throws {
        if let scale { try OptionRange.check(scale, in: 1...64, "--scale") }
        try FileSystem.checkCreatable(directory: output.hasSuffix(".png") ? (output as NSString).deletingLastPathComponent : output)
    }

    /// The file to write, its folder created: -o when it names a PNG that is not a folder, else
    /// filters.png inside it.
    func preparedPath() throws -> String {
        var isFolder: ObjCBool = false
        let path = output.hasSuffix(".png") && !(FileManager.default.fileExists(atPath: output, isDirectory: &isFolder) && isFolder.boolValue)
            ? output : output + "/filters.png"
        let folder = (path as NSString).deletingLastPathComponent
        try FileSystem.createDirectory(atPath: folder.isEmpty ? "." : folder)
        return path
    }
}

enum FilterPictureError: Error, CustomStringConvertible {
    case notConvolutional(path: String, kind: String, shape: [Int])

    var description: String {
        switch self {
        case let .notConvolutional(path, kind, shape):
            shape.isEmpty ? "\(path): the \(kind) model has no first-layer weights (W1, whiten.weight or its first layer's weight) to draw"
                : "\(path): the \(kind) model's first layer \(describeShape(shape)) is not a convolution of 1 or 3 channels (F, C, K, K)"
        }
    }
}

/// The weights of a model's first layer: W1, the cnn's whitening filters (a buffer, since
/// they are computed from the data rather than trained), or a `Sequential` net's first weight.
enum FilterPicture {
    static func firstConvolution(of model: AnyModel<Float>) -> Tensor<Float>? {
        model.parameters["W1"] ?? model.buffers["whiten.weight"] ?? model.sequentialNet?.entries.first?.layer.parameters["weight"]
    }
}
