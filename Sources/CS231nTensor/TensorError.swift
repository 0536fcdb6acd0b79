/// Errors from tensor operations. Each message names the operation and the shapes that met,
/// e.g. "matmul: (200×3072) · (3073×10)".
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(operation: String, detail: String)
    case invalidArgument(operation: String, detail: String)

    public var description: String {
        switch self {
        case .shapeMismatch(let op, let detail): return "\(op): shapes do not match: \(detail)"
        case .invalidArgument(let op, let detail): return "\(op): \(detail)"
        }
    }
}

/// "(200×3072)" — the way shapes are written in error messages.
public func describeShape(_ shape: [Int]) -> String {
    "(" + shape.map(String.init).joined(separator: "×") + ")"
}
