import Foundation

/// What the machine offers, for `cs231n info` and reports.
public enum CPUInfo {
    public static var modelName: String {
        #if os(Linux)
        return cpuinfoField("model name") ?? "unknown"
        #else
        return sysctlString("machdep.cpu.brand_string") ?? "unknown"
        #endif
    }

    /// The SIMD features that matter to the kernels, as reported by the OS.
    public static var features: [String] {
        let wanted = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "asimd", "neon"]
        #if os(Linux)
        let flags = Set((cpuinfoField("flags") ?? cpuinfoField("Features") ?? "").split(separator: " ").map(String.init))
        return wanted.filter(flags.contains)
        #else
        var found: [String] = []
        if let features = sysctlString("machdep.cpu.features")?.lowercased() {
            found += wanted.filter { features.contains($0) }
        }
        if let leaf7 = sysctlString("machdep.cpu.leaf7_features")?.lowercased(), leaf7.contains("avx2") {
            found.append("avx2")
        }
        #if arch(arm64)
        found.append("neon")
        #endif
        return found
        #endif
    }

    /// The instruction set the numeric targets were compiled for.
    public static var compiledFor: String {
        #if arch(x86_64)
        #if canImport(Darwin)
        return "x86-64 (AVX2+FMA)"
        #else
        return "x86-64 (AVX2+FMA, -target-cpu haswell)"
        #endif
        #elseif arch(arm64)
        return "arm64 (NEON)"
        #else
        return "generic"
        #endif
    }

    #if os(Linux)
    private static func cpuinfoField(_ name: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
    #else
    private static func sysctlString(_ name: String) -> String? {
        var size = 0
        guard sysctlbyname(name, nil, &size, nil, 0) == 0, size > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: size)
        guard sysctlbyname(name, &buffer, &size, nil, 0) == 0 else { return nil }
        return String(cString: buffer)
    }
    #endif
}
