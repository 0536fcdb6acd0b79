/// Max pooling of one (H, W) plane, forward and backward, on raw buffers.
extension ConvGeometry {
    /// Windows that tile the plane: each input belongs to exactly one window.
    @inlinable
    var windowsTile: Bool { stride == kernelHeight && stride == kernelWidth && padding == 0 }

    @inlinable
    func maxPoolPlane<S: TensorScalar>(_ plane: UnsafePointer<S>, into out: UnsafeMutablePointer<S>) {
        if windowsTile && stride == 2 {
            for oy in 0..<outputHeight {
                let top = plane + 2 * oy * width, bottom = top + width, row = out + oy * outputWidth
                for ox in 0..<outputWidth {
                    row[ox] = Swift.max(Swift.max(top[2 * ox], top[2 * ox + 1]), Swift.max(bottom[2 * ox], bottom[2 * ox + 1]))
                }
            }
            return
        }
        var o = out
        for oy in 0..<outputHeight {
            for ox in 0..<outputWidth {
                let corner = plane + oy * stride * width + ox * stride
                var best = corner[0]
                for ky in 0..<kernelHeight {
                    for kx in 0..<kernelWidth where corner[ky * width + kx] > best { best = corner[ky * width + kx] }
                }
                o.pointee = best
                o += 1
            }
        }
    }

    /// Routes each window's upstream gradient to the window's first element equal to the
    /// pooled value, through a ReLU's backward rule when `relu` is set.
    @inlinable
    func maxUnpoolPlane<S: TensorScalar>(_ plane: UnsafePointer<S>, pooled: UnsafePointer<S>, upstream: UnsafePointer<S>,
                                         into dx: UnsafeMutablePointer<S>, relu: ReLUBackwardRule?) {
        if windowsTile && stride == 2 {
            withUnsafeTemporaryAllocation(of: S.self, capacity: outputWidth) { gated in
                let g = gated.baseAddress!
                for oy in 0..<outputHeight {
                    let top = plane + 2 * oy * width, bottom = top + width
                    let dtop = dx + 2 * oy * width, dbottom = dtop + width
                    let m = pooled + oy * outputWidth
                    ConvGeometry.gate(upstream + oy * outputWidth, pooled: m, count: outputWidth, relu: relu, into: g)
                    var first = 0
                    if S.self == Float.self {
                        first = ConvGeometry.unpool2x2(top, bottom, pooled: m, gated: g, dtop, dbottom, count: outputWidth)
                    }
                    for ox in first..<outputWidth {
                        let best = m[ox]
                        let (a, b, c) = (top[2 * ox] == best, top[2 * ox + 1] == best, bottom[2 * ox] == best)
                        dtop[2 * ox] = a ? g[ox] : 0
                        dtop[2 * ox + 1] = !a && b ? g[ox] : 0
                        dbottom[2 * ox] = !a && !b && c ? g[ox] : 0
                        dbottom[2 * ox + 1] = !a && !b && !c ? g[ox] : 0
                    }
                }
            }
            return
        }
        if !windowsTile { dx.update(repeating: 0, count: inputPlane) }
        var o = 0
        for oy in 0..<outputHeight {
            for ox in 0..<outputWidth {
                let offset = oy * stride * width + ox * stride
                let g = ConvGeometry.gate(upstream[o], pooled: pooled[o], relu: relu), best = pooled[o]
                var found = false
                for ky in 0..<kernelHeight {
                    for kx in 0..<kernelWidth {
                        let i = offset + ky * width + kx
                        if !found && plane[i] == best {
                            found = true
                            dx[i] = windowsTile ? g : dx[i] + g
                        } else if windowsTile {
                            dx[i] = 0
                        }
                    }
                }
                o += 1
            }
        }
    }

    /// The 2×2 unpooling of one row pair, eight windows per step with branch-free masks
    /// (a window's winner is data-dependent, so branches mispredict half the time). Float
    /// only: generic SIMD comparisons are lowered lane by lane. Returns the windows done.
    @inlinable
    static func unpool2x2<S: TensorScalar>(_ top: UnsafePointer<S>, _ bottom: UnsafePointer<S>, pooled: UnsafePointer<S>,
                                           gated: UnsafePointer<S>, _ dtop: UnsafeMutablePointer<S>,
                                           _ dbottom: UnsafeMutablePointer<S>, count: Int) -> Int {
        func floats(_ p: UnsafePointer<S>) -> UnsafeRawPointer { UnsafeRawPointer(p) }
        var ox = 0
        while ox + 8 <= count {
            let t = floats(top + 2 * ox).loadUnaligned(as: SIMD16<Float>.self)
            let b = floats(bottom + 2 * ox).loadUnaligned(as: SIMD16<Float>.self)
            let best = floats(pooled + ox).loadUnaligned(as: SIMD8<Float>.self)
            let g = floats(gated + ox).loadUnaligned(as: SIMD8<Float>.self)
            let isA = t.evenHalf .== best, isB = .!isA .& (t.oddHalf .== best)
            let neitherAB = .!isA .& .!(t.oddHalf .== best)
            let isC = neitherAB .& (b.evenHalf .== best), isD = neitherAB .& .!(b.evenHalf .== best)
            let zero = SIMD8<Float>.zero
            var row = SIMD16<Float>()
            row.evenHalf = zero.replacing(with: g, where: isA)
            row.oddHalf = zero.replacing(with: g, where: isB)
            UnsafeMutableRawPointer(dtop + 2 * ox).storeBytes(of: row, as: SIMD16<Float>.self)
            row.evenHalf = zero.replacing(with: g, where: isC)
            row.oddHalf = zero.replacing(with: g, where: isD)
            UnsafeMutableRawPointer(dbottom + 2 * ox).storeBytes(of: row, as: SIMD16<Float>.self)
            ox += 8
        }
        return ox
    }

    /// The gradient that reaches the winner of a window whose pooled value came out of a ReLU.
    @inlinable @inline(__always)
    static func gate<S: TensorScalar>(_ g: S, pooled: S, relu: ReLUBackwardRule?) -> S {
        switch relu {
        case nil: return g
        case .standard: return pooled > 0 ? g : 0
        case .guided: return pooled > 0 && g > 0 ? g : 0
        case .deconvnet: return Swift.max(g, 0)
        }
    }

    /// `gate` over a row, with the rule chosen once so that each loop vectorises.
    @inlinable
    static func gate<S: TensorScalar>(_ g: UnsafePointer<S>, pooled: UnsafePointer<S>, count: Int,
                                      relu: ReLUBackwardRule?, into out: UnsafeMutablePointer<S>) {
        switch relu {
        case nil: out.update(from: g, count: count)
        case .standard: for i in 0..<count { out[i] = pooled[i] > 0 ? g[i] : 0 }
        case .guided: for i in 0..<count { out[i] = pooled[i] > 0 && g[i] > 0 ? g[i] : 0 }
        case .deconvnet: for i in 0..<count { out[i] = g[i] > 0 ? g[i] : 0 }
        }
    }

    /// The flat index into x of the first largest element of window (oy, ox) of plane p.
    @inlinable
    func naiveArgmax<S: TensorScalar>(_ x: UnsafeBufferPointer<S>, _ p: Int, _ oy: Int, _ ox: Int) -> Int {
        var best = -1
        for ky in 0..<kernelHeight {
            for kx in 0..<kernelWidth {
                let i = (p * height + oy * stride + ky) * width + ox * stride + kx
                if best < 0 || x[i] > x[best] { best = i }
            }
        }
        return best
    }
}
