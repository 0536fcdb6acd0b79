import CS231nTensor

/// The two losses of CS231n's linear classifiers, for scores f(x, W) = x·W (the bias lives in W
/// as its last row when the inputs carry a column of ones).
///
/// Both take (W: D×C, X: N×D, y, reg) and return the mean data loss over the N rows plus
/// reg·ΣW², and its gradient dW (D×C). Each comes in two forms that must agree: `naive`, the
/// loops of the course notes, kept as the reference; `vectorized`, the matrix form that training
/// runs (two GEMMs and one pass over the N×C scores).
public enum LinearLoss: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Multiclass SVM (Weston–Watkins hinge): Σ_{j≠y} max(0, s_j − s_y + 1).
    case svm
    /// Softmax cross-entropy: −log(e^{s_y} / Σ_j e^{s_j}), computed after subtracting the row max.
    case softmax

    public var description: String { self == .svm ? "SVM" : "Softmax" }
}

/// A loss value and its gradient with respect to the weights.
public struct LossAndGradient<S: TensorScalar>: Sendable {
    public var loss: S
    public var gradient: Tensor<S>
}

extension LinearLoss {
    /// The loss and dW by explicit loops over examples, classes and dimensions.
    public func naive<S: TensorScalar>(
        weights: Tensor<S>, inputs: Tensor<S>, labels: [Int], regularization: S
    ) throws -> LossAndGradient<S> {
        let (rows, dimension, classes) = try linearProblemDimensions(
            weights: weights, inputs: inputs, labels: labels, operation: "\(self) loss (naive)")
        var gradient = Tensor<S>.zeros([dimension, classes])
        var loss: S = 0
        var scores = [S](repeating: 0, count: classes)
        weights.withUnsafeBufferPointer { w in
            inputs.withUnsafeBufferPointer { x in
                gradient.withUnsafeMutableBufferPointer { dW in
                    for i in 0..<rows {
                        let example = x.baseAddress! + i * dimension
                        for j in 0..<classes {
                            var score: S = 0
                            for d in 0..<dimension { score += example[d] * w[d * classes + j] }
                            scores[j] = score
                        }
                        let label = labels[i]
                        switch self {
                        case .svm:
                            for j in 0..<classes where j != label {
                                let margin = scores[j] - scores[label] + 1
                                guard margin > 0 else { continue }
                                loss += margin
                                for d in 0..<dimension {
                                    dW[d * classes + j] += example[d]
                                    dW[d * classes + label] -= example[d]
                                }
                            }
                        case .softmax:
                            let highest = scores.max()!
                            var total: S = 0
                            for j in 0..<classes { total += S.exp(scores[j] - highest) }
                            loss += S.log(total) - (scores[label] - highest)
                            for j in 0..<classes {
                                let probability = S.exp(scores[j] - highest) / total
                                let coefficient = probability - (j == label ? 1 : 0)
                                for d in 0..<dimension { dW[d * classes + j] += coefficient * example[d] }
                            }
                        }
                    }
                    let scale = rows > 0 ? 1 / S(rows) : 0
                    loss *= scale
                    for k in 0..<dW.count {
                        loss += regularization * w[k] * w[k]
                        dW[k] = dW[k] * scale + 2 * regularization * w[k]
                    }
                }
            }
        }
        return LossAndGradient(loss: loss, gradient: gradient)
    }

    /// The loss and dW in matrix form: scores = X·W, one pass over the scores turning them into
    /// ∂loss/∂scores, then dW = Xᵀ·dscores / N + 2·reg·W.
    public func vectorized<S: TensorScalar>(
        weights: Tensor<S>, inputs: Tensor<S>, labels: [Int], regularization: S
    ) throws -> LossAndGradient<S> {
        let (rows, dimension, classes) = try linearProblemDimensions(
            weights: weights, inputs: inputs, labels: labels, operation: "\(self) loss (vectorized)")
        var workspace = LinearLossWorkspace<S>(rows: rows, classes: classes)
        var gradient = Tensor<S>(uninitializedShape: [dimension, classes])
        let loss = weights.withUnsafeBufferPointer { w in
            inputs.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { y in
                    gradient.withUnsafeMutableBufferPointer { dW in
                        workspace.lossAndGradient(self, weights: w.baseAddress!, dimension: dimension,
                                                  inputs: x.baseAddress!, labels: y.baseAddress!, rows: rows,
                                                  regularization: regularization, gradient: dW.baseAddress!)
                    }
                }
            }
        }
        return LossAndGradient(loss: loss, gradient: gradient)
    }
}

/// The scores buffer of the vectorised loss, kept between calls so that training allocates
/// nothing per iteration. Callers check the shapes; this works on raw row-major buffers.
struct LinearLossWorkspace<S: TensorScalar> {
    let capacity: Int, classes: Int
    private var scores: [S]

    init(rows: Int, classes: Int) {
        capacity = rows
        self.classes = classes
        scores = [S](repeating: 0, count: Swift.max(1, rows * classes))
    }

    /// Writes dW into `gradient` (D×C) and returns the loss, for `rows` ≤ capacity examples.
    mutating func lossAndGradient(
        _ loss: LinearLoss, weights: UnsafePointer<S>, dimension: Int, inputs: UnsafePointer<S>,
        labels: UnsafePointer<Int>, rows: Int, regularization: S, gradient: UnsafeMutablePointer<S>
    ) -> S {
        precondition(rows <= capacity, "LinearLossWorkspace: \(rows) rows exceed its \(capacity)")
        let classes = self.classes
        let regularizationLoss = Self.squaredSumAndScaledCopy(weights, count: dimension * classes,
                                                              scale: 2 * regularization, into: gradient)
        guard rows > 0 else { return regularization * regularizationLoss }
        return scores.withUnsafeMutableBufferPointer { buffer in
            let scores = buffer.baseAddress!
            Self.gemmInFixedRowBlocks(GemmCall(m: rows, n: classes, k: dimension, a: inputs, lda: dimension,
                                               b: weights, ldb: classes, c: scores, ldc: classes), blocks: 2)
            let dataLoss = Self.scoreGradient(loss, scores, labels: labels, rows: rows, classes: classes)
            Self.gemmInFixedRowBlocks(GemmCall(transposeA: true, m: dimension, n: classes, k: rows, alpha: 1 / S(rows),
                                               a: inputs, lda: dimension, b: scores, ldb: classes,
                                               beta: 1, c: gradient, ldc: classes), blocks: 8)
            return dataLoss / S(rows) + regularization * regularizationLoss
        }
    }

    /// Runs `call` as `blocks` fixed blocks of rows of C spread over the cores. `GEMM.run` splits
    /// by core count, which moves rows between the BLAS kernel's tiles and so changes the last
    /// bits of some results; fixed blocks give the same numbers whatever the thread count.
    static func gemmInFixedRowBlocks(_ call: GemmCall<S>, blocks: Int) {
        let parts = Swift.min(blocks, call.m)
        let shared = UnsafeSendable(call)
        Parallel.forEachChunk(parts) { range in
            for part in range {
                var piece = shared.value
                let rows = Parallel.chunkRange(part, of: parts, count: piece.m)
                piece.m = rows.count
                piece.a += rows.lowerBound * (piece.transposeA ? 1 : piece.lda)
                piece.c += rows.lowerBound * piece.ldc
                GEMM.run(piece)
            }
        }
    }

    /// ΣW² while writing scale·W into `target`: the regulariser and its gradient in one pass,
    /// in SIMD with two accumulators (a scalar sum would wait on each addition in turn).
    static func squaredSumAndScaledCopy(_ weights: UnsafePointer<S>, count: Int, scale: S,
                                        into target: UnsafeMutablePointer<S>) -> S {
        let source = UnsafeRawPointer(weights), destination = UnsafeMutableRawPointer(target)
        let stride = MemoryLayout<SIMD8<S>>.size, factor = SIMD8<S>(repeating: scale)
        var first = SIMD8<S>(), second = SIMD8<S>()
        var k = 0
        while k + 16 <= count {
            let a = source.loadUnaligned(fromByteOffset: k * MemoryLayout<S>.stride, as: SIMD8<S>.self)
            let b = source.loadUnaligned(fromByteOffset: k * MemoryLayout<S>.stride + stride, as: SIMD8<S>.self)
            first.addProduct(a, a)
            second.addProduct(b, b)
            destination.storeBytes(of: a * factor, toByteOffset: k * MemoryLayout<S>.stride, as: SIMD8<S>.self)
            destination.storeBytes(of: b * factor, toByteOffset: k * MemoryLayout<S>.stride + stride, as: SIMD8<S>.self)
            k += 16
        }
        var total = (first + second).sum()
        while k < count {
            total += weights[k] * weights[k]
            target[k] = scale * weights[k]
            k += 1
        }
        return total
    }

    /// Replaces each row of scores by ∂(data loss)/∂scores and returns the summed data loss. Each
    /// row adds its loss to the running sum as it goes, so the sum is the same whichever loss.
    static func scoreGradient(_ loss: LinearLoss, _ scores: UnsafeMutablePointer<S>, labels: UnsafePointer<Int>,
                              rows: Int, classes: Int) -> S {
        var total: S = 0
        for i in 0..<rows {
            let row = scores + i * classes
            switch loss {
            case .svm: svmRowGradient(row, label: labels[i], classes: classes, loss: &total)
            case .softmax: softmaxRowGradient(row, label: labels[i], classes: classes, loss: &total)
            }
        }
        return total
    }

    /// Replaces a row of scores by ∂(hinge loss)/∂scores and adds its hinge loss to `loss`.
    @inline(__always)
    static func svmRowGradient(_ row: UnsafeMutablePointer<S>, label: Int, classes: Int, loss: inout S) {
        let correct = row[label]
        var violations: S = 0
        for j in 0..<classes where j != label {
            let margin = row[j] - correct + 1
            if margin > 0 {
                loss += margin
                violations += 1
                row[j] = 1
            } else {
                row[j] = 0
            }
        }
        row[label] = -violations
    }

    /// Replaces a row of scores by softmax − onehot(y) and adds its cross-entropy to `loss`. The
    /// row max is subtracted first, so scores of ±1e4 neither overflow nor give log(0).
    @inline(__always)
    static func softmaxRowGradient(_ row: UnsafeMutablePointer<S>, label: Int, classes: Int, loss: inout S) {
        var highest = row[0]
        for j in 1..<classes { highest = Swift.max(highest, row[j]) }
        let shiftedCorrect = row[label] - highest
        var total: S = 0
        for j in 0..<classes {
            let e = S.exp(row[j] - highest)
            row[j] = e
            total += e
        }
        loss += S.log(total) - shiftedCorrect
        let inverse = 1 / total
        for j in 0..<classes { row[j] *= inverse }
        row[label] -= 1
    }
}
