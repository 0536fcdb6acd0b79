/// Named tensors in a fixed order, like a PyTorch state dict or CS231n's `self.params`:
/// W1, b1, gamma1, beta1, W2, … Models keep their parameters, gradients and buffers in one.
public struct ParameterStore<S: TensorScalar>: Sendable, Sequence {
    public internal(set) var names: [String] = []
    @usableFromInline var tensors: [Tensor<S>] = []
    @usableFromInline var indexByName: [String: Int] = [:]

    public init() {}

    public init(_ pairs: [(String, Tensor<S>)]) {
        for (name, tensor) in pairs { self[name] = tensor }
    }

    public var count: Int { names.count }
    public var isEmpty: Bool { names.isEmpty }

    /// The tensor called `name`. Setting a new name appends it; setting nil removes it.
    public subscript(name: String) -> Tensor<S>? {
        get { indexByName[name].map { tensors[$0] } }
        set {
            if let index = indexByName[name] {
                if let newValue { tensors[index] = newValue } else { remove(at: index) }
            } else if let newValue {
                indexByName[name] = tensors.count
                names.append(name)
                tensors.append(newValue)
            }
        }
    }

    /// The tensor at position `index` of `names`, mutable in place.
    @inlinable
    public subscript(index index: Int) -> Tensor<S> {
        get { tensors[index] }
        _modify { yield &tensors[index] }
    }

    public func index(of name: String) -> Int? { indexByName[name] }

    /// The tensor called `name`, or an error naming what is missing.
    public func require(_ name: String) throws -> Tensor<S> {
        guard let tensor = self[name] else {
            throw TensorError.invalidArgument(operation: "ParameterStore",
                detail: "no tensor named \(name) (have \(names.joined(separator: ", ")))")
        }
        return tensor
    }

    /// The number of scalars in all tensors together.
    public var scalarCount: Int { tensors.reduce(0) { $0 + $1.count } }

    public func makeIterator() -> Zip2Sequence<[String], [Tensor<S>]>.Iterator {
        zip(names, tensors).makeIterator()
    }

    /// The same names with each tensor transformed.
    public func mapTensors<T>(_ transform: (String, Tensor<S>) throws -> Tensor<T>) rethrows -> ParameterStore<T> {
        var result = ParameterStore<T>()
        for (name, tensor) in self { result[name] = try transform(name, tensor) }
        return result
    }

    mutating func remove(at index: Int) {
        indexByName[names[index]] = nil
        names.remove(at: index)
        tensors.remove(at: index)
        for (i, name) in names.enumerated() where i >= index { indexByName[name] = i }
    }
}

extension ParameterStore {
    /// The name and element index of the first NaN or ±Inf, in store order; nil when every
    /// value is finite.
    public var firstNonFinite: (name: String, element: Int)? {
        for (name, tensor) in self {
            if let element = tensor.firstNonFiniteIndex { return (name, element) }
        }
        return nil
    }
}

/// Tensors kept as typed fields that a store names (llm.c's `ParameterTensors` beside the
/// checkpoint's names).
public protocol NamedTensorFields {
    associatedtype Scalar: TensorScalar
    /// Every tensor field under its stored name, in the order checkpoints keep.
    var namedFields: [(String, WritableKeyPath<Self, Tensor<Scalar>>)] { get }
}

extension NamedTensorFields {
    /// The tensors under their names. Setting takes the tensors a store names (the fields it
    /// lacks keep theirs). Modifying in place (as the optimizer does) takes them out of the
    /// fields for the while, so that each has one owner and updates without a copy.
    public var store: ParameterStore<Scalar> {
        get { ParameterStore(namedFields.map { ($0.0, self[keyPath: $0.1]) }) }
        set { assign(newValue) }
        _modify {
            var taken = store
            assign(taken.mapTensors { _, _ in .zeros([0]) })
            defer { assign(taken) }
            yield &taken
        }
    }

    mutating func assign(_ store: ParameterStore<Scalar>) {
        for (name, field) in namedFields {
            if let value = store[name] { self[keyPath: field] = value }
        }
    }
}
