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

    /// The forward into `out`, with the ReLU fused into the bias pass when asked (the
    /// affine-ReLU sandwich): one GEMM and one sweep over the output.
    @inlinable
    static func forward<S>(_ x: Tensor<S>, _ w: Tensor<S>, _ b: Tensor<S>, into out: inout Tensor<S>, relu: Bool) throws {
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

    /// dx (input's shape), dW (D, M), db (M) from dout (N, M): every gradient, as the course's
    /// `affine_backward` returns them.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>) throws
        -> (dx: Tensor<S>, dw: Tensor<S>, db: Tensor<S>) {
        let (dx, dw, db) = try backward(dout, cache, needs: .all)
        return (dx!, dw!, db!)
    }

    /// The gradients `needs` asks for: dx = dout·Wᵀ in the input's shape (a net's first layer
    /// skips it: it costs as much as the forward GEMM), dW = xᵀ·dout + regularization·W (the
    /// L2 term folded into the GEMM as beta, which saves a sweep over W), db = Σ dout.
    @inlinable
    public static func backward<S>(_ dout: Tensor<S>, _ cache: Cache<S>, needs: GradientNeeds, regularization: S = 0) throws
        -> (dx: Tensor<S>?, dw: Tensor<S>?, db: Tensor<S>?) {
        guard dout.rank == 2, dout.shape[0] == cache.x.shape[0], dout.shape[1] == cache.w.shape[1] else {
            throw TensorError.shapeMismatch(operation: "Affine.backward",
                detail: "upstream gradient \(describeShape(dout.shape)) for output (\(cache.x.shape[0])×\(cache.w.shape[1]))")
        }
        var dw: Tensor<S>?, db: Tensor<S>?
        if needs.contains(.weights) {
            var gradient = Tensor<S>(uninitializedShape: cache.w.shape)
            if regularization != 0 {
                cache.w.withUnsafeBufferPointer { w in
                    gradient.withUnsafeMutableBufferPointer { g in
                        RowKernels.scale(w.baseAddress!, by: regularization, into: g.baseAddress!, count: g.count)
                    }
                }
            }
            try gemm(cache.x, transposeA: true, dout, into: &gradient, beta: regularization != 0 ? 1 : 0)
            dw = gradient
        }
        if needs.contains(.biases) {
            let (n, m) = (dout.shape[0], dout.shape[1])
            var sums = Tensor<S>(uninitializedShape: [m])
            dout.withUnsafeBufferPointer { d in
                sums.withUnsafeMutableBufferPointer { g in RowKernels.columnSums(d.baseAddress!, rows: n, columns: m, into: g.baseAddress!) }
            }
            db = sums
        }
        let dx = needs.contains(.input) ? try matmul(dout, cache.w, transposeB: true).reshaped(cache.inputShape) : nil
        return (dx, dw, db)
    }
}
