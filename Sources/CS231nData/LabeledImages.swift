import CS231nTensor

/// A set of 32×32 colour images with integer labels, kept as bytes until a caller asks for
/// Float or Double. Each image is stored channel-major (all red, then green, then blue: CHW),
/// as in the CIFAR-10 binary files, in file order.
public struct LabeledImages: Sendable, Equatable {
    public static let channels = 3, height = 32, width = 32, imageSize = 3072

    /// `count × 3072` bytes, image after image.
    public var pixels: [UInt8]
    /// One label per image, in 0..<classNames.count.
    public var labels: [Int]
    /// The name of each label.
    public var classNames: [String]

    public var count: Int { labels.count }

    /// Images from raw CHW bytes. The counts must agree (a programming error otherwise).
    public init(pixels: [UInt8], labels: [Int], classNames: [String]) {
        precondition(pixels.count == labels.count * LabeledImages.imageSize,
                     "LabeledImages: \(pixels.count) pixel bytes for \(labels.count) images of \(LabeledImages.imageSize)")
        self.pixels = pixels
        self.labels = labels
        self.classNames = classNames
    }

    /// The images as an (N, 3072) tensor of raw 0...255 values, each row an image in CHW order.
    @inlinable
    public func rows<S: TensorScalar>(_: S.Type = S.self) -> Tensor<S> {
        var result = Tensor<S>(uninitializedShape: [count, LabeledImages.imageSize])
        convertPixels(into: &result)
        return result
    }

    /// The images as an (N, 3, 32, 32) tensor of raw 0...255 values.
    @inlinable
    public func images<S: TensorScalar>(_: S.Type = S.self) -> Tensor<S> {
        var result = Tensor<S>(uninitializedShape: [count, LabeledImages.channels,
                                                    LabeledImages.height, LabeledImages.width])
        convertPixels(into: &result)
        return result
    }

    @inlinable
    func convertPixels<S: TensorScalar>(into result: inout Tensor<S>) {
        pixels.withUnsafeBufferPointer { source in
            let input = SendableConstPointer(source.baseAddress!)
            result.withUnsafeMutableBufferPointer { target in
                let output = SendablePointer(target.baseAddress!)
                Parallel.forEachChunk(source.count, minimumChunk: 1 << 18) { range in
                    for i in range { output.base[i] = S(input.base[i]) }
                }
            }
        }
    }

    /// The images at `indices`, in that order (repeats allowed).
    public func subset(_ indices: [Int]) -> LabeledImages {
        let size = LabeledImages.imageSize
        var picked = [UInt8](repeating: 0, count: indices.count * size)
        picked.withUnsafeMutableBufferPointer { target in
            pixels.withUnsafeBufferPointer { source in
                for (row, index) in indices.enumerated() {
                    precondition(index >= 0 && index < count,
                                 "LabeledImages.subset: index \(index) out of range 0..<\(count)")
                    (target.baseAddress! + row * size)
                        .update(from: source.baseAddress! + index * size, count: size)
                }
            }
        }
        return LabeledImages(pixels: picked, labels: indices.map { labels[$0] }, classNames: classNames)
    }

    /// The contiguous images in `range`.
    public func slice(_ range: Range<Int>) -> LabeledImages {
        precondition(range.lowerBound >= 0 && range.upperBound <= count,
                     "LabeledImages.slice: range \(range) out of 0..<\(count)")
        let size = LabeledImages.imageSize
        return LabeledImages(pixels: Array(pixels[range.lowerBound * size..<range.upperBound * size]),
                             labels: Array(labels[range]), classNames: classNames)
    }

    /// The sets one after another (they must share class names).
    public static func concatenated(_ parts: [LabeledImages]) -> LabeledImages {
        guard let first = parts.first else { return LabeledImages(pixels: [], labels: [], classNames: []) }
        var pixels = [UInt8]()
        pixels.reserveCapacity(parts.reduce(0) { $0 + $1.pixels.count })
        var labels = [Int]()
        for part in parts {
            precondition(part.classNames == first.classNames,
                         "LabeledImages.concatenated: parts have different class names")
            pixels += part.pixels
            labels += part.labels
        }
        return LabeledImages(pixels: pixels, labels: labels, classNames: first.classNames)
    }

    /// How many images carry each label, indexed by label.
    public var labelCounts: [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for label in labels where label >= 0 && label < counts.count { counts[label] += 1 }
        return counts
    }

    /// The bytes of image `index` (CHW).
    public func imageBytes(_ index: Int) -> ArraySlice<UInt8> {
        pixels[index * LabeledImages.imageSize..<(index + 1) * LabeledImages.imageSize]
    }
}
