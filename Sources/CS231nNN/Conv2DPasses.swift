extension Conv2D {
    /// out (N, F, H', W') = x ⋆ w + b for NCHW inputs: the course's `conv_forward`.
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, stride: Int = 1, padding: Int = 0,
                                  layer: String = "Conv2D") throws -> (out: Tensor<S>, cache: Cache<S>) {
        let g = try geometry(layer: layer, input: x.shape, weights: w.shape, stride: stride, padding: padding)
        return try forward(x, w, b, geometry: g)
    }

    /// The convolution of `x` (in `g`'s layout) with `w` (F, C, KH, KW), plus `b` (F) when given,
    /// then the epilogue; by `algorithm` when given (it must be able to compute the layer), else
    /// by the preferred algorithm or the rule.
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>?, geometry g: ConvGeometry,
                                  epilogue: Epilogue = Epilogue(), algorithm forced: Algorithm? = nil) throws
        -> (out: Tensor<S>, cache: Cache<S>) {
        let n = try g.batchSize(of: x.shape)
        let filters = try checkParameters(w, b, g)
        try checkEpilogue(epilogue, g, filters: filters)
        let algorithm = try choose(forced, g, filters: filters, S.self)
        var cache = Cache(x: x, w: w, hasBias: b != nil, geometry: g, algorithm: algorithm, epilogue: epilogue)
        switch (algorithm, g.layout) {
        case (.naive, _): try forwardReference(x, w, b, batch: n, &cache)
        case (.winograd, .nchw), (.winograd4x4, .nchw): try forwardThroughChannelsLast(x, w, b, &cache)
        case (_, .nchw): forwardChannelsFirst(x, w, b, batch: n, &cache)
        case (_, .nhwc): forwardChannelsLast(x, w, b, &cache)
        }
        return (cache.out, cache)
    }

    /// dx (N, C, H, W), dw (F, C, KH, KW) and db (F): every gradient, as the course's
    /// `conv_backward` returns them.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>) {
        let (dx, dw, db) = try backward(dout, cache, needs: .all)
        return (dx!, dw!, db ?? .zeros([cache.w.shape[0]]))
    }

    /// The gradients `needs` asks for (db only when the layer has a bias); dw gains
    /// regularization·w, the L2 term's gradient, folded into the sum. `rule` is the ReLU's
    /// backward rule (guided and deconvnet for visualisations).
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>, needs: GradientNeeds, regularization: S = 0,
                                   rule: ReLUBackwardRule = .standard) throws
        -> (dx: Tensor<S>?, dw: Tensor<S>?, db: Tensor<S>?) {
        guard dout.shape == cache.out.shape else {
            throw TensorError.shapeMismatch(operation: cache.geometry.layer,
                detail: "upstream gradient \(describeShape(dout.shape)) for output \(describeShape(cache.out.shape))")
        }
        switch (cache.algorithm, cache.geometry.layout) {
        case (.naive, _): return try backwardReference(dout, cache, needs: needs, regularization: regularization, rule: rule)
        case (.winograd, .nchw), (.winograd4x4, .nchw):
            return try backwardThroughChannelsLast(dout, cache, needs: needs, regularization: regularization, rule: rule)
        case (_, .nchw): return backwardChannelsFirst(dout, cache, needs: needs, regularization: regularization, rule: rule)
        case (_, .nhwc): return try backwardChannelsLast(dout, cache, needs: needs, regularization: regularization, rule: rule)
        }
    }

    /// Checks w is (F, C, KH, KW) for the geometry and b, when given, is (F); returns F.
    @inlinable
    static func checkParameters<S>(_ w: Tensor<S>, _ b: Tensor<S>?, _ g: ConvGeometry) throws -> Int {
        guard w.rank == 4, w.shape[0] > 0, Array(w.shape.dropFirst()) == [g.channels, g.kernelHeight, g.kernelWidth] else {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "filters \(describeShape(w.shape)) are not (F×\(g.channels)×\(g.kernelHeight)×\(g.kernelWidth))")
        }
        if let b, b.shape != [w.shape[0]] {
            throw TensorError.shapeMismatch(operation: g.layer,
                detail: "bias \(describeShape(b.shape)) is not (\(w.shape[0])) for filters \(describeShape(w.shape))")
        }
        return w.shape[0]
    }

    /// Checks the epilogue's pool runs over this convolution's output, in its layout.
    @inlinable
    static func checkEpilogue(_ e: Epilogue, _ g: ConvGeometry, filters: Int) throws {
        guard let pool = e.pool else { return }
        guard pool.layout == g.layout, pool.channels == filters, pool.height == g.outputHeight, pool.width == g.outputWidth else {
            throw TensorError.shapeMismatch(operation: pool.layer,
                detail: "pool over \(describeShape(pool.inputShape)) after a convolution to "
                    + "\(describeShape(Array(g.outputShape(batch: 1, channels: filters).dropFirst())))")
        }
        guard pool.kernelHeight * pool.kernelWidth <= 256 else {
            throw TensorError.invalidArgument(operation: pool.layer,
                detail: "a fused pool window has at most 256 taps, not \(pool.kernelHeight)×\(pool.kernelWidth)")
        }
    }

    // MARK: - The reference, and Winograd for NCHW

    /// The naive loops, then the epilogue by the reference layers one after the other (NHWC
    /// through NCHW).
    @inlinable
    static func forwardReference<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>?, batch n: Int, _ cache: inout Cache<S>) throws {
        let g = cache.geometry, layout = g.layout
        let z = try forwardNaive(layout.convert(x, to: .nchw), w, b ?? .zeros([w.shape[0]]), geometry: g.inLayout(.nchw))
        var a = z
        switch cache.epilogue.activation {
        case .none: break
        case .relu: a = ReLU.forward(z).out
        case .gelu: (a, cache.gelu) = GELU.forward(z)
        }
        cache.activationLayout = .nchw
        if cache.epilogue.activation != .none { cache.activations = a }
        if let pool = cache.epilogue.pool {
            let (pooled, poolCache) = try MaxPool2D.forwardNaive(a, geometry: pool.inLayout(.nchw))
            (a, cache.pool) = (pooled, poolCache)
        }
        cache.out = try ImageLayout.nchw.convert(a, to: layout)
    }

    @inlinable
    static func backwardReference<S>(_ dout: Tensor<S>, _ cache: Cache<S>, needs: GradientNeeds, regularization: S,
                                     rule: ReLUBackwardRule) throws -> (dx: Tensor<S>?, dw: Tensor<S>?, db: Tensor<S>?) {
        let layout = cache.geometry.layout
        var d = try layout.convert(dout, to: .nchw)
        if let pool = cache.pool { d = try MaxPool2D.backwardNaive(d, pool) }
        switch cache.epilogue.activation {
        case .none: break
        case .relu: d = try ReLU.backward(d, gate: cache.activations!, rule: rule)
        case .gelu: d = try GELU.backward(d, cache.gelu!, layer: cache.geometry.layer)
        }
        var reference = cache
        reference.geometry = cache.geometry.inLayout(.nchw)
        reference.x = try layout.convert(cache.x, to: .nchw)
        let (dx, dw, db) = try backwardNaive(d, reference)
        return (needs.contains(.input) ? try ImageLayout.nchw.convert(dx, to: layout) : nil,
                needs.contains(.weights) ? (regularization == 0 ? dw : try dw + cache.w * regularization) : nil,
                needs.contains(.biases) && cache.hasBias ? db : nil)
    }

    /// NCHW by the channels-last Winograd kernels, transposed on the way in and out.
    @inlinable
    static func forwardThroughChannelsLast<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>?, _ cache: inout Cache<S>) throws {
        var inner = cache
        inner.geometry = cache.geometry.inLayout(.nhwc)
        inner.epilogue.pool = cache.epilogue.pool?.inLayout(.nhwc)
        forwardChannelsLast(try ImageLayout.nchw.convert(x, to: .nhwc), w, b, &inner)
        cache.activations = inner.activations
        cache.gelu = inner.gelu
        cache.activationLayout = .nhwc
        cache.pool = inner.pool
        cache.out = try ImageLayout.nhwc.convert(inner.out, to: .nchw)
    }

    @inlinable
    static func backwardThroughChannelsLast<S>(_ dout: Tensor<S>, _ cache: Cache<S>, needs: GradientNeeds, regularization: S,
                                               rule: ReLUBackwardRule) throws -> (dx: Tensor<S>?, dw: Tensor<S>?, db: Tensor<S>?) {
        var inner = cache
        inner.geometry = cache.geometry.inLayout(.nhwc)
        inner.epilogue.pool = cache.epilogue.pool?.inLayout(.nhwc)
        inner.x = try ImageLayout.nchw.convert(cache.x, to: .nhwc)
        let (dx, dw, db) = try backwardChannelsLast(ImageLayout.nchw.convert(dout, to: .nhwc), inner, needs: needs,
                                                    regularization: regularization, rule: rule)
        return (try dx.map { try ImageLayout.nhwc.convert($0, to: .nchw) }, dw, db)
    }
}
