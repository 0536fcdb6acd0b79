import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary files of `AtomicFile`, named `.<name>.tmp-<pid>-<n>`, and the removal of those
/// that killed writes left behind.
///
/// A temporary file of the same target is stale, and removed before the next write, when:
/// - its pid is this process's and this process has no write of that name in flight (the file
///   is from an earlier process that had the same pid, common in containers);
/// - no process has its pid any more;
/// - the process that has its pid now started after the file was last modified (the pid was
///   reused; Linux, from /proc).
/// Anything else may be a write in progress in another process and is left alone. Only regular
/// files whose name parses exactly are considered, so no other file is ever removed.
enum StaleTemporaries {
    private final class InFlight: @unchecked Sendable {
        let lock = NSLock()
        var names = Set<String>()
        var sequence = 0
    }
    private static let inFlight = InFlight()

    /// Registers and returns a fresh temporary path for `name` in `folder`, after removing the
    /// stale temporaries of that name.
    static func begin(folder: String, name: String) -> String {
        let pid = getpid()
        let temporary = inFlight.lock.withLock {
            inFlight.sequence += 1
            let path = "\(folder)/.\(name).tmp-\(pid)-\(inFlight.sequence)"
            inFlight.names.insert(path)
            return path
        }
        removeStale(folder: folder, name: name)
        return temporary
    }

    static func end(_ temporary: String) {
        _ = inFlight.lock.withLock { inFlight.names.remove(temporary) }
    }

    static func removeStale(folder: String, name: String) {
        let prefix = "." + name + ".tmp-"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for entry in entries where entry.hasPrefix(prefix) {
            guard let pid = writerPid(String(entry.dropFirst(prefix.count))) else { continue }
            let path = folder + "/" + entry
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            if isStale(path: path, pid: pid, modified: modificationTime(info)) { unlink(path) }
        }
    }

    /// The pid in "<pid>" (the form earlier versions wrote) or "<pid>-<n>".
    static func writerPid(_ suffix: String) -> pid_t? {
        let parts = suffix.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }),
              let pid = pid_t(parts[0]), pid > 0 else { return nil }
        return pid
    }

    static func isStale(path: String, pid: pid_t, modified: Double) -> Bool {
        if pid == getpid() { return !inFlight.lock.withLock { inFlight.names.contains(path) } }
        if kill(pid, 0) != 0 && errno == ESRCH { return true }
        guard let started = processStartTime(pid) else { return false }
        return modified < started
    }

    static func modificationTime(_ info: stat) -> Double {
        #if canImport(Darwin)
        return Double(info.st_mtimespec.tv_sec) + Double(info.st_mtimespec.tv_nsec) / 1e9
        #else
        return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        #endif
    }

    /// When process `pid` started, in seconds since 1970, never later than the true start:
    /// the boot time Linux reports is rounded down to a second, so "modified before this" is
    /// always "modified before the process existed". Nil where unknown (not Linux, no /proc).
    static func processStartTime(_ pid: pid_t) -> Double? {
        #if os(Linux)
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"),
              let boot = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        // Fields after the command name: state is field 3, starttime (clock ticks since boot) field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]),
              let line = boot.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let bootTime = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) else { return nil }
        return bootTime + ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
        #else
        return nil
        #endif
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isWholeNumber }
}
