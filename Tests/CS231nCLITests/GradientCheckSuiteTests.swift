import CS231n
import Testing

/// The library's gradient-check suite, run as `cs231n gradcheck all` runs it: every line of every
/// target within the tool's default tolerance, each comparing some coordinates.
@Suite struct GradientCheckSuiteTests {
    @Test(arguments: GradientCheckTarget.all.map(\.name))
    func everyTargetPasses(name: String) throws {
        let target = try #require(GradientCheckTarget.all.first { $0.name == name })
        let lines = try target.run(0)
        #expect(!lines.isEmpty)
        for line in lines {
            // A line whose coordinates all sit at the rounding limit compares none to 1e-7 but
            // still holds each to 3× its uncertainty, and says so.
            #expect(line.relativeError < 1e-6 && (line.checked > 0 || line.check.contains("at rounding limit")),
                    "\(name): \(line.check) error \(line.relativeError), \(line.checked) compared")
        }
    }

    @Test func theTargetsHaveDistinctNamesAndCoverConvolution() {
        let names = GradientCheckTarget.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.contains("conv") && names.contains("pool") && names.contains("convnet"))
    }

    @Test func aGradientThatIsWrongFails() throws {
        var generator = RandomGenerator(seed: 1)
        let x = GradientCheck.smoothPoint([3, 4], using: &generator)
        let wrong = try GradientCheck.line("2x as x", at: x, analytic: x) { try ($0 * $0).sum() }
        #expect(wrong.relativeError > 0.1)
        let right = try GradientCheck.line("2x", at: x, analytic: x * 2) { try ($0 * $0).sum() }
        #expect(right.relativeError < 1e-9 && right.checked == 12)
    }
}
