import CS231nNN

/// Range checks of the Solver's options and the optimizer's settings. They come from code,
/// the command line or a checkpoint someone sent; each check names the field and its valid
/// range, so that a negative sample count or a NaN learning rate is refused before training
/// rather than corrupting memory or silently running gradient ascent.
extension SolverOptions {
    /// The most epochs a run may ask for.
    public static let maximumEpochs = 1_000_000
    /// The largest batch (2^24 examples): larger than any training set this toolkit loads,
    /// small enough that steps-per-epoch arithmetic cannot overflow.
    public static let maximumBatchSize = 1 << 24
    /// The largest accuracy sample (2^31 − 1); larger asks mean "all", as nil does.
    public static let maximumAccuracySamples = Int(Int32.max)

    /// The first field outside its valid range, as a sentence naming both; nil when all are in range.
    public var rangeViolation: String? {
        if !(0...Self.maximumEpochs).contains(epochs) { return "epochs is \(epochs), outside the valid range 0...\(Self.maximumEpochs)" }
        if !(1...Self.maximumBatchSize).contains(batchSize) {
            return "batchSize is \(batchSize), outside the valid range 1...\(Self.maximumBatchSize)"
        }
        if !(learningRateDecay > 0 && learningRateDecay.isFinite) {
            return "learningRateDecay is \(learningRateDecay), it must be positive and finite"
        }
        for (field, samples) in [("trainAccuracySamples", trainAccuracySamples), ("valAccuracySamples", valAccuracySamples)] {
            if let samples, !(1...Self.maximumAccuracySamples).contains(samples) {
                return "\(field) is \(samples), outside the valid range 1...\(Self.maximumAccuracySamples) (or absent for all)"
            }
        }
        return nil
    }

    /// Throws `SolverError.invalidOptions` naming the first field out of range.
    public func validate() throws {
        if let rangeViolation { throw SolverError.invalidOptions(rangeViolation) }
    }
}

extension OptimizerSettings {
    /// The first setting outside its valid range, as a sentence naming both; nil when all are in range.
    public var rangeViolation: String? {
        if !(learningRate > 0 && learningRate.isFinite) { return "learningRate is \(learningRate), it must be positive and finite" }
        for (field, value) in [("momentum", momentum), ("decayRate", decayRate), ("beta1", beta1), ("beta2", beta2)]
        where !(value >= 0 && value < 1) {
            return "\(field) is \(value), outside the valid range [0, 1)"
        }
        if !(epsilon > 0 && epsilon.isFinite) { return "epsilon is \(epsilon), it must be positive and finite" }
        if !(weightDecay >= 0 && weightDecay.isFinite) { return "weightDecay is \(weightDecay), it must be finite and not negative" }
        return nil
    }

    /// Throws `SolverError.invalidOptions` naming the first setting out of range.
    public func validate() throws {
        if let rangeViolation { throw SolverError.invalidOptions("optimizer: " + rangeViolation) }
    }
}
