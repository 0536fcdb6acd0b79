/// Max pooling of one image, forward and backward, on raw buffers: the NCHW plane kernel and
/// the channels-last pixel kernel.
extension ConvGeometry {
    // MARK: NCHW planes

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
    /// pooled value.
    @inlinable
    func maxUnpoolPlane<S: TensorScalar>(_ plane: UnsafePointer<S>, pooled: UnsafePointer<S>, upstream: UnsafePointer<S>,
                                         into dx: UnsafeMutablePointer<S>) {
        if windowsTile { zeroLeftOut(dx, pixelSize: 1) }
        if windowsTile && stride == 2 {
            for oy in 0..<outputHeight {
                let top = plane + 2 * oy * width, bottom = top + width
                let dtop = dx + 2 * oy * width, dbottom = dtop + width
                let (m, g) = (pooled + oy * outputWidth, upstream + oy * outputWidth)
                var first = 0
                if S.self == Float.self {
                    first = ConvGeometry.unpool2x2(top, bottom, pooled: m, gradient: g, dtop, dbottom, count: outputWidth)
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
            return
        }
        if !windowsTile { dx.update(repeating: 0, count: inputPlane) }
        var o = 0
        for oy in 0..<outputHeight {
            for ox in 0..<outputWidth {
                let offset = oy * stride * width + ox * stride
                let (g, best) = (upstream[o], pooled[o])
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
                                           gradient: UnsafePointer<S>, _ dtop: UnsafeMutablePointer<S>,
                                           _ dbottom: UnsafeMutablePointer<S>, count: Int) -> Int {
        func floats(_ p: UnsafePointer<S>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
        func floats(_ p: UnsafeMutablePointer<S>) -> UnsafeMutablePointer<Float> {
            UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
        }
        var ox = 0
        while ox + 8 <= count {
            let t = SIMD16<Float>(loading: floats(top + 2 * ox)), b = SIMD16<Float>(loading: floats(bottom + 2 * ox))
            let best = SIMD8<Float>(loading: floats(pooled + ox)), g = SIMD8<Float>(loading: floats(gradient + ox))
            let isA = t.evenHalf .== best, isB = .!isA .& (t.oddHalf .== best)
            let neitherAB = .!isA .& .!(t.oddHalf .== best)
            let isC = neitherAB .& (b.evenHalf .== best), isD = neitherAB .& .!(b.evenHalf .== best)
            let zero = SIMD8<Float>.zero
            var row = SIMD16<Float>()
            row.evenHalf = zero.replacing(with: g, where: isA)
            row.oddHalf = zero.replacing(with: g, where: isB)
            row.store(to: floats(dtop + 2 * ox))
            row.evenHalf = zero.replacing(with: g, where: isC)
            row.oddHalf = zero.replacing(with: g, where: isD)
            row.store(to: floats(dbottom + 2 * ox))
            ox += 8
        }
        return ox
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

    // MARK: Channels-last pixels

    /// Pools output row `py` of one image given as rows of pixels (height × width × channels):
    /// channel c of output pixel px goes to out[px·pixelStride + c·channelStride] (NHWC or NCHW
    /// output), and the winning tap of each to winners[px·channels + c]. `best` holds `channels`
    /// scalars, needed when channelStride is not 1.
    @inlinable
    func maxPoolPixelRow<S: TensorScalar>(_ image: UnsafePointer<S>, row py: Int, into out: UnsafeMutablePointer<S>,
                                          channelStride: Int, pixelStride: Int, winners: UnsafeMutablePointer<UInt8>,
                                          best: UnsafeMutablePointer<S>?) {
        let c = channels
        for px in 0..<outputWidth {
            let first = image + (py * stride * width + px * stride) * c
            let target = channelStride == 1 ? out + px * pixelStride : best!
            windowMaximum(first, into: target, taps: winners + px * c)
            if channelStride != 1 {
                for j in 0..<c { out[px * pixelStride + j * channelStride] = target[j] }
            }
        }
    }

    /// Every output row of one image; see `maxPoolPixelRow`.
    @inlinable
    func maxPoolPixels<S: TensorScalar>(_ image: UnsafePointer<S>, into out: UnsafeMutablePointer<S>, channelStride: Int,
                                        pixelStride: Int, winners: UnsafeMutablePointer<UInt8>, best: UnsafeMutablePointer<S>?) {
        for py in 0..<outputHeight {
            maxPoolPixelRow(image, row: py, into: out + py * outputWidth * pixelStride, channelStride: channelStride,
                            pixelStride: pixelStride, winners: winners + py * outputWidth * channels, best: best)
        }
    }

    /// The maximum over one window of `channels` values per tap, with the winning tap of each
    /// channel; the first tap wins ties. Float compares 8 channels at a time on concrete
    /// vectors (generic SIMD comparisons are lowered lane by lane); the scalar loop selects
    /// instead of branching, so that the compiler can vectorise it.
    @inlinable @inline(__always)
    func windowMaximum<S: TensorScalar>(_ first: UnsafePointer<S>, into target: UnsafeMutablePointer<S>,
                                        taps: UnsafeMutablePointer<UInt8>) {
        let c = channels
        var j = 0
        if S.self == Float.self {
            let source = UnsafeRawPointer(first).assumingMemoryBound(to: Float.self)
            let best = UnsafeMutableRawPointer(target).assumingMemoryBound(to: Float.self)
            while j + 8 <= c {
                var maximum = SIMD8<Float>(loading: source + j), winner = SIMD8<Int32>.zero
                for ky in 0..<kernelHeight {
                    for kx in 0..<kernelWidth where ky + kx > 0 {
                        let candidate = SIMD8<Float>(loading: source + (ky * width + kx) * c + j)
                        let better = candidate .> maximum
                        maximum.replace(with: candidate, where: better)
                        winner.replace(with: Int32(ky * kernelWidth + kx), where: better)
                    }
                }
                maximum.store(to: best + j)
                for lane in 0..<8 { taps[j + lane] = UInt8(truncatingIfNeeded: winner[lane]) }
                j += 8
            }
        }
        guard j < c else { return }
        (target + j).update(from: first + j, count: c - j)
        (taps + j).update(repeating: 0, count: c - j)
        for ky in 0..<kernelHeight {
            for kx in 0..<kernelWidth where ky + kx > 0 {
                let source = first + (ky * width + kx) * c, index = UInt8(ky * kernelWidth + kx)
                for k in j..<c {
                    let (candidate, best) = (source[k], target[k])
                    let better = candidate > best
                    target[k] = better ? candidate : best
                    taps[k] = better ? index : taps[k]
                }
            }
        }
    }

    /// The gradient rows (height × width × channels) of one image from its upstream gradient
    /// and pooled output (laid out as for `maxPoolPixels`): each output's gradient, through the
    /// ReLU's rule when `relu` is set, goes to its window's winning tap. Windows that tile the
    /// image (stride = window, no padding) write every tap of theirs, and the rows and columns a
    /// floor-rounded pool leaves out are zeroed; overlapping windows zero the image and add up
    /// their winners. `gradient` holds 2·channels scalars.
    @inlinable
    func maxUnpoolPixels<S: TensorScalar>(_ upstream: UnsafePointer<S>, pooled: UnsafePointer<S>, channelStride: Int,
                                          pixelStride: Int, winners: UnsafePointer<UInt8>, relu: ReLUBackwardRule?,
                                          into dx: UnsafeMutablePointer<S>, gradient: UnsafeMutablePointer<S>) {
        let c = channels
        if windowsTile { zeroLeftOut(dx, pixelSize: c) } else { dx.update(repeating: 0, count: imageSize) }
        for py in 0..<outputHeight {
            for px in 0..<outputWidth {
                let pixel = (py * outputWidth + px) * pixelStride, taps = winners + (py * outputWidth + px) * c
                var g = upstream + pixel
                if channelStride != 1 || relu != nil {
                    let pooledRow = gradient + c
                    for j in 0..<c {
                        gradient[j] = upstream[pixel + j * channelStride]
                        pooledRow[j] = pooled[pixel + j * channelStride]
                    }
                    ConvGeometry.gate(UnsafePointer(gradient), pooled: UnsafePointer(pooledRow), count: c, relu: relu, into: gradient)
                    g = UnsafePointer(gradient)
                }
                let first = dx + (py * stride * width + px * stride) * c
                if windowsTile {
                    // Every tap is written, branch-free, in one vectorisable pass per tap.
                    for ky in 0..<kernelHeight {
                        for kx in 0..<kernelWidth {
                            let target = first + (ky * width + kx) * c, index = UInt8(ky * kernelWidth + kx)
                            for j in 0..<c { target[j] = taps[j] == index ? g[j] : 0 }
                        }
                    }
                } else {
                    for j in 0..<c {
                        let tap = Int(taps[j]), winner = first + ((tap / kernelWidth) * width + tap % kernelWidth) * c + j
                        winner.pointee += g[j]
                    }
                }
            }
        }
    }

    /// Zeros the inputs of a plane (rows of `width` pixels of `pixelSize` scalars) that no window
    /// of a tiling pool covers: the rows and columns past the last window that floor rounding
    /// leaves out. The windows' own backward writes every tap of theirs.
    @inlinable
    func zeroLeftOut<S: TensorScalar>(_ dx: UnsafeMutablePointer<S>, pixelSize: Int) {
        let (coveredRows, coveredColumns) = (outputHeight * stride, outputWidth * stride)
        for y in 0..<height {
            let row = dx + y * width * pixelSize
            if y >= coveredRows {
                row.update(repeating: 0, count: width * pixelSize)
            } else if coveredColumns < width {
                (row + coveredColumns * pixelSize).update(repeating: 0, count: (width - coveredColumns) * pixelSize)
            }
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
}
