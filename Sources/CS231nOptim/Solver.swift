import CS231nData
import CS231nNN
import Foundation

/// How the learning rate moves within a run, on top of the per-epoch decay.
public enum LearningRateSchedule: String, Codable, Sendable, CaseIterable {
    /// The rate only changes by the per-epoch decay.
    case constant
    /// airbench94's triangle: from 0.2× up to 1× over the first 23% of the steps, then linearly
    /// down to 0.07× at the last.
    case warmupLinear = "warmup-linear"

    /// The multiplier at step `step` (0-based) of `total`.
    public func factor(step: Int, total: Int) -> Double {
        switch self {
        case .constant: return 1
        case .warmupLinear:
            let warmup = Int(Double(total) * 0.23), t = Double(step)
            if step < warmup { return 0.2 + 0.8 * t / Double(warmup) }
            return 1 - 0.93 * (t - Double(warmup)) / Double(total - warmup)
        }
    }
}

/// How the Solver trains (CS231n's `Solver` keyword arguments).
public struct SolverOptions: Codable, Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    /// The learning rate is multiplied by this after every epoch.
    public var learningRateDecay: Double
    /// The within-run schedule (constant unless set).
    public var schedule: LearningRateSchedule
    /// Training examples sampled to measure the train accuracy after each epoch (nil: all).
    public var trainAccuracySamples: Int?
    /// Validation examples used for the val accuracy (nil: all).
    public var valAccuracySamples: Int?
    /// Seeds the data order and the accuracy samples.
    public var seed: UInt64
    /// airbench's lookahead (from hlb-cifar10): every 5 steps the weights and buffers are pulled
    /// to a running average that forgets ever more slowly, and the last step leaves the average.
    public var lookahead: Bool

    public init(epochs: Int = 10, batchSize: Int = 100, learningRateDecay: Double = 1,
                trainAccuracySamples: Int? = 1000, valAccuracySamples: Int? = nil, seed: UInt64 = 0,
                schedule: LearningRateSchedule = .constant, lookahead: Bool = false) {
        self.epochs = epochs
        self.lookahead = lookahead
        self.batchSize = batchSize
        self.learningRateDecay = learningRateDecay
        self.schedule = schedule
        self.trainAccuracySamples = trainAccuracySamples
        self.valAccuracySamples = valAccuracySamples
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case epochs, batchSize, learningRateDecay, schedule, trainAccuracySamples, valAccuracySamples, seed, lookahead
    }

    /// Checkpoints written before the schedule and lookahead existed read as constant, without.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(epochs: try c.decode(Int.self, forKey: .epochs), batchSize: try c.decode(Int.self, forKey: .batchSize),
                  learningRateDecay: try c.decode(Double.self, forKey: .learningRateDecay),
                  trainAccuracySamples: try c.decodeIfPresent(Int.self, forKey: .trainAccuracySamples),
                  valAccuracySamples: try c.decodeIfPresent(Int.self, forKey: .valAccuracySamples),
                  seed: try c.decode(UInt64.self, forKey: .seed),
                  schedule: try c.decodeIfPresent(LearningRateSchedule.self, forKey: .schedule) ?? .constant,
                  lookahead: try c.decodeIfPresent(Bool.self, forKey: .lookahead) ?? false)
    }
}

/// Loss per iteration and accuracies per epoch, as CS231n's Solver keeps them.
public struct SolverHistory: Sendable, Equatable {
    public var loss: [Double] = []
    public var trainAccuracy: [Double] = []
    public var valAccuracy: [Double] = []
    public init() {}
}

/// What the Solver reports as it goes (to draw a progress bar).
public enum SolverEvent: Sendable {
    case iteration(epoch: Int, step: Int, stepsPerEpoch: Int, loss: Double)
    case epochEnd(epoch: Int, trainAccuracy: Double, valAccuracy: Double, seconds: Double, improved: Bool)
}

public enum SolverError: Error, CustomStringConvertible, Equatable {
    case nonFiniteLoss(iteration: Int, epoch: Int, loss: Double, learningRate: Double, rule: UpdateRule)
    case invalidOptions(String)
    /// A step left a parameter or buffer NaN or ±Inf; nothing of it was kept or saved.
    case nonFiniteWeights(tensor: String, element: Int, epoch: Int, learningRate: Double, rule: UpdateRule)

    public var description: String {
        switch self {
        case let .nonFiniteLoss(iteration, epoch, loss, learningRate, rule):
            return "the loss became \(loss) at iteration \(iteration) (epoch \(epoch)); training stopped. "
                + "The likely cause is a learning rate too high for \(rule.rawValue) (\(learningRate)): the weights "
                + "diverged. Try a learning rate 3–10× smaller, or a smaller weight scale."
        case .invalidOptions(let detail): return "solver: \(detail)"
        case let .nonFiniteWeights(tensor, element, epoch, learningRate, rule):
            return "the weights became non-finite in epoch \(epoch) (\(tensor), element \(element)); training stopped and "
                + "nothing of that epoch was kept as best or saved. The likely cause is a learning rate too high for "
                + "\(rule.rawValue) (\(learningRate)): try one 3–10× smaller."
        }
    }
}

/// Trains a model with minibatch gradient descent, as CS231n's `Solver`: epochs over a fresh
/// permutation of the data, per-epoch learning-rate decay and accuracy checks, the best-val
/// parameters kept and restored at the end, a checkpoint after every epoch.
public struct Solver<M: Model> {
    public typealias S = M.Scalar

    public var model: M
    public var optimizer: Optimizer<S>
    public let trainSet: LabeledTensors<S>
    public let valSet: LabeledTensors<S>
    public var options: SolverOptions
    public var history = SolverHistory()
    /// Completed epochs and iterations.
    public var epoch = 0
    public var iteration = 0
    public var bestValAccuracy = -Double.infinity
    public var bestParameters: ParameterStore<S>
    public var bestBuffers: ParameterStore<S>
    /// Lookahead's running average of the parameters and buffers (options.lookahead), from its
    /// first update on.
    public var lookaheadAverage: (parameters: ParameterStore<S>, buffers: ParameterStore<S>)?
    /// Written after every epoch when set.
    public var checkpointPath: String?
    /// Facts saved with each checkpoint that a resumed run needs: the dataset and its
    /// preprocessing (data.*), the training augmentation (train.*); `record(_:)` sets them.
    public var checkpointMetadata: [String: String] = [:]
    /// Tensors saved with each checkpoint under "data." (the preprocessing's mean and scale).
    public var checkpointTensors = ParameterStore<S>()
    public var onEvent: ((SolverEvent) -> Void)?
    /// Changes a training batch in place before its step (data augmentation). Its origin seeds
    /// the draws, so that a resumed run draws the same.
    public var augment: ((inout Tensor<S>, BatchOrigin) throws -> Void)?
    /// Data-parallel training when set: each replica (MPI rank, thread) computes its share of
    /// every batch, the gradients are summed (`DataParallel.reduce`), batch norm's running
    /// statistics are the leader's, the accuracies are counted over all shares, and only the
    /// leader writes checkpoints. Every replica runs the same Solver on the same data and seed.
    public var dataParallel: DataParallel?

    public init(model: M, train: LabeledTensors<S>, val: LabeledTensors<S>, optimizer: OptimizerSettings,
                options: SolverOptions = SolverOptions()) throws {
        try options.validate()
        try optimizer.validate()
        guard train.count > 0, val.count > 0 else {
            throw SolverError.invalidOptions("needs training and validation examples (have \(train.count) and \(val.count))")
        }
        let classes = model.configuration.classes
        for (split, data) in [("training", train), ("validation", val)] {
            if let label = data.y.first(where: { !(0..<classes).contains($0) }) {
                throw SolverError.invalidOptions("a \(split) label is \(label), outside the model's classes 0...\(classes - 1)")
            }
        }
        // Training allocates the same large activations every step: keep their pages in the
        // process instead of returning them to the kernel and faulting them in again.
        LargeAllocations.keepInProcess()
        self.model = model
        self.trainSet = train
        self.valSet = val
        self.options = options
        self.optimizer = Optimizer(optimizer)
        bestParameters = model.parameters
        bestBuffers = model.buffers
    }

    @inlinable
    public var stepsPerEpoch: Int { (trainSet.count + options.batchSize - 1) / options.batchSize }

    /// Trains the epochs not yet done (or up to epoch `stopAfter`, from which a resumed run
    /// goes on as if never stopped), then puts the best-val parameters in the model.
    /// Inlinable, like everything on the training path, so that it is specialized for the
    /// concrete model in the caller's module: generic code runs many times slower.
    @inlinable
    public mutating func train(stopAfter: Int? = nil) throws {
        var batch = Tensor<S>(uninitializedShape: [0])
        try checkShares()
        while epoch < Swift.min(options.epochs, stopAfter ?? options.epochs) {
            let start = Date()
            let order = BatchOrder(seed: options.seed, epoch: epoch + 1, count: trainSet.count, batchSize: options.batchSize)
            for step in 0..<order.count {
                let (loss, gradients) = try lossAndGradients(of: order[step], batch: &batch)
                guard loss.isFinite else {
                    throw SolverError.nonFiniteLoss(iteration: iteration + 1, epoch: epoch + 1, loss: Double(loss),
                                                    learningRate: optimizer.settings.learningRate, rule: optimizer.settings.rule)
                }
                let factor = options.schedule.factor(step: iteration, total: options.epochs * stepsPerEpoch)
                try optimizer.update(&model.parameters, gradients: gradients, learningRateScales: model.learningRateScales,
                                     learningRateFactor: factor, frozen: model.frozenParameters(epoch: epoch))
                iteration += 1
                if options.lookahead { try lookaheadStep(total: options.epochs * stepsPerEpoch) }
                history.loss.append(Double(loss))
                onEvent?(.iteration(epoch: epoch + 1, step: step + 1, stepsPerEpoch: stepsPerEpoch, loss: Double(loss)))
            }
            epoch += 1
            try finishEpoch(seconds: Date().timeIntervalSince(start))
        }
        model.parameters = bestParameters
        model.buffers = bestBuffers
    }

    /// The loss and gradients of the batch of training rows `indices`: this replica's share
    /// of it reduced over the replicas under data parallelism.
    @inlinable
    mutating func lossAndGradients(of indices: [Int], batch: inout Tensor<S>) throws -> (S, ParameterStore<S>) {
        let rows = dataParallel?.localRows(of: indices.count) ?? indices.indices
        let local = Array(indices[rows])
        trainSet.gather(local, into: &batch)
        try augment?(&batch, BatchOrigin(indices: local, epoch: epoch, iteration: iteration, seed: options.seed,
                                         position: rows.lowerBound))
        var (loss, gradients) = try model.loss(batch, local.map { trainSet.y[$0] })
        if let dataParallel {
            loss = try dataParallel.reduce(loss: loss, gradients: &gradients, localCount: local.count, globalCount: indices.count,
                                           reduction: model.lossReduction)
        }
        return (loss, gradients)
    }

    /// Under data parallelism every replica needs a row of every batch, the last one too.
    @inlinable
    func checkShares() throws {
        guard let replicas = dataParallel?.size else { return }
        let last = trainSet.count % options.batchSize
        let smallest = last == 0 ? Swift.min(options.batchSize, trainSet.count) : last
        guard smallest >= replicas else {
            throw SolverError.invalidOptions("a batch of \(smallest) examples cannot be shared by \(replicas) replicas "
                + "(batch size \(options.batchSize), \(trainSet.count) training examples)")
        }
    }

    /// Every 5th step: average ← d·average + (1 − d)·model and model ← average, with
    /// d = 0.95⁵·(step/total)³ (airbench's schedule: no averaging early, strong at the end). The
    /// last step puts the average in the model whatever its number.
    @inlinable
    mutating func lookaheadStep(total: Int) throws {
        if iteration % 5 == 0 {
            let decay = pow(0.95, 5) * pow(Double(iteration) / Double(total), 3)
            var (parameters, buffers) = lookaheadAverage ?? (model.parameters, model.buffers)
            try Self.blend(&parameters, toward: model.parameters, keeping: decay)
            try Self.blend(&buffers, toward: model.buffers, keeping: decay)
            lookaheadAverage = (parameters, buffers)
        }
        if iteration % 5 == 0 || iteration == total, let average = lookaheadAverage {
            model.parameters = average.parameters
            model.buffers = average.buffers
        }
    }

    /// average ← keeping·average + (1 − keeping)·current, tensor by tensor.
    @inlinable
    static func blend(_ average: inout ParameterStore<S>, toward current: ParameterStore<S>, keeping: Double) throws {
        for (name, tensor) in current {
            average[name] = try average[name]! * S(keeping) + tensor * S(1 - keeping)
        }
    }

    /// Accuracy checks, best-val bookkeeping, lr decay and the checkpoint.
    @inlinable
    mutating func finishEpoch(seconds: Double) throws {
        try dataParallel?.synchronize(&model.buffers)
        // A finite loss can come with weights that overflowed in the update after it.
        if let (name, element) = model.parameters.firstNonFinite ?? model.buffers.firstNonFinite {
            throw SolverError.nonFiniteWeights(tensor: name, element: element, epoch: epoch,
                                               learningRate: optimizer.settings.learningRate, rule: optimizer.settings.rule)
        }
        var sampler = RandomGenerator(seed: BatchOrder.epochSeed(options.seed, epoch), stream: .main)
        let trainAccuracy = try accuracy(on: trainSet, samples: options.trainAccuracySamples, using: &sampler)
        let valAccuracy = try accuracy(on: valSet, samples: options.valAccuracySamples, using: &sampler)
        history.trainAccuracy.append(trainAccuracy)
        history.valAccuracy.append(valAccuracy)
        let improved = valAccuracy > bestValAccuracy
        if improved {
            bestValAccuracy = valAccuracy
            bestParameters = model.parameters
            bestBuffers = model.buffers
        }
        optimizer.settings.learningRate *= options.learningRateDecay
        onEvent?(.epochEnd(epoch: epoch, trainAccuracy: trainAccuracy, valAccuracy: valAccuracy, seconds: seconds,
                           improved: improved))
        if let checkpointPath, dataParallel?.isLeader ?? true { try saveCheckpoint(to: checkpointPath) }
    }

    @inlinable
    func accuracy(on data: LabeledTensors<S>, samples: Int?, using generator: inout RandomGenerator) throws -> Double {
        let picked = samples.flatMap { $0 < data.count ? generator.sampleWithoutReplacement(count: $0, from: data.count) : nil }
        guard let dataParallel else {
            guard let picked else { return try model.accuracy(data.x, data.y) }
            return try model.accuracy(data.x.gather(picked), picked.map { data.y[$0] })
        }
        let labels = picked.map { $0.map { data.y[$0] } } ?? data.y
        let correct = try dataParallel.correctCount(labels: labels) { rows in
            try model.predict(picked.map { try data.x.gather(Array($0[rows])) } ?? data.x.slice(rows))
        }
        return Double(correct) / Double(labels.count)
    }
}
