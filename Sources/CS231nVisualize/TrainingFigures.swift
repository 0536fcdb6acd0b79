import CS231nData
import CS231nOptim
import Foundation

/// The figures of a training run: loss and accuracy curves from a `SolverHistory`, the first
/// layer's weights as images (CS231n's `show_net_weights` and its conv filters), and a
/// confusion matrix.
public enum TrainingFigures {
    /// The loss of every iteration against the epoch, with each epoch's mean.
    public static func lossPlot(_ history: SolverHistory, stepsPerEpoch: Int) -> SVGPlot {
        var plot = SVGPlot(title: "Training loss", xLabel: "epoch", yLabel: "loss")
        let steps = Double(Swift.max(1, stepsPerEpoch))
        plot.add(.init(name: "loss per iteration", x: history.loss.indices.map { Double($0 + 1) / steps },
                       y: history.loss, style: .line, color: "#9ecae1"))
        let epochs = history.loss.count / Swift.max(1, stepsPerEpoch)
        if epochs > 0 {
            let means = (0..<epochs).map { e in history.loss[(e * stepsPerEpoch)..<((e + 1) * stepsPerEpoch)].reduce(0, +) / steps }
            plot.add(.init(name: "epoch mean", x: (1...epochs).map(Double.init), y: means, style: .lineAndMarkers, color: "#1f77b4"))
        }
        return plot
    }

    /// The loss of every iteration of a minibatch SGD run, as the notebook plots it, with a
    /// 50-iteration moving average to show the trend through the minibatch noise.
    public static func iterationLossPlot(_ history: [Double], title: String) -> SVGPlot {
        var plot = SVGPlot(title: title, xLabel: "iteration", yLabel: "loss")
        let iterations = history.indices.map(Double.init)
        plot.add(.init(name: "minibatch loss", x: iterations, y: history, style: .line, color: "#9ecae1"))
        let window = 50
        guard history.count > window else { return plot }
        var sum = history[0..<window].reduce(0, +), average: [Double] = [sum / Double(window)]
        for i in window..<history.count {
            sum += history[i] - history[i - window]
            average.append(sum / Double(window))
        }
        plot.add(.init(name: "mean of the last \(window)", x: Array(iterations[(window - 1)...]), y: average,
                       style: .line, color: SVGPlot.palette[0]))
        return plot
    }

    /// Train and val accuracy after each epoch.
    public static func accuracyPlot(_ history: SolverHistory) -> SVGPlot {
        var plot = SVGPlot(title: "Classification accuracy", xLabel: "epoch", yLabel: "accuracy")
        let epochs = history.valAccuracy.indices.map { Double($0 + 1) }
        plot.add(.init(name: "train", x: epochs, y: history.trainAccuracy))
        plot.add(.init(name: "val", x: epochs, y: history.valAccuracy))
        return plot
    }

    /// The first `limit` columns of W1 (3072, H) as 32×32 colour images, each stretched to its
    /// own range; nil when the inputs are not CIFAR-sized images.
    public static func firstLayerWeights(_ w1: Tensor<Float>, limit: Int = 100) throws -> PNGImage? {
        guard w1.rank == 2, w1.shape[0] == LabeledImages.imageSize else { return nil }
        let shown = Swift.min(limit, w1.shape[1])
        let units = try w1.transposed().slice(0..<shown).reshaped([shown, 3, 32, 32])
        var grid = ImageGrid(columns: Swift.min(10, shown), scale: 2, scaling: .perImage)
        grid.title = "first-layer weights (\(shown) of \(w1.shape[1]) units)"
        return try grid.render(units)
    }

    /// A first convolution's filters (F, C, K, K) as a grid: RGB tiles for 3 input channels, grey
    /// for 1, each stretched to its own range, `scale` pixels per weight (default: 8, more for
    /// kernels under 6×6, so that a tile is at least 48 pixels). nil unless `w1` is such a tensor.
    public static func firstLayerFilters(_ w1: Tensor<Float>, scale: Int? = nil) throws -> PNGImage? {
        guard w1.rank == 4, [1, 3].contains(w1.shape[1]) else { return nil }
        let filters = w1.shape[0]
        let scale = scale ?? Swift.max(8, 48 / Swift.max(w1.shape[2], w1.shape[3]))
        var grid = ImageGrid(columns: Swift.min(filters, 8), scale: scale, scaling: .perImage)
        // The bitmap font has no ×, so the title spells the shape with x.
        grid.title = "first-layer filters: \(filters) of " + w1.shape.dropFirst().map(String.init).joined(separator: "x")
        return try grid.render(w1)
    }

    /// counts[true][predicted] as a grid of cells shaded by the row's fraction, with the count
    /// written in each cell; rows are true classes, columns predictions.
    public static func confusionMatrix(_ counts: [[Int]], classNames: [String], title: String) -> PNGImage {
        let classes = counts.count, cell = 36, textHeight = BitmapFont.height()
        let left = (classNames.map { BitmapFont.width($0) }.max() ?? 0) + 12
        let top = 2 * textHeight + 24, bottom = textHeight + 12
        let width = Swift.max(left + classes * cell + 8, BitmapFont.width(title) + 16)
        var image = PNGImage(width: width, height: top + classes * cell + bottom, colorType: .rgb, fill: .white)
        BitmapFont.draw(title, into: &image, x: 8, y: 6)
        for (column, name) in classNames.enumerated() {
            let short = String(name.prefix(5))
            BitmapFont.draw(short, into: &image, x: left + column * cell + (cell - BitmapFont.width(short)) / 2, y: top - textHeight - 6)
        }
        for (row, name) in classNames.enumerated() {
            BitmapFont.draw(name, into: &image, x: 6, y: top + row * cell + (cell - textHeight) / 2)
            let total = Swift.max(1, counts[row].reduce(0, +))
            for column in 0..<classes {
                let fraction = Double(counts[row][column]) / Double(total)
                // White to a deep blue as the fraction grows.
                let shade = RGB(UInt8(255 - 247 * fraction), UInt8(255 - 207 * fraction), UInt8(255 - 148 * fraction))
                for y in 1..<cell { for x in 1..<cell { image.set(x: left + column * cell + x, y: top + row * cell + y, shade) } }
                let text = String(counts[row][column])
                BitmapFont.draw(text, into: &image, x: left + column * cell + (cell - BitmapFont.width(text)) / 2,
                                y: top + row * cell + (cell - textHeight) / 2, colour: fraction > 0.5 ? .white : .black)
            }
        }
        BitmapFont.draw("rows: true class, columns: predicted", into: &image, x: left, y: top + classes * cell + 6)
        return image
    }
}
