import CS231nTensor
import Foundation

/// One drawable figure of the built-in dataset with its random placement. `coverage` turns a
/// signed distance (negative inside, in pixels) into an anti-aliased weight in 0...1.
struct Shape {
    enum Kind: Int { case disc, ring, square, triangle, plus, stroke, hStripes, vStripes, checker, dots }

    let kind: Kind
    let centreX: Float, centreY: Float
    let cosine: Float, sine: Float
    /// Radius, half-side, arm or segment half-length, texture window radius: the figure's scale.
    let size: Float
    /// Line half-thickness, or dot radius.
    let thickness: Float
    /// Texture period in pixels and its phase (in periods) along each axis.
    let period: Float, phaseX: Float, phaseY: Float

    static func random(class label: Int, using rng: inout RandomGenerator) -> Shape {
        func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * Float(rng.nextUniform()) }
        let kind = Kind(rawValue: label)!
        let isTexture = label >= Kind.hStripes.rawValue
        let angle: Float
        switch kind {
        case .plus, .hStripes, .vStripes, .checker: angle = uniform(-0.25, 0.25)
        default: angle = uniform(0, 2 * .pi)
        }
        let size: Float
        switch kind {
        case .disc: size = uniform(4.5, 11)
        case .ring: size = uniform(6, 12)
        case .square: size = uniform(4.5, 9.5)
        case .triangle: size = uniform(3.5, 6.5)
        case .plus: size = uniform(6, 12)
        case .stroke: size = uniform(7, 15)
        default: size = uniform(10, 24)
        }
        let thickness: Float = kind == .dots ? uniform(1.2, 2.2) : uniform(1.1, 2.4)
        return Shape(kind: kind, centreX: 16 + uniform(-6, 6), centreY: 16 + uniform(-6, 6),
                     cosine: cos(angle), sine: sin(angle), size: size, thickness: thickness,
                     period: isTexture ? uniform(kind == .dots ? 5.5 : 4.5, 9.5) : 1,
                     phaseX: uniform(0, 1), phaseY: uniform(0, 1))
    }

    func coverage(_ x: Float, _ y: Float) -> Float {
        let dx = x - centreX, dy = y - centreY
        // Coordinates in the figure's own frame (rotated by -angle).
        let u = cosine * dx + sine * dy, v = -sine * dx + cosine * dy
        let radius = (dx * dx + dy * dy).squareRoot()
        let distance: Float
        switch kind {
        case .disc: distance = radius - size
        case .ring: distance = abs(radius - size) - thickness
        case .square: distance = max(abs(u), abs(v)) - size
        case .triangle: distance = Shape.triangleDistance(u, v, inradius: size)
        case .plus:
            distance = min(Shape.boxDistance(u, v, size, thickness), Shape.boxDistance(u, v, thickness, size))
        case .stroke: distance = Shape.boxDistance(u, v, size, thickness)
        case .hStripes, .vStripes, .checker, .dots:
            let window = Shape.weight(radius - size)
            return window == 0 ? 0 : window * Shape.weight(textureDistance(u, v))
        }
        return Shape.weight(distance)
    }

    func textureDistance(_ u: Float, _ v: Float) -> Float {
        let fu = fraction(u / period + phaseX), fv = fraction(v / period + phaseY)
        switch kind {
        case .hStripes: return (abs(fv - 0.5) - 0.25) * period
        case .vStripes: return (abs(fu - 0.5) - 0.25) * period
        case .checker:
            let edge = min(Shape.edgeDistance(fu), Shape.edgeDistance(fv)) * period
            return (fu < 0.5) == (fv < 0.5) ? -edge : edge
        default:
            let cu = fu - 0.5, cv = fv - 0.5
            return (cu * cu + cv * cv).squareRoot() * period - thickness
        }
    }

    func fraction(_ value: Float) -> Float { value - value.rounded(.down) }

    /// Distance from a fraction of a period to the nearest square edge (at 0, 0.5 and 1).
    static func edgeDistance(_ f: Float) -> Float { min(f, abs(f - 0.5), 1 - f) }

    static func weight(_ distance: Float) -> Float { min(1, max(0, 0.5 - distance)) }

    static func boxDistance(_ u: Float, _ v: Float, _ halfWidth: Float, _ halfHeight: Float) -> Float {
        max(abs(u) - halfWidth, abs(v) - halfHeight)
    }

    /// An equilateral triangle: the largest distance past its three edges (normals 120° apart).
    static func triangleDistance(_ u: Float, _ v: Float, inradius: Float) -> Float {
        let half: Float = 0.5, root: Float = 0.866_025_4
        return max(v, -half * v + root * u, -half * v - root * u) - inradius
    }
}
