import CS231nData

/// A linear classifier's weights seen as images: one column of W per class, its 3072 pixel
/// weights laid out like the input image, is the template the class's score matches against.
public enum ClassTemplates {
    /// The C class templates as 3×32×32 images, from D×C weights with D = 3072, or 3073 when the
    /// last row is the bias (dropped). All templates share one rescaling of [min W, max W] to
    /// 0…255, as in the course, so their contrasts compare.
    public static func images<S: TensorScalar>(weights: Tensor<S>, classNames: [String]) throws -> LabeledImages {
        let size = LabeledImages.imageSize
        guard weights.rank == 2, weights.shape[0] == size || weights.shape[0] == size + 1 else {
            throw LinearClassifierError.shapeMismatch(
                "class templates need weights on raw pixels, \(size)×C or \(size + 1)×C with the bias row; "
                + "got \(describeShape(weights.shape))")
        }
        let classes = weights.shape[1]
        guard classNames.count == classes else {
            throw LinearClassifierError.shapeMismatch("class templates: \(classNames.count) names for \(classes) classes")
        }
        var pixels = [UInt8](repeating: 0, count: classes * size)
        weights.withUnsafeBufferPointer { w in
            let pixelWeights = UnsafeBufferPointer(rebasing: w[0..<size * classes])
            let lowest = pixelWeights.min() ?? 0, highest = pixelWeights.max() ?? 0
            let scale = highest > lowest ? 255 / Double(highest - lowest) : 0
            for d in 0..<size {
                for c in 0..<classes {
                    let level = Double(pixelWeights[d * classes + c] - lowest) * scale
                    pixels[c * size + d] = UInt8(Swift.max(0, Swift.min(255, level.rounded())))
                }
            }
        }
        return LabeledImages(pixels: pixels, labels: Array(0..<classes), classNames: classNames)
    }

    /// The templates as one picture, `columns` tiles to a row, each upscaled `scale` times and
    /// captioned with its class name.
    public static func picture<S: TensorScalar>(weights: Tensor<S>, classNames: [String], columns: Int = 5,
                                                scale: Int = 4) throws -> PNGImage {
        let templates = try images(weights: weights, classNames: classNames)
        var grid = ImageGrid(columns: columns, scale: scale, scaling: .fixed(min: 0, max: 255))
        grid.captions = classNames
        return try grid.render(templates.images(Float.self))
    }
}
