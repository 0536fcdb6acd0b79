import CS231nTensor
import Foundation

/// A procedurally drawn 10-class dataset of 32×32 colour images, for working offline.
///
/// Six classes are shapes or strokes and four are textures. Every image draws its own
/// position, scale, rotation, colours, background gradient, distractor blob and noise, so a
/// linear classifier on raw pixels stays well short of perfect (stripes at a random phase
/// average to flat grey) while a small CNN, which sees local edges, does much better.
/// Generation is deterministic: image `i` depends only on the seed and `i`, so the same seed
/// gives the same bytes whatever the thread count.
public enum BuiltinDataset {
    public static let classNames = [
        "disc", "ring", "square", "triangle", "plus", "stroke",
        "h-stripes", "v-stripes", "checker", "dots",
    ]

    /// `count` images with labels balanced to within one per class, in shuffled order.
    public static func generate(count: Int, seed: UInt64) -> LabeledImages {
        precondition(count >= 0, "BuiltinDataset.generate: negative count \(count)")
        var order = RandomGenerator(seed: seed, stream: .dataset)
        var labels = (0..<count).map { $0 % classNames.count }
        order.shuffle(&labels)
        let size = LabeledImages.imageSize
        let pixels = [UInt8](unsafeUninitializedCapacity: count * size) { buffer, initialized in
            let base = SendablePointer(buffer.baseAddress!)
            labels.withUnsafeBufferPointer { labelBuffer in
                let classes = SendableConstPointer(labelBuffer.baseAddress!)
                Parallel.forEachChunk(count, minimumChunk: 16) { range in
                    var canvas = Canvas()
                    for index in range {
                        var rng = RandomGenerator(seed: seed &+ UInt64(index) &* 0xD1B5_4A32_D192_ED03,
                                                  stream: .dataset)
                        canvas.draw(class: classes.base[index], using: &rng)
                        canvas.store(into: base.base + index * size)
                    }
                }
            }
            initialized = count * size
        }
        return LabeledImages(pixels: pixels, labels: labels, classNames: classNames)
    }
}

/// A 32×32 RGB picture in 0...1 floats, drawn by coverage (anti-aliased signed distances).
struct Canvas {
    static let side = 32
    var red = [Float](repeating: 0, count: 1024)
    var green = [Float](repeating: 0, count: 1024)
    var blue = [Float](repeating: 0, count: 1024)

    typealias Colour = (Float, Float, Float)

    mutating func draw(class label: Int, using rng: inout RandomGenerator) {
        let (background, foreground) = Canvas.contrastingColours(class: label, using: &rng)
        paintBackground(background, using: &rng)
        if rng.nextUniform() < 0.5 { paintDistractor(using: &rng) }
        let shape = Shape.random(class: label, using: &rng)
        paint(foreground) { x, y in shape.coverage(x, y) }
        addNoise(sigma: Float(4 + 14 * rng.nextUniform()) / 255, using: &rng)
    }

    /// Each class's favourite foreground hue (in turns), as CIFAR-10's classes have typical
    /// colours (blue sky behind planes, green frogs): a cue a linear classifier can partly use.
    static let classHues: [Float] = [0.0, 0.55, 0.15, 0.75, 0.35, 0.9, 0.05, 0.6, 0.45, 0.25]

    /// A background and a foreground colour far apart in brightness: the foreground usually the
    /// brighter, its hue near its class's, the background's hue anything.
    static func contrastingColours(class label: Int, using rng: inout RandomGenerator) -> (Colour, Colour) {
        func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * Float(rng.nextUniform()) }
        var dark = uniform(0.05, 0.5), bright = uniform(0.6, 1)
        if rng.nextUniform() < 0.2 { swap(&dark, &bright) }
        let jitter = Float(rng.nextNormal()) * 0.1
        let foreground = hsv(hue: classHues[label] + jitter, saturation: uniform(0.45, 1), value: bright)
        let background = hsv(hue: uniform(0, 1), saturation: uniform(0.1, 0.8), value: dark)
        return (background, foreground)
    }

    static func hsv(hue: Float, saturation: Float, value: Float) -> Colour {
        func channel(_ offset: Float) -> Float {
            let turn = (hue + offset).truncatingRemainder(dividingBy: 1) + 1
            let k = (turn * 6).truncatingRemainder(dividingBy: 6)
            return value * (1 - saturation * max(0, min(1, min(k, 4 - k))))
        }
        return (channel(5.0 / 6), channel(3.0 / 6), channel(1.0 / 6))
    }

    /// A two-colour linear gradient in a random direction.
    mutating func paintBackground(_ base: Colour, using rng: inout RandomGenerator) {
        let angle = Float(2 * Double.pi * rng.nextUniform())
        let strength = Float(0.25 * rng.nextUniform())
        let (dx, dy) = (cos(angle) * strength / 32, sin(angle) * strength / 32)
        for y in 0..<Canvas.side {
            for x in 0..<Canvas.side {
                let shift = dx * Float(x - 16) + dy * Float(y - 16)
                let i = y * Canvas.side + x
                red[i] = base.0 + shift
                green[i] = base.1 + shift
                blue[i] = base.2 - shift
            }
        }
    }

    /// A soft blob of another colour somewhere, so that colour at a place is no giveaway.
    mutating func paintDistractor(using rng: inout RandomGenerator) {
        let colour = (Float(rng.nextUniform()), Float(rng.nextUniform()), Float(rng.nextUniform()))
        let cx = Float(32 * rng.nextUniform()), cy = Float(32 * rng.nextUniform())
        let radius = Float(3 + 5 * rng.nextUniform())
        let opacity = Float(0.3 + 0.4 * rng.nextUniform())
        paint(colour) { x, y in
            let distance = ((x - cx) * (x - cx) + (y - cy) * (y - cy)).squareRoot()
            return opacity * min(1, max(0, (radius - distance) / radius * 2))
        }
    }

    /// Blends `colour` over the canvas with per-pixel weight `coverage(x, y)` at pixel centres.
    mutating func paint(_ colour: Colour, coverage: (Float, Float) -> Float) {
        for y in 0..<Canvas.side {
            for x in 0..<Canvas.side {
                let weight = coverage(Float(x) + 0.5, Float(y) + 0.5)
                guard weight > 0 else { continue }
                let i = y * Canvas.side + x
                red[i] += (colour.0 - red[i]) * weight
                green[i] += (colour.1 - green[i]) * weight
                blue[i] += (colour.2 - blue[i]) * weight
            }
        }
    }

    /// Approximately Gaussian noise (a sum of three uniforms), cheap enough for thousands of images.
    mutating func addNoise(sigma: Float, using rng: inout RandomGenerator) {
        let scale = sigma * 2
        for i in 0..<1024 {
            let bits = rng.next()
            func part(_ shift: UInt64) -> Float { Float((bits >> shift) & 0xFFFF) / 65536 }
            let r = rng.next()
            func other(_ shift: UInt64) -> Float { Float((r >> shift) & 0xFFFF) / 65536 }
            red[i] += scale * (part(0) + part(16) + part(32) - 1.5)
            green[i] += scale * (part(48) + other(0) + other(16) - 1.5)
            blue[i] += scale * (other(32) + other(48) + part(8) - 1.5)
        }
    }

    /// Writes the picture as CHW bytes.
    func store(into target: UnsafeMutablePointer<UInt8>) {
        for (plane, values) in [red, green, blue].enumerated() {
            for i in 0..<1024 {
                target[plane * 1024 + i] = UInt8(max(0, min(255, (values[i] * 255).rounded())))
            }
        }
    }
}
