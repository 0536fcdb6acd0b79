/// The patch matrix of one zero-padded image ("im2col"), its adjoint, and the filter layouts
/// that go with it, in either image layout.
///
/// The patch matrix has one row per output pixel, holding the window's values in the order the
/// layout keeps them contiguous: (c, ky, kx) for NCHW, (ky, kx, c) for NHWC. Read from a
/// zero-padded copy of the image, every window row is then one run of contiguous values with no
/// bounds to check: KW values per channel in NCHW, KW·C in NHWC.
extension ConvGeometry {
    @usableFromInline var paddedHeight: Int { height + 2 * padding }
    @usableFromInline var paddedWidth: Int { width + 2 * padding }
    /// Elements of one zero-padded image.
    @usableFromInline var paddedImageSize: Int { channels * paddedHeight * paddedWidth }
    /// Elements of one image.
    @usableFromInline var imageSize: Int { channels * inputPlane }

    /// Where a padded image's values are: `(channel, row, column)` ↦ channel·channelStride +
    /// row·rowStride + column·columnStride.
    @inlinable
    var paddedStrides: (channel: Int, row: Int, column: Int) {
        layout == .nchw ? (paddedHeight * paddedWidth, paddedWidth, 1) : (1, paddedWidth * channels, channels)
    }

    /// Copies one image into the interior of a zero-padded one; the border, zeroed once by the
    /// caller, is never written.
    @inlinable
    func pad<S>(_ image: UnsafePointer<S>, into padded: UnsafeMutablePointer<S>) {
        forEachImageRow { imageOffset, paddedOffset, count in
            (padded + paddedOffset).update(from: image + imageOffset, count: count)
        }
    }

    /// Copies the interior of a padded image out into an image: the inverse of `pad`.
    @inlinable
    func crop<S>(_ padded: UnsafePointer<S>, into image: UnsafeMutablePointer<S>) {
        forEachImageRow { imageOffset, paddedOffset, count in
            (image + imageOffset).update(from: padded + paddedOffset, count: count)
        }
    }

    /// body(offset in the image, offset in the padded image, length) for each contiguous run of
    /// an image's values: a row of one channel in NCHW, a row of pixels in NHWC.
    @inlinable @inline(__always)
    func forEachImageRow(_ body: (Int, Int, Int) -> Void) {
        let strides = paddedStrides
        switch layout {
        case .nchw:
            for c in 0..<channels {
                for y in 0..<height {
                    body((c * height + y) * width, c * strides.channel + (y + padding) * strides.row + padding, width)
                }
            }
        case .nhwc:
            for y in 0..<height { body(y * width * channels, (y + padding) * strides.row + padding * channels, width * channels) }
        }
    }

    /// The patch matrix (output pixels × patchSize) of one padded image. Runs of at most 8 are
    /// copied as one 8-wide load and store whose spill the next run overwrites, so `rows` and
    /// `padded` need 8 elements of slack.
    @inlinable
    func im2col<S: TensorScalar>(padded: UnsafePointer<S>, into rows: UnsafeMutablePointer<S>) {
        var target = rows
        forEachPatchRun { start, run in
            if run <= 8 {
                SIMD8<S>(loading: padded + start).store(to: target)
            } else {
                target.update(from: padded + start, count: run)
            }
            target += run
        }
    }

    /// Adds a patch matrix back onto a padded image, where overlapping windows sum: the adjoint
    /// of `im2col`. The caller zeroes the padded image first and crops it afterwards.
    @inlinable
    func col2im<S: TensorScalar>(_ rows: UnsafePointer<S>, into padded: UnsafeMutablePointer<S>) {
        var source = rows
        forEachPatchRun { start, run in
            RowKernels.add(source, into: padded + start, count: run)
            source += run
        }
    }

    /// body(start in the padded image, length) for every contiguous run of every output pixel's
    /// window, in the patch matrix's order.
    @inlinable @inline(__always)
    func forEachPatchRun(_ body: (Int, Int) -> Void) {
        let strides = paddedStrides
        let (segments, run) = layout == .nchw ? (channels, kernelWidth) : (1, kernelWidth * channels)
        for oy in 0..<outputHeight {
            for ox in 0..<outputWidth {
                let corner = oy * stride * strides.row + ox * stride * strides.column
                for segment in 0..<segments {
                    let first = corner + segment * strides.channel
                    for ky in 0..<kernelHeight { body(first + ky * strides.row, run) }
                }
            }
        }
    }

    /// The patch element (c, ky, kx) of column `k` of the patch matrix, as its index in a
    /// filter's (C, KH, KW) block.
    @inlinable
    func filterIndex(ofPatchColumn k: Int) -> Int {
        guard layout == .nhwc else { return k }
        let (tap, c) = k.quotientAndRemainder(dividingBy: channels)
        return c * kernelHeight * kernelWidth + tap
    }

    /// Filters (F, C, KH, KW) as the patch matrix's right operand: patchSize × F, rows in the
    /// patch order of the layout.
    @inlinable
    func packFilters<S: TensorScalar>(_ w: Tensor<S>) -> Tensor<S> {
        let (filters, patch) = (w.shape[0], patchSize)
        var packed = Tensor<S>(uninitializedShape: [patch, filters])
        w.withUnsafeBufferPointer { source in
            packed.withUnsafeMutableBufferPointer { target in
                for k in 0..<patch {
                    let element = filterIndex(ofPatchColumn: k)
                    for f in 0..<filters { target[k * filters + f] = source[f * patch + element] }
                }
            }
        }
        return packed
    }

    /// out[f, :] += Σ of each (patchSize × F) partial's column f, reordered from the patch order
    /// to (C, KH, KW): a filter gradient from its per-block transposed sums.
    @inlinable
    func addTransposedFilterGradient<S: TensorScalar>(_ partial: UnsafePointer<S>, filters: Int,
                                                      into out: UnsafeMutablePointer<S>) {
        let patch = patchSize
        for k in 0..<patch {
            let element = filterIndex(ofPatchColumn: k), row = partial + k * filters
            for f in 0..<filters { out[f * patch + element] += row[f] }
        }
    }
}

/// The filters (F, C, KH, KW) of a convolution as those of the convolution that computes its
/// input gradient: channel axes swapped and flipped in space, (C, F, KH, KW). With stride 1
/// that convolution runs over the upstream gradient padded by K − 1 − P.
@inlinable
func flippedFilters<S: TensorScalar>(_ w: Tensor<S>) -> Tensor<S> {
    let (f, c, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    var flipped = Tensor<S>(uninitializedShape: [c, f, kh, kw])
    w.withUnsafeBufferPointer { source in
        flipped.withUnsafeMutableBufferPointer { target in
            for filter in 0..<f {
                for channel in 0..<c {
                    for ky in 0..<kh {
                        for kx in 0..<kw {
                            target[((channel * f + filter) * kh + kh - 1 - ky) * kw + kw - 1 - kx]
                                = source[((filter * c + channel) * kh + ky) * kw + kx]
                        }
                    }
                }
            }
        }
    }
    return flipped
}

/// A zero-padded copy of one image at a time, for `im2col` and the direct kernel. The border
/// is zeroed once and never written; 8 elements of slack serve `im2col`'s 8-wide copies.
@usableFromInline
struct PaddedImage<S: TensorScalar> {
    @usableFromInline let base: UnsafeMutablePointer<S>
    @usableFromInline let geometry: ConvGeometry

    @inlinable
    init(_ g: ConvGeometry) {
        geometry = g
        base = .allocate(capacity: g.paddedImageSize + 8)
        base.initialize(repeating: 0, count: g.paddedImageSize + 8)
    }

    /// Copies `image` into the interior.
    @inlinable
    func load(_ image: UnsafePointer<S>) { geometry.pad(image, into: base) }

    @inlinable
    func deallocate() { base.deallocate() }
}

/// One worker's buffers for input gradients by col2im: dx of one image is col2im of its patch
/// gradients dz · Wᵀ, added onto a zeroed padded image and cropped.
@usableFromInline
struct InputGradientScratch<S: TensorScalar> {
    @usableFromInline let patches: UnsafeMutablePointer<S>, padded: UnsafeMutablePointer<S>
    @usableFromInline let geometry: ConvGeometry

    @inlinable
    init(_ g: ConvGeometry) {
        geometry = g
        patches = .allocate(capacity: g.outputPlane * g.patchSize)
        padded = .allocate(capacity: g.paddedImageSize)
    }

    /// dx of one image from its gradient rows dz (output pixels × F) and the packed filters
    /// (patchSize × F).
    @inlinable
    func inputGradient(of dz: UnsafePointer<S>, packed: UnsafePointer<S>, filters: Int, into dx: UnsafeMutablePointer<S>) {
        let g = geometry
        GEMM.run(GemmCall(transposeB: true, m: g.outputPlane, n: g.patchSize, k: filters, a: dz, lda: filters,
                          b: packed, ldb: filters, c: patches, ldc: g.patchSize))
        padded.update(repeating: 0, count: g.paddedImageSize)
        g.col2im(patches, into: padded)
        g.crop(padded, into: dx)
    }

    @inlinable
    func deallocate() { patches.deallocate(); padded.deallocate() }
}

extension Conv2D {
    /// dx of an upstream gradient dz at the output of the convolution `g` (either layout) with
    /// filters w: col2im of each image's patch gradients, in parallel over the images.
    @inlinable
    static func inputGradientByCol2im<S>(_ dz: Tensor<S>, _ w: Tensor<S>, _ g: ConvGeometry) -> Tensor<S> {
        let n = dz.shape[0], filters = w.shape[0], plane = g.outputPlane
        var dx = Tensor<S>(uninitializedShape: [n] + g.inputShape)
        let packed = g.packFilters(w)
        withSendablePointers(writing: &dx, reading: dz, packed) { target, upstream, weights in
            Parallel.forEachChunk(n) { images in
                let scratch = InputGradientScratch<S>(g)
                // NCHW gradients become rows (pixels × F) first.
                let rows = g.layout == .nchw ? UnsafeMutablePointer<S>.allocate(capacity: plane * filters) : nil
                defer { scratch.deallocate(); rows?.deallocate() }
                for i in images {
                    var image = upstream.base + i * filters * plane
                    if let rows {
                        ImageLayout.transpose(image, rows: filters, columns: plane, into: rows)
                        image = UnsafePointer(rows)
                    }
                    scratch.inputGradient(of: image, packed: weights.base, filters: filters, into: target.base + i * g.imageSize)
                }
            }
        }
        return dx
    }
}
