import CS231nData
import Foundation

/// One grid point of a hyper-parameter search and how it did.
public struct HyperparameterTrial: Sendable, Equatable {
    public var learningRate: Double
    public var regularization: Double
    /// Accuracy on the training and validation splits; nil when training diverged.
    public var trainAccuracy: Double?
    public var validationAccuracy: Double?
    /// The loss of the last iteration run.
    public var finalLoss: Double
    /// The iteration whose loss overflowed, when one did.
    public var divergedAtIteration: Int?
    public var seconds: Double
}

/// The outcome of a search: every trial in grid order, and the best model by validation accuracy.
public struct HyperparameterSearchResult<C: LinearClassifier>: Sendable {
    public var trials: [HyperparameterTrial]
    public var bestIndex: Int
    public var best: C
    public var bestLossHistory: [C.Scalar]
    public var bestTrial: HyperparameterTrial { trials[bestIndex] }

    /// The table CS231n's notebook prints, one row per trial, the best one marked.
    public var table: [String] {
        [HyperparameterTrial.tableHeader] + trials.enumerated().map { $1.tableRow(isBest: $0 == bestIndex) }
    }
}

extension HyperparameterTrial {
    public static let tableHeader = column("lr", 10) + column("reg", 10) + column("train acc", 11)
        + column("val acc", 9) + column("final loss", 12) + "time"

    /// Learning rate, regularization, train and val accuracy, final loss and training time.
    public func tableRow(isBest: Bool = false) -> String {
        let accuracy = { (value: Double?) in value.map { String(format: "%.3f", $0) } ?? "diverged" }
        return Self.column(String(format: "%.1e", learningRate), 10) + Self.column(String(format: "%.1e", regularization), 10)
            + Self.column(accuracy(trainAccuracy), 11) + Self.column(accuracy(validationAccuracy), 9)
            + Self.column(divergedAtIteration.map { "inf at \($0)" } ?? String(format: "%.4g", finalLoss), 12)
            + String(format: "%.2f s", seconds) + (isBest ? "  ← best" : "")
    }

    private static func column(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

/// Grid search over learning rate × regularization, each candidate trained with the same seed
/// and scored on the validation split, as in the assignment.
public enum HyperparameterSearch {
    /// Trains one `C` per (lr, reg) pair with `settings` otherwise, in grid order (learning rate
    /// outer). `onTrial` sees each finished trial, e.g. to print the table as it grows.
    public static func run<C: LinearClassifier>(
        _: C.Type, train: LabeledTensors<C.Scalar>, validation: LabeledTensors<C.Scalar>, classCount: Int,
        learningRates: [Double], regularizations: [Double], settings: SGDSettings,
        onTrial: ((HyperparameterTrial) -> Void)? = nil
    ) throws -> HyperparameterSearchResult<C> {
        guard !learningRates.isEmpty, !regularizations.isEmpty else {
            throw LinearClassifierError.invalidSetting("the grid needs at least one learning rate and one regularization")
        }
        var trials: [HyperparameterTrial] = []
        var best: (index: Int, model: C, history: [C.Scalar])?
        for learningRate in learningRates {
            for regularization in regularizations {
                var candidate = C(weights: nil)
                var trialSettings = settings
                trialSettings.learningRate = learningRate
                trialSettings.regularization = regularization
                let start = DispatchTime.now().uptimeNanoseconds
                let history = try candidate.train(inputs: train.x, labels: train.y, classCount: classCount,
                                              settings: trialSettings)
                let finalLoss = history.last.map { Double($0) } ?? .nan
                let diverged = !finalLoss.isFinite && !history.isEmpty
                let trial = HyperparameterTrial(
                    learningRate: learningRate, regularization: regularization,
                    trainAccuracy: diverged ? nil : try candidate.accuracy(inputs: train.x, labels: train.y),
                    validationAccuracy: diverged ? nil : try candidate.accuracy(inputs: validation.x, labels: validation.y),
                    finalLoss: finalLoss, divergedAtIteration: diverged ? history.count - 1 : nil,
                    seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                trials.append(trial)
                onTrial?(trial)
                if let accuracy = trial.validationAccuracy,
                   best == nil || accuracy > trials[best!.index].validationAccuracy ?? -1 {
                    best = (trials.count - 1, candidate, history)
                }
            }
        }
        guard let best else {
            throw LinearClassifierError.invalidSetting(
                "every candidate diverged (the loss overflowed); try smaller learning rates or regularization")
        }
        return HyperparameterSearchResult(trials: trials, bestIndex: best.index, best: best.model,
                                          bestLossHistory: best.history)
    }
}
