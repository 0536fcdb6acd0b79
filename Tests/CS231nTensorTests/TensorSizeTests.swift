import CS231nTensor
import Testing

@Suite struct TensorSizeTests {
    @Test func countsAreCheckedForOverflowAndTheCap() throws {
        #expect(try Tensor<Float>.checkedCount(shape: [2, 3, 4]) == 24)
        #expect(try Tensor<Float>.checkedCount(shape: []) == 1)
        #expect(try Tensor<Float>.checkedCount(shape: [5, 0, 7]) == 0)
        #expect(try Tensor<Float>.checkedCount(shape: [Tensor<Float>.maximumByteCount / 4]) == 1 << 38)
        #expect(throws: TensorError.self) { try Tensor<Float>.checkedCount(shape: [Tensor<Float>.maximumByteCount / 4 + 1]) }
        #expect(throws: TensorError.self) { try Tensor<Double>.checkedCount(shape: [1 << 38]) }
        // 2^62 + 3072 wraps to 3072·4 bytes when multiplied by 4 without a check.
        #expect(throws: TensorError.self) { try Tensor<Float>.checkedCount(shape: [(1 << 62) + 3072]) }
        #expect(throws: TensorError.self) { try Tensor<Float>.checkedCount(shape: [1 << 32, 1 << 32]) }
        #expect(throws: TensorError.self) { try Tensor<Float>.checkedCount(shape: [3, -1]) }
        // An empty tensor whose other dimensions multiply past the cap would wrap partial products.
        #expect(throws: TensorError.self) { try Tensor<Float>.checkedCount(shape: [0, 1 << 40, 1 << 40]) }
    }

    @Test func reshapeChecksTheTargetShape() throws {
        let x = Tensor<Float>.zeros([4])
        #expect(throws: TensorError.self) { try x.reshaped([1 << 62, 1 << 62, 4]) }
        #expect(throws: TensorError.self) { try x.reshaped([-1, 1 << 62, 1 << 62]) }
        #expect(try x.reshaped([2, -1]).shape == [2, 2])
    }

    @Test func shapeMismatchIsAnError() {
        #expect(throws: TensorError.self) { try Tensor<Float>(shape: [1 << 62, 4], scalars: [1]) }
    }
}
