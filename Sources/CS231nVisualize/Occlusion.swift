import CS231nNN
import CS231nTensor
import Foundation

/// Zeiler & Fergus's occlusion sensitivity (2014, figure 7): a square patch slides over the
/// image, and for each of its positions the net's output is recorded: the probability of the
/// true class, the predicted class, and the total activation of one feature map, the one that
/// is strongest on the unoccluded image. Where the probability drops, the net was looking.
public enum Occlusion {
    /// What covers the patch, in the model's input space.
    public enum Fill: Sendable, Equatable {
        /// Zero inputs: the data mean, once the inputs are mean-centred.
        case zero
        /// Values of one image (the input's shape), e.g. mid grey prepared as the inputs are.
        case image(Tensor<Float>)
    }

    public struct Settings: Sendable, Equatable {
        /// Side of the square, in pixels.
        public var patch = 8
        /// Step between positions, in pixels; the patch's top-left corner runs over
        /// 0, stride, … up to side − patch on each axis.
        public var stride = 2
        public var fill = Fill.zero
        /// The layer whose strongest feature map is followed, or nil for none.
        public var layer: String?
        /// Occluded copies per forward pass.
        public var batchSize = 256

        public init(patch: Int = 8, stride: Int = 2, fill: Fill = .zero, layer: String? = nil) {
            self.patch = patch; self.stride = stride; self.fill = fill; self.layer = layer
        }
    }

    /// The maps of N images over rows × columns patch positions.
    public struct Maps: Sendable {
        public let rows: Int, columns: Int
        public let settings: Settings
        /// (N, rows, columns): the probability of each image's class with the patch there.
        public var probability: Tensor<Float>
        /// N · rows · columns predicted classes, image by image, row-major.
        public var predicted: [Int]
        /// The same without a patch.
        public var unoccludedProbability: [Float]
        public var unoccludedPrediction: [Int]
        /// Each image's followed channel of `settings.layer` (a unit of a flat layer).
        public var channels: [Int]
        /// (N, rows, columns): that channel's total activation with the patch there; nil without a layer.
        public var featureTotal: Tensor<Float>?
        public var unoccludedFeatureTotal: [Float]
    }

    /// The maps for each image of `x` (N in the model's input shape) and its class in `classes`.
    /// One forward pass per batch of occluded copies; the forward passes are parallel over the
    /// copies of a batch.
    public static func sensitivity<M: InspectableModel>(_ model: M, _ x: Tensor<Float>, classes: [Int],
                                                        settings: Settings) throws -> Maps where M.Scalar == Float {
        let imageShape = try Attribution.imageShape(ofInput: model.configuration.inputShape)
        let n = x.shape.first ?? 0
        try check(settings, imageShape: imageShape, model: model, images: n, classes: classes, inputCount: x.count)
        let (height, width) = (imageShape[1], imageShape[2])
        let rows = (height - settings.patch) / settings.stride + 1, columns = (width - settings.patch) / settings.stride + 1
        let positions = rows * columns, size = imageShape.reduce(1, *)
        let fill: [Float] = switch settings.fill {
        case .zero: [Float](repeating: 0, count: size)
        case .image(let image): image.scalars
        }
        let unoccluded = try outputs(model, x, classes: classes, layer: settings.layer, channels: nil)
        var maps = Maps(rows: rows, columns: columns, settings: settings, probability: .zeros([n, rows, columns]),
                        predicted: [Int](repeating: 0, count: n * positions),
                        unoccludedProbability: unoccluded.probability, unoccludedPrediction: unoccluded.predicted,
                        channels: unoccluded.channels, featureTotal: settings.layer.map { _ in .zeros([n, rows, columns]) },
                        unoccludedFeatureTotal: unoccluded.featureTotal)
        let images = x.scalars, batchSize = Swift.max(1, settings.batchSize)
        for start in stride(from: 0, to: n * positions, by: batchSize) {
            let jobs = Array(start..<Swift.min(n * positions, start + batchSize))
            var batch = Tensor<Float>(uninitializedShape: [jobs.count] + model.configuration.inputShape)
            batch.withUnsafeMutableBufferPointer { copies in
                let target = SendablePointer(copies.baseAddress!), shared = UnsafeSendable((images, fill))
                Parallel.forEach(jobs.count, minimumChunk: 8) { slot in
                    let (image, position) = (jobs[slot] / positions, jobs[slot] % positions)
                    let copy = target.base + slot * size
                    shared.value.0.withUnsafeBufferPointer { copy.update(from: $0.baseAddress! + image * size, count: size) }
                    let (top, left) = (position / columns * settings.stride, position % columns * settings.stride)
                    for plane in 0..<imageShape[0] {
                        for y in top..<(top + settings.patch) {
                            let offset = plane * height * width + y * width + left
                            for x in offset..<(offset + settings.patch) { copy[x] = shared.value.1[x] }
                        }
                    }
                }
            }
            let result = try outputs(model, batch, classes: jobs.map { classes[$0 / positions] }, layer: settings.layer,
                                     channels: jobs.map { unoccluded.channels[$0 / positions] })
            maps.probability.withUnsafeMutableBufferPointer { p in
                for (slot, job) in jobs.enumerated() { p[job] = result.probability[slot] }
            }
            maps.featureTotal?.withUnsafeMutableBufferPointer { f in
                for (slot, job) in jobs.enumerated() { f[job] = result.featureTotal[slot] }
            }
            for (slot, job) in jobs.enumerated() { maps.predicted[job] = result.predicted[slot] }
        }
        return maps
    }

    /// The class probabilities, predictions and followed channels of one batch: each row's
    /// channel in `channels`, or without them the strongest (largest single activation).
    static func outputs<M: InspectableModel>(_ model: M, _ x: Tensor<Float>, classes: [Int], layer: String?,
                                             channels: [Int]?) throws
        -> (probability: [Float], predicted: [Int], channels: [Int], featureTotal: [Float]) where M.Scalar == Float {
        let trace = try model.trace(x)
        let scores = try trace.activations(trace.layers[trace.layers.count - 1].name)
        let classCount = scores.shape[1], n = classes.count
        var probability: [Float] = [], predicted: [Int] = []
        scores.withUnsafeBufferPointer { s in
            for i in 0..<n {
                let row = s.baseAddress! + i * classCount
                var best = 0
                for c in 1..<classCount where row[c] > row[best] { best = c }
                let total = (0..<classCount).reduce(0.0) { $0 + Foundation.exp(Double(row[$1] - row[best])) }
                probability.append(Float(Foundation.exp(Double(row[classes[i]] - row[best])) / total))
                predicted.append(best)
            }
        }
        guard let layer else { return (probability, predicted, [Int](repeating: 0, count: n), []) }
        let activations = try trace.activations(layer)
        let perImage = activations.count / Swift.max(1, n), channelCount = activations.shape[1]
        let plane = perImage / channelCount
        var chosen: [Int] = [], totals: [Float] = []
        activations.withUnsafeBufferPointer { a in
            for i in 0..<n {
                let base = a.baseAddress! + i * perImage
                let channel = channels?[i] ?? Attribution.strongest(base, count: perImage) / plane
                chosen.append(channel)
                totals.append((0..<plane).reduce(Float(0)) { $0 + base[channel * plane + $1] })
            }
        }
        return (probability, predicted, chosen, totals)
    }

    static func check<M: InspectableModel>(_ settings: Settings, imageShape: [Int], model: M, images: Int, classes: [Int],
                                           inputCount: Int) throws {
        func invalid(_ detail: String) -> TensorError { .invalidArgument(operation: "Occlusion", detail: detail) }
        let side = Swift.min(imageShape[1], imageShape[2])
        guard (1...side).contains(settings.patch) else {
            throw invalid("patch \(settings.patch) does not fit images of \(describeShape(imageShape)): it must be in 1...\(side)")
        }
        guard settings.stride >= 1 else { throw invalid("stride \(settings.stride) must be at least 1") }
        guard classes.count == images, inputCount == images * imageShape.reduce(1, *) else {
            throw invalid("\(classes.count) classes for \(images) inputs of \(inputCount) values (images of \(describeShape(imageShape)))")
        }
        let classCount = model.configuration.classes
        if let bad = classes.first(where: { !(0..<classCount).contains($0) }) {
            throw invalid("class \(bad) is out of range: the net has classes 0...\(classCount - 1)")
        }
        if case .image(let image) = settings.fill, image.count != imageShape.reduce(1, *) {
            throw invalid("the fill \(describeShape(image.shape)) is not one image of \(describeShape(imageShape))")
        }
        if let layer = settings.layer, !model.inspectableLayers.contains(where: { $0.name == layer }) {
            throw invalid("no layer \"\(layer)\"; the layers are " + model.inspectableLayers.map(\.description).joined(separator: ", "))
        }
    }
}
