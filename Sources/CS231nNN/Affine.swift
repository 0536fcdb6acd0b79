/// The fully-connected layer: out = x·W + b, with x flattened to (N, D).
public enum Affine {
    /// What the backward pass needs from the forward pass.
    public struct Cache<S: TensorScalar>: Sendable {
        /// The input flattened to (N, D).
        public var x: Tensor<S>
        /// The weights (D, M).
        public var w: Tensor<S>
        /// The input's own shape, which dx takes back (e.g. (N, C, H, W)).
        public var inputShape: [Int]

        @inlinable
        public init(x: Tensor<S>, w: Tensor<S>, inputShape: [Int]) {
            self.x = x; self.w = w; self.inputShape = inputShape
        }
    }

    /// out (N, M) = x·W + b for x of shape (N, d₁, …, d_k) with d₁·…·d_k = D, W (D, M), b (M).
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>) throws
        -> (out: Tensor<S>, cache: Cache<S>) {
        let rows = x.flattenedRows()
        var out = Tensor<S>(uninitializedShape: [rows.shape[0], w.shape.last ?? 0])
        try forward(rows, w, b, into: &out, relu: false)
        return (out, Cache(x: rows, w: w, inputShape: x.shape))
    }

    /// The forward into a buffer the caller keeps, with the ReLU fused into the bias pass when
    /// asked (the affine-ReLU sandwich): one GEMM and one sweep over the output.
    @inlinable
    public static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>,
                                  into out: inout Tensor<S>, relu: Bool) throws {
        let rows = x.rank == 2 ? x : x.flattenedRows()
        guard b.rank == 1, w.rank == 2, b.shape[0] == w.shape[1] else {
            throw TensorError.shapeMismatch(operation: "Affine.forward",
                detail: "weights \(describeShape(w.shape)) and bias \(describeShape(b.shape)) disagree")
        }
        let (n, m) = (rows.shape[0], w.shape[1])
        if out.shape != [n, m] { out = Tensor(uninitializedShape: [n, m]) }
        try gemm(rows, w, into: &out)
        b.withUnsafeBufferPointer { bias in
            out.withUnsafeMutableBufferPointer { o in
                RowKernels.addBias(o.baseAddress!, rows: n, columns: m, bias: bias.baseAddress!, relu: relu)
            }
        }
    }

    /// dx (input's shape), dW (D, M), db (M) from dout (N, M).
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws
        -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>) {
        var dw = Tensor<S>(uninitializedShape: cache.w.shape)
        var db = Tensor<S>(uninitializedShape: [cache.w.shape[1]])
        try parameterGradients(dout, cache, dw: &dw, db: &db)
        return (try inputGradient(dout, cache), dw, db)
    }

    /// dx = dout·Wᵀ, in the input's shape. The first layer of a net skips it: nothing upstream
    /// wants the gradient of the data, and it costs as much as the forward GEMM.
    @inlinable
    public static func inputGradient<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws -> Tensor<S> {
        try matmul(dout, cache.w, transposeB: true).reshaped(cache.inputShape)
    }

    /// dW = xᵀ·dout + regularization·W and db = Σ dout over the batch, into buffers the caller
    /// keeps. Folding the L2 term into the GEMM (as beta) saves a sweep over W.
    @inlinable
    public static func parameterGradients<S>(_ dout: Tensor<S>, _ cache: Cache<S>,
                                             dw: inout Tensor<S>, db: inout Tensor<S>,
                                             regularization: S = 0) throws {
        guard dout.rank == 2, dout.shape[0] == cache.x.shape[0], dout.shape[1] == cache.w.shape[1] else {
            throw TensorError.shapeMismatch(operation: "Affine.backward",
                detail: "upstream gradient \(describeShape(dout.shape)) for output (\(cache.x.shape[0])×\(cache.w.shape[1]))")
        }
        if dw.shape != cache.w.shape { dw = Tensor(uninitializedShape: cache.w.shape) }
        if db.shape != [cache.w.shape[1]] { db = Tensor(uninitializedShape: [cache.w.shape[1]]) }
        if regularization != 0 {
            cache.w.withUnsafeBufferPointer { w in
                dw.withUnsafeMutableBufferPointer { g in
                    RowKernels.scale(w.baseAddress!, by: regularization, into: g.baseAddress!, count: g.count)
                }
            }
        }
        try gemm(cache.x, transposeA: true, dout, into: &dw, beta: regularization != 0 ? 1 : 0)
        let (n, m) = (dout.shape[0], dout.shape[1])
        dout.withUnsafeBufferPointer { d in
            db.withUnsafeMutableBufferPointer { g in
                RowKernels.columnSums(d.baseAddress!, rows: n, columns: m, into: g.baseAddress!)
            }
        }
    }
}
