import CS231nTensor

extension Preprocessor {
    /// Samples (N, …) of D values each, preprocessed in place, rows in parallel.
    @inlinable
    public func apply<S: TensorScalar>(to x: inout Tensor<S>) throws {
        try checkSamples(x.shape, operation: "apply")
        transform(count: x.shape[0], bias: false, into: &x) { _, _ in }
    }

    /// Rows (N, D) preprocessed into a new (N, D) tensor, or (N, D + 1) with a last column of
    /// ones (the bias trick, which folds a linear classifier's bias into its weights).
    @inlinable
    public func applied<S: TensorScalar>(to rows: Tensor<S>, appendingBias: Bool = false) throws -> Tensor<S> {
        try checkSamples(rows.shape, operation: "apply")
        let features = dimension
        var result = Tensor<S>(uninitializedShape: [rows.shape[0], features + (appendingBias ? 1 : 0)])
        rows.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress else { return }
            let input = SendableConstPointer(base)
            transform(count: rows.shape[0], bias: appendingBias, into: &result) { row, line in
                line.update(from: input.base + row * features, count: features)
            }
        }
        return result
    }

    /// The images' pixels preprocessed straight into (N, D) rows, or (N, D + 1) with the bias
    /// column, without a copy of the raw values.
    @inlinable
    public func rows<S: TensorScalar>(_ images: LabeledImages, appendingBias: Bool = false,
                                      as _: S.Type = S.self) throws -> Tensor<S> {
        guard dimension == LabeledImages.imageSize else {
            throw TensorError.shapeMismatch(operation: "Preprocessor.rows",
                detail: "fitted on \(dimension) values, but images have \(LabeledImages.imageSize) pixels")
        }
        let features = dimension
        var result = Tensor<S>(uninitializedShape: [images.count, features + (appendingBias ? 1 : 0)])
        images.pixels.withUnsafeBufferPointer { pixels in
            guard let base = pixels.baseAddress else { return }
            let input = SendableConstPointer(base)
            transform(count: images.count, bias: appendingBias, into: &result) { row, line in
                let bytes = input.base + row * features
                for j in 0..<features { line[j] = S(bytes[j]) }
            }
        }
        return result
    }

    /// Inputs (N, …) of D values each turned back into raw values (pixels 0…255): x·scale + mean.
    @inlinable
    public func inverse<S: TensorScalar>(_ x: Tensor<S>) throws -> Tensor<S> {
        try checkSamples(x.shape, operation: "inverse")
        var result = x
        let (shift, factor) = (mean.map { S($0) }, scale.map { S($0) })
        let features = dimension
        result.withUnsafeMutableBufferPointer { values in
            for start in stride(from: 0, to: values.count, by: features) {
                for j in 0..<features { values[start + j] = values[start + j] * factor[j] + shift[j] }
            }
        }
        return result
    }

    @usableFromInline
    func checkSamples(_ shape: [Int], operation: String) throws {
        guard shape.count >= 2, shape.dropFirst().reduce(1, *) == dimension else {
            throw TensorError.shapeMismatch(operation: "Preprocessor.\(operation)",
                detail: "samples of \(describeShape(shape)) against a \(kind.rawValue) preprocessor of \(dimension) values")
        }
    }

    /// For each of `count` rows of `result`: `load` writes its D raw values, which are then
    /// preprocessed in place; with `bias` a 1 follows them. Rows run in parallel.
    @inlinable
    func transform<S: TensorScalar>(count: Int, bias: Bool, into result: inout Tensor<S>,
                                    load: @escaping @Sendable (_ row: Int, _ line: UnsafeMutablePointer<S>) -> Void) {
        let features = dimension, width = features + (bias ? 1 : 0)
        let shift = mean.map { S($0) }
        // Feature standardization multiplies by 1/std, the others divide: each as it always has,
        // so that inputs stay bit for bit what they were.
        let divides = kind != .featureStandardization
        let factor = divides ? scale.map { S($0) } : scale.map { 1 / S($0) }
        shift.withUnsafeBufferPointer { shift in
            factor.withUnsafeBufferPointer { factor in
                result.withUnsafeMutableBufferPointer { out in
                    guard count > 0, let base = out.baseAddress else { return }
                    let subtract = SendableConstPointer(shift.baseAddress!), by = SendableConstPointer(factor.baseAddress!)
                    let target = SendablePointer(base)
                    Parallel.forEachChunk(count, minimumChunk: 64) { range in
                        for row in range {
                            let line = target.base + row * width
                            load(row, line)
                            if divides {
                                for j in 0..<features { line[j] = (line[j] - subtract.base[j]) / by.base[j] }
                            } else {
                                for j in 0..<features { line[j] = (line[j] - subtract.base[j]) * by.base[j] }
                            }
                            if bias { line[features] = 1 }
                        }
                    }
                }
            }
        }
    }
}
