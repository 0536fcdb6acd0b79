import CS231nTensor

/// How training batches are augmented: a description (saved with checkpoints) whose draws
/// derive from the run's seed and the batch's origin alone, so that a resumed run draws exactly
/// what an uninterrupted one would.
public struct Augmentation: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case none
        /// A random mirror and a random shift of up to `padding` pixels per image.
        case flipTranslate = "flip-translate"
        /// The same shifts, but each image is mirrored in every other epoch, starting from a
        /// random half (airbench's alternating flip: every image is seen both ways within two
        /// epochs).
        case alternatingFlipTranslate = "alternating-flip-translate"
    }

    public var kind: Kind
    /// The largest shift, in pixels.
    public var padding: Int
    /// What a shift brings in from outside the image.
    public var paddingMode: Augmenter.PaddingMode

    /// The cnn recipe's shifts: 2 pixels, reflect-padded.
    public init(_ kind: Kind, padding: Int = 2, paddingMode: Augmenter.PaddingMode = .reflect) {
        self.kind = kind
        self.padding = padding
        self.paddingMode = paddingMode
    }

    public static let none = Augmentation(.none)

    /// Augments an (N, C, H, W) batch in place. The draws come from an `Augmenter` seeded by the
    /// run's seed and the iteration; the alternating flip replaces each mirror by
    /// `Augmenter.alternatingMirror` of the image's index and the epoch.
    @inlinable
    public func apply<S: TensorScalar>(to batch: inout Tensor<S>, origin: BatchOrigin) throws {
        guard kind != .none else { return }
        var augmenter = Augmenter(seed: origin.seed &+ UInt64(origin.iteration) &* 0x2545_F491_4F6C_DD1D, flip: true,
                                  padding: padding, paddingMode: paddingMode)
        _ = augmenter.nextDraws(origin.position)  // a data-parallel share draws as its rows of the global batch
        var draws = try augmenter.draws(for: batch)
        if kind == .alternatingFlipTranslate {
            guard origin.indices.count == draws.count else {
                throw TensorError.shapeMismatch(operation: "Augmentation.apply",
                    detail: "\(origin.indices.count) indices for a batch of \(describeShape(batch.shape))")
            }
            for (row, index) in origin.indices.enumerated() {
                draws[row].mirrored = Augmenter.alternatingMirror(index: index, epoch: origin.epoch, seed: origin.seed)
            }
        }
        Augmenter.transform(&batch, draws: draws, paddingMode: paddingMode)
    }
}
