import Foundation

/// What a demo run tells its caller as it goes, in order: a caller prints these for people or
/// as JSON figures; the report itself holds everything else.
public enum DemoEvent: Sendable, Equatable {
    /// CIFAR-10 is missing from `directory` and its 163 MB archive is being downloaded there.
    case downloadingCIFAR10(directory: String)
    /// Stage `number` (from 1) of the `count` chosen starts computing.
    case stageStarted(name: String, title: String, number: Int, count: Int)
    /// Stage `number` of `count` had a stored section whose inputs are unchanged: it is reused.
    case stageReused(name: String, title: String, number: Int, count: Int)
    /// A figure a stage measured: an accuracy, or a computed stage's `seconds`.
    case figure(DemoFigure)
}

/// One measured number and what it is, e.g. `stage=knn split=val k=15`, `accuracy`, 0.27.
public struct DemoFigure: Sendable, Equatable {
    /// A key's value: text (a split, a model's name) or a whole number (k).
    public enum Value: Sendable, Equatable, ExpressibleByStringLiteral {
        case string(String), int(Int)

        public init(stringLiteral value: String) { self = .string(value) }
    }

    /// What the figure is, in order: `stage` first, then keys such as `split`, `k`, `loss`, `model`.
    public var keys: [Key]
    /// The quantity, in snake case: `accuracy` (a fraction) or `seconds`.
    public var metric: String
    /// The number itself (NaN where a trial diverged).
    public var value: Double

    /// One named key of a figure.
    public struct Key: Sendable, Equatable {
        /// The key's name, in snake case: `stage`, `split`, `k`, …
        public var name: String
        public var value: Value
    }

    /// A figure from its keys in order, e.g. `[("stage", "knn"), ("k", .int(15))]`.
    public init(_ keys: [(String, Value)], metric: String, value: Double) {
        self.keys = keys.map { Key(name: $0.0, value: $0.1) }
        self.metric = metric
        self.value = value
    }
}

/// Why a demo run was refused before it started.
public enum DemoError: Error, CustomStringConvertible, Equatable {
    /// A stage name that is not one of `validStages`.
    case unknownStage(String, validStages: [String])
    /// Splits the demo cannot run on (not 10 classes, or an empty train or val split).
    case unsupportedSplits(String)

    public var description: String {
        switch self {
        case let .unknownStage(name, valid): return "unknown stage '\(name)'; stages are \(valid.joined(separator: ", "))"
        case let .unsupportedSplits(reason): return "the demo cannot run on these splits: \(reason)"
        }
    }
}
