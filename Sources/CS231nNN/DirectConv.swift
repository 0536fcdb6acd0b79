/// Direct convolution of one zero-padded (C, H + 2P, W + 2P) image into channels-last rows
/// (one per output pixel, F filters each), with the bias and ReLU applied on the way out.
///
/// Written by hand because a BLAS GEMM needs the patch matrix written out and then packed
/// again: for W5's first layer (K = C·KH·KW = 147, F = 32) unrolling and OpenBLAS's packing
/// took about as long as the multiply itself. Here the register tile (4 output pixels × 16
/// filters, 8 `SIMD8<Float>` accumulators) reads its four patch values straight from the padded
/// image through a table of offsets, and the filters once packed as K × F rows, which stay in L1.
/// The filter gradient runs the same way round: a tile of 4 patch elements × 16 filters of dwᵀ
/// accumulates over every output pixel. Float only: Double (the gradient checks) keeps the
/// im2col GEMM.
@usableFromInline
enum DirectConv {
    /// Filters per register tile.
    @usableFromInline static let tileFilters = 16

    /// Whether the direct kernel runs `g` with `filters` filters in scalar `S`.
    @inlinable
    static func applies<S: TensorScalar>(_ g: ConvGeometry, filters: Int, scalar _: S.Type) -> Bool {
        S.self == Float.self && filters % tileFilters == 0
    }

    /// The filters (F, C, KH, KW) as K × F rows, the layout the tile reads a filter row from.
    @inlinable
    static func packedFilters<S: TensorScalar>(_ w: UnsafePointer<S>, filters: Int, patch: Int) -> [Float] {
        let weights = UnsafeRawPointer(w).assumingMemoryBound(to: Float.self)
        var packed = [Float](repeating: 0, count: patch * filters)
        for f in 0..<filters {
            for k in 0..<patch { packed[k * filters + f] = weights[f * patch + k] }
        }
        return packed
    }

    /// Where patch element (c, ky, kx) of output pixel (0, 0) sits in the padded image.
    @inlinable
    static func patchOffsets(_ g: ConvGeometry) -> [Int] {
        let paddedWidth = g.width + 2 * g.padding, paddedPlane = (g.height + 2 * g.padding) * paddedWidth
        var offsets: [Int] = []
        offsets.reserveCapacity(g.patchSize)
        for c in 0..<g.channels {
            for ky in 0..<g.kernelHeight {
                for kx in 0..<g.kernelWidth { offsets.append(c * paddedPlane + ky * paddedWidth + kx) }
            }
        }
        return offsets
    }

    /// out (plane × F rows) = max(patches · packed + bias, 0) for one padded image.
    @inlinable
    static func convolveReLU<S: TensorScalar>(padded: UnsafePointer<S>, _ g: ConvGeometry, offsets: UnsafePointer<Int>,
                                              packed: UnsafePointer<Float>, bias: UnsafePointer<S>, filters: Int,
                                              into out: UnsafeMutablePointer<S>) {
        let image = UnsafeRawPointer(padded).assumingMemoryBound(to: Float.self)
        let shift = UnsafeRawPointer(bias).assumingMemoryBound(to: Float.self)
        let rows = UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self)
        let paddedWidth = g.width + 2 * g.padding, step = g.stride, patch = g.patchSize
        for oy in 0..<g.outputHeight {
            let rowStart = image + oy * step * paddedWidth
            var ox = 0
            while ox < g.outputWidth {
                let pixels = Swift.min(4, g.outputWidth - ox)
                let corner = rowStart + ox * step, target = rows + (oy * g.outputWidth + ox) * filters
                var f = 0
                while f < filters {
                    if pixels == 4 {
                        tile4(corner, step: step, offsets: offsets, patch: patch, packed: packed + f, ldp: filters,
                              bias: shift + f, into: target + f, ldo: filters)
                    } else {
                        for pixel in 0..<pixels {
                            tile1(corner + pixel * step, offsets: offsets, patch: patch, packed: packed + f, ldp: filters,
                                  bias: shift + f, into: target + pixel * filters + f)
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
    static func tile4(_ corner: UnsafePointer<Float>, step: Int, offsets: UnsafePointer<Int>, patch: Int,
                      packed: UnsafePointer<Float>, ldp: Int, bias: UnsafePointer<Float>,
                      into out: UnsafeMutablePointer<Float>, ldo: Int) {
        var c00 = SIMD8<Float>.zero, c01 = SIMD8<Float>.zero, c10 = SIMD8<Float>.zero, c11 = SIMD8<Float>.zero
        var c20 = SIMD8<Float>.zero, c21 = SIMD8<Float>.zero, c30 = SIMD8<Float>.zero, c31 = SIMD8<Float>.zero
        var filterRow = packed
        for k in 0..<patch {
            let a = corner + offsets[k]
            let b0 = ConvKernels.load(filterRow), b1 = ConvKernels.load(filterRow + 8)
            var av = SIMD8<Float>(repeating: a[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1)
            av = SIMD8(repeating: a[step])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1)
            av = SIMD8(repeating: a[2 * step])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1)
            av = SIMD8(repeating: a[3 * step])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1)
            filterRow += ldp
        }
        let (bias0, bias1) = (ConvKernels.load(bias), ConvKernels.load(bias + 8))
        storeReLU(c00 + bias0, c01 + bias1, out)
        storeReLU(c10 + bias0, c11 + bias1, out + ldo)
        storeReLU(c20 + bias0, c21 + bias1, out + 2 * ldo)
        storeReLU(c30 + bias0, c31 + bias1, out + 3 * ldo)
    }

    /// One output pixel × 16 filters, for the last pixels of a row.
    @inlinable @inline(__always)
    static func tile1(_ corner: UnsafePointer<Float>, offsets: UnsafePointer<Int>, patch: Int, packed: UnsafePointer<Float>,
                      ldp: Int, bias: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        var c0 = SIMD8<Float>.zero, c1 = SIMD8<Float>.zero
        var filterRow = packed
        for k in 0..<patch {
            let av = SIMD8<Float>(repeating: corner[offsets[k]])
            c0 = c0.addingProduct(av, ConvKernels.load(filterRow)); c1 = c1.addingProduct(av, ConvKernels.load(filterRow + 8))
            filterRow += ldp
        }
        storeReLU(c0 + ConvKernels.load(bias), c1 + ConvKernels.load(bias + 8), out)
    }

    @inlinable @inline(__always)
    static func storeReLU(_ low: SIMD8<Float>, _ high: SIMD8<Float>, _ out: UnsafeMutablePointer<Float>) {
        ConvKernels.store(low.replacing(with: 0, where: low .< SIMD8<Float>.zero), out)
        ConvKernels.store(high.replacing(with: 0, where: high .< SIMD8<Float>.zero), out + 8)
    }

    /// dwᵀ (K × F) += patchesᵀ · dact for one padded image, dact its (plane × F) activation
    /// gradient rows.
    @inlinable
    static func accumulateFilterGradient<S: TensorScalar>(padded: UnsafePointer<S>, _ g: ConvGeometry, offsets: UnsafePointer<Int>,
                                                          dact: UnsafePointer<S>, filters: Int, into dwT: UnsafeMutablePointer<S>) {
        let image = UnsafeRawPointer(padded).assumingMemoryBound(to: Float.self)
        let gradient = UnsafeRawPointer(dact).assumingMemoryBound(to: Float.self)
        let sums = UnsafeMutableRawPointer(dwT).assumingMemoryBound(to: Float.self)
        let patch = g.patchSize
        var k = 0
        while k < patch {
            let elements = Swift.min(4, patch - k)
            var f = 0
            while f < filters {
                if elements == 4 {
                    gradientTile4(image + offsets[k], image + offsets[k + 1], image + offsets[k + 2], image + offsets[k + 3], g,
                                  dact: gradient + f, ldd: filters, into: sums + k * filters + f, ldo: filters)
                } else {
                    for j in 0..<elements {
                        gradientTile1(image + offsets[k + j], g, dact: gradient + f, ldd: filters, into: sums + (k + j) * filters + f)
                    }
                }
                f += tileFilters
            }
            k += elements
        }
    }

    /// Four patch elements (their values for output pixel (0, 0) at `e0`…`e3`) × 16 filters.
    @inlinable @inline(__always)
    static func gradientTile4(_ e0: UnsafePointer<Float>, _ e1: UnsafePointer<Float>, _ e2: UnsafePointer<Float>,
                              _ e3: UnsafePointer<Float>, _ g: ConvGeometry, dact: UnsafePointer<Float>, ldd: Int,
                              into out: UnsafeMutablePointer<Float>, ldo: Int) {
        var c00 = ConvKernels.load(out), c01 = ConvKernels.load(out + 8)
        var c10 = ConvKernels.load(out + ldo), c11 = ConvKernels.load(out + ldo + 8)
        var c20 = ConvKernels.load(out + 2 * ldo), c21 = ConvKernels.load(out + 2 * ldo + 8)
        var c30 = ConvKernels.load(out + 3 * ldo), c31 = ConvKernels.load(out + 3 * ldo + 8)
        let paddedWidth = g.width + 2 * g.padding, step = g.stride
        var row = dact
        for oy in 0..<g.outputHeight {
            var pixel = oy * step * paddedWidth
            for _ in 0..<g.outputWidth {
                let d0 = ConvKernels.load(row), d1 = ConvKernels.load(row + 8)
                var av = SIMD8<Float>(repeating: e0[pixel])
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
        ConvKernels.store(c00, out); ConvKernels.store(c01, out + 8)
        ConvKernels.store(c10, out + ldo); ConvKernels.store(c11, out + ldo + 8)
        ConvKernels.store(c20, out + 2 * ldo); ConvKernels.store(c21, out + 2 * ldo + 8)
        ConvKernels.store(c30, out + 3 * ldo); ConvKernels.store(c31, out + 3 * ldo + 8)
    }

    /// One patch element × 16 filters, for the last elements of the patch.
    @inlinable @inline(__always)
    static func gradientTile1(_ element: UnsafePointer<Float>, _ g: ConvGeometry, dact: UnsafePointer<Float>, ldd: Int,
                              into out: UnsafeMutablePointer<Float>) {
        var c0 = ConvKernels.load(out), c1 = ConvKernels.load(out + 8)
        let paddedWidth = g.width + 2 * g.padding, step = g.stride
        var row = dact
        for oy in 0..<g.outputHeight {
            var pixel = oy * step * paddedWidth
            for _ in 0..<g.outputWidth {
                let av = SIMD8<Float>(repeating: element[pixel])
                c0 = c0.addingProduct(av, ConvKernels.load(row)); c1 = c1.addingProduct(av, ConvKernels.load(row + 8))
                row += ldd
                pixel += step
            }
        }
        ConvKernels.store(c0, out); ConvKernels.store(c1, out + 8)
    }
}
