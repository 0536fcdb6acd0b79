/// The first NaN or ±Inf in a floating-point tensor of a file: a downloaded checkpoint whose
/// weights or preprocessing hold one would score every image as garbage without a word, so
/// readers refuse it unless the caller asks for it.
public struct NonFiniteValue: Sendable, Equatable, CustomStringConvertible {
    /// The tensor's name in the file.
    public var tensor: String
    /// The element's index in the tensor (row-major).
    public var element: Int
    /// Its byte offset within the tensor's data.
    public var byteOffset: Int
    public var value: Double

    public init(tensor: String, element: Int, byteOffset: Int, value: Double) {
        (self.tensor, self.element, self.byteOffset, self.value) = (tensor, element, byteOffset, value)
    }

    public var description: String {
        "tensor \"\(tensor)\" holds \(value) at element \(element) (byte \(byteOffset) of its data), the first non-finite value"
    }
}

extension SafetensorsFile {
    /// The first non-finite value of the F32 and F64 tensors whose names start with one of
    /// `prefixes` (all tensors for [""]), in file order; nil when every value is finite.
    /// Integer tensors hold no NaN and are skipped.
    public func firstNonFiniteValue(under prefixes: [String] = [""]) -> NonFiniteValue? {
        for name in names where prefixes.contains(where: { name.hasPrefix($0) }) {
            guard let entry = entries[name], entry.dtype == .f32 || entry.dtype == .f64 else { continue }
            let size = entry.dtype.size
            let found: (Int, Double)? = entry.bytes.withUnsafeBytes { raw in
                for element in 0..<(raw.count / size) {
                    let value = size == 4
                        ? Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * element, as: UInt32.self))))
                        : Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * element, as: UInt64.self)))
                    if !value.isFinite { return (element, value) }
                }
                return nil
            }
            if let (element, value) = found {
                return NonFiniteValue(tensor: name, element: element, byteOffset: element * size, value: value)
            }
        }
        return nil
    }
}

extension Tensor {
    /// The index of the first NaN or ±Inf, or nil when every element is finite.
    public var firstNonFiniteIndex: Int? {
        withUnsafeBufferPointer { $0.firstIndex { !$0.isFinite } }
    }
}
