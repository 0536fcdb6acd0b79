import CS231nData
import CS231nTensor

/// Pictures of a t-SNE map: points coloured by class, and the images themselves on a grid.
extension TSNE {
    /// The map (N, 2) as a scatter plot with one colour per class and a legend.
    public static func scatterPlot(_ embedding: Tensor<Float>, labels: [Int], classNames: [String], title: String) throws -> SVGPlot {
        let n = embedding.shape.first ?? 0
        guard embedding.shape == [n, 2], labels.count == n else {
            throw TensorError.shapeMismatch(operation: "TSNE.scatterPlot",
                detail: "a map of \(describeShape(embedding.shape)) with \(labels.count) labels; expected (N, 2) and N labels")
        }
        var plot = SVGPlot(title: title, xLabel: "t-SNE 1", yLabel: "t-SNE 2")
        plot.width = 760
        plot.height = 600
        let xs = (0..<n).map { Double(embedding[$0, 0]) }, ys = (0..<n).map { Double(embedding[$0, 1]) }
        if let low = xs.min(), let high = xs.max() {
            // Room on the right for the legend.
            plot.xRange = (low - 0.03 * (high - low))...(high + 0.3 * (high - low) + 1e-9)
        }
        for label in Set(labels).sorted() {
            let members = labels.indices.filter { labels[$0] == label }
            plot.add(.init(name: classNames.indices.contains(label) ? classNames[label] : "class \(label)",
                           x: members.map { xs[$0] }, y: members.map { ys[$0] }, style: .markers,
                           color: SVGPlot.palette[label % SVGPlot.palette.count]))
        }
        return plot
    }

    /// A cell of a side × side grid for each point (side = ⌈√N⌉ unless given, cells numbered
    /// row by row, top row first): the map is stretched over the grid and the points, in index
    /// order, each take the free cell nearest their place (ties: the smaller cell).
    public static func gridCells(_ embedding: Tensor<Float>, side: Int? = nil) throws -> (side: Int, cells: [Int]) {
        let n = embedding.shape.first ?? 0
        let side = side ?? Int(Double(n).squareRoot().rounded(.up))
        guard embedding.shape == [n, 2], side * side >= n else {
            throw TensorError.invalidArgument(operation: "TSNE.gridCells",
                detail: "\(describeShape(embedding.shape)) points (N, 2) for a \(side)×\(side) grid")
        }
        func stretched(_ axis: Int) -> [Double] {
            let values = (0..<n).map { Double(embedding[$0, axis]) }
            let (low, high) = (values.min() ?? 0, values.max() ?? 0)
            return values.map { high > low ? ($0 - low) / (high - low) * Double(side - 1) : Double(side - 1) / 2 }
        }
        // The map's y grows upwards; the picture's rows downwards.
        let columns = stretched(0), rows = stretched(1).map { Double(side - 1) - $0 }
        var free = [Bool](repeating: true, count: side * side), cells: [Int] = []
        for i in 0..<n {
            var best = -1, bestDistance = Double.infinity
            for cell in 0..<(side * side) where free[cell] {
                let dy = Double(cell / side) - rows[i], dx = Double(cell % side) - columns[i]
                let distance = dx * dx + dy * dy
                if distance < bestDistance { (best, bestDistance) = (cell, distance) }
            }
            free[best] = false
            cells.append(best)
        }
        return (side, cells)
    }

    /// Every image at its grid cell (`gridCells`), tiles of `tileSize` pixels (box-averaged down
    /// from the images), empty cells white. `tiles` holds C·H·W values in 0…1 per image.
    public static func imageGrid(_ embedding: Tensor<Float>, tiles: [[Float]], imageShape: [Int], tileSize: Int) throws -> PNGImage {
        let (side, cells) = try gridCells(embedding)
        let (channels, height, width) = (imageShape[0], imageShape[1], imageShape[2])
        guard tiles.count == cells.count, (1...Swift.min(height, width)).contains(tileSize) else {
            throw TensorError.invalidArgument(operation: "TSNE.imageGrid",
                detail: "\(tiles.count) images for \(cells.count) points, tile size \(tileSize) (1...\(Swift.min(height, width)))")
        }
        let tilePlane = tileSize * tileSize
        var values = [Float](repeating: 1, count: side * side * channels * tilePlane)
        for (image, cell) in zip(tiles, cells) {
            for c in 0..<channels {
                for y in 0..<tileSize {
                    for x in 0..<tileSize {
                        let rows = (y * height / tileSize)..<((y + 1) * height / tileSize)
                        let columns = (x * width / tileSize)..<((x + 1) * width / tileSize)
                        let sum = rows.reduce(Float(0)) { total, r in columns.reduce(total) { $0 + image[(c * height + r) * width + $1] } }
                        values[((cell * channels + c) * tileSize + y) * tileSize + x] = sum / Float(rows.count * columns.count)
                    }
                }
            }
        }
        var grid = ImageGrid(columns: side, scale: 1, scaling: .fixed(min: 0, max: 1))
        grid.padding = 0
        return try grid.render(Tensor(shape: [side * side, channels, tileSize, tileSize], scalars: values))
    }
}
