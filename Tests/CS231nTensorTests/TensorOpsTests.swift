import Testing
@testable import CS231nTensor

/// Each op against hand-computed values, run for Float and Double from one generic body.
struct TensorOpsTests {
    func t<S: TensorScalar>(_ shape: [Int], _ values: [Double], _: S.Type = S.self) -> Tensor<S> {
        try! Tensor(shape: shape, scalars: values.map { S($0) })
    }

    func creationAndAccess<S: TensorScalar>(_: S.Type) throws {
        #expect(Tensor<S>.zeros([2, 3]).scalars == [0, 0, 0, 0, 0, 0])
        #expect(Tensor<S>.ones([2]).scalars == [1, 1])
        #expect(Tensor<S>.full([1, 2], 7).scalars == [7, 7])
        var a: Tensor<S> = t([2, 3], [1, 2, 3, 4, 5, 6])
        #expect(a[1, 2] == 6)
        let b = a
        a[0, 0] = 10
        #expect(b[0, 0] == 1, "copy-on-write keeps the other value unchanged")
        #expect(a.count == 6 && a.rank == 2)
        #expect(throws: TensorError.self) { try Tensor<S>(shape: [2, 2], scalars: [1, 2, 3]) }
    }
    @Test func creationAndAccessFloat() throws { try creationAndAccess(Float.self) }
    @Test func creationAndAccessDouble() throws { try creationAndAccess(Double.self) }

    func elementwise<S: TensorScalar>(_: S.Type) throws {
        // 11 elements: exercises both the SIMD8 body and the scalar tail.
        let x: Tensor<S> = t([11], (0..<11).map { Double($0) - 5 })
        let y: Tensor<S> = t([11], (0..<11).map { Double($0) * 0.5 + 1 })
        #expect(try (x + y).scalars == (0..<11).map { S(Double($0) - 5 + Double($0) * 0.5 + 1) })
        #expect(try (x - y).scalars == (0..<11).map { S(Double($0) - 5 - (Double($0) * 0.5 + 1)) })
        #expect(try (x * y).scalars == (0..<11).map { S((Double($0) - 5) * (Double($0) * 0.5 + 1)) })
        #expect(try (x / y).scalars == zip(x.scalars, y.scalars).map { $0 / $1 })
        #expect((x * 2).scalars == x.scalars.map { $0 * 2 })
        #expect((1 - x).scalars == x.scalars.map { 1 - $0 })
        #expect((-x).scalars == x.scalars.map { -$0 })
        #expect(x.maximum(0).scalars == [0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5])
        #expect(x.minimum(-3).scalars == [-5, -4, -3, -3, -3, -3, -3, -3, -3, -3, -3])
        #expect(x.clamped(min: -1, max: 2).scalars == [-1, -1, -1, -1, -1, 0, 1, 2, 2, 2, 2])
        #expect(x.abs().scalars == [5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5])
        #expect((x .> 0).scalars == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        #expect((x .<= -4).scalars == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect((x .== 0).scalars == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])
        let p: Tensor<S> = t([3], [1, 4, 9])
        #expect(p.sqrt().scalars == [1, 2, 3])
        #expect(p.pow(2).scalars == [1, 16, 81])
        #expect(Swift.abs(Double(p.pow(0.5)[2]) - 3) < 1e-6)
        #expect(Swift.abs(Double(t([1], [1], S.self).exp()[0]) - 2.718281828459045) < 1e-6)
        #expect(Swift.abs(Double(t([1], [100], S.self).log()[0]) - 4.605170185988092) < 1e-5)
        var z = x
        try z += y
        #expect(z == (try x + y))
        z *= 0
        #expect(z.sum() == 0)
        #expect(try Tensor.maximum(x, y).scalars == zip(x.scalars, y.scalars).map { Swift.max($0, $1) })
    }
    @Test func elementwiseFloat() throws { try elementwise(Float.self) }
    @Test func elementwiseDouble() throws { try elementwise(Double.self) }

    func broadcasting<S: TensorScalar>(_: S.Type) throws {
        let m: Tensor<S> = t([2, 3], [1, 2, 3, 4, 5, 6])
        let row: Tensor<S> = t([3], [10, 20, 30])
        let column: Tensor<S> = t([2, 1], [100, 200])
        #expect(try (m + row).scalars == [11, 22, 33, 14, 25, 36])
        #expect(try (m + column).scalars == [101, 102, 103, 204, 205, 206])
        #expect(try (column + row).shape == [2, 3])
        #expect(try (column + row).scalars == [110, 120, 130, 210, 220, 230])
        #expect(try (row - m).scalars == [9, 18, 27, 6, 15, 24])
        let scalar: Tensor<S> = t([], [2])
        #expect(try (m * scalar).scalars == [2, 4, 6, 8, 10, 12])
        // (2,1,3) with (4,1) -> (2,4,3)
        let a: Tensor<S> = t([2, 1, 3], [1, 2, 3, 4, 5, 6])
        let b: Tensor<S> = t([4, 1], [0, 10, 20, 30])
        let c = try a + b
        #expect(c.shape == [2, 4, 3])
        #expect(c[1, 2, 0] == 24 && c[0, 3, 2] == 33)
        var n = m
        try n -= row
        #expect(n.scalars == [-9, -18, -27, -6, -15, -24])
        // NCHW per-channel: (2,3,2,2) * (1,3,1,1)
        let images: Tensor<S> = Tensor(shape: [2, 3, 2, 2], repeating: 1)
        let perChannel: Tensor<S> = t([1, 3, 1, 1], [1, 2, 3])
        let scaled = try images * perChannel
        #expect(try scaled.sum(axis: 0).sum(axis: 1).sum(axis: 1).scalars == [8, 16, 24])
    }
    @Test func broadcastingFloat() throws { try broadcasting(Float.self) }
    @Test func broadcastingDouble() throws { try broadcasting(Double.self) }

    @Test func broadcastingErrorsNameBothShapes() throws {
        let a = Tensor<Float>.zeros([2, 3]), b = Tensor<Float>.zeros([4])
        do {
            _ = try a + b
            Issue.record("expected an error")
        } catch let error as TensorError {
            #expect(error.description.contains("(2×3)") && error.description.contains("(4)"))
        }
        var c = Tensor<Float>.zeros([3])
        // (3) += (2,3) would need to grow the left operand: refused.
        #expect(throws: TensorError.self) { try c += a }
    }

    func reductions<S: TensorScalar>(_: S.Type) throws {
        let m: Tensor<S> = t([2, 3], [1, 5, 3, 4, 2, 6])
        #expect(try m.sum(axis: 0).scalars == [5, 7, 9])
        #expect(try m.sum(axis: 1).scalars == [9, 12])
        #expect(try m.sum(axis: -1, keepDims: true).shape == [2, 1])
        #expect(try m.mean(axis: 1).scalars == [3, 4])
        #expect(try m.max(axis: 0).scalars == [4, 5, 6])
        #expect(try m.min(axis: 1).scalars == [1, 2])
        #expect(try m.argmax(axis: 1) == [1, 2])
        #expect(try m.argmax(axis: 0) == [1, 0, 1])
        #expect(try t([4], [3, 7, 7, 1], S.self).argmax(axis: 0) == [1], "ties go to the first")
        #expect(try m.variance(axis: 1).scalars.allSatisfy { Swift.abs(Double($0) - 8.0 / 3) < 1e-6 })
        #expect(m.sum() == 21 && m.mean() == 3.5 && m.max() == 6 && m.min() == 1)
        #expect(m.squaredSum() == 91)
        let cube: Tensor<S> = t([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try cube.sum(axis: 1).scalars == [4, 6, 12, 14])
        #expect(throws: TensorError.self) { try m.sum(axis: 2) }
    }
    @Test func reductionsFloat() throws { try reductions(Float.self) }
    @Test func reductionsDouble() throws { try reductions(Double.self) }

    func shapeOps<S: TensorScalar>(_: S.Type) throws {
        let m: Tensor<S> = t([2, 3], [1, 2, 3, 4, 5, 6])
        #expect(try m.reshaped([3, -1]).shape == [3, 2])
        #expect(try m.transposed().scalars == [1, 4, 2, 5, 3, 6])
        let cube: Tensor<S> = t([2, 3, 4], (0..<24).map(Double.init))
        let permuted = try cube.permuted([2, 0, 1])
        #expect(permuted.shape == [4, 2, 3])
        #expect(permuted[3, 1, 2] == cube[1, 2, 3])
        #expect(try m.slice(1..<2).scalars == [4, 5, 6])
        #expect(try m.gather([1, 0, 1]).scalars == [4, 5, 6, 1, 2, 3, 4, 5, 6])
        #expect(try Tensor.concatenate([m, m], axis: 0).shape == [4, 3])
        #expect(try Tensor.concatenate([m, t([2, 1], [7, 8])], axis: 1).scalars == [1, 2, 3, 7, 4, 5, 6, 8])
        #expect(m.flattenedRows().shape == [2, 3])
        #expect(cube.flattenedRows().shape == [2, 12])
        // A big transpose crosses several 32×32 tiles.
        var rng = RandomGenerator(seed: 1)
        let big = Tensor<S>.randn([70, 45], using: &rng)
        let bigT = try big.transposed()
        #expect(bigT[44, 69] == big[69, 44] && bigT[3, 33] == big[33, 3])
        #expect(try bigT.transposed() == big)
    }
    @Test func shapeOpsFloat() throws { try shapeOps(Float.self) }
    @Test func shapeOpsDouble() throws { try shapeOps(Double.self) }

    @Test func shapeErrorsSayWhatMet() throws {
        let m = Tensor<Float>.zeros([2, 3])
        #expect(throws: TensorError.self) { try m.reshaped([4, 2]) }
        #expect(throws: TensorError.self) { try m.reshaped([-1, -1]) }
        #expect(throws: TensorError.self) { try m.permuted([0, 0]) }
        #expect(throws: TensorError.self) { try m.slice(1..<3) }
        #expect(throws: TensorError.self) { try m.gather([2]) }
        #expect(throws: TensorError.self) { try Tensor.concatenate([m, Tensor<Float>.zeros([2, 2])], axis: 0) }
        do {
            _ = try matmul(Tensor<Float>.zeros([200, 3072]), Tensor<Float>.zeros([3073, 10]))
            Issue.record("expected an error")
        } catch let error as TensorError {
            #expect(error.description.contains("matmul") && error.description.contains("(200×3072) · (3073×10)"))
        }
    }
}
