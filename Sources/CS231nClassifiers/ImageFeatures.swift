import CS231nData
import Foundation

/// Hand-made image features from assignment 1's features notebook: a histogram of oriented
/// gradients for texture and shape, and a hue histogram for colour, concatenated per image.
public enum ImageFeature: String, Sendable, CaseIterable {
    case hog
    case color

    /// "hog+color" → [.hog, .color]. Throws on an unknown name.
    public static func parseList(_ text: String) throws -> [ImageFeature] {
        let kinds = try text.split(separator: "+").map { name in
            guard let kind = ImageFeature(rawValue: name.lowercased()) else {
                throw LinearClassifierError.invalidSetting(
                    "unknown feature '\(name)' in '\(text)'; expected hog, color or hog+color")
            }
            return kind
        }
        guard !kinds.isEmpty else { throw LinearClassifierError.invalidSetting("no features named in '\(text)'") }
        return kinds
    }
}

/// Extracts the chosen features for whole image sets, in parallel over the images.
public struct FeatureExtractor: Sendable {
    public var kinds: [ImageFeature]
    public var hueBins: Int

    public init(_ kinds: [ImageFeature] = [.hog, .color], hueBins: Int = 10) {
        self.kinds = kinds
        self.hueBins = hueBins
    }

    /// Features per image, the kinds in order: HOG gives 4·4·9 = 144 on 32×32 images.
    public var dimension: Int {
        kinds.reduce(0) { total, kind in
            total + (kind == .hog
                ? HOG.featureCount(height: LabeledImages.height, width: LabeledImages.width)
                : hueBins)
        }
    }

    /// An N × `dimension` matrix, row i the features of image i. The same numbers whatever the
    /// thread count: each image is computed alone.
    public func extract<S: TensorScalar>(_ images: LabeledImages, as _: S.Type = S.self) -> Tensor<S> {
        let (height, width) = (LabeledImages.height, LabeledImages.width)
        let dimension = self.dimension, kinds = self.kinds, hueBins = self.hueBins
        var features = Tensor<S>(uninitializedShape: [images.count, dimension])
        images.pixels.withUnsafeBufferPointer { pixels in
            let source = SendableConstPointer(pixels.baseAddress!)
            features.withUnsafeMutableBufferPointer { output in
                let target = SendablePointer(output.baseAddress!)
                Parallel.forEachChunk(images.count, minimumChunk: 64) { range in
                    var gray = [Float](repeating: 0, count: height * width)
                    var row = [Float](repeating: 0, count: dimension)
                    for image in range {
                        let rgb = UnsafeBufferPointer(start: source.base + image * LabeledImages.imageSize,
                                                      count: LabeledImages.imageSize)
                        var offset = 0
                        for kind in kinds {
                            switch kind {
                            case .hog:
                                HOG.grayscale(rgb, pixels: height * width, into: &gray)
                                let count = HOG.featureCount(height: height, width: width)
                                row.withUnsafeMutableBufferPointer {
                                    HOG.features(gray: gray, height: height, width: width,
                                                 into: UnsafeMutableBufferPointer(rebasing: $0[offset..<offset + count]))
                                }
                                offset += count
                            case .color:
                                row.withUnsafeMutableBufferPointer {
                                    HueHistogram.features(rgb, pixels: height * width, bins: hueBins,
                                                          into: UnsafeMutableBufferPointer(rebasing: $0[offset..<offset + hueBins]))
                                }
                                offset += hueBins
                            }
                        }
                        let out = target.base + image * dimension
                        for k in 0..<dimension { out[k] = S(row[k]) }
                    }
                }
            }
        }
        return features
    }
}

/// Histogram of oriented gradients as in the course's `hog_feature`: forward-difference
/// gradients of the gray image, 9 orientation bins over 0°–180°, and per 8×8 cell the mean
/// gradient magnitude falling in each bin. The layout is (cell row, cell column, bin).
///
/// One deliberate difference: orientations are folded into [0°, 180°) (unsigned gradients, as
/// in Dalal & Triggs). The course code computes arctan2 + 90° over (−90°, 270°] and silently
/// drops every gradient outside [0°, 180°), about half of them.
public enum HOG {
    public static let orientations = 9
    public static let cellSize = 8

    public static func featureCount(height: Int, width: Int) -> Int {
        (height / cellSize) * (width / cellSize) * orientations
    }

    /// ITU-R 601 luma of a CHW RGB image. (The course's `rgb2gray` has 0.144 for blue, a typo.)
    static func grayscale(_ rgb: UnsafeBufferPointer<UInt8>, pixels: Int, into gray: inout [Float]) {
        for p in 0..<pixels {
            gray[p] = 0.299 * Float(rgb[p]) + 0.587 * Float(rgb[pixels + p]) + 0.114 * Float(rgb[2 * pixels + p])
        }
    }

    /// The HOG of a height×width gray image given row by row.
    public static func features(gray: [Float], height: Int, width: Int) -> [Float] {
        precondition(gray.count == height * width, "HOG: \(gray.count) pixels for a \(height)×\(width) image")
        var result = [Float](repeating: 0, count: featureCount(height: height, width: width))
        result.withUnsafeMutableBufferPointer { features(gray: gray, height: height, width: width, into: $0) }
        return result
    }

    static func features(gray: [Float], height: Int, width: Int, into histogram: UnsafeMutableBufferPointer<Float>) {
        let cellsAcross = width / cellSize, cellsDown = height / cellSize
        let binWidth = Float(180) / Float(orientations)
        let perPixel = 1 / Float(cellSize * cellSize)
        for k in 0..<histogram.count { histogram[k] = 0 }
        for y in 0..<cellsDown * cellSize {
            for x in 0..<cellsAcross * cellSize {
                let here = gray[y * width + x]
                let gx = x + 1 < width ? gray[y * width + x + 1] - here : 0
                let gy = y + 1 < height ? gray[(y + 1) * width + x] - here : 0
                let magnitude = (gx * gx + gy * gy).squareRoot()
                guard magnitude > 0 else { continue }
                // atan2 gives (−180°, 180°]; opposite directions share a bin.
                var degrees = atan2f(gy, gx) * (180 / Float.pi)
                if degrees < 0 { degrees += 180 }
                if degrees >= 180 { degrees -= 180 }
                let bin = Swift.min(orientations - 1, Int(degrees / binWidth))
                let cell = (y / cellSize) * cellsAcross + x / cellSize
                histogram[cell * orientations + bin] += magnitude * perPixel
            }
        }
    }
}

/// The course's `color_histogram_hsv`: the hue of every pixel (HSV, as matplotlib's
/// `rgb_to_hsv`, gray pixels having hue 0) in `bins` equal bins over [0, 1), as fractions of the
/// pixels.
public enum HueHistogram {
    /// Hue in [0, 1) of an RGB colour with components in 0...1.
    public static func hue(red r: Float, green g: Float, blue b: Float) -> Float {
        let highest = Swift.max(r, g, b), delta = highest - Swift.min(r, g, b)
        guard delta > 0 else { return 0 }
        // matplotlib's precedence on ties: blue, then green, then red.
        let sixths: Float
        if b == highest {
            sixths = 4 + (r - g) / delta
        } else if g == highest {
            sixths = 2 + (b - r) / delta
        } else {
            sixths = (g - b) / delta
        }
        let turn = sixths / 6
        return turn < 0 ? turn + 1 : turn
    }

    /// The histogram of a CHW RGB image of `pixels` pixels.
    public static func features(_ rgb: [UInt8], pixels: Int, bins: Int = 10) -> [Float] {
        precondition(rgb.count == 3 * pixels, "HueHistogram: \(rgb.count) bytes for \(pixels) RGB pixels")
        var result = [Float](repeating: 0, count: bins)
        rgb.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { features(source, pixels: pixels, bins: bins, into: $0) }
        }
        return result
    }

    static func features(_ rgb: UnsafeBufferPointer<UInt8>, pixels: Int, bins: Int,
                         into histogram: UnsafeMutableBufferPointer<Float>) {
        for k in 0..<bins { histogram[k] = 0 }
        let share = 1 / Float(pixels)
        for p in 0..<pixels {
            let h = hue(red: Float(rgb[p]) / 255, green: Float(rgb[pixels + p]) / 255,
                        blue: Float(rgb[2 * pixels + p]) / 255)
            histogram[Swift.min(bins - 1, Int(h * Float(bins)))] += share
        }
    }
}
