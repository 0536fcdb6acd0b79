import Foundation

/// Why `JSONDecoder` refused `json`, as a sentence for an error message: which field, and what
/// was wrong with it, instead of the decoder's `DecodingError` dump. Used wherever JSON comes
/// from a file (checkpoint metadata, a compressed model's header).
package func describeJSONError(_ error: any Error, json: Data) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    func field(_ path: [any CodingKey]) -> String {
        let name = path.reduce("") { name, key in
            key.intValue.map { "\(name)[\($0)]" } ?? (name.isEmpty ? key.stringValue : "\(name).\(key.stringValue)")
        }
        return name.isEmpty ? "the JSON value" : "field \"\(name)\""
    }
    switch error {
    case let .keyNotFound(key, context):
        let within = context.codingPath.isEmpty ? "" : " in \(field(context.codingPath))"
        return "it lacks the field \"\(key.stringValue)\"\(within)"
    case let .valueNotFound(type, context):
        return "\(field(context.codingPath)) is null where a value of type \(type) is expected"
    case let .typeMismatch(type, context):
        return "\(field(context.codingPath)) is not of type \(type) (\(lowercasedFirst(context.debugDescription)))"
    case let .dataCorrupted(context) where !context.codingPath.isEmpty:
        return "\(field(context.codingPath)) is not valid: \(lowercasedFirst(context.debugDescription))"
    case .dataCorrupted:
        // The decoder says "not valid JSON" both for bad syntax and for a number its field cannot
        // hold (-1 or 2^64 for an unsigned seed; some Foundations name the field, then the case
        // above answers); the syntax check tells the two apart.
        if (try? JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])) != nil {
            return "it is JSON, but a number in it does not fit its field (a negative count or seed, or one beyond 64 bits)"
        }
        let words = String(decoding: json, as: UTF8.self).lowercased().split { !$0.isLetter }
        let nonNumbers = words.contains { ["nan", "inf", "infinity"].contains($0) } ? " (NaN and Infinity are not JSON numbers)" : ""
        return "it is not valid JSON\(nonNumbers)"
    @unknown default:
        return "\(error)"
    }
}

private func lowercasedFirst(_ text: String) -> String {
    var text = text
    while text.hasSuffix(".") { text.removeLast() }
    return text.prefix(1).lowercased() + text.dropFirst()
}
