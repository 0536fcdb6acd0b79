import CS231nData
import CS231nNN
import CS231nTensor
import Foundation

/// Gradient ascent on the image rather than the weights: class model visualisation (Simonyan et
/// al., with Yosinski et al.'s jitter and blur, as in CS231n's notebook) and fooling images.
/// Every step moves the image by `learningRate` along the normalised gradient, so the step
/// size does not depend on how large the scores are.
public enum ImageAscent {
    public struct ClassModelSettings: Sendable {
        public var steps = 200
        /// Length of each step in input units (inputs are pixels/255 around the mean image).
        public var learningRate: Float = 0.25
        /// λ of the penalty λ·‖image‖² subtracted from the score.
        public var l2: Float = 1e-3
        /// The image is rolled by up to this many pixels each way before a step, and back after.
        public var jitter = 2
        /// A 3×3 Gaussian blur (σ = 0.5) every this many steps (0: never).
        public var blurEvery = 10
        /// A frame every this many steps (and the last).
        public var frameEvery = 25
        public var seed: UInt64 = 0

        public init() {}
    }

    /// The image (1, …) that `target`'s score likes, from Gaussian noise, and frames (step, image)
    /// as it went; the image stays within what pixels 0…255 can give.
    public static func classModel<M: InspectableModel>(_ model: M, target: Int, pixels: InputPixels,
                                                       settings: ClassModelSettings = .init()) throws
        -> (image: Tensor<Float>, frames: [(step: Int, image: Tensor<Float>)]) where M.Scalar == Float {
        let shape = [1] + model.configuration.inputShape
        var generator = RandomGenerator(seed: settings.seed, stream: .main)
        var image = Tensor<Float>.randn(shape, scale: 0.1, using: &generator)
        var frames: [(step: Int, image: Tensor<Float>)] = []
        for step in 1...Swift.max(1, settings.steps) {
            let span = 2 * Swift.max(0, settings.jitter) + 1
            let (dy, dx) = (generator.nextInt(below: span) - span / 2, generator.nextInt(below: span) - span / 2)
            let rolled = roll(image, dy: dy, dx: dx, imageShape: pixels.imageShape)
            var direction = try Attribution.classGradient(model, rolled, classes: [target], rule: .standard)
            direction = try direction - rolled * (2 * settings.l2)
            let moved = try rolled + direction * (settings.learningRate / Swift.max(1e-12, direction.squaredSum().squareRoot()))
            image = roll(moved, dy: -dy, dx: -dx, imageShape: pixels.imageShape)
            pixels.clampToPixels(&image)
            if settings.blurEvery > 0, step % settings.blurEvery == 0 { image = blur(image, imageShape: pixels.imageShape) }
            if step % Swift.max(1, settings.frameEvery) == 0 || step == settings.steps { frames.append((step, image)) }
        }
        return (image, frames)
    }

    /// What a fooling image took: the image, the steps (0 if the net already said `target`),
    /// and the change in pixel units.
    public struct Fooling {
        public var image: Tensor<Float>
        public var steps: Int
        public var fooled: Bool
        /// The class predicted for the final image.
        public var predicted: Int
        /// ‖Δ‖₂ and max |Δ| in pixels (0…255).
        public var changeL2: Double
        public var changeMaximum: Double
    }

    /// Ascent on `target`'s score from `x` (1, …) until the net predicts `target` or
    /// `maxSteps` steps have been taken, as CS231n's `make_fooling_image` (no clamping). The
    /// change is measured in pixels through `pixels` (by default, inputs are pixels / 255).
    public static func fool<M: InspectableModel>(_ model: M, _ x: Tensor<Float>, target: Int, pixels: InputPixels? = nil,
                                                 learningRate: Float = 0.1, maxSteps: Int = 200) throws -> Fooling
    where M.Scalar == Float {
        var image = x, steps = 0
        while true {
            let trace = try model.trace(image)
            let predicted = try trace.activations(trace.layers[trace.layers.count - 1].name).argmax(axis: 1)[0]
            if predicted == target || steps == maxSteps {
                let change = try pixels?.inPixels(image - x) ?? (image - x) * 255
                return Fooling(image: image, steps: steps, fooled: predicted == target, predicted: predicted,
                               changeL2: Double(change.squaredSum().squareRoot()), changeMaximum: Double(change.abs().max()))
            }
            let gradient = try Attribution.classGradient(trace, classes: [target], rule: .standard)
            image = try image + gradient * (learningRate / Swift.max(1e-12, gradient.squaredSum().squareRoot()))
            steps += 1
        }
    }

    /// The original, the fooling image and their difference magnified around mid grey (captioned
    /// with the largest change in pixels).
    public static func foolingFigure(original x: Tensor<Float>, _ fooling: Fooling, pixels: InputPixels, title: String,
                                     captions: [String], magnification: Float = 10) throws -> PNGImage {
        var tiles = FigureTiles(imageShape: pixels.imageShape)
        let images = pixels.tiles(try Tensor.concatenate([x, fooling.image]))
        tiles.add(images[0], caption: captions[0])
        tiles.add(images[1], caption: captions[1])
        let difference = try pixels.inPixels(fooling.image - x).scalars
        tiles.add(difference.map { Swift.min(1, Swift.max(0, 0.5 + magnification * $0 / 255)) },
                  caption: String(format: "x%g, max %.0f", Double(magnification), fooling.changeMaximum))
        return try tiles.render(columns: 3, scale: 4, title: title)
    }

    /// Frames of a class model, side by side.
    public static func framesFigure(_ frames: [(step: Int, image: Tensor<Float>)], pixels: InputPixels,
                                    title: String) throws -> PNGImage {
        var tiles = FigureTiles(imageShape: pixels.imageShape)
        for (frame, tile) in zip(frames, pixels.tiles(try Tensor.concatenate(frames.map(\.image)))) {
            tiles.add(tile, caption: "step \(frame.step)")
        }
        return try tiles.render(columns: Swift.min(8, frames.count), scale: 3, title: title)
    }

    /// The image (1, …) rolled by (dy, dx) pixels with wrap-around, as `torch.roll`.
    static func roll(_ image: Tensor<Float>, dy: Int, dx: Int, imageShape: [Int]) -> Tensor<Float> {
        guard dy != 0 || dx != 0 else { return image }
        let (channels, height, width) = (imageShape[0], imageShape[1], imageShape[2])
        var out = image
        image.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for c in 0..<channels {
                    for y in 0..<height {
                        let sourceRow = c * height * width + ((y - dy) % height + height) % height * width
                        for x in 0..<width {
                            target[c * height * width + y * width + x] = source[sourceRow + ((x - dx) % width + width) % width]
                        }
                    }
                }
            }
        }
        return out
    }

    /// A separable 3×3 Gaussian of σ = 0.5 per channel, borders repeated.
    static func blur(_ image: Tensor<Float>, imageShape: [Int]) -> Tensor<Float> {
        let side = Float(exp(-1 / (2 * 0.25)))
        let weights = [side, 1, side].map { $0 / (1 + 2 * side) }
        let (channels, height, width) = (imageShape[0], imageShape[1], imageShape[2])
        var values = image.scalars
        for (stepY, stepX) in [(1, 0), (0, 1)] {
            let source = values
            for c in 0..<channels {
                for y in 0..<height {
                    for x in 0..<width {
                        var sum: Float = 0
                        for k in -1...1 {
                            let (sy, sx) = (Swift.min(height - 1, Swift.max(0, y + k * stepY)), Swift.min(width - 1, Swift.max(0, x + k * stepX)))
                            sum += weights[k + 1] * source[c * height * width + sy * width + sx]
                        }
                        values[c * height * width + y * width + x] = sum
                    }
                }
            }
        }
        return (try? Tensor(shape: image.shape, scalars: values)) ?? image
    }
}
