import CS231nTensor

/// What can go wrong reading a checkpoint; each message names the file.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case corrupt(path: String, detail: String)
    case incompatible(path: String, detail: String)
    /// A weight, buffer or preprocessing value is NaN or ±Inf and the caller did not allow it.
    case nonFinite(path: String, value: NonFiniteValue)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read checkpoint \(path): \(reason)"
        case .corrupt(let path, let detail): return "checkpoint \(path) is corrupt: \(detail)"
        case .incompatible(let path, let detail): return "checkpoint \(path) does not fit: \(detail)"
        case .nonFinite(let path, let value):
            return "checkpoint \(path) is refused: \(value); a model with NaN or infinite weights or preprocessing "
                + "scores garbage (load it with non-finite values allowed only to inspect it)"
        }
    }

    /// A safetensors error in the words of a checkpoint.
    init(_ error: SafetensorsError, path: String) {
        switch error {
        case .unreadable(_, let reason): self = .unreadable(path: path, reason: reason)
        case .corrupt, .invalidTensor: self = .corrupt(path: path, detail: error.detail)
        case .missingTensor, .unexpectedTensor: self = .incompatible(path: path, detail: error.detail)
        }
    }
}
