import Foundation

/// A progress bar with rate and ETA on stderr, so stdout stays clean for results and `--json`.
/// On a terminal it redraws one line; elsewhere (logs, CI) it prints a line every 10%.
public final class ProgressBar: @unchecked Sendable {
    public let label: String
    public let total: Int
    private let start = DispatchTime.now().uptimeNanoseconds
    private var lastDraw: UInt64 = 0
    private var lastDecile = -1
    private let interactive = isatty(STDERR_FILENO) != 0
    private let lock = NSLock()
    private let enabled: Bool

    public init(_ label: String, total: Int, enabled: Bool = true) {
        self.label = label
        self.total = Swift.max(total, 1)
        self.enabled = enabled && ProcessInfo.processInfo.environment["CS231N_NO_PROGRESS"] == nil
    }

    /// Reports `done` of `total` items finished, with an optional status (e.g. "loss 1.93").
    public func update(_ done: Int, status: String = "") {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        let now = DispatchTime.now().uptimeNanoseconds
        let fraction = Double(Swift.min(done, total)) / Double(total)
        if interactive {
            guard done >= total || now - lastDraw > 100_000_000 else { return }
            lastDraw = now
            let width = 28, filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[K\(label) \(bar) \(describe(done, fraction, now)) \(status)".utf8))
        } else {
            let decile = Int(fraction * 10)
            guard decile > lastDecile else { return }
            lastDecile = decile
            FileHandle.standardError.write(Data("\(label): \(describe(done, fraction, now)) \(status)\n".utf8))
        }
    }

    /// Draws the final state and ends the line.
    public func finish(status: String = "") {
        update(total, status: status)
        if enabled && interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    public var elapsedSeconds: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    private func describe(_ done: Int, _ fraction: Double, _ now: UInt64) -> String {
        let elapsed = Double(now - start) / 1e9
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : .nan
        return String(format: "%3.0f%% %d/%d %@ elapsed, ETA %@", fraction * 100, Swift.min(done, total), total,
                      Self.clock(elapsed), eta.isFinite ? Self.clock(eta) : "--:--")
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%02d:%02d", s / 60, s % 60)
    }
}
