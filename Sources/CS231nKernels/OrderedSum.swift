/// Sums over many items (images, rows) that come out the same at any thread count.
///
/// The items are split into a fixed number of contiguous blocks. Each block's contribution is
/// accumulated into its own zeroed partial sum, the blocks in parallel; the partials are then
/// added to the result one after the other in block order. Floating-point addition is not
/// associative, so it is the fixed blocks and the fixed order, not the threads, that decide
/// how the terms are grouped.
@usableFromInline
package enum OrderedSum {
    /// Blocks per sum unless a caller asks for another count: enough to keep two to eight cores
    /// busy, few enough that adding the partials costs little.
    @usableFromInline package static let defaultBlocks = 8

    /// The zeroed partial sums of one reduction, handed to the workers that fill them.
    @usableFromInline
    package struct Partials<Scalar>: @unchecked Sendable {
        /// How many items, blocks, and scalars in each partial.
        @usableFromInline package let items: Int, blocks: Int, size: Int
        @usableFromInline let base: UnsafeMutablePointer<Scalar>

        @inlinable
        init(items: Int, blocks: Int, size: Int, base: UnsafeMutablePointer<Scalar>) {
            self.items = items; self.blocks = blocks; self.size = size; self.base = base
        }

        /// The items whose contributions block `block` sums.
        @inlinable
        package func items(of block: Int) -> Range<Int> { Parallel.chunkRange(block, of: blocks, count: items) }

        /// Block `block`'s partial sum: `size` scalars, zero until the worker adds to them.
        @inlinable
        package func partial(_ block: Int) -> UnsafeMutablePointer<Scalar> { base + block * size }
    }

    /// Sums the contributions of `items` items in min(items, `blocks`) blocks (at least one).
    /// `fill` runs on each worker with its range of blocks (so that it can set up scratch
    /// space once) and adds every item's contribution to its block's partial; `combine` then
    /// receives the partials in block order, to add each to the caller's result.
    @inlinable
    package static func sum<Scalar: FloatingPoint & Sendable>(items: Int, blocks: Int = defaultBlocks, size: Int,
                                                   fill: @Sendable (_ partials: Partials<Scalar>, _ blocks: Range<Int>) -> Void,
                                                   combine: (_ partial: UnsafePointer<Scalar>) -> Void) {
        withFilledPartials(items: items, blocks: blocks, size: size, fill: fill) { partials in
            for block in 0..<partials.blocks { combine(partials.partial(block)) }
        }
    }

    /// `sum(items:blocks:size:fill:combine:)` adding the partials to `result`'s `size` scalars,
    /// the scalars split among the threads: each scalar still adds the partials in block
    /// order, so the bits are those of the serial combine. For partials large enough that
    /// adding them on one thread would leave the others idle.
    @inlinable
    package static func sum<Scalar: FloatingPoint & Sendable>(items: Int, blocks: Int = defaultBlocks, size: Int,
                                                               into result: UnsafeMutablePointer<Scalar>,
                                                               fill: @Sendable (_ partials: Partials<Scalar>, _ blocks: Range<Int>) -> Void) {
        withFilledPartials(items: items, blocks: blocks, size: size, fill: fill) { partials in
            let target = UnsafeSendable(result)
            Parallel.forEachChunk(size, minimumChunk: 1 << 16) { range in
                for block in 0..<partials.blocks {
                    let partial = partials.partial(block)
                    for i in range { target.value[i] += partial[i] }
                }
            }
        }
    }

    /// The zeroed partials of min(items, `blocks`) blocks (at least one), filled by `fill` on
    /// the workers, handed to `combine` before they are freed.
    @inlinable
    static func withFilledPartials<Scalar: FloatingPoint & Sendable>(
        items: Int, blocks: Int, size: Int, fill: @Sendable (_ partials: Partials<Scalar>, _ blocks: Range<Int>) -> Void,
        combine: (Partials<Scalar>) -> Void
    ) {
        let count = Swift.max(1, Swift.min(items, blocks))
        let base = UnsafeMutablePointer<Scalar>.allocate(capacity: Swift.max(1, count * size))
        defer { base.deallocate() }
        base.initialize(repeating: 0, count: count * size)
        let partials = Partials(items: items, blocks: count, size: size, base: base)
        Parallel.forEachChunk(count) { range in fill(partials, range) }
        combine(partials)
    }
}
