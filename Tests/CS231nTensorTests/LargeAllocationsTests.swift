import Testing
@testable import CS231nTensor

/// Freed large blocks come back to the next request of their size, with their pages.
struct LargeAllocationsTests {
    @Test func aFreedLargeBlockServesTheNextRequestOfItsSize() {
        LargeAllocations.keepInProcess()
        // Blocks are kept by whole pages: no other test asks for 74 of them, so no other thread
        // takes the block in between.
        let byteCount = LargeAllocations.recycledSize + 6 * 4096 + 12_344
        let first = LargeAllocations.allocate(byteCount: byteCount)
        #expect(Int(bitPattern: first) % 64 == 0)
        first.storeBytes(of: 7, toByteOffset: byteCount - 8, as: Int.self)
        LargeAllocations.deallocate(first, byteCount: byteCount)
        // The same whole pages: a request a few bytes longer shares the block's size.
        let second = LargeAllocations.allocate(byteCount: byteCount + 3)
        #expect(second == first)
        #expect(second.loadUnaligned(fromByteOffset: byteCount - 8, as: Int.self) == 7)
        LargeAllocations.deallocate(second, byteCount: byteCount + 3)
    }

    @Test func tensorsReuseTheStorageOfFreedOnes() {
        LargeAllocations.keepInProcess()
        // 105 pages of Floats, a size no other test allocates.
        let shape = [3, 5, 7, 1021]
        var address = 0
        do {
            let t = Tensor<Float>(shape: shape, repeating: 1)
            address = t.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress!) }
        }
        let u = Tensor<Float>(shape: shape, repeating: 2)
        #expect(u.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress!) } == address)
        #expect(u.scalars.allSatisfy { $0 == 2 })
    }

    /// At most a quarter of the memory, and 8 GiB, waits for reuse.
    @Test func theIdleLimitIsBounded() {
        #expect(LargeAllocations.idleLimit > 0 && LargeAllocations.idleLimit <= 8 << 30)
    }
}
