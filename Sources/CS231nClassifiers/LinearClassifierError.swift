import CS231nTensor

/// What went wrong in a linear classifier, its features or its saved model, named precisely
/// enough to find the cause (shapes, the offending row, the file and offset).
public enum LinearClassifierError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(String)
    case labelOutOfRange(row: Int, label: Int, classes: Int)
    case invalidSetting(String)
    case untrained(String)
    case badModelFile(path: String, detail: String)

    public var description: String {
        switch self {
        case .shapeMismatch(let detail): return detail
        case .labelOutOfRange(let row, let label, let classes):
            return "label \(label) of row \(row) is outside 0..<\(classes) (the weights have \(classes) classes)"
        case .invalidSetting(let detail): return detail
        case .untrained(let operation): return "\(operation): the classifier has no weights yet; train it or load a model first"
        case .badModelFile(let path, let detail): return "\(path): \(detail)"
        }
    }
}

/// Checks that (W: D×C, X: N×D, y: N labels in 0..<C) fit together and returns (N, D, C).
func linearProblemDimensions<S: TensorScalar>(
    weights: Tensor<S>, inputs: Tensor<S>, labels: [Int], operation: String
) throws -> (rows: Int, dimension: Int, classes: Int) {
    guard weights.rank == 2, weights.shape[0] > 0, weights.shape[1] > 0 else {
        throw LinearClassifierError.shapeMismatch(
            "\(operation): weights must be D×C with D, C ≥ 1, got \(describeShape(weights.shape))")
    }
    guard inputs.rank == 2, inputs.shape[1] == weights.shape[0] else {
        throw LinearClassifierError.shapeMismatch(
            "\(operation): inputs \(describeShape(inputs.shape)) do not match weights \(describeShape(weights.shape)): "
            + "expected N×\(weights.shape[0])")
    }
    guard labels.count == inputs.shape[0] else {
        throw LinearClassifierError.shapeMismatch(
            "\(operation): \(labels.count) labels for \(inputs.shape[0]) input rows")
    }
    let classes = weights.shape[1]
    if let row = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
        throw LinearClassifierError.labelOutOfRange(row: row, label: labels[row], classes: classes)
    }
    return (inputs.shape[0], weights.shape[0], classes)
}
