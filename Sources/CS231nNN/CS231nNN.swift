@_exported import CS231nTensor

/// Whether a layer is training (batch statistics, dropout masks) or testing (running
/// statistics, no dropout). Every layer that behaves differently takes it as an argument:
/// there is no global training flag.
public enum Mode: String, Sendable, CaseIterable {
    case train, test
}
