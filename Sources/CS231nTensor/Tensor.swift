/// Owns one 64-byte-aligned buffer (a recycled one where `LargeAllocations` keeps them). Tensors
/// share it until one of them writes (copy-on-write).
public final class TensorStorage<Scalar: TensorScalar>: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Scalar>

    /// `count` comes from `Tensor.elementCount`, which keeps `count × stride` within
    /// `Tensor.maximumByteCount`, so the product below cannot overflow.
    @usableFromInline
    init(uninitializedCount count: Int) {
        self.count = count
        let raw = LargeAllocations.allocate(byteCount: Self.byteCount(of: count))
        pointer = raw.bindMemory(to: Scalar.self, capacity: Swift.max(count, 1))
    }

    /// The bytes of a buffer of `count` elements (at least one, so that every buffer has an address).
    @usableFromInline static func byteCount(of count: Int) -> Int { Swift.max(count, 1) * MemoryLayout<Scalar>.stride }

    deinit { LargeAllocations.deallocate(UnsafeMutableRawPointer(pointer), byteCount: Self.byteCount(of: count)) }
}

/// A dense, row-major n-dimensional array. Images are NCHW.
///
/// Value semantics with copy-on-write: `var b = a` shares storage until either is mutated.
/// Hot loops reach the elements through `withUnsafeBufferPointer` /
/// `withUnsafeMutableBufferPointer`, so there is no per-element ARC or bounds check.
public struct Tensor<Scalar: TensorScalar>: Sendable {
    /// The dimensions, outermost first.
    public var shape: [Int] { storedShape }
    @usableFromInline var storedShape: [Int]
    @usableFromInline var storage: TensorStorage<Scalar>

    /// A tensor whose elements the caller must write before reading.
    @inlinable
    public init(uninitializedShape shape: [Int]) {
        let count = Tensor.elementCount(shape)
        self.storedShape = shape
        self.storage = TensorStorage(uninitializedCount: count)
    }

    @inlinable
    public init(shape: [Int], repeating value: Scalar) {
        self.init(uninitializedShape: shape)
        storage.pointer.initialize(repeating: value, count: storage.count)
    }

    /// Builds a tensor from scalars in row-major order.
    public init(shape: [Int], scalars: [Scalar]) throws {
        let count = try Tensor.checkedCount(shape: shape)
        guard count == scalars.count else {
            throw TensorError.shapeMismatch(operation: "Tensor(shape:scalars:)",
                detail: "\(scalars.count) scalars cannot fill shape \(describeShape(shape)) of \(count)")
        }
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { storage.pointer.initialize(from: $0.baseAddress!, count: count) }
    }

    /// A 1-D tensor.
    public init(_ scalars: [Scalar]) {
        try! self.init(shape: [scalars.count], scalars: scalars)
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 0) }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: 1) }
    public static func full(_ shape: [Int], _ value: Scalar) -> Tensor { Tensor(shape: shape, repeating: value) }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    public var scalars: [Scalar] { withUnsafeBufferPointer { Array($0) } }

    /// The most bytes one tensor may hold (1 TiB). Far above any machine this runs on, it exists
    /// so that a count × element size can never wrap around: sizes read from files and arguments
    /// are refused above it rather than allocated short.
    public static var maximumByteCount: Int { 1 << 40 }

    /// The element count of `shape`, or an error naming the shape when a dimension is negative or
    /// the tensor would exceed `maximumByteCount`. Readers of untrusted sizes (files, arguments)
    /// call this before allocating. The arithmetic reports overflow explicitly, so the check holds
    /// in every build mode, `-Ounchecked` included.
    public static func checkedCount(shape: [Int]) throws -> Int {
        let limit = maximumByteCount / MemoryLayout<Scalar>.stride
        // The product skips zero dimensions so that every partial product of the shape (rows ×
        // columns of an empty tensor too) stays within the limit, not only the total.
        var nonzeroProduct = 1, hasZero = false
        for dimension in shape {
            guard dimension >= 0 else {
                throw TensorError.invalidArgument(operation: "Tensor",
                    detail: "shape \(describeShape(shape)) has a negative dimension \(dimension)")
            }
            if dimension == 0 { hasZero = true; continue }
            let (product, overflow) = nonzeroProduct.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= limit else {
                throw TensorError.invalidArgument(operation: "Tensor",
                    detail: "shape \(describeShape(shape)) spans more than \(limit) \(Scalar.self) elements "
                        + "(\(maximumByteCount) bytes), the most one tensor may have")
            }
            nonzeroProduct = product
        }
        return hasZero ? 0 : nonzeroProduct
    }

    /// The element count of a shape the program itself computed. A bad one is a programming
    /// error and stops the program: `fatalError` survives `-Ounchecked`, where `precondition`
    /// and overflow traps do not.
    @inlinable
    static func elementCount(_ shape: [Int]) -> Int {
        do { return try checkedCount(shape: shape) } catch { fatalError("\(error)") }
    }

    // MARK: Element access

    @inlinable
    func flatIndex(_ indices: [Int]) -> Int {
        precondition(indices.count == shape.count,
                     "Tensor: \(indices.count) indices for shape \(describeShape(shape))")
        var flat = 0
        for (axis, index) in indices.enumerated() {
            precondition(index >= 0 && index < shape[axis],
                         "Tensor: index \(indices) out of range for shape \(describeShape(shape))")
            flat = flat * shape[axis] + index
        }
        return flat
    }

    /// Checked element access, for tests and setup code; hot loops use the buffer pointers.
    @inlinable
    public subscript(_ indices: Int...) -> Scalar {
        get { storage.pointer[flatIndex(indices)] }
        set {
            let index = flatIndex(indices)
            makeUnique()
            storage.pointer[index] = newValue
        }
    }

    // MARK: Buffer access

    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Scalar>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Scalar>) throws -> R
    ) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    @inlinable
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = TensorStorage<Scalar>(uninitializedCount: storage.count)
            copy.pointer.initialize(from: storage.pointer, count: storage.count)
            storage = copy
        }
    }

    /// Changes the shape without touching the elements (the counts must agree).
    @inlinable
    mutating func setShapeUnchecked(_ newShape: [Int]) { storedShape = newShape }

    /// The same elements converted to another scalar type.
    public func converted<Other: TensorScalar>(to: Other.Type = Other.self) -> Tensor<Other> {
        var result = Tensor<Other>(uninitializedShape: shape)
        withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                for i in 0..<source.count { target[i] = Other(source[i]) }
            }
        }
        return result
    }
}

extension Tensor: Equatable {
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        lhs.shape == rhs.shape && lhs.withUnsafeBufferPointer { a in
            rhs.withUnsafeBufferPointer { b in a.elementsEqual(b) }
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor<\(Scalar.self)>\(describeShape(shape)) [\(shown)\(count > 8 ? ", …" : "")]"
    }
}
