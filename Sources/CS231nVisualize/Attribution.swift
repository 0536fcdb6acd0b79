import CS231nNN
import CS231nTensor

/// One unit to project back to pixel space: a channel of a layer and, in a (C, H, W) layer,
/// optionally a position; without one, each image uses the position where the channel is
/// strongest (the first such, scanning rows).
public struct LayerUnit: Sendable, Equatable, CustomStringConvertible {
    public var layer: String
    public var channel: Int
    /// (y, x) in the layer's feature map.
    public var position: [Int]?

    public init(layer: String, channel: Int, position: [Int]? = nil) {
        self.layer = layer; self.channel = channel; self.position = position
    }

    public var description: String {
        "\(layer) channel \(channel)" + (position.map { " at (\($0.map(String.init).joined(separator: ", ")))" } ?? "")
    }
}

/// The input gradients of one unit per image, with the activation kept and where it was.
public struct Projection<S: TensorScalar> {
    /// (N, …) in the input's shape.
    public var gradients: Tensor<S>
    /// Each image's kept activation: the upstream gradient placed at the unit.
    public var activations: [S]
    /// Each image's (y, x) in the feature map, or [] in a flat layer.
    public var positions: [[Int]]
}

/// What made a net decide: gradients of class scores and of single units with respect to the
/// image, with the ReLU backward rule that the method calls for.
///
/// With the class score as the output these are Captum's attributions with `target` = class:
/// `.standard` is `Saliency` (before its absolute value), `.guided` `GuidedBackprop`,
/// `.deconvnet` `Deconvolution`.
public enum Attribution {
    /// d score_c / d input for each image, c = `classes[i]`, with `rule` at every ReLU.
    public static func classGradient<S>(_ trace: ForwardTrace<S>, classes: [Int], rule: ReLUBackwardRule) throws -> Tensor<S> {
        let scores = trace.layers[trace.layers.count - 1]
        let n = trace.batchSize, classCount = scores.channels
        guard classes.count == n else {
            throw TensorError.invalidArgument(operation: "Attribution.classGradient", detail: "\(classes.count) classes for \(n) images")
        }
        if let bad = classes.first(where: { !(0..<classCount).contains($0) }) {
            throw TensorError.invalidArgument(operation: "Attribution.classGradient",
                                              detail: "class \(bad) is out of range: the net has classes 0...\(classCount - 1)")
        }
        var upstream = Tensor<S>.zeros([n, classCount])
        upstream.withUnsafeMutableBufferPointer { u in
            for (i, c) in classes.enumerated() { u[i * classCount + c] = 1 }
        }
        return try trace.inputGradient(upstream, at: scores.name, rule: rule)
    }

    /// The gradient of each image's class score with `rule` (see `classGradient(_:classes:rule:)`).
    public static func classGradient<M: InspectableModel>(_ model: M, _ x: Tensor<M.Scalar>, classes: [Int],
                                                          rule: ReLUBackwardRule) throws -> Tensor<M.Scalar> {
        try classGradient(model.trace(x), classes: classes, rule: rule)
    }

    /// Simonyan et al.'s saliency map (N, H, W): max over channels of |d score_y / d image|.
    public static func saliency<M: InspectableModel>(_ model: M, _ x: Tensor<M.Scalar>, classes: [Int]) throws -> Tensor<M.Scalar> {
        let gradient = try classGradient(model, x, classes: classes, rule: .standard)
        return try channelMaximumOfMagnitude(gradient, imageShape: imageShape(ofInput: model.configuration.inputShape))
    }

    /// max over c of |g[n, c, y, x]|: (N, H, W) from gradients of images of `imageShape` (C, H, W).
    public static func channelMaximumOfMagnitude<S>(_ gradient: Tensor<S>, imageShape: [Int]) throws -> Tensor<S> {
        let (channels, plane) = (imageShape[0], imageShape[1] * imageShape[2])
        let n = gradient.shape.first ?? 0
        guard gradient.count == n * channels * plane else {
            throw TensorError.shapeMismatch(operation: "Attribution.saliency",
                detail: "gradients \(describeShape(gradient.shape)) are not images of \(describeShape(imageShape))")
        }
        var map = Tensor<S>.zeros([n, imageShape[1], imageShape[2]])
        gradient.withUnsafeBufferPointer { g in
            map.withUnsafeMutableBufferPointer { m in
                for i in 0..<n {
                    for c in 0..<channels {
                        let source = g.baseAddress! + (i * channels + c) * plane, target = m.baseAddress! + i * plane
                        for p in 0..<plane {
                            let magnitude = Swift.abs(source[p])
                            if magnitude > target[p] { target[p] = magnitude }
                        }
                    }
                }
            }
        }
        return map
    }

    /// Zeiler and Fergus's projection: each image keeps only `unit`'s activation, every other
    /// activation of the layer is zeroed, and that is propagated back to the image with `rule`.
    /// A unit whose activation is zero projects to exactly zero.
    public static func project<S>(_ trace: ForwardTrace<S>, unit: LayerUnit, rule: ReLUBackwardRule) throws -> Projection<S> {
        let index = try trace.layerIndex(unit.layer)
        let shape = trace.layers[index].shape
        try check(unit, in: trace.layers[index])
        let activations = try trace.activations(unit.layer)
        let plane = shape.dropFirst().reduce(1, *), perImage = shape.reduce(1, *)
        var upstream = Tensor<S>.zeros(activations.shape)
        var kept: [S] = [], positions: [[Int]] = []
        activations.withUnsafeBufferPointer { a in
            upstream.withUnsafeMutableBufferPointer { u in
                for i in 0..<trace.batchSize {
                    let base = i * perImage + unit.channel * plane
                    let offset = unit.position.map { $0[0] * shape[2] + $0[1] } ?? strongest(a.baseAddress! + base, count: plane)
                    u[base + offset] = a[base + offset]
                    kept.append(a[base + offset])
                    positions.append(shape.count == 3 ? [offset / shape[2], offset % shape[2]] : [])
                }
            }
        }
        return Projection(gradients: try trace.inputGradient(upstream, at: unit.layer, rule: rule),
                          activations: kept, positions: positions)
    }

    /// Each image's activation of `unit` (its channel's strongest, unless a position is given),
    /// scoring `batchSize` images at a time.
    public static func unitActivations<M: InspectableModel>(_ model: M, _ x: Tensor<M.Scalar>, unit: LayerUnit,
                                                            batchSize: Int = 500) throws -> [M.Scalar] {
        let layers = model.inspectableLayers
        guard let layer = layers.first(where: { $0.name == unit.layer }) else {
            throw TensorError.invalidArgument(operation: "Attribution.unitActivations",
                detail: "no layer \"\(unit.layer)\"; the layers are " + layers.map(\.description).joined(separator: ", "))
        }
        try check(unit, in: layer)
        let n = x.shape.first ?? 0
        let plane = layer.shape.dropFirst().reduce(1, *), perImage = layer.shape.reduce(1, *)
        var values: [M.Scalar] = []
        values.reserveCapacity(n)
        for start in stride(from: 0, to: n, by: Swift.max(1, batchSize)) {
            let activations = try model.activations(x.slice(start..<Swift.min(n, start + batchSize)), layer: unit.layer)
            activations.withUnsafeBufferPointer { a in
                for i in 0..<(activations.shape.first ?? 0) {
                    let base = a.baseAddress! + i * perImage + unit.channel * plane
                    let offset = unit.position.map { $0[0] * layer.shape[2] + $0[1] } ?? strongest(base, count: plane)
                    values.append(base[offset])
                }
            }
        }
        return values
    }

    /// The indices of the `count` largest values, largest first (ties: the smaller index).
    public static func topIndices<S: TensorScalar>(_ values: [S], count: Int) -> [Int] {
        Array(values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }.prefix(count))
    }

    /// The shape (C, H, W) of the images a model takes: its input shape, or for flat inputs of
    /// C·S² values (C = 3 or 1) the square image they were flattened from (CIFAR-10's CHW rows).
    public static func imageShape(ofInput inputShape: [Int]) throws -> [Int] {
        if inputShape.count == 3 { return inputShape }
        let size = inputShape.reduce(1, *)
        for channels in [3, 1] where size % channels == 0 {
            let side = Int(Double(size / channels).squareRoot().rounded())
            if side * side * channels == size { return [channels, side, side] }
        }
        throw TensorError.invalidArgument(operation: "Attribution.imageShape",
            detail: "inputs of \(describeShape(inputShape)) are not images (C, H, W) nor square images flattened")
    }

    /// Names what is wrong with `unit` in `layer`, with the valid ranges.
    static func check(_ unit: LayerUnit, in layer: InspectedLayer) throws {
        guard (0..<layer.channels).contains(unit.channel) else {
            throw TensorError.invalidArgument(operation: "layer \(layer.name)",
                detail: "channel \(unit.channel) is out of range: \(layer) has channels 0...\(layer.channels - 1)")
        }
        guard let position = unit.position else { return }
        guard layer.shape.count == 3 else {
            throw TensorError.invalidArgument(operation: "layer \(layer.name)",
                detail: "\(layer) is flat: its units have no position (got \(position))")
        }
        guard position.count == 2, (0..<layer.shape[1]).contains(position[0]), (0..<layer.shape[2]).contains(position[1]) else {
            throw TensorError.invalidArgument(operation: "layer \(layer.name)",
                detail: "position \(position) is out of range: \(layer) has y in 0...\(layer.shape[1] - 1), x in 0...\(layer.shape[2] - 1)")
        }
    }

    /// The offset of the first largest of `count` values.
    static func strongest<S: TensorScalar>(_ values: UnsafePointer<S>, count: Int) -> Int {
        var best = 0
        for i in 1..<Swift.max(1, count) where values[i] > values[best] { best = i }
        return best
    }
}
