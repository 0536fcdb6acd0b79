import Foundation

/// The typed configuration of a family of models, and the builder of its nets: what a model
/// family registers with `ModelRegistry` so that its checkpoints load back.
///
/// A family of one's own is a `Codable` struct with the hyper-parameters it needs, a `kind`
/// no other family uses, and `makeSequential`, which builds the net (usually from a
/// `SequentialConfiguration`). Build nets with `model(as:)`, which validates the configuration
/// and records it in the net, so that the Solver's checkpoints store `{kind, configuration}`.
public protocol ModelFamilyConfiguration: Codable, Sendable {
    /// The name checkpoints store as `model.kind`.
    static var kind: String { get }
    /// Refuses sizes out of range, with an error naming the field and the valid range, before
    /// anything is allocated.
    func validate() throws
    /// The freshly initialized net this configuration describes.
    func makeSequential<S: TensorScalar>(as _: S.Type) throws -> Sequential<S>
}

extension ModelFamilyConfiguration {
    /// The JSON checkpoints store as `model.configuration` (keys sorted, so it is stable).
    public func jsonString() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The validated, freshly initialized net, which remembers its kind and this configuration.
    public func model<S: TensorScalar>(as _: S.Type = S.self) throws -> Sequential<S> {
        try validate()
        var net = try makeSequential(as: S.self)
        net.family = ModelFamilyRecord(kind: Self.kind, configuration: try jsonString())
        return net
    }

    /// The net a stored configuration describes.
    static func model<S: TensorScalar>(json: String, as _: S.Type) throws -> Sequential<S> {
        let configuration: Self
        do { configuration = try JSONDecoder().decode(Self.self, from: Data(json.utf8)) } catch {
            throw TensorError.invalidArgument(operation: "ModelRegistry", detail: "the \(kind) configuration is not valid: \(describeJSONError(error, json: Data(json.utf8)))")
        }
        return try configuration.model(as: S.self)
    }
}

/// Which registered family built a net, and its configuration as JSON.
public struct ModelFamilyRecord: Sendable, Equatable {
    public let kind: String
    public let configuration: String

    public init(kind: String, configuration: String) { self.kind = kind; self.configuration = configuration }
}

/// The model families checkpoints can name, by kind: adding a family is one `register` call.
/// Safe to use from any thread. The built-in "sequential" kind is registered from the start.
public final class ModelRegistry: @unchecked Sendable {
    /// The registry checkpoints load through unless told otherwise.
    public static let shared = ModelRegistry()

    // The lock guards `families`; Foundation's NSLock rather than `Mutex`, which needs macOS 15.
    private let lock = NSLock()
    private var families: [String: any ModelFamilyConfiguration.Type] = [:]

    public init() {
        families[SequentialConfiguration.kind] = SequentialConfiguration.self
    }

    /// Registers `family` under its kind; registering the same type again is harmless, another
    /// type under a taken kind is an error.
    public func register(_ family: any ModelFamilyConfiguration.Type) throws {
        try lock.withLock {
            if let existing = families[family.kind], existing != family {
                throw TensorError.invalidArgument(operation: "ModelRegistry",
                    detail: "kind \"\(family.kind)\" is already registered to \(existing)")
            }
            families[family.kind] = family
        }
    }

    /// The registered kinds, sorted.
    public var kinds: [String] { lock.withLock { families.keys.sorted() } }

    /// The configuration type registered under `kind`, or an error listing the kinds there are.
    public func family(_ kind: String) throws -> any ModelFamilyConfiguration.Type {
        let found = lock.withLock { families[kind] }
        guard let found else {
            throw TensorError.invalidArgument(operation: "ModelRegistry",
                detail: "no model family \"\(kind)\" is registered (registered: \(kinds.joined(separator: ", ")))")
        }
        return found
    }

    /// The freshly initialized net of the family `kind` with the configuration `json`.
    public func model<S: TensorScalar>(kind: String, configuration json: String, as _: S.Type = S.self) throws -> Sequential<S> {
        try family(kind).model(json: json, as: S.self)
    }
}
