import CS231nData
import CS231nTensor

/// A matrix drawn as a grayscale picture, as `plt.imshow(dists)` shows a distance matrix:
/// black is the smallest value, white the largest.
public enum MatrixImage {
    /// One pixel per entry, or the mean of a block of entries where the matrix exceeds
    /// `maxWidth` × `maxHeight` (blocks of whole rows and columns, so the picture stays faithful).
    public static func grayscale(_ matrix: Tensor<Float>, maxWidth: Int = 1000, maxHeight: Int = 1000) throws -> PNGImage {
        guard matrix.rank == 2, matrix.shape[0] > 0, matrix.shape[1] > 0 else {
            throw TensorError.invalidArgument(operation: "MatrixImage.grayscale",
                                              detail: "needs a non-empty 2-D matrix, got \(describeShape(matrix.shape))")
        }
        guard maxWidth > 0, maxHeight > 0 else {
            throw TensorError.invalidArgument(operation: "MatrixImage.grayscale",
                                              detail: "picture size limits must be positive (got \(maxWidth)×\(maxHeight))")
        }
        let rows = matrix.shape[0], columns = matrix.shape[1]
        let rowBlock = (rows + maxHeight - 1) / maxHeight, columnBlock = (columns + maxWidth - 1) / maxWidth
        let height = (rows + rowBlock - 1) / rowBlock, width = (columns + columnBlock - 1) / columnBlock
        var means = [Double](repeating: 0, count: width * height)
        matrix.withUnsafeBufferPointer { values in
            for y in 0..<height {
                let rowRange = (y * rowBlock)..<Swift.min(rows, (y + 1) * rowBlock)
                for x in 0..<width {
                    let columnRange = (x * columnBlock)..<Swift.min(columns, (x + 1) * columnBlock)
                    var sum = 0.0, count = 0
                    for r in rowRange {
                        for c in columnRange where values[r * columns + c].isFinite {
                            sum += Double(values[r * columns + c]); count += 1
                        }
                    }
                    means[y * width + x] = count > 0 ? sum / Double(count) : .nan
                }
            }
        }
        let finite = means.filter(\.isFinite)
        let low = finite.min() ?? 0, high = finite.max() ?? 0
        let scale = high > low ? 255 / (high - low) : 0
        let pixels = means.map { value -> UInt8 in
            value.isFinite ? UInt8(((value - low) * scale).rounded().clamped(0, 255)) : 0
        }
        return PNGImage(width: width, height: height, colorType: .gray, pixels: pixels)
    }
}

private extension Double {
    func clamped(_ low: Double, _ high: Double) -> Double { Swift.min(high, Swift.max(low, self)) }
}
