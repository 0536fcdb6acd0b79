import CS231nTensor

/// How tile values become 0...255 bytes.
public enum PixelScaling: Sendable, Equatable {
    /// Each tile stretched from its own minimum to its maximum (templates, filters, saliency).
    case perImage
    /// One stretch for all tiles, so their brightness can be compared.
    case global
    /// Values in the range map linearly onto 0...255, clamping outside it (raw pixels: 0...255).
    case fixed(min: Double, max: Double)
}

/// Lays images out in a grid with padding, nearest-neighbour upscaling and optional labels:
/// a label to the left of each row, a caption under each tile, a title on top.
public struct ImageGrid: Sendable {
    public var columns: Int
    public var padding = 2
    public var scale = 1
    public var scaling = PixelScaling.perImage
    public var background = RGB.white
    public var textColour = RGB.black
    public var rowLabels: [String]?
    public var captions: [String]?
    public var title: String?

    public init(columns: Int, scale: Int = 1, scaling: PixelScaling = .perImage) {
        self.columns = columns
        self.scale = scale
        self.scaling = scaling
    }

    var textScale: Int { scale >= 3 ? 2 : 1 }

    /// Renders (N, C, H, W) images with C = 1 (gray) or 3 (RGB), or (N, H, W) gray images,
    /// filling rows left to right. The picture is gray when the images are.
    public func render<S: TensorScalar>(_ images: Tensor<S>) throws -> PNGImage {
        let shape = images.shape
        guard (shape.count == 4 && (shape[1] == 1 || shape[1] == 3)) || shape.count == 3,
              shape[0] > 0, shape[shape.count - 1] > 0, shape[shape.count - 2] > 0 else {
            throw TensorError.invalidArgument(operation: "ImageGrid.render",
                detail: "expected (N, 1 or 3, H, W) or (N, H, W) images, got \(describeShape(shape))")
        }
        guard columns > 0, scale > 0, padding >= 0 else {
            throw TensorError.invalidArgument(operation: "ImageGrid.render",
                detail: "columns and scale must be positive and padding not negative")
        }
        let count = shape[0], channels = shape.count == 4 ? shape[1] : 1
        let height = shape[shape.count - 2], width = shape[shape.count - 1]
        let rows = (count + columns - 1) / columns
        if let rowLabels, rowLabels.count != rows {
            throw TensorError.invalidArgument(operation: "ImageGrid.render",
                detail: "\(rowLabels.count) row labels for \(rows) rows")
        }
        if let captions, captions.count != count {
            throw TensorError.invalidArgument(operation: "ImageGrid.render",
                detail: "\(captions.count) captions for \(count) images")
        }
        let layout = Layout(grid: self, columns: min(columns, count), rows: rows,
                            tileWidth: width * scale, tileHeight: height * scale)
        var picture = PNGImage(width: layout.width, height: layout.height,
                               colorType: channels == 1 ? .gray : .rgb, fill: background)
        let bytes = tileBytes(images, count: count, planeSize: channels * height * width)
        for index in 0..<count {
            let (left, top) = layout.tileOrigin(index)
            for y in 0..<(height * scale) {
                for x in 0..<(width * scale) {
                    let source = index * channels * height * width + (y / scale) * width + x / scale
                    let red = bytes[source]
                    let colour = channels == 1 ? RGB(red, red, red)
                        : RGB(red, bytes[source + height * width], bytes[source + 2 * height * width])
                    picture.set(x: left + x, y: top + y, colour)
                }
            }
            if let captions {
                BitmapFont.draw(captions[index], into: &picture, x: left,
                                y: top + height * scale + 2, scale: textScale, colour: textColour)
            }
        }
        if let rowLabels {
            for (row, label) in rowLabels.enumerated() {
                let top = layout.tileOrigin(row * columns).1
                BitmapFont.draw(label, into: &picture, x: padding,
                                y: top + (height * scale - BitmapFont.height(scale: textScale)) / 2,
                                scale: textScale, colour: textColour)
            }
        }
        if let title {
            BitmapFont.draw(title, into: &picture, x: padding, y: padding, scale: textScale, colour: textColour)
        }
        return picture
    }

    /// The tiles' values mapped to bytes per `scaling` (non-finite values become 0).
    func tileBytes<S: TensorScalar>(_ images: Tensor<S>, count: Int, planeSize: Int) -> [UInt8] {
        let values = images.scalars.map { $0.isFinite ? Double($0) : 0 }
        var bytes = [UInt8](repeating: 0, count: values.count)
        func stretch(_ range: Range<Int>, low: Double, high: Double) {
            let span = high - low
            for i in range {
                let unit = span > 0 ? (values[i] - low) / span : 0.5
                bytes[i] = UInt8((min(1, max(0, unit)) * 255).rounded())
            }
        }
        switch scaling {
        case .fixed(let low, let high):
            stretch(0..<values.count, low: low, high: high)
        case .global:
            stretch(0..<values.count, low: values.min() ?? 0, high: values.max() ?? 1)
        case .perImage:
            for index in 0..<count {
                let range = (index * planeSize)..<((index + 1) * planeSize)
                let tile = values[range]
                stretch(range, low: tile.min() ?? 0, high: tile.max() ?? 1)
            }
        }
        return bytes
    }

    /// Where tiles and labels go.
    struct Layout {
        let labelWidth, titleHeight, captionHeight: Int
        let columns, tileWidth, tileHeight, padding: Int
        let width, height: Int

        init(grid: ImageGrid, columns: Int, rows: Int, tileWidth: Int, tileHeight: Int) {
            let textHeight = BitmapFont.height(scale: grid.textScale)
            labelWidth = (grid.rowLabels?.map { BitmapFont.width($0, scale: grid.textScale) }.max() ?? -grid.padding)
                + grid.padding
            titleHeight = grid.title == nil ? 0 : textHeight + grid.padding
            let widestCaption = grid.captions?.map { BitmapFont.width($0, scale: grid.textScale) }.max() ?? 0
            captionHeight = grid.captions == nil ? 0 : textHeight + 3
            self.tileWidth = max(tileWidth, widestCaption)
            self.tileHeight = tileHeight
            padding = grid.padding
            self.columns = columns
            width = labelWidth + columns * (self.tileWidth + padding) + padding
            height = titleHeight + rows * (tileHeight + captionHeight + padding) + padding
        }

        func tileOrigin(_ index: Int) -> (Int, Int) {
            let row = index / columns, column = index % columns
            return (labelWidth + padding + column * (tileWidth + padding),
                    titleHeight + padding + row * (tileHeight + captionHeight + padding))
        }
    }
}

extension LabeledImages {
    /// `perClass` images of each class (a row each), drawn without replacement with `seed`, and
    /// the class names as row labels: CS231n's first figure. Classes with fewer images repeat none
    /// and leave their row short.
    public func classSampleGrid(perClass: Int, seed: UInt64, scale: Int = 2) throws -> PNGImage {
        guard perClass > 0 else {
            throw TensorError.invalidArgument(operation: "classSampleGrid", detail: "perClass must be positive")
        }
        var rng = RandomGenerator(seed: seed, stream: .dataset)
        var tiles = [Int]()
        for label in classNames.indices {
            let members = labels.indices.filter { labels[$0] == label }
            let picks = rng.sampleWithoutReplacement(count: min(perClass, members.count), from: members.count)
            tiles += picks.map { members[$0] }
            tiles += [Int](repeating: -1, count: perClass - picks.count)
        }
        var pixels = [UInt8](repeating: 255, count: tiles.count * LabeledImages.imageSize)
        for (slot, index) in tiles.enumerated() where index >= 0 {
            pixels.replaceSubrange(slot * LabeledImages.imageSize..<((slot + 1) * LabeledImages.imageSize),
                                   with: imageBytes(index))
        }
        let images = try Tensor<Float>(shape: [tiles.count, 3, 32, 32], scalars: pixels.map { Float($0) })
        var grid = ImageGrid(columns: perClass, scale: scale, scaling: .fixed(min: 0, max: 255))
        grid.rowLabels = classNames
        return try grid.render(images)
    }
}
