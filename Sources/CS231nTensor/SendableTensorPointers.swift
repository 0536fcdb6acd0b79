// Pointers to tensors' scalars, Sendable so that `Parallel` workers can take them: one call in
// place of a pyramid of `withUnsafeBufferPointer` closures, each followed by its
// `SendableConstPointer(… .baseAddress!)` (serial loops use it too, for the same flat shape).
// The pointers are valid only while `body` runs; the outputs are made unique first
// (copy-on-write), as `withUnsafeMutableBufferPointer` does, so writing them never shows in a
// tensor that shared their storage. Workers read the inputs and write disjoint parts of the
// outputs; nothing here runs per element.

/// Read pointers to each of `inputs`.
@inlinable
package func withSendablePointers<each S: TensorScalar, R>(
    reading inputs: repeat Tensor<each S>, do body: (repeat SendableConstPointer<each S>) throws -> R
) rethrows -> R {
    defer { repeat withExtendedLifetime(each inputs) {} }
    return try body(repeat SendableConstPointer(UnsafePointer((each inputs).storage.pointer)))
}

/// A write pointer to `output` and read pointers to each of `inputs`.
@inlinable
package func withSendablePointers<O: TensorScalar, each S: TensorScalar, R>(
    writing output: inout Tensor<O>, reading inputs: repeat Tensor<each S>,
    do body: (SendablePointer<O>, repeat SendableConstPointer<each S>) throws -> R
) rethrows -> R {
    defer { repeat withExtendedLifetime(each inputs) {} }
    output.makeUnique()
    return try body(SendablePointer(output.storage.pointer), repeat SendableConstPointer(UnsafePointer((each inputs).storage.pointer)))
}

/// Write pointers to two outputs (a kernel that keeps an intermediate, such as a
/// normalization's x̂, beside its result) and read pointers to each of `inputs`.
@inlinable
package func withSendablePointers<O: TensorScalar, each S: TensorScalar, R>(
    writing first: inout Tensor<O>, _ second: inout Tensor<O>, reading inputs: repeat Tensor<each S>,
    do body: (SendablePointer<O>, SendablePointer<O>, repeat SendableConstPointer<each S>) throws -> R
) rethrows -> R {
    defer { repeat withExtendedLifetime(each inputs) {} }
    first.makeUnique()
    second.makeUnique()
    return try body(SendablePointer(first.storage.pointer), SendablePointer(second.storage.pointer),
                    repeat SendableConstPointer(UnsafePointer((each inputs).storage.pointer)))
}
