import CS231nTensor

/// Rows of a row-major matrix, by pointer: the operands of the distance kernels.
struct RowMatrix: @unchecked Sendable {
    let base: UnsafePointer<Float>
    let rows: Int
    let columns: Int

    @inline(__always)
    func row(_ index: Int) -> UnsafePointer<Float> { base + index * columns }
}

/// The hot loops behind every distance: the squared-L2 tile on the BLAS GEMM and the L1 SIMD
/// kernel. Both fill a (queries × training) block of a distance buffer.
///
/// Work is cut into tiles of a fixed size — never "one piece per core" — and each tile is one
/// single-threaded GEMM call or kernel pass, so every distance comes out bit for bit the same
/// whatever the thread count.
enum DistanceKernels {
    /// Queries per tile.
    static let queryTile = 256
    /// Training rows per tile: one GEMM call of 256 × 1024 × 3072 (1.6 GFLOP) keeps packing cheap.
    static let trainingTile = 1024

    /// Squared L2 distances d[i][j] = (‖q_i‖² + ‖t_j‖²) − 2·q_i·t_j for every query and training
    /// row, written to `output` with row stride `outputStride`; parallel over tiles.
    static func squaredL2(queries: RowMatrix, queryNorms: UnsafePointer<Float>,
                          training: RowMatrix, trainingNorms: UnsafePointer<Float>,
                          output: UnsafeMutablePointer<Float>, outputStride: Int) {
        let norms = (SendableConstPointer(queryNorms), SendableConstPointer(trainingNorms))
        let target = SendablePointer(output)
        forEachTile(queries: queries.rows, training: training.rows) { queryRange, trainingRange in
            let tile = target.base + queryRange.lowerBound * outputStride + trainingRange.lowerBound
            GEMM.run(GemmCall(transposeB: true, m: queryRange.count, n: trainingRange.count, k: queries.columns,
                              alpha: -2, a: queries.row(queryRange.lowerBound), lda: queries.columns,
                              b: training.row(trainingRange.lowerBound), ldb: training.columns,
                              beta: 0, c: tile, ldc: outputStride))
            let trainingNorm = norms.1.base + trainingRange.lowerBound
            for (offset, query) in queryRange.enumerated() {
                let row = tile + offset * outputStride
                let queryNorm = norms.0.base[query]
                for j in 0..<trainingRange.count { row[j] = (queryNorm + trainingNorm[j]) + row[j] }
            }
        }
    }

    /// L1 distances d[i][j] = Σ|q_i − t_j| into `output` (row stride `outputStride`); parallel over tiles.
    static func l1(queries: RowMatrix, training: RowMatrix,
                   output: UnsafeMutablePointer<Float>, outputStride: Int) {
        let target = SendablePointer(output)
        forEachTile(queries: queries.rows, training: training.rows) { queryRange, trainingRange in
            l1Tile(queries: queries, queryRange: queryRange, training: training, trainingRange: trainingRange,
                   output: target.base, outputStride: outputStride)
        }
    }

    /// Runs `body` on every (query tile, training tile) pair, the pairs spread over the cores.
    static func forEachTile(queries: Int, training: Int,
                            _ body: @Sendable (Range<Int>, Range<Int>) -> Void) {
        let queryTiles = (queries + queryTile - 1) / queryTile
        let trainingTiles = (training + trainingTile - 1) / trainingTile
        Parallel.forEach(queryTiles * trainingTiles) { tile in
            let q = tile / trainingTiles, t = tile % trainingTiles
            body(q * queryTile..<Swift.min(queries, (q + 1) * queryTile),
                 t * trainingTile..<Swift.min(training, (t + 1) * trainingTile))
        }
    }

    /// Training rows kept hot in L2 while every query of the tile passes over them.
    static let l1Panel = 32

    /// One tile of L1 distances: 4 queries × 2 training rows per pass, so each load of a
    /// training vector serves four queries and each query vector two training rows.
    static func l1Tile(queries: RowMatrix, queryRange: Range<Int>, training: RowMatrix, trainingRange: Range<Int>,
                       output: UnsafeMutablePointer<Float>, outputStride: Int) {
        let dims = queries.columns
        var panelStart = trainingRange.lowerBound
        while panelStart < trainingRange.upperBound {
            let panelEnd = Swift.min(trainingRange.upperBound, panelStart + l1Panel)
            var i = queryRange.lowerBound
            while i < queryRange.upperBound {
                let rowsLeft = queryRange.upperBound - i
                var j = panelStart
                if rowsLeft >= 4 {
                    let q = (queries.row(i), queries.row(i + 1), queries.row(i + 2), queries.row(i + 3))
                    while j + 2 <= panelEnd {
                        let d = l1Block4x2(q, training.row(j), training.row(j + 1), dims: dims)
                        for r in 0..<4 {
                            output[(i + r) * outputStride + j] = d[r]
                            output[(i + r) * outputStride + j + 1] = d[4 + r]
                        }
                        j += 2
                    }
                    if j < panelEnd {
                        for r in 0..<4 { output[(i + r) * outputStride + j] = l1Pair(queries.row(i + r), training.row(j), dims: dims) }
                    }
                    i += 4
                } else {
                    while j < panelEnd {
                        output[i * outputStride + j] = l1Pair(queries.row(i), training.row(j), dims: dims)
                        j += 1
                    }
                    i += 1
                }
            }
            panelStart = panelEnd
        }
    }

    static let signMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)

    @inline(__always)
    static func absoluteDifference(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(a - b, to: SIMD8<UInt32>.self) & signMask, to: SIMD8<Float>.self)
    }

    /// Lane sums in one fixed order, shared by every kernel so that a pair's distance never
    /// depends on which kernel computed it.
    @inline(__always)
    static func total(_ lanes: SIMD8<Float>, tail: Float) -> Float {
        let four = lanes.lowHalf + lanes.highHalf
        let two = four.lowHalf + four.highHalf
        return (two[0] + two[1]) + tail
    }

    @inline(__always)
    static func scalarTail(_ q: UnsafePointer<Float>, _ t: UnsafePointer<Float>, from start: Int, to dims: Int) -> Float {
        var sum: Float = 0
        for d in start..<dims { sum += Swift.abs(q[d] - t[d]) }
        return sum
    }

    /// Eight independent accumulator chains (4 queries × 2 rows) hide the add latency, and
    /// six vector loads feed eight |difference|s.
    @inline(__always)
    static func l1Block4x2(_ q: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
                           _ t0: UnsafePointer<Float>, _ t1: UnsafePointer<Float>, dims: Int) -> SIMD8<Float> {
        var a00 = SIMD8<Float>(), a10 = SIMD8<Float>(), a20 = SIMD8<Float>(), a30 = SIMD8<Float>()
        var a01 = SIMD8<Float>(), a11 = SIMD8<Float>(), a21 = SIMD8<Float>(), a31 = SIMD8<Float>()
        let vectorDims = dims & ~7
        var d = 0
        while d < vectorDims {
            let x0 = UnsafeRawPointer(t0 + d).loadUnaligned(as: SIMD8<Float>.self)
            let x1 = UnsafeRawPointer(t1 + d).loadUnaligned(as: SIMD8<Float>.self)
            let y0 = UnsafeRawPointer(q.0 + d).loadUnaligned(as: SIMD8<Float>.self)
            a00 += absoluteDifference(y0, x0); a01 += absoluteDifference(y0, x1)
            let y1 = UnsafeRawPointer(q.1 + d).loadUnaligned(as: SIMD8<Float>.self)
            a10 += absoluteDifference(y1, x0); a11 += absoluteDifference(y1, x1)
            let y2 = UnsafeRawPointer(q.2 + d).loadUnaligned(as: SIMD8<Float>.self)
            a20 += absoluteDifference(y2, x0); a21 += absoluteDifference(y2, x1)
            let y3 = UnsafeRawPointer(q.3 + d).loadUnaligned(as: SIMD8<Float>.self)
            a30 += absoluteDifference(y3, x0); a31 += absoluteDifference(y3, x1)
            d += 8
        }
        return SIMD8(total(a00, tail: scalarTail(q.0, t0, from: vectorDims, to: dims)),
                     total(a10, tail: scalarTail(q.1, t0, from: vectorDims, to: dims)),
                     total(a20, tail: scalarTail(q.2, t0, from: vectorDims, to: dims)),
                     total(a30, tail: scalarTail(q.3, t0, from: vectorDims, to: dims)),
                     total(a01, tail: scalarTail(q.0, t1, from: vectorDims, to: dims)),
                     total(a11, tail: scalarTail(q.1, t1, from: vectorDims, to: dims)),
                     total(a21, tail: scalarTail(q.2, t1, from: vectorDims, to: dims)),
                     total(a31, tail: scalarTail(q.3, t1, from: vectorDims, to: dims)))
    }

    /// One pair, with exactly the per-lane arithmetic of `l1Block4x2`.
    @inline(__always)
    static func l1Pair(_ q: UnsafePointer<Float>, _ t: UnsafePointer<Float>, dims: Int) -> Float {
        pairSum(q, t, dims: dims, AbsoluteDifference.self)
    }

    /// Σ(q − t)² with SIMD lanes: the inner loop of the two-loop version.
    @inline(__always)
    static func squaredL2Pair(_ q: UnsafePointer<Float>, _ t: UnsafePointer<Float>, dims: Int) -> Float {
        pairSum(q, t, dims: dims, SquaredDifference.self)
    }

    /// Σ over the dimensions of one pair's `Term`: eight lanes, then the scalar tail. The term is
    /// a type rather than a closure, so each metric gets its own specialized loop.
    @inline(__always)
    static func pairSum<Term: PairTerm>(_ q: UnsafePointer<Float>, _ t: UnsafePointer<Float>, dims: Int,
                                        _: Term.Type) -> Float {
        var acc = SIMD8<Float>()
        let vectorDims = dims & ~7
        var d = 0
        while d < vectorDims {
            Term.accumulate(&acc, UnsafeRawPointer(q + d).loadUnaligned(as: SIMD8<Float>.self),
                            UnsafeRawPointer(t + d).loadUnaligned(as: SIMD8<Float>.self))
            d += 8
        }
        return total(acc, tail: Term.tail(q, t, from: vectorDims, to: dims))
    }

    /// |q − t|, as `l1Block4x2` sums it.
    enum AbsoluteDifference: PairTerm {
        @inline(__always)
        static func accumulate(_ acc: inout SIMD8<Float>, _ q: SIMD8<Float>, _ t: SIMD8<Float>) {
            acc += absoluteDifference(q, t)
        }

        @inline(__always)
        static func tail(_ q: UnsafePointer<Float>, _ t: UnsafePointer<Float>, from start: Int, to dims: Int) -> Float {
            scalarTail(q, t, from: start, to: dims)
        }
    }

    /// (q − t)², fused into the lanes by `addProduct`.
    enum SquaredDifference: PairTerm {
        @inline(__always)
        static func accumulate(_ acc: inout SIMD8<Float>, _ q: SIMD8<Float>, _ t: SIMD8<Float>) {
            let diff = q - t
            acc.addProduct(diff, diff)
        }

        @inline(__always)
        static func tail(_ q: UnsafePointer<Float>, _ t: UnsafePointer<Float>, from start: Int, to dims: Int) -> Float {
            var tail: Float = 0
            for d in start..<dims { tail += (q[d] - t[d]) * (q[d] - t[d]) }
            return tail
        }
    }

    /// Distances in Double, used to settle the near-ties the Float kernels cannot: exact for
    /// integer pixels (differences and squares are exact, sums stay far below 2⁵³).
    static func referenceDistance(_ q: UnsafePointer<Float>, _ t: UnsafePointer<Float>, dims: Int,
                                  metric: DistanceMetric) -> Double {
        var low = SIMD4<Double>(), high = SIMD4<Double>()
        let vectorDims = dims & ~7
        var d = 0
        // One loop for both metrics: this path only settles near-ties, and the metric is the
        // same on every pass, so the branch costs next to nothing.
        while d < vectorDims {
            let x = UnsafeRawPointer(q + d).loadUnaligned(as: SIMD8<Float>.self)
            let y = UnsafeRawPointer(t + d).loadUnaligned(as: SIMD8<Float>.self)
            let dl = SIMD4<Double>(x.lowHalf) - SIMD4<Double>(y.lowHalf)
            let dh = SIMD4<Double>(x.highHalf) - SIMD4<Double>(y.highHalf)
            switch metric {
            case .l2: low.addProduct(dl, dl); high.addProduct(dh, dh)
            case .l1: low += dl.replacing(with: -dl, where: dl .< 0); high += dh.replacing(with: -dh, where: dh .< 0)
            }
            d += 8
        }
        var sum = (low + high).sum()
        for d in vectorDims..<dims {
            let diff = Double(q[d]) - Double(t[d])
            sum += metric == .l2 ? diff * diff : Swift.abs(diff)
        }
        return sum
    }

    /// Squared norms summed in Double (four chains), rounded once to Float; parallel over rows.
    static func squaredNorms(_ matrix: RowMatrix) -> [Float] {
        guard matrix.rows > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: matrix.rows) { buffer, initialized in
            let target = SendablePointer(buffer.baseAddress!)
            Parallel.forEachChunk(matrix.rows, minimumChunk: 64) { rows in
                for i in rows {
                    let row = matrix.row(i)
                    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                    let vectorDims = matrix.columns & ~3
                    var d = 0
                    while d < vectorDims {
                        s0 += Double(row[d]) * Double(row[d]); s1 += Double(row[d + 1]) * Double(row[d + 1])
                        s2 += Double(row[d + 2]) * Double(row[d + 2]); s3 += Double(row[d + 3]) * Double(row[d + 3])
                        d += 4
                    }
                    for d in vectorDims..<matrix.columns { s0 += Double(row[d]) * Double(row[d]) }
                    target.base[i] = Float((s0 + s1) + (s2 + s3))
                }
            }
            initialized = matrix.rows
        }
    }
}

/// What a pair distance sums per dimension (`DistanceKernels.pairSum`): eight lanes at a time
/// into the accumulator, and the dimensions after the last full eight as a scalar.
protocol PairTerm {
    static func accumulate(_ acc: inout SIMD8<Float>, _ q: SIMD8<Float>, _ t: SIMD8<Float>)
    static func tail(_ q: UnsafePointer<Float>, _ t: UnsafePointer<Float>, from start: Int, to dims: Int) -> Float
}
