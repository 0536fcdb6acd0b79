import ArgumentParser
import CS231n
import Foundation

/// `cs231n gradcheck`: analytic gradients against centred differences, in Double, the way the
/// assignments check every backward pass.
struct GradCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "Check analytic gradients against centred differences (Double) and print the relative errors.",
        discussion: "Targets:\n" + targets.map { "  \($0.name.padded(12)) \($0.summary)" }.joined(separator: "\n"))

    /// Every checkable piece, in the order `all` runs them.
    static var targets: [GradientCheckTarget] { GradientCheckTarget.all }

    @Argument(help: "What to check: \(targets.map(\.name).joined(separator: ", ")), or all.")
    var names: [String] = ["all"]

    @Option(help: ArgumentHelp("Largest relative error that passes.", discussion:
        "CS231n: below 1e-7 you should be happy. A coordinate whose gradient is ~1e-4 reads ~1e-7 from rounding alone, hence 1e-6."))
    var tolerance = 1e-6

    @Flag(help: "Also print every compared coordinate: numerical, analytic, relative error.")
    var verbose = false

    @OptionGroup var common: CommonOptions

    func validate() throws {
        try OptionRange.positive(tolerance, "--tolerance")
        let known = Set(Self.targets.map(\.name))
        if let unknown = names.first(where: { $0 != "all" && !known.contains($0) }) {
            throw ValidationError("unknown gradcheck target '\(unknown)'; choose from \(Self.targets.map(\.name).joined(separator: ", ")) or all")
        }
    }

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        let chosen = names.contains("all") ? Self.targets : Self.targets.filter { names.contains($0.name) }
        var failures = 0
        for target in chosen {
            printer.say("\(target.name): \(target.summary)")
            for line in try target.run(common.seed) {
                let passed = line.relativeError < tolerance
                if !passed { failures += 1 }
                let kinks = line.skippedKinks > 0 ? ", \(line.skippedKinks) skipped near kinks" : ""
                printer.say("  " + line.check.padded(44)
                            + String(format: "rel error %.2e  (%d compared%@)  %@", line.relativeError, line.checked,
                                     kinks as NSString, passed ? "ok" : "FAIL"))
                if verbose { line.details.forEach { printer.say("      " + $0) } }
                printer.figure([("command", "gradcheck"), ("target", .string(target.name)), ("check", .string(line.check)),
                                ("checked", .int(line.checked)), ("skipped_kinks", .int(line.skippedKinks))],
                               metric: "relative_error", value: line.relativeError)
            }
        }
        if failures > 0 {
            printer.say("\(failures) check(s) above the tolerance \(tolerance)")
            throw ExitCode(1)
        }
    }
}
