/// F(4×4, 3×3) (Lavin & Gray's points 0, ±1, ±2, ∞): 36 positions for 16 outputs, 4× fewer
/// multiplications than direct convolution. Its transforms scale by up to 8 (A) and 5 (B), so in
/// Float it rounds more than F(2×2, 3×3): `Conv2D`'s rule picks it for Float only, where its
/// error against the Double reference stays below 1e-4 relative (tested at W6's shapes).
///
///     Bᵀ = [4  0 −5  0 1 0;  0 −4 −4  1 1 0;  0 4 −4 −1 1 0;
///           0 −2 −1  2 1 0;  0  2 −1 −2 1 0;  0 4  0 −5 0 1]
///     G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1]
///     Aᵀ = [1 1 1 1 1 0;  0 1 −1 2 −2 0;  0 1 1 4 4 0;  0 1 −1 8 −8 1]
///
/// Each two-dimensional transform of the data is the one-dimensional one along the rows into a
/// scratch of vectors (6×6, 6×4 or 4×6), then along its columns; the filters' transforms work
/// on scalars in registers.
@usableFromInline
enum WinogradF4: WinogradTile {
    @inlinable static var outputSize: Int { 4 }

    @usableFromInline typealias Six<V> = (V, V, V, V, V, V)
    @usableFromInline typealias Four<V> = (V, V, V, V)

    /// Bᵀ on six values, sharing the sums its rows have in common.
    @inlinable @inline(__always)
    static func bTransposed<S: TensorScalar>(_ d: Six<SIMD8<S>>) -> Six<SIMD8<S>> {
        let fourBelow = d.4 - 4 * d.2, fourAbove = d.3 - 4 * d.1
        let below = d.4 - d.2, twiceAbove = 2 * (d.3 - d.1)
        return (4 * d.0 - 5 * d.2 + d.4, fourBelow + fourAbove, fourBelow - fourAbove, below + twiceAbove, below - twiceAbove,
                4 * d.1 - 5 * d.3 + d.5)
    }

    /// Aᵀ on six values.
    @inlinable @inline(__always)
    static func aTransposed<S: TensorScalar>(_ m: Six<SIMD8<S>>) -> Four<SIMD8<S>> {
        let sum12 = m.1 + m.2, difference12 = m.1 - m.2, sum34 = m.3 + m.4, difference34 = m.3 - m.4
        return (m.0 + sum12 + sum34, difference12 + 2 * difference34, sum12 + 4 * sum34, difference12 + 8 * difference34 + m.5)
    }

    /// A on four values: the adjoint of `aTransposed`.
    @inlinable @inline(__always)
    static func a<S: TensorScalar>(_ y: Four<SIMD8<S>>) -> Six<SIMD8<S>> {
        let even = y.0 + y.2, odd = y.1 + y.3, evenFar = y.0 + 4 * y.2, oddFar = 2 * y.1 + 8 * y.3
        return (y.0, even + odd, even - odd, evenFar + oddFar, evenFar - oddFar, y.3)
    }

    /// Stores a column of six vectors, `step` apart from `target`.
    @inlinable @inline(__always)
    static func store<S: TensorScalar>(_ v: Six<SIMD8<S>>, to target: UnsafeMutablePointer<S>, step: Int, lanes: Int) {
        v.0.store(to: target, lanes: lanes)
        v.1.store(to: target + step, lanes: lanes)
        v.2.store(to: target + 2 * step, lanes: lanes)
        v.3.store(to: target + 3 * step, lanes: lanes)
        v.4.store(to: target + 4 * step, lanes: lanes)
        v.5.store(to: target + 5 * step, lanes: lanes)
    }

    @inlinable @inline(__always)
    static func transformInput<S: TensorScalar>(_ d: UnsafePointer<UnsafePointer<S>>, channel: Int, lanes: Int,
                                                into target: UnsafeMutablePointer<S>, stride: Int,
                                                scratch rows: UnsafeMutablePointer<SIMD8<S>>) {
        for i in 0..<6 {
            @inline(__always) func pixel(_ j: Int) -> SIMD8<S> { SIMD8<S>(loading: d[6 * i + j] + channel, lanes: lanes) }
            let t = bTransposed((pixel(0), pixel(1), pixel(2), pixel(3), pixel(4), pixel(5)))
            (rows[6 * i], rows[6 * i + 1], rows[6 * i + 2], rows[6 * i + 3], rows[6 * i + 4], rows[6 * i + 5]) = t
        }
        for k in 0..<6 {
            store(bTransposed((rows[k], rows[6 + k], rows[12 + k], rows[18 + k], rows[24 + k], rows[30 + k])),
                  to: target + k * stride, step: 6 * stride, lanes: lanes)
        }
    }

    @inlinable @inline(__always)
    static func transformOutput<S: TensorScalar>(_ m: UnsafePointer<S>, stride: Int, lanes: Int,
                                                 into corner: UnsafeMutablePointer<S>, rowStride: Int, columnStride: Int,
                                                 rowsInside: Int, columnsInside: Int, scratch rows: UnsafeMutablePointer<SIMD8<S>>) {
        for i in 0..<6 {
            @inline(__always) func entry(_ j: Int) -> SIMD8<S> { SIMD8<S>(loading: m + (6 * i + j) * stride, lanes: lanes) }
            (rows[4 * i], rows[4 * i + 1], rows[4 * i + 2], rows[4 * i + 3]) =
                aTransposed((entry(0), entry(1), entry(2), entry(3), entry(4), entry(5)))
        }
        for column in 0..<columnsInside {
            let y = aTransposed((rows[column], rows[4 + column], rows[8 + column], rows[12 + column], rows[16 + column],
                                 rows[20 + column]))
            let top = corner + column * columnStride
            y.0.store(to: top, lanes: lanes)
            if rowsInside > 1 { y.1.store(to: top + rowStride, lanes: lanes) }
            if rowsInside > 2 { y.2.store(to: top + 2 * rowStride, lanes: lanes) }
            if rowsInside > 3 { y.3.store(to: top + 3 * rowStride, lanes: lanes) }
        }
    }

    @inlinable @inline(__always)
    static func transformOutputGradient<S: TensorScalar>(_ corner: UnsafePointer<S>, rowStride: Int, columnStride: Int,
                                                         rowsInside: Int, columnsInside: Int, lanes: Int,
                                                         into dm: UnsafeMutablePointer<S>, stride: Int,
                                                         scratch rows: UnsafeMutablePointer<SIMD8<S>>) {
        for i in 0..<4 {
            @inline(__always) func upstream(_ j: Int) -> SIMD8<S> {
                i < rowsInside && j < columnsInside ? SIMD8<S>(loading: corner + i * rowStride + j * columnStride, lanes: lanes) : .zero
            }
            (rows[6 * i], rows[6 * i + 1], rows[6 * i + 2], rows[6 * i + 3], rows[6 * i + 4], rows[6 * i + 5]) =
                a((upstream(0), upstream(1), upstream(2), upstream(3)))
        }
        for j in 0..<6 {
            store(a((rows[j], rows[6 + j], rows[12 + j], rows[18 + j])), to: dm + j * stride, step: 6 * stride, lanes: lanes)
        }
    }

    /// G on three values.
    @inlinable @inline(__always)
    static func g<S: TensorScalar>(_ k0: S, _ k1: S, _ k2: S) -> Six<S> {
        let outer = k0 + k2, sixth = S(1) / 6
        let outerWeighted = k0 / 24 + k2 / 6, twelfthMiddle = k1 / 12
        return (k0 / 4, -sixth * (outer + k1), -sixth * (outer - k1), outerWeighted + twelfthMiddle, outerWeighted - twelfthMiddle, k2)
    }

    /// Gᵀ on six values: the adjoint of `g`.
    @inlinable @inline(__always)
    static func gTransposed<S: TensorScalar>(_ u: Six<S>) -> (S, S, S) {
        let sum12 = u.1 + u.2, difference12 = u.1 - u.2, sum34 = u.3 + u.4, difference34 = u.3 - u.4
        return (u.0 / 4 - sum12 / 6 + sum34 / 24, difference34 / 12 - difference12 / 6, -sum12 / 6 + sum34 / 6 + u.5)
    }

    @inlinable @inline(__always)
    static func transformFilter<S: TensorScalar>(_ k: UnsafePointer<S>, into u: UnsafeMutablePointer<S>, stride: Int) {
        // G along each row of the filter, then along each of the six columns that gives.
        let row0 = g(k[0], k[1], k[2]), row1 = g(k[3], k[4], k[5]), row2 = g(k[6], k[7], k[8])
        @inline(__always) func column(_ j: Int, _ a: S, _ b: S, _ e: S) {
            let values = g(a, b, e)
            u[j * stride] = values.0
            u[(6 + j) * stride] = values.1
            u[(12 + j) * stride] = values.2
            u[(18 + j) * stride] = values.3
            u[(24 + j) * stride] = values.4
            u[(30 + j) * stride] = values.5
        }
        column(0, row0.0, row1.0, row2.0); column(1, row0.1, row1.1, row2.1); column(2, row0.2, row1.2, row2.2)
        column(3, row0.3, row1.3, row2.3); column(4, row0.4, row1.4, row2.4); column(5, row0.5, row1.5, row2.5)
    }

    @inlinable @inline(__always)
    static func untransformFilterGradient<S: TensorScalar>(_ du: UnsafePointer<S>, stride: Int, into w: UnsafeMutablePointer<S>) {
        @inline(__always) func row(_ i: Int) -> (S, S, S) {
            @inline(__always) func u(_ j: Int) -> S { du[(6 * i + j) * stride] }
            return gTransposed((u(0), u(1), u(2), u(3), u(4), u(5)))
        }
        // Gᵀ along each of the six rows of dU, then along the three columns that gives.
        let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5)
        (w[0], w[3], w[6]) = gTransposed((r0.0, r1.0, r2.0, r3.0, r4.0, r5.0))
        (w[1], w[4], w[7]) = gTransposed((r0.1, r1.1, r2.1, r3.1, r4.1, r5.1))
        (w[2], w[5], w[8]) = gTransposed((r0.2, r1.2, r2.2, r3.2, r4.2, r5.2))
    }
}
