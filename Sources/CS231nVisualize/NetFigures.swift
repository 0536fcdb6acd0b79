import CS231nData
import CS231nNN
import CS231nTensor
import Foundation

/// How a model's inputs map back to pixels: input = (pixels − mean) / scale, the preparation
/// `cs231n train` applies (mean image of the training split, scale 255).
public struct InputPixels: Sendable {
    /// What the preprocessing subtracted and then divided by, one value per input value.
    public var mean: Tensor<Float>
    public var scale: Tensor<Float>
    /// (C, H, W) of one image.
    public var imageShape: [Int]

    public init(mean: Tensor<Float>, scale: Tensor<Float>, imageShape: [Int]) throws {
        guard mean.count == imageShape.reduce(1, *), scale.shape == mean.shape else {
            throw TensorError.shapeMismatch(operation: "InputPixels",
                detail: "mean \(describeShape(mean.shape)) and scale \(describeShape(scale.shape)) for images of \(describeShape(imageShape))")
        }
        self.mean = mean; self.scale = scale; self.imageShape = imageShape
    }

    /// CS231n's preprocessing: the mean image, then one scale (255) for every value.
    public init(mean: Tensor<Float>, scale: Float = 255, imageShape: [Int]) throws {
        try self.init(mean: mean, scale: Tensor(shape: mean.shape, repeating: scale), imageShape: imageShape)
    }

    /// Each input as a (C·H·W) tile of pixels scaled to 0…1 (clamped), for `FigureTiles`.
    public func tiles(_ x: Tensor<Float>) -> [[Float]] {
        let size = mean.count, n = x.count / Swift.max(1, size)
        let (values, average, scales) = (x.scalars, mean.scalars, scale.scalars)
        return (0..<n).map { i in
            (0..<size).map { j in Swift.min(1, Swift.max(0, (values[i * size + j] * scales[j] + average[j]) / 255)) }
        }
    }

    /// One image (C, H, W) of a single pixel value everywhere (128: mid grey), prepared as the
    /// inputs are: (value − mean) / scale.
    public func inputs(ofPixel value: Float) throws -> Tensor<Float> {
        try Tensor(shape: imageShape, scalars: zip(mean.scalars, scale.scalars).map { (value - $0) / $1 })
    }

    /// Input-space values (N, C·H·W…) in pixel units (0…255 scale): each times its scale.
    public func inPixels(_ x: Tensor<Float>) throws -> Tensor<Float> {
        guard x.count % Swift.max(1, scale.count) == 0 else {
            throw TensorError.shapeMismatch(operation: "InputPixels.inPixels",
                detail: "\(describeShape(x.shape)) is not a whole number of \(describeShape(imageShape)) images")
        }
        let scales = scale.scalars
        return try Tensor(shape: x.shape, scalars: x.scalars.enumerated().map { $1 * scales[$0 % scales.count] })
    }

    /// Clamps inputs into what pixels 0…255 can give: (0 − mean)/scale … (255 − mean)/scale.
    public func clampToPixels(_ x: inout Tensor<Float>) {
        let size = mean.count
        mean.withUnsafeBufferPointer { average in
            scale.withUnsafeBufferPointer { scale in
                x.withUnsafeMutableBufferPointer { values in
                    for j in 0..<values.count {
                        let (low, high) = (-average[j % size] / scale[j % size], (255 - average[j % size]) / scale[j % size])
                        values[j] = Swift.min(high, Swift.max(low, values[j]))
                    }
                }
            }
        }
    }
}

/// Pictures of equal size, each (C, H, W) with values in 0…1 (C = 3: RGB), with captions,
/// rendered as one `ImageGrid`: the common ground of the figures below.
public struct FigureTiles {
    public let imageShape: [Int]
    public private(set) var values: [Float] = []
    public private(set) var captions: [String] = []

    public init(imageShape: [Int]) { self.imageShape = [3] + imageShape.dropFirst() }

    var planeSize: Int { imageShape[1] * imageShape[2] }
    public var count: Int { captions.count }

    /// Adds a tile of C·H·W values in 0…1; one channel is drawn grey.
    public mutating func add(_ tile: [Float], caption: String = "") {
        values += tile.count == planeSize ? tile + tile + tile : tile
        captions.append(caption)
    }

    /// A signed gradient (C·H·W) with zero at mid grey and the largest magnitude at black or
    /// white in some channel: how deconvnet and guided backprop projections are shown.
    public mutating func addSigned(_ gradient: [Float], caption: String = "") {
        let largest = gradient.reduce(Float(0)) { Swift.max($0, Swift.abs($1)) }
        add(gradient.map { largest > 0 ? 0.5 + 0.5 * $0 / largest : 0.5 }, caption: caption)
    }

    /// A non-negative map (H·W) in a black-red-yellow-white ramp, black at zero, white at
    /// `maximum` (default: the map's own largest value): saliency and activations.
    public mutating func addHeat(_ map: [Float], maximum: Float? = nil, caption: String = "") {
        let top = maximum ?? map.max() ?? 0
        let colours = map.map { Self.heat(top > 0 ? $0 / top : 0) }
        add(colours.map(\.red) + colours.map(\.green) + colours.map(\.blue), caption: caption)
    }

    /// The heat ramp's colour (0…1 per channel) for a value in 0…1 (clamped).
    public static func heat(_ unit: Float) -> (red: Float, green: Float, blue: Float) {
        let u = Swift.min(1, Swift.max(0, unit))
        return (Swift.min(1, 3 * u), Swift.min(1, Swift.max(0, 3 * u - 1)), Swift.max(0, 3 * u - 2))
    }

    /// The tiles in rows of `columns`; `rowLabels` one per row.
    public func render(columns: Int, scale: Int = 3, title: String? = nil, rowLabels: [String]? = nil) throws -> PNGImage {
        var grid = ImageGrid(columns: columns, scale: scale, scaling: .fixed(min: 0, max: 1))
        grid.title = title
        grid.rowLabels = rowLabels
        if captions.contains(where: { !$0.isEmpty }) { grid.captions = captions }
        return try grid.render(Tensor(shape: [count] + imageShape, scalars: values))
    }
}

/// Figures of what a net sees: gradients and projections next to the images they explain.
public enum NetFigures {
    /// One picture of what made the net give a class its score.
    public enum AttributionMap: Sendable, Equatable {
        /// max over channels of |gradient|, as a heat map.
        case saliency
        /// The gradient with this ReLU rule, signed around grey.
        case gradient(ReLUBackwardRule)

        var caption: String {
            switch self {
            case .saliency: "saliency"
            case .gradient(let rule): rule.rawValue
            }
        }
    }

    /// One row per image: the image, then each of `maps` for its class in `classes` (usually
    /// the true one): by default the saliency map and the gradient under each other ReLU rule
    /// the net offers (guided backprop and deconvnet; none for a net without ReLUs).
    public static func attributionComparison<M: InspectableModel>(_ model: M, _ x: Tensor<Float>, classes: [Int],
                                                                  pixels: InputPixels, classNames: [String], imageLabels: [String],
                                                                  maps chosen: [AttributionMap]? = nil)
        throws -> PNGImage where M.Scalar == Float {
        let trace = try model.trace(x)
        let maps = chosen ?? [.saliency] + trace.rules.filter { $0 != .standard }.map { .gradient($0) }
        var gradients: [ReLUBackwardRule: [Float]] = [:]
        for case .gradient(let rule) in maps + (maps.contains(.saliency) ? [.gradient(.standard)] : []) where gradients[rule] == nil {
            gradients[rule] = try Attribution.classGradient(trace, classes: classes, rule: rule).scalars
        }
        let saliency = try maps.contains(.saliency)
            ? Attribution.channelMaximumOfMagnitude(Tensor(shape: x.shape, scalars: gradients[.standard]!), imageShape: pixels.imageShape).scalars
            : []
        var tiles = FigureTiles(imageShape: pixels.imageShape)
        let images = pixels.tiles(x), size = pixels.mean.count, plane = tiles.planeSize
        // Column names go under the last row, where the grid puts captions.
        for i in images.indices {
            let last = i == images.count - 1
            tiles.add(images[i], caption: last ? "image" : "")
            for map in maps {
                let caption = last ? map.caption : ""
                switch map {
                case .saliency: tiles.addHeat(Array(saliency[(i * plane)..<((i + 1) * plane)]), caption: caption)
                case .gradient(let rule): tiles.addSigned(Array(gradients[rule]![(i * size)..<((i + 1) * size)]), caption: caption)
                }
            }
        }
        return try tiles.render(columns: 1 + maps.count, title: "gradients of the class score",
                                rowLabels: zip(imageLabels, classes).map { "\($0) \(name(classNames, $1))" })
    }

    /// One row per image: the image and `unit` projected back with each rule in `rules`.
    public static func projections<M: InspectableModel>(_ model: M, _ x: Tensor<Float>, unit: LayerUnit,
                                                        rules: [ReLUBackwardRule], pixels: InputPixels,
                                                        imageLabels: [String]) throws -> PNGImage where M.Scalar == Float {
        let trace = try model.trace(x)
        let projections = try rules.map { try Attribution.project(trace, unit: unit, rule: $0) }
        var tiles = FigureTiles(imageShape: pixels.imageShape)
        let size = pixels.mean.count, gradients = projections.map(\.gradients.scalars)
        let images = pixels.tiles(x)
        for (i, image) in images.enumerated() {
            tiles.add(image, caption: String(format: "a=%.3g", Double(projections[0].activations[i])))
            for (rule, values) in zip(rules, gradients) {
                tiles.addSigned(Array(values[(i * size)..<((i + 1) * size)]), caption: i == images.count - 1 ? rule.rawValue : "")
            }
        }
        return try tiles.render(columns: 1 + rules.count, title: "projections of \(unit)", rowLabels: imageLabels)
    }

    /// Zeiler and Fergus's figure for one unit: the `count` images of `x` that activate it most,
    /// each next to its projection with `rule`, three pairs to a row.
    public static func topActivations<M: InspectableModel>(_ model: M, _ x: Tensor<Float>, unit: LayerUnit,
                                                           rule: ReLUBackwardRule, pixels: InputPixels, count: Int = 9,
                                                           imageLabels: [String]) throws -> (picture: PNGImage, indices: [Int])
    where M.Scalar == Float {
        let activations = try Attribution.unitActivations(model, x, unit: unit)
        let top = Attribution.topIndices(activations, count: count)
        let chosen = try x.gather(top)
        let projection = try Attribution.project(model.trace(chosen), unit: unit, rule: rule)
        var tiles = FigureTiles(imageShape: pixels.imageShape)
        let size = pixels.mean.count, gradients = projection.gradients.scalars
        for (slot, image) in pixels.tiles(chosen).enumerated() {
            tiles.add(image, caption: imageLabels[top[slot]])
            tiles.addSigned(Array(gradients[(slot * size)..<((slot + 1) * size)]),
                            caption: String(format: "a=%.3g", Double(activations[top[slot]])))
        }
        let title = "\(unit): top \(top.count) of \(activations.count), \(rule.rawValue)"
        return (try tiles.render(columns: 6, scale: 2, title: title), top)
    }

    /// Every channel of `layer` for one image (x holds one example), on one heat scale so that
    /// channels compare; a flat layer is one square tile of its units.
    public static func featureMaps<M: InspectableModel>(_ model: M, _ x: Tensor<Float>, layer: String,
                                                        title: String) throws -> PNGImage where M.Scalar == Float {
        let activations = try model.activations(x, layer: layer)
        let shape = Array(activations.shape.dropFirst())
        let values = Array(activations.scalars.prefix(shape.reduce(1, *)))
        let top = values.max() ?? 0
        if shape.count == 1 {
            let side = Int(Double(shape[0]).squareRoot().rounded(.up))
            var tiles = FigureTiles(imageShape: [1, side, side])
            tiles.addHeat(values + [Float](repeating: 0, count: side * side - shape[0]), caption: "\(shape[0]) units")
            return try tiles.render(columns: 1, scale: Swift.max(2, 64 / side), title: title)
        }
        var tiles = FigureTiles(imageShape: shape)
        let plane = shape[1] * shape[2]
        for channel in 0..<shape[0] {
            tiles.addHeat(Array(values[(channel * plane)..<((channel + 1) * plane)]), maximum: top, caption: String(channel))
        }
        return try tiles.render(columns: Swift.min(8, shape[0]), scale: Swift.max(2, 64 / shape[1]), title: title)
    }

    static func name(_ classNames: [String], _ label: Int) -> String {
        classNames.indices.contains(label) ? classNames[label] : "class \(label)"
    }
}
