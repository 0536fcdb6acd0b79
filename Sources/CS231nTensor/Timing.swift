import Foundation

/// Wall-clock timing for benchmarks: warm-up runs, then the median, min and max of timed runs.
public struct TimingSummary: Sendable {
    public let seconds: [Double]
    public var median: Double {
        let sorted = seconds.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
    public var min: Double { seconds.min() ?? .nan }
    public var max: Double { seconds.max() ?? .nan }

    public init(seconds: [Double]) { self.seconds = seconds }

    /// Runs `body` `warmup` times untimed, then `repeats` times timed.
    public static func measure(warmup: Int = 1, repeats: Int = 5, _ body: () throws -> Void) rethrows -> TimingSummary {
        for _ in 0..<warmup { try body() }
        var seconds: [Double] = []
        for _ in 0..<repeats { seconds.append(try time(body)) }
        return TimingSummary(seconds: seconds)
    }

    /// Seconds taken by one call of `body`.
    public static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
