import CS231nTensor

/// How `LinearClassifier.train` runs minibatch stochastic gradient descent.
public struct SGDSettings: Sendable, Equatable {
    public var learningRate: Double
    /// The strength `reg` of the regulariser reg·ΣW².
    public var regularization: Double
    public var iterations: Int
    /// Examples per step, drawn with replacement (numpy's `choice(N, batch, replace=True)`).
    public var batchSize: Int
    /// Seeds the initial weights and the batch draws (two independent streams).
    public var seed: UInt64
    /// Training without weights starts from W = scale·randn(D, C).
    public var initialWeightScale: Double

    /// The defaults are recipe W3 of BENCHMARKS.md.
    public init(learningRate: Double = 1e-7, regularization: Double = 2.5e4, iterations: Int = 1500,
                batchSize: Int = 200, seed: UInt64 = 0, initialWeightScale: Double = 1e-4) {
        self.learningRate = learningRate
        self.regularization = regularization
        self.iterations = iterations
        self.batchSize = batchSize
        self.seed = seed
        self.initialWeightScale = initialWeightScale
    }

    func validate() throws {
        guard learningRate.isFinite, learningRate > 0 else {
            throw LinearClassifierError.invalidSetting("learning rate must be positive and finite, got \(learningRate)")
        }
        guard regularization.isFinite, regularization >= 0 else {
            throw LinearClassifierError.invalidSetting("regularization must be ≥ 0 and finite, got \(regularization)")
        }
        guard iterations >= 0 else { throw LinearClassifierError.invalidSetting("iterations must be ≥ 0, got \(iterations)") }
        guard batchSize >= 1 else { throw LinearClassifierError.invalidSetting("batch size must be ≥ 1, got \(batchSize)") }
    }
}

/// A linear classifier f(x) = x·W trained by minibatch SGD, as CS231n's `LinearClassifier`:
/// the conforming types only choose the loss.
public protocol LinearClassifier: Sendable {
    associatedtype Scalar: TensorScalar
    static var loss: LinearLoss { get }
    /// D×C, nil until trained or loaded.
    var weights: Tensor<Scalar>? { get set }
    init(weights: Tensor<Scalar>?)
}

/// A linear classifier with the multiclass SVM (hinge) loss.
public struct LinearSVM<Scalar: TensorScalar>: LinearClassifier {
    public static var loss: LinearLoss { .svm }
    public var weights: Tensor<Scalar>?
    public init(weights: Tensor<Scalar>? = nil) { self.weights = weights }
}

/// A linear classifier with the Softmax (cross-entropy) loss.
public struct Softmax<Scalar: TensorScalar>: LinearClassifier {
    public static var loss: LinearLoss { .softmax }
    public var weights: Tensor<Scalar>?
    public init(weights: Tensor<Scalar>? = nil) { self.weights = weights }
}

extension LinearClassifier {
    /// Runs SGD from the current weights (or fresh ones) and returns the loss of every
    /// iteration. `classCount` defaults to the largest label + 1. A loss that stops being finite
    /// ends training at once; it is the last entry of the history, so callers can tell.
    @discardableResult
    public mutating func train(
        inputs: Tensor<Scalar>, labels: [Int], classCount: Int? = nil, settings: SGDSettings,
        progress: ((_ iteration: Int, _ loss: Scalar) -> Void)? = nil
    ) throws -> [Scalar] {
        try settings.validate()
        guard inputs.rank == 2, inputs.shape[0] > 0, inputs.shape[1] > 0 else {
            throw LinearClassifierError.shapeMismatch(
                "train: inputs must be a non-empty N×D matrix, got \(describeShape(inputs.shape))")
        }
        let (rows, dimension) = (inputs.shape[0], inputs.shape[1])
        let classes = weights?.shape.last ?? classCount ?? ((labels.max() ?? 0) + 1)
        var w = weights ?? {
            var rng = RandomGenerator(seed: settings.seed, stream: .initialization)
            return Tensor<Scalar>.randn([dimension, classes], scale: Scalar(settings.initialWeightScale), using: &rng)
        }()
        _ = try linearProblemDimensions(weights: w, inputs: inputs, labels: labels, operation: "train")
        weights = nil  // leaves `w` the only owner, so the updates below never copy it

        let batchSize = settings.batchSize
        var sampler = RandomGenerator(seed: settings.seed, stream: .dataOrder)
        var batch = Tensor<Scalar>(uninitializedShape: [batchSize, dimension])
        var batchLabels = [Int](repeating: 0, count: batchSize)
        var batchRows = [Int](repeating: 0, count: batchSize)
        var gradient = Tensor<Scalar>(uninitializedShape: [dimension, classes])
        var workspace = LinearLossWorkspace<Scalar>(rows: batchSize, classes: classes)
        var history: [Scalar] = []
        history.reserveCapacity(settings.iterations)
        let learningRate = Scalar(settings.learningRate), regularization = Scalar(settings.regularization)

        inputs.withUnsafeBufferPointer { x in
            labels.withUnsafeBufferPointer { y in
                w.withUnsafeMutableBufferPointer { w in
                    batch.withUnsafeMutableBufferPointer { batch in
                        gradient.withUnsafeMutableBufferPointer { gradient in
                            batchLabels.withUnsafeMutableBufferPointer { batchLabels in
                                batchRows.withUnsafeMutableBufferPointer { batchRows in
                                    for iteration in 0..<settings.iterations {
                                        for r in 0..<batchSize {
                                            let row = sampler.nextInt(below: rows)
                                            batchRows[r] = row
                                            batchLabels[r] = y[row]
                                        }
                                        gatherRows(from: x.baseAddress!, rows: batchRows, width: dimension,
                                                   into: batch.baseAddress!)
                                        let loss = workspace.lossAndGradient(
                                            Self.loss, weights: w.baseAddress!, dimension: dimension,
                                            inputs: batch.baseAddress!, labels: batchLabels.baseAddress!,
                                            rows: batchSize, regularization: regularization,
                                            gradient: gradient.baseAddress!)
                                        history.append(loss)
                                        progress?(iteration, loss)
                                        guard loss.isFinite else { break }
                                        for k in 0..<w.count { w[k] -= learningRate * gradient[k] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        weights = w
        return history
    }

    /// The N×C class scores x·W.
    public func scores(_ inputs: Tensor<Scalar>) throws -> Tensor<Scalar> {
        guard let weights else { throw LinearClassifierError.untrained("scores") }
        guard inputs.rank == 2, inputs.shape[1] == weights.shape[0] else {
            throw LinearClassifierError.shapeMismatch(
                "scores: inputs \(describeShape(inputs.shape)) do not match weights \(describeShape(weights.shape)): "
                + "expected N×\(weights.shape[0])")
        }
        return try matmul(inputs, weights)
    }

    /// The highest-scoring class of each row (the smaller label on ties).
    public func predict(_ inputs: Tensor<Scalar>) throws -> [Int] {
        let scores = try scores(inputs)
        return scores.count == 0 ? [] : try scores.argmax(axis: 1)
    }

    /// The fraction of rows predicted as their label.
    public func accuracy(inputs: Tensor<Scalar>, labels: [Int]) throws -> Double {
        let predictions = try predict(inputs)
        guard predictions.count == labels.count else {
            throw LinearClassifierError.shapeMismatch("accuracy: \(labels.count) labels for \(predictions.count) rows")
        }
        return fractionCorrect(predictions, labels)
    }

    /// The loss and its gradient at the current weights (vectorised form).
    public func lossAndGradient(inputs: Tensor<Scalar>, labels: [Int], regularization: Scalar) throws -> LossAndGradient<Scalar> {
        guard let weights else { throw LinearClassifierError.untrained("loss") }
        return try Self.loss.vectorized(weights: weights, inputs: inputs, labels: labels, regularization: regularization)
    }
}

/// The fraction of equal entries (0 for empty input).
public func fractionCorrect(_ predictions: [Int], _ labels: [Int]) -> Double {
    guard !predictions.isEmpty else { return 0 }
    return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(predictions.count)
}

/// Copies rows `rows[r]` of a row-major matrix into consecutive rows of `target`, split over
/// the cores: a 200-row CIFAR batch is 2.4 MB of scattered reads.
func gatherRows<S>(from source: UnsafePointer<S>, rows: UnsafeMutableBufferPointer<Int>, width: Int,
                   into target: UnsafeMutablePointer<S>) {
    let input = SendableConstPointer(source), output = SendablePointer(target)
    let picked = SendableConstPointer(UnsafePointer(rows.baseAddress!))
    Parallel.forEachChunk(rows.count, minimumChunk: 32) { range in
        for r in range {
            (output.base + r * width).update(from: input.base + picked.base[r] * width, count: width)
        }
    }
}
