import ArgumentParser
import CS231n
import Foundation

extension ReLUBackwardRule: ExpressibleByArgument {}

/// The options of every `visualize` command that looks inside a trained net.
struct VisualizeSourceOptions: ParsableArguments {
    @OptionGroup var checkpoint: CheckpointOptions

    @Option(help: "Validation images by index: comma-separated, with ranges such as 0-99.")
    var images: String?

    @Option(name: [.short, .long], help: "Folder for the pictures.")
    var output = "visualize-output"

    @OptionGroup var common: CommonOptions

    /// The most indices --images may name: more than any validation split holds.
    static let maximumImages = Dataset.maximumBuiltinCount

    func validate() throws {
        _ = try imageRanges()
        try FileSystem.checkCreatable(directory: output)
    }

    /// The ranges in --images ("3", "0-99"), parsed without building them; none without it.
    func imageRanges() throws -> [ClosedRange<Int>] {
        guard let images else { return [] }
        var ranges: [ClosedRange<Int>] = []
        for item in images.split(separator: ",") {
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
                .map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard (1...2).contains(bounds.count), let low = bounds.first!, let high = bounds.last!, low >= 0, low <= high else {
                throw ValidationError("--images: '\(item)' is not an index or a range a-b of indices (in '\(images)')")
            }
            guard high < Self.maximumImages else {
                throw ValidationError("--images: '\(item)' goes past \(Self.maximumImages - 1): indices are in 0...\(Self.maximumImages - 1)")
            }
            ranges.append(low...high)
        }
        guard !ranges.isEmpty else { throw ValidationError("--images: no indices in '\(images)'") }
        return ranges
    }

    /// The indices in --images, each below `available` (checked before any is listed), or
    /// `fallback` without it.
    func imageIndices(default fallback: [Int], available: Int, split: String = "validation") throws -> [Int] {
        guard images != nil else { return fallback }
        let ranges = try imageRanges()
        if let bad = ranges.first(where: { $0.upperBound >= available }) {
            throw ValidationError("--images: image \(bad.upperBound) is out of range: the \(split) split has \(available) images "
                                  + "(0...\(available - 1))")
        }
        var total = 0
        for range in ranges {
            total += range.count
            guard total <= Self.maximumImages else { throw ValidationError("--images names more than \(Self.maximumImages) images") }
        }
        return ranges.flatMap { Array($0) }
    }
}

/// A checkpoint's net with its validation images prepared as in training.
struct VisualizeContext {
    let model: AnyModel<Float>
    let train: LabeledTensors<Float>
    let val: LabeledTensors<Float>
    let classNames: [String]
    let pixels: InputPixels
    let printer: ResultPrinter
    let options: VisualizeSourceOptions

    /// The most images one picture of several draws (attribution, occlusion, neighbours); the
    /// rest are computed (and timed) only.
    static let pictureRows = 16

    init(_ options: VisualizeSourceOptions) throws {
        self.options = options
        printer = ResultPrinter(json: options.common.json)
        let (model, file) = try options.checkpoint.model()
        let data = try options.checkpoint.data(file, for: model).data
        self.model = model
        train = data.train
        val = data.val
        classNames = data.classNames
        pixels = try InputPixels(data.preprocessor, imageShape: Attribution.imageShape(ofInput: model.configuration.inputShape))
        try FileSystem.createDirectory(atPath: options.output)
    }

    /// The chosen validation images, their labels and tile labels ("#12").
    func images(default fallback: [Int]) throws -> (indices: [Int], x: Tensor<Float>, labels: [Int]) {
        let indices = try options.imageIndices(default: fallback.filter { $0 < val.count }, available: val.count)
        return (indices, try val.x.gather(indices), indices.map { val.y[$0] })
    }

    /// A layer unit from --layer, --channel and --position, checked against the net's layers.
    func unit(layer: String, channel: Int?, position: String?) throws -> LayerUnit {
        let layers = model.inspectableLayers
        guard let found = layers.first(where: { $0.name == layer }) else {
            throw ValidationError("--layer \(layer): the \(model.configuration.kind) net has layers "
                                  + layers.map(\.description).joined(separator: ", "))
        }
        guard let channel else {
            throw ValidationError("--layer \(layer) needs --channel (0...\(found.channels - 1))")
        }
        let coordinates = try position.map { text in
            let values = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard values.count == 2 else { throw ValidationError("--position: expected y,x, got '\(text)'") }
            return values
        }
        return LayerUnit(layer: layer, channel: channel, position: coordinates)
    }

    /// A class given by index or name.
    func classIndex(_ text: String) throws -> Int {
        if let index = Int(text), classNames.indices.contains(index) { return index }
        if let index = classNames.firstIndex(where: { $0.lowercased() == text.lowercased() }) { return index }
        throw ValidationError("--target \(text): not a class; the classes are "
                              + classNames.enumerated().map { "\($0.offset) \($0.element)" }.joined(separator: ", "))
    }

    /// How many of `count` chosen images a picture draws.
    func shownCount(_ count: Int) -> Int { Swift.min(Self.pictureRows, count) }

    func className(_ label: Int) -> String { classNames.indices.contains(label) ? classNames[label] : "class \(label)" }

    /// Writes a picture into the output folder and says so.
    func write(_ picture: PNGImage, _ name: String) throws {
        let path = options.output + "/" + name
        try picture.write(to: path)
        printer.say("wrote \(path) (\(picture.width)x\(picture.height))")
    }

    /// Prints the seconds an attribution of `count` images took, as text and a JSON figure.
    func reportTime(_ seconds: Double, command: String, what: String, count: Int) {
        printer.say(String(format: "%@ of %d images: %.3f s", what as NSString, count, seconds))
        printer.figure([("command", .string("visualize " + command)), ("kind", .string(model.configuration.kind)),
                        ("images", .int(count))], metric: "seconds", value: seconds)
    }

    /// Writes raw gradients (and the inputs they are of) as safetensors for a reference to check.
    func writeRaw(_ path: String?, tensors: [(String, Tensor<Float>)], metadata: [String: String]) throws {
        guard let path else { return }
        var file = SafetensorsFile()
        for (name, tensor) in tensors { file.add(name, tensor) }
        file.metadata = metadata.merging(["checkpoint": options.checkpoint.path, "latest": String(options.checkpoint.latest)]) { a, _ in a }
        try file.write(to: path)
        printer.say("wrote \(path) (\(tensors.map(\.0).joined(separator: ", ")))")
    }
}
