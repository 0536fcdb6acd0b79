import CS231nTensor
import Foundation
import Testing

#if os(Linux)
private let runsOnLinux = true
#else
private let runsOnLinux = false
#endif

/// JSON from files is refused with a sentence naming the field, never a `DecodingError` dump.
@Suite struct JSONErrorTests {
    struct Settings: Codable { var seed: UInt64; var rate: Double; var rule: Rule; var sizes: [Int] }
    enum Rule: String, Codable { case sgd, adam }

    func message(_ json: String) -> String {
        do {
            _ = try JSONDecoder().decode(Settings.self, from: Data(json.utf8))
            Issue.record("\(json) decoded")
            return ""
        } catch { return describeJSONError(error, json: Data(json.utf8)) }
    }

    @Test(arguments: [
        // Linux's Foundation reports the field-less "not valid JSON" here, Darwin's names the field.
        (#"{"seed":-1,"rate":1,"rule":"sgd","sizes":[1]}"#, runsOnLinux ? "it is JSON, but a number in it does not fit its field" : "field \"seed\""),
        (#"{"seed":1,"rate":NaN,"rule":"sgd","sizes":[1]}"#, "it is not valid JSON (NaN and Infinity are not JSON numbers)"),
        (#"{"seed":1,"rate":1,"rule":"foo","sizes":[1]}"#, "field \"rule\" is not valid: cannot initialize Rule from invalid String value foo"),
        (#"{"seed":1,"rate":1,"rule":"sgd"}"#, "it lacks the field \"sizes\""),
        (#"{"seed":1,"rate":1,"rule":"sgd","sizes":["a"]}"#, "field \"sizes[0]\" is not of type Int"),
        (#"{"seed":1,"rate":1,"rule":"sgd","sizes":[null]}"#, "field \"sizes[0]\" is null where a value of type Int is expected"),
        ("garbage", "it is not valid JSON"),
    ])
    func aDecodingErrorBecomesASentence(json: String, expected: String) {
        let text = message(json)
        #expect(text.hasPrefix(expected), "\(text)")
        #expect(!text.contains("CodingKeys") && !text.contains("Context("), "\(text)")
    }
}
