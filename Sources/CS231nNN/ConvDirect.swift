/// Direct convolution of one zero-padded image into rows (one per output pixel, F filters
/// each), with the bias and a ReLU applied on the way out, and its filter gradient.
///
/// Written by hand because a BLAS GEMM needs the patch matrix written out and then packed
/// again: for a first layer over an image's few colour planes (K = C·KH·KW = 147, F = 32)
/// unrolling and packing took about as long as the multiply itself. Here the register tile
/// (4 output pixels × 16 filters, 8 `SIMD8` accumulators) reads its four patch values straight
/// from the padded image through a table of offsets, and the filters once packed as K × F
/// rows, which stay in L1. The filter gradient runs the same way round: a tile of 4 patch
/// elements × 16 filters of dwᵀ accumulates over every output pixel. The offsets make it work
/// for either layout.
@usableFromInline
enum DirectConv {
    /// Filters per register tile: F must be a multiple of it.
    @usableFromInline static let tileFilters = 16

    /// Where each patch element (in the patch matrix's order) of output pixel (0, 0) sits in
    /// the padded image.
    @inlinable
    static func patchOffsets(_ g: ConvGeometry) -> [Int] {
        let strides = g.paddedStrides
        var offsets: [Int] = []
        offsets.reserveCapacity(g.patchSize)
        for k in 0..<g.patchSize {
            let element = g.filterIndex(ofPatchColumn: k), taps = g.kernelHeight * g.kernelWidth
            let (c, tap) = element.quotientAndRemainder(dividingBy: taps)
            let (ky, kx) = tap.quotientAndRemainder(dividingBy: g.kernelWidth)
            offsets.append(c * strides.channel + ky * strides.row + kx * strides.column)
        }
        return offsets
    }

    /// Elements between the windows of horizontally adjacent output pixels.
    @inlinable
    static func pixelStep(_ g: ConvGeometry) -> Int { g.stride * g.paddedStrides.column }

    /// out (plane × F rows) = patches · packed + bias, then max(·, 0) when `relu`, for one
    /// padded image.
    @inlinable
    static func convolve<S: TensorScalar>(padded: UnsafePointer<S>, _ g: ConvGeometry, offsets: UnsafePointer<Int>,
                                          packed: UnsafePointer<S>, bias: UnsafePointer<S>, relu: Bool, filters: Int,
                                          into out: UnsafeMutablePointer<S>) {
        let step = pixelStep(g), rowStep = g.stride * g.paddedStrides.row, patch = g.patchSize
        for oy in 0..<g.outputHeight {
            let rowStart = padded + oy * rowStep
            var ox = 0
            while ox < g.outputWidth {
                let pixels = Swift.min(4, g.outputWidth - ox)
                let corner = rowStart + ox * step, target = out + (oy * g.outputWidth + ox) * filters
                var f = 0
                while f < filters {
                    if pixels == 4 {
                        tile4(corner, step: step, offsets: offsets, patch: patch, packed: packed + f, ldp: filters,
                              bias: bias + f, relu: relu, into: target + f, ldo: filters)
                    } else {
                        for pixel in 0..<pixels {
                            tile1(corner + pixel * step, offsets: offsets, patch: patch, packed: packed + f, ldp: filters,
                                  bias: bias + f, relu: relu, into: target + pixel * filters + f)
                        }
                    }
                    f += tileFilters
                }
                ox += pixels
            }
        }
    }

    /// Four output pixels `step` apart × 16 filters.
    @inlinable @inline(__always)
    static func tile4<S: TensorScalar>(_ corner: UnsafePointer<S>, step: Int, offsets: UnsafePointer<Int>, patch: Int,
                                       packed: UnsafePointer<S>, ldp: Int, bias: UnsafePointer<S>, relu: Bool,
                                       into out: UnsafeMutablePointer<S>, ldo: Int) {
        var c00 = SIMD8<S>.zero, c01 = SIMD8<S>.zero, c10 = SIMD8<S>.zero, c11 = SIMD8<S>.zero
        var c20 = SIMD8<S>.zero, c21 = SIMD8<S>.zero, c30 = SIMD8<S>.zero, c31 = SIMD8<S>.zero
        var filterRow = packed
        for k in 0..<patch {
            let a = corner + offsets[k]
            let b0 = SIMD8<S>(loading: filterRow), b1 = SIMD8<S>(loading: filterRow + 8)
            var av = SIMD8<S>(repeating: a[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = SIMD8(repeating: a[step])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = SIMD8(repeating: a[2 * step])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = SIMD8(repeating: a[3 * step])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            filterRow += ldp
        }
        let (bias0, bias1) = (SIMD8<S>(loading: bias), SIMD8<S>(loading: bias + 8))
        store(c00 + bias0, c01 + bias1, out, relu: relu)
        store(c10 + bias0, c11 + bias1, out + ldo, relu: relu)
        store(c20 + bias0, c21 + bias1, out + 2 * ldo, relu: relu)
        store(c30 + bias0, c31 + bias1, out + 3 * ldo, relu: relu)
    }

    /// One output pixel × 16 filters, for the last pixels of a row.
    @inlinable @inline(__always)
    static func tile1<S: TensorScalar>(_ corner: UnsafePointer<S>, offsets: UnsafePointer<Int>, patch: Int,
                                       packed: UnsafePointer<S>, ldp: Int, bias: UnsafePointer<S>, relu: Bool,
                                       into out: UnsafeMutablePointer<S>) {
        var c0 = SIMD8<S>.zero, c1 = SIMD8<S>.zero
        var filterRow = packed
        for k in 0..<patch {
            let av = SIMD8<S>(repeating: corner[offsets[k]])
            c0 = c0.addingProduct(av, SIMD8(loading: filterRow)); c1 = c1.addingProduct(av, SIMD8(loading: filterRow + 8))
            filterRow += ldp
        }
        store(c0 + SIMD8(loading: bias), c1 + SIMD8(loading: bias + 8), out, relu: relu)
    }

    /// Stores 16 values, clamped at 0 when `relu`. Float compares on concrete vectors: generic
    /// SIMD comparisons are lowered lane by lane.
    @inlinable @inline(__always)
    static func store<S: TensorScalar>(_ low: SIMD8<S>, _ high: SIMD8<S>, _ out: UnsafeMutablePointer<S>, relu: Bool) {
        guard relu else {
            low.store(to: out); high.store(to: out + 8)
            return
        }
        if S.self == Float.self {
            let (l, h) = (unsafeBitCast(low, to: SIMD8<Float>.self), unsafeBitCast(high, to: SIMD8<Float>.self))
            let target = UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self)
            l.replacing(with: 0, where: l .< SIMD8<Float>.zero).store(to: target)
            h.replacing(with: 0, where: h .< SIMD8<Float>.zero).store(to: target + 8)
            return
        }
        for lane in 0..<8 {
            out[lane] = low[lane] < 0 ? 0 : low[lane]
            out[8 + lane] = high[lane] < 0 ? 0 : high[lane]
        }
    }

    /// dwᵀ (K × F) += patchesᵀ · dz for one padded image, dz its (plane × F) gradient rows.
    @inlinable
    static func accumulateFilterGradient<S: TensorScalar>(padded: UnsafePointer<S>, _ g: ConvGeometry,
                                                          offsets: UnsafePointer<Int>, dz: UnsafePointer<S>, filters: Int,
                                                          into dwT: UnsafeMutablePointer<S>) {
        let patch = g.patchSize
        var k = 0
        while k < patch {
            let elements = Swift.min(4, patch - k)
            var f = 0
            while f < filters {
                if elements == 4 {
                    gradientTile4(padded + offsets[k], padded + offsets[k + 1], padded + offsets[k + 2], padded + offsets[k + 3], g,
                                  dz: dz + f, ldd: filters, into: dwT + k * filters + f, ldo: filters)
                } else {
                    for j in 0..<elements {
                        gradientTile1(padded + offsets[k + j], g, dz: dz + f, ldd: filters, into: dwT + (k + j) * filters + f)
                    }
                }
                f += tileFilters
            }
            k += elements
        }
    }

    /// Four patch elements (their values for output pixel (0, 0) at `e0`…`e3`) × 16 filters.
    @inlinable @inline(__always)
    static func gradientTile4<S: TensorScalar>(_ e0: UnsafePointer<S>, _ e1: UnsafePointer<S>, _ e2: UnsafePointer<S>,
                                               _ e3: UnsafePointer<S>, _ g: ConvGeometry, dz: UnsafePointer<S>, ldd: Int,
                                               into out: UnsafeMutablePointer<S>, ldo: Int) {
        var c00 = SIMD8<S>(loading: out), c01 = SIMD8<S>(loading: out + 8)
        var c10 = SIMD8<S>(loading: out + ldo), c11 = SIMD8<S>(loading: out + ldo + 8)
        var c20 = SIMD8<S>(loading: out + 2 * ldo), c21 = SIMD8<S>(loading: out + 2 * ldo + 8)
        var c30 = SIMD8<S>(loading: out + 3 * ldo), c31 = SIMD8<S>(loading: out + 3 * ldo + 8)
        let step = pixelStep(g), rowStep = g.stride * g.paddedStrides.row
        var row = dz
        for oy in 0..<g.outputHeight {
            var pixel = oy * rowStep
            for _ in 0..<g.outputWidth {
                let d0 = SIMD8<S>(loading: row), d1 = SIMD8<S>(loading: row + 8)
                var av = SIMD8<S>(repeating: e0[pixel])
                c00 = c00.addingProduct(av, d0); c01 = c01.addingProduct(av, d1)
                av = SIMD8(repeating: e1[pixel])
                c10 = c10.addingProduct(av, d0); c11 = c11.addingProduct(av, d1)
                av = SIMD8(repeating: e2[pixel])
                c20 = c20.addingProduct(av, d0); c21 = c21.addingProduct(av, d1)
                av = SIMD8(repeating: e3[pixel])
                c30 = c30.addingProduct(av, d0); c31 = c31.addingProduct(av, d1)
                row += ldd
                pixel += step
            }
        }
        c00.store(to: out); c01.store(to: out + 8)
        c10.store(to: out + ldo); c11.store(to: out + ldo + 8)
        c20.store(to: out + 2 * ldo); c21.store(to: out + 2 * ldo + 8)
        c30.store(to: out + 3 * ldo); c31.store(to: out + 3 * ldo + 8)
    }

    /// One patch element × 16 filters, for the last elements of the patch.
    @inlinable @inline(__always)
    static func gradientTile1<S: TensorScalar>(_ element: UnsafePointer<S>, _ g: ConvGeometry, dz: UnsafePointer<S>, ldd: Int,
                                               into out: UnsafeMutablePointer<S>) {
        var c0 = SIMD8<S>(loading: out), c1 = SIMD8<S>(loading: out + 8)
        let step = pixelStep(g), rowStep = g.stride * g.paddedStrides.row
        var row = dz
        for oy in 0..<g.outputHeight {
            var pixel = oy * rowStep
            for _ in 0..<g.outputWidth {
                let av = SIMD8<S>(repeating: element[pixel])
                c0 = c0.addingProduct(av, SIMD8(loading: row)); c1 = c1.addingProduct(av, SIMD8(loading: row + 8))
                row += ldd
                pixel += step
            }
        }
        c0.store(to: out); c1.store(to: out + 8)
    }
}
