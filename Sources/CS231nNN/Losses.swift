import Foundation

/// The classification losses as layers: scores (N, C) and labels in, the mean loss over the
/// batch and its gradient with respect to the scores out.
public enum SoftmaxLoss {
    /// How the rows' losses combine: their mean (gradient divided by N) or their sum.
    public enum Reduction: String, Sendable, Codable {
        case mean, sum
    }

    /// Cross-entropy of the softmax of each row against its label, averaged over the rows.
    @inlinable
    public static func forwardBackward<S>(_ scores: Tensor<S>, labels: [Int]) throws -> (loss: S, dx: Tensor<S>) {
        try forwardBackward(scores, labels: labels, smoothing: 0, reduction: .mean)
    }

    /// Cross-entropy against label-smoothed targets, as PyTorch's
    /// `CrossEntropyLoss(label_smoothing: ε, reduction:)`: the target is q = (1 − ε)·onehot(y) + ε/C,
    /// each row's loss −Σ_j q_j·log p_j, and dx = p − q per row (divided by N for the mean).
    @inlinable
    public static func forwardBackward<S>(_ scores: Tensor<S>, labels: [Int], smoothing: S,
                                          reduction: Reduction) throws -> (loss: S, dx: Tensor<S>) {
        let (n, classes) = try checkScores(scores, labels: labels, operation: "SoftmaxLoss")
        guard smoothing >= 0 && smoothing < 1 else {
            throw TensorError.invalidArgument(operation: "SoftmaxLoss",
                                              detail: "label smoothing \(smoothing) is not in [0, 1)")
        }
        let rows: S = reduction == .mean ? S(n) : 1
        let uniformTarget = smoothing / S(classes) / rows, labelTarget = (1 - smoothing) / rows
        let labelWeight = 1 - Double(smoothing), uniformWeight = Double(smoothing) / Double(classes)
        var dx = Tensor<S>(uninitializedShape: scores.shape)
        var total = 0.0
        scores.withUnsafeBufferPointer { x in
            dx.withUnsafeMutableBufferPointer { d in
                for row in 0..<n {
                    let line = x.baseAddress! + row * classes, grad = d.baseAddress! + row * classes
                    var largest = line[0]
                    for j in 1..<classes { largest = Swift.max(largest, line[j]) }
                    var sum: S = 0
                    for j in 0..<classes {
                        grad[j] = S.exp(line[j] - largest)
                        sum += grad[j]
                    }
                    // log p_j = (x_j − max) − log Σ exp(x_k − max), exact even when p_j underflows.
                    let logSum = Double(S.log(sum))
                    total -= labelWeight * (Double(line[labels[row]] - largest) - logSum)
                    if smoothing > 0 {
                        var shiftedSum = 0.0
                        for j in 0..<classes { shiftedSum += Double(line[j] - largest) }
                        total -= uniformWeight * (shiftedSum - Double(classes) * logSum)
                    }
                    let scale = 1 / (sum * rows)
                    for j in 0..<classes { grad[j] = grad[j] * scale - uniformTarget }
                    grad[labels[row]] -= labelTarget
                }
            }
        }
        return (S(reduction == .mean ? total / Double(n) : total), dx)
    }
}

/// The multiclass SVM (Weston–Watkins hinge): Σ_{j≠y} max(0, x_j − x_y + 1) per row.
public enum SVMLoss {
    @inlinable
    public static func forwardBackward<S>(_ scores: Tensor<S>, labels: [Int], margin: S = 1) throws
        -> (loss: S, dx: Tensor<S>) {
        let (n, classes) = try checkScores(scores, labels: labels, operation: "SVMLoss")
        var dx = Tensor<S>(shape: scores.shape, repeating: 0)
        var total = 0.0
        let inverseN = 1 / S(n)
        scores.withUnsafeBufferPointer { x in
            dx.withUnsafeMutableBufferPointer { d in
                for row in 0..<n {
                    let line = x.baseAddress! + row * classes, grad = d.baseAddress! + row * classes
                    let label = labels[row], correct = line[label]
                    var violations = 0
                    for j in 0..<classes where j != label {
                        let hinge = line[j] - correct + margin
                        if hinge > 0 {
                            total += Double(hinge)
                            grad[j] = inverseN
                            violations += 1
                        }
                    }
                    grad[label] = -S(violations) * inverseN
                }
            }
        }
        return (S(total / Double(n)), dx)
    }
}

/// (N, C) after checking that scores are 2-D, non-empty, and each label names a class.
@inlinable
func checkScores<S>(_ scores: Tensor<S>, labels: [Int], operation: String) throws -> (Int, Int) {
    guard scores.rank == 2, scores.shape[0] > 0, scores.shape[1] > 0 else {
        throw TensorError.invalidArgument(operation: operation,
                                          detail: "scores must be a non-empty (N×C) matrix, got \(describeShape(scores.shape))")
    }
    let (n, classes) = (scores.shape[0], scores.shape[1])
    guard labels.count == n else {
        throw TensorError.shapeMismatch(operation: operation,
                                        detail: "\(labels.count) labels for scores \(describeShape(scores.shape))")
    }
    if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
        throw TensorError.invalidArgument(operation: operation,
                                          detail: "label \(labels[bad]) of example \(bad) is not a class in 0..<\(classes)")
    }
    return (n, classes)
}
