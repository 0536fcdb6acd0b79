/// The transforms of one Winograd variant F(m×m, 3×3): each m×m block of outputs ("tile") is
/// computed from the α×α input patch around it, α = m + 2, with α² multiplications per channel
/// pair instead of 9m²:
///
///     Y = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A
///
/// `WinogradConv` runs the GEMMs over the α² positions; a tile type supplies the matrices as
/// one-dimensional transforms, applied along one axis of the tile and then the other. Images are
/// channels last, so each transform works on 8 channels (or filters) at a time.
@usableFromInline
protocol WinogradTile: Sendable {
    /// m, the outputs along each side of a tile.
    static var outputSize: Int { get }

    /// V = Bᵀ d B for `lanes` (≤ 8) channels from `channel` of the α² patch pixels `d` (row
    /// order): position p lands at `target + p·stride`. `scratch` holds α² vectors for the
    /// rows' transforms (a stack buffer that large would be allocated on the heap every call).
    static func transformInput<S: TensorScalar>(_ d: UnsafePointer<UnsafePointer<S>>, channel: Int, lanes: Int,
                                                into target: UnsafeMutablePointer<S>, stride: Int,
                                                scratch: UnsafeMutablePointer<SIMD8<S>>)

    /// Y = Aᵀ M A for `lanes` filters, M's α² positions `stride` apart: stores the
    /// `rowsInside` × `columnsInside` outputs that fall inside the plane from `corner`.
    static func transformOutput<S: TensorScalar>(_ m: UnsafePointer<S>, stride: Int, lanes: Int,
                                                 into corner: UnsafeMutablePointer<S>, rowStride: Int, columnStride: Int,
                                                 rowsInside: Int, columnsInside: Int, scratch: UnsafeMutablePointer<SIMD8<S>>)

    /// dM = A dY Aᵀ for `lanes` filters, the adjoint of `transformOutput`: the upstream outputs
    /// outside the plane read as zeros.
    static func transformOutputGradient<S: TensorScalar>(_ corner: UnsafePointer<S>, rowStride: Int, columnStride: Int,
                                                         rowsInside: Int, columnsInside: Int, lanes: Int,
                                                         into dm: UnsafeMutablePointer<S>, stride: Int,
                                                         scratch: UnsafeMutablePointer<SIMD8<S>>)

    /// U = G g Gᵀ of one 3×3 filter `g` (row order): position p lands at `u[p·stride]`.
    static func transformFilter<S: TensorScalar>(_ g: UnsafePointer<S>, into u: UnsafeMutablePointer<S>, stride: Int)

    /// dg = Gᵀ dU G, the adjoint of `transformFilter`, into the 3×3 filter gradient `dg`.
    static func untransformFilterGradient<S: TensorScalar>(_ du: UnsafePointer<S>, stride: Int, into dg: UnsafeMutablePointer<S>)
}

extension WinogradTile {
    /// α = m + 2: the input patch side.
    @inlinable static var patchSize: Int { outputSize + 2 }
    /// α², the GEMMs per chunk.
    @inlinable static var positions: Int { patchSize * patchSize }
}

/// F(2×2, 3×3): 16 positions for 4 outputs, 2.25× fewer multiplications than direct
/// convolution; its transforms are additions only, so it is exact to the last bits that
/// the GEMM's sums allow.
@usableFromInline
enum WinogradF2: WinogradTile {
    @inlinable static var outputSize: Int { 2 }

    /// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], applied to the columns, then to the rows.
    @inlinable @inline(__always)
    static func transformInput<S: TensorScalar>(_ d: UnsafePointer<UnsafePointer<S>>, channel: Int, lanes: Int,
                                                into target: UnsafeMutablePointer<S>, stride: Int,
                                                scratch _: UnsafeMutablePointer<SIMD8<S>>) {
        @inline(__always) func column(_ j: Int) -> (SIMD8<S>, SIMD8<S>, SIMD8<S>, SIMD8<S>) {
            let d0 = SIMD8<S>(loading: d[j] + channel, lanes: lanes), d1 = SIMD8<S>(loading: d[4 + j] + channel, lanes: lanes)
            let d2 = SIMD8<S>(loading: d[8 + j] + channel, lanes: lanes), d3 = SIMD8<S>(loading: d[12 + j] + channel, lanes: lanes)
            return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
        }
        let (r00, r10, r20, r30) = column(0), (r01, r11, r21, r31) = column(1)
        let (r02, r12, r22, r32) = column(2), (r03, r13, r23, r33) = column(3)
        @inline(__always) func row(_ i: Int, _ a: SIMD8<S>, _ b: SIMD8<S>, _ c: SIMD8<S>, _ e: SIMD8<S>) {
            let base = target + 4 * i * stride
            (a - c).store(to: base, lanes: lanes)
            (b + c).store(to: base + stride, lanes: lanes)
            (c - b).store(to: base + 2 * stride, lanes: lanes)
            (b - e).store(to: base + 3 * stride, lanes: lanes)
        }
        row(0, r00, r01, r02, r03); row(1, r10, r11, r12, r13)
        row(2, r20, r21, r22, r23); row(3, r30, r31, r32, r33)
    }

    /// Aᵀ = [1 1 1 0; 0 1 −1 −1].
    @inlinable @inline(__always)
    static func transformOutput<S: TensorScalar>(_ m: UnsafePointer<S>, stride: Int, lanes: Int,
                                                 into corner: UnsafeMutablePointer<S>, rowStride: Int, columnStride: Int,
                                                 rowsInside: Int, columnsInside: Int, scratch _: UnsafeMutablePointer<SIMD8<S>>) {
        @inline(__always) func column(_ j: Int) -> (SIMD8<S>, SIMD8<S>) {
            let m0 = SIMD8<S>(loading: m + j * stride, lanes: lanes), m1 = SIMD8<S>(loading: m + (4 + j) * stride, lanes: lanes)
            let m2 = SIMD8<S>(loading: m + (8 + j) * stride, lanes: lanes), m3 = SIMD8<S>(loading: m + (12 + j) * stride, lanes: lanes)
            return (m0 + m1 + m2, m1 - m2 - m3)
        }
        let (s00, s10) = column(0), (s01, s11) = column(1), (s02, s12) = column(2), (s03, s13) = column(3)
        (s00 + s01 + s02).store(to: corner, lanes: lanes)
        if columnsInside == 2 { (s01 - s02 - s03).store(to: corner + columnStride, lanes: lanes) }
        if rowsInside == 2 {
            (s10 + s11 + s12).store(to: corner + rowStride, lanes: lanes)
            if columnsInside == 2 { (s11 - s12 - s13).store(to: corner + rowStride + columnStride, lanes: lanes) }
        }
    }

    /// A = Aᵀᵀ: (y0, y0 + y1, y0 − y1, −y1) down the rows, then along the columns.
    @inlinable @inline(__always)
    static func transformOutputGradient<S: TensorScalar>(_ corner: UnsafePointer<S>, rowStride: Int, columnStride: Int,
                                                         rowsInside: Int, columnsInside: Int, lanes: Int,
                                                         into dm: UnsafeMutablePointer<S>, stride: Int,
                                                         scratch _: UnsafeMutablePointer<SIMD8<S>>) {
        let y00 = SIMD8<S>(loading: corner, lanes: lanes)
        let y01 = columnsInside == 2 ? SIMD8<S>(loading: corner + columnStride, lanes: lanes) : .zero
        let y10 = rowsInside == 2 ? SIMD8<S>(loading: corner + rowStride, lanes: lanes) : .zero
        let y11 = rowsInside == 2 && columnsInside == 2 ? SIMD8<S>(loading: corner + rowStride + columnStride, lanes: lanes) : .zero
        @inline(__always) func row(_ i: Int, _ t0: SIMD8<S>, _ t1: SIMD8<S>) {
            t0.store(to: dm + 4 * i * stride, lanes: lanes)
            (t0 + t1).store(to: dm + (4 * i + 1) * stride, lanes: lanes)
            (t0 - t1).store(to: dm + (4 * i + 2) * stride, lanes: lanes)
            (-t1).store(to: dm + (4 * i + 3) * stride, lanes: lanes)
        }
        row(0, y00, y01)
        row(1, y00 + y10, y01 + y11)
        row(2, y00 - y10, y01 - y11)
        row(3, -y10, -y11)
    }

    /// G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1] on a column of three.
    @inlinable @inline(__always)
    static func g<S: TensorScalar>(_ a: S, _ b: S, _ e: S) -> (S, S, S, S) {
        let half = S(0.5)
        return (a, half * (a + b + e), half * (a - b + e), e)
    }

    @inlinable @inline(__always)
    static func transformFilter<S: TensorScalar>(_ k: UnsafePointer<S>, into u: UnsafeMutablePointer<S>, stride: Int) {
        let column0 = g(k[0], k[3], k[6]), column1 = g(k[1], k[4], k[7]), column2 = g(k[2], k[5], k[8])
        @inline(__always) func row(_ i: Int, _ a: S, _ b: S, _ e: S) {
            let (u0, u1, u2, u3) = g(a, b, e)
            u[(4 * i) * stride] = u0
            u[(4 * i + 1) * stride] = u1
            u[(4 * i + 2) * stride] = u2
            u[(4 * i + 3) * stride] = u3
        }
        row(0, column0.0, column1.0, column2.0); row(1, column0.1, column1.1, column2.1)
        row(2, column0.2, column1.2, column2.2); row(3, column0.3, column1.3, column2.3)
    }

    /// Gᵀ on four values: the adjoint of `g`.
    @inlinable @inline(__always)
    static func gTransposed<S: TensorScalar>(_ u0: S, _ u1: S, _ u2: S, _ u3: S) -> (S, S, S) {
        let half = S(0.5)
        return (u0 + half * (u1 + u2), half * (u1 - u2), half * (u1 + u2) + u3)
    }

    @inlinable @inline(__always)
    static func untransformFilterGradient<S: TensorScalar>(_ du: UnsafePointer<S>, stride: Int, into w: UnsafeMutablePointer<S>) {
        @inline(__always) func u(_ i: Int, _ j: Int) -> S { du[(4 * i + j) * stride] }
        // Gᵀ along i for each j, then along j.
        let j0 = gTransposed(u(0, 0), u(1, 0), u(2, 0), u(3, 0)), j1 = gTransposed(u(0, 1), u(1, 1), u(2, 1), u(3, 1))
        let j2 = gTransposed(u(0, 2), u(1, 2), u(2, 2), u(3, 2)), j3 = gTransposed(u(0, 3), u(1, 3), u(2, 3), u(3, 3))
        (w[0], w[1], w[2]) = gTransposed(j0.0, j1.0, j2.0, j3.0)
        (w[3], w[4], w[5]) = gTransposed(j0.1, j1.1, j2.1, j3.1)
        (w[6], w[7], w[8]) = gTransposed(j0.2, j1.2, j2.2, j3.2)
    }
}
