import CS231nTensor

/// Seeded data augmentation for CNN training: a random horizontal flip and a random crop of
/// the image padded by `padding` pixels (zeros, or the image's reflection as airbench does),
/// drawn per image and applied in place to one NCHW batch at a time, so the training set itself
/// is never copied.
///
/// All random draws are made serially before the parallel pixel work, so the same seed gives
/// the same batches whatever the thread count.
public struct Augmenter: Sendable {
    public var flip: Bool
    public var padding: Int
    public var paddingMode: PaddingMode
    @usableFromInline var rng: RandomGenerator

    public init(seed: UInt64, flip: Bool = true, padding: Int = 4, paddingMode: PaddingMode = .zeros) {
        self.flip = flip
        self.padding = padding
        self.paddingMode = paddingMode
        rng = RandomGenerator(seed: seed, stream: .augmentation)
    }

    /// What a shift brings in from outside the image.
    public enum PaddingMode: String, Sendable, Codable {
        /// Zeros.
        case zeros
        /// The mirror image about the edge pixel, which is not repeated (NumPy's and PyTorch's
        /// 'reflect'): index −1 reads 1 and index H reads H − 2.
        case reflect
    }

    /// One image's draw: whether to mirror it and the crop offset in -padding...padding.
    public struct Draw: Sendable, Equatable {
        public var mirrored: Bool
        public var shiftX: Int, shiftY: Int

        public init(mirrored: Bool, shiftX: Int, shiftY: Int) {
            self.mirrored = mirrored
            self.shiftX = shiftX
            self.shiftY = shiftY
        }
    }

    @inlinable
    public mutating func nextDraws(_ count: Int) -> [Draw] {
        (0..<count).map { _ in
            let mirrored = flip && rng.nextInt(below: 2) == 1
            let span = 2 * padding + 1
            return Draw(mirrored: mirrored, shiftX: rng.nextInt(below: span) - padding,
                        shiftY: rng.nextInt(below: span) - padding)
        }
    }

    /// airbench's alternating flip: whether training image `index` is mirrored in `epoch`
    /// (0-based). A fixed coin per image (SplitMix64 of the seed and the index) decides the even
    /// epochs and the odd ones do the opposite, so every image is seen both ways within any two
    /// consecutive epochs, where random flips leave a quarter of them one way.
    @inlinable
    public static func alternatingMirror(index: Int, epoch: Int, seed: UInt64) -> Bool {
        var z = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        let coin = (z ^ (z >> 31)) & 1 == 1
        return coin != (epoch % 2 == 1)
    }

    /// Augments an (N, C, H, W) batch in place; returns the draws made, image by image.
    @inlinable
    @discardableResult
    public mutating func apply<S: TensorScalar>(to batch: inout Tensor<S>) throws -> [Draw] {
        let draws = try self.draws(for: batch)
        Augmenter.transform(&batch, draws: draws, paddingMode: paddingMode)
        return draws
    }

    /// The next draws for the images of an (N, C, H, W) batch, after checking that this
    /// augmenter can move them; callers may change the draws before `transform`.
    @inlinable
    public mutating func draws<S: TensorScalar>(for batch: Tensor<S>) throws -> [Draw] {
        guard batch.rank == 4 else {
            throw TensorError.invalidArgument(operation: "Augmenter.apply",
                detail: "expected an (N, C, H, W) batch, got \(describeShape(batch.shape))")
        }
        guard padding >= 0 else {
            throw TensorError.invalidArgument(operation: "Augmenter.apply", detail: "padding \(padding) is negative")
        }
        let (height, width) = (batch.shape[2], batch.shape[3])
        guard paddingMode == .zeros || padding < Swift.min(height, width) else {
            throw TensorError.invalidArgument(operation: "Augmenter.apply",
                detail: "reflect padding \(padding) needs images larger than \(padding)×\(padding), got \(height)×\(width)")
        }
        return nextDraws(batch.shape[0])
    }

    /// Moves each image's pixels per its draw: output (y, x) takes input (y + shiftY, x')
    /// where x' is x + shiftX, mirrored when asked; pixels from outside the image are zero or,
    /// with `.reflect`, reflected into it, for which every shift must be smaller than the image.
    @inlinable
    public static func transform<S: TensorScalar>(_ batch: inout Tensor<S>, draws: [Draw], paddingMode: PaddingMode = .zeros) {
        let channels = batch.shape[1], height = batch.shape[2], width = batch.shape[3]
        let imageSize = channels * height * width
        precondition(paddingMode == .zeros || draws.allSatisfy { abs($0.shiftX) < width && abs($0.shiftY) < height },
                     "Augmenter.transform: a reflected shift must be smaller than the \(height)×\(width) image")
        batch.withUnsafeMutableBufferPointer { values in
            let base = SendablePointer(values.baseAddress!)
            draws.withUnsafeBufferPointer { drawBuffer in
                let drawList = SendableConstPointer(drawBuffer.baseAddress!)
                Parallel.forEachChunk(draws.count, minimumChunk: 8) { range in
                    let copy = UnsafeMutablePointer<S>.allocate(capacity: imageSize)
                    defer { copy.deallocate() }
                    for index in range {
                        let draw = drawList.base[index]
                        if !draw.mirrored && draw.shiftX == 0 && draw.shiftY == 0 { continue }
                        let image = base.base + index * imageSize
                        copy.update(from: image, count: imageSize)
                        for c in 0..<channels {
                            for y in 0..<height {
                                let row = image + (c * height + y) * width
                                guard let sourceY = source(y + draw.shiftY, size: height, paddingMode) else {
                                    row.update(repeating: 0, count: width)
                                    continue
                                }
                                let sourceRow = copy + (c * height + sourceY) * width
                                for x in 0..<width {
                                    guard let shifted = source(x + draw.shiftX, size: width, paddingMode) else {
                                        row[x] = 0
                                        continue
                                    }
                                    row[x] = sourceRow[draw.mirrored ? width - 1 - shifted : shifted]
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The pixel within 0..<size that coordinate i of the padded image shows; nil for a zero.
    @inlinable @inline(__always)
    static func source(_ i: Int, size: Int, _ mode: PaddingMode) -> Int? {
        if i >= 0 && i < size { return i }
        switch mode {
        case .zeros: return nil
        case .reflect: return i < 0 ? -i : 2 * (size - 1) - i
        }
    }
}
