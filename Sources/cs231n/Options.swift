import ArgumentParser
import Foundation

/// The options every command shares: the conventions of the tool.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Seed for every random draw; the same seed gives the same numbers.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Print results as JSON lines on stdout, one object per figure.")
    var json = false
}

/// A value in a JSON results line.
enum JSONValue: CustomStringConvertible {
    case string(String), int(Int), double(Double), bool(Bool)

    var description: String {
        switch self {
        case .string(let s): return JSONValue.quote(s)
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String(d) : "null"
        case .bool(let b): return b ? "true" : "false"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .int(value) }
    init(floatLiteral value: Double) { self = .double(value) }
}

/// Prints one figure: a JSON line under `--json`, nothing otherwise (commands print their own
/// tables for people). Keys keep their order; "metric" and "value" come last. Under mpirun only
/// rank 0 prints.
struct ResultPrinter {
    let json: Bool
    var muted = !DistributedRun.isLeader

    func figure(_ keys: [(String, JSONValue)], metric: String, value: Double) {
        guard json, !muted else { return }
        let fields = keys + [("metric", .string(metric)), ("value", .double(value))]
        print("{" + fields.map { "\(JSONValue.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}")
    }

    /// Text for people, sent to stderr under `--json` so stdout stays machine-readable.
    func say(_ text: String) {
        if muted { return }
        if json {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        } else {
            print(text)
        }
    }
}

/// Range checks of numeric options for `validate()`: each error names the option, the value and
/// the valid range, so nothing is allocated or run with a size or rate out of range.
enum OptionRange {
    /// `value` must lie in `range`.
    static func check<T: Comparable>(_ value: T, in range: ClosedRange<T>, _ option: String) throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) is \(value), outside the valid range \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// `value` must be a finite number above zero (a learning rate, a perplexity).
    static func positive<T: BinaryFloatingPoint>(_ value: T, _ option: String) throws {
        guard value > 0, value.isFinite else { throw ValidationError("\(option) is \(value): it must be a positive finite number") }
    }

    /// `value` must be a finite number, zero or above (a regularization strength).
    static func nonNegative<T: BinaryFloatingPoint>(_ value: T, _ option: String) throws {
        guard value >= 0, value.isFinite else { throw ValidationError("\(option) is \(value): it must be a finite number ≥ 0") }
    }

    /// Most steps, iterations or epochs an option may ask for.
    static let maximumSteps = 1_000_000
}
