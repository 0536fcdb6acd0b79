// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses for the readers of untrusted files. A separate package so that the root
// package builds and tests without the fuzzer runtime: build one with
//     swift build --package-path Fuzz --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address --product FuzzTar
// (swiftc keeps only the last -sanitize flag) or run scripts/fuzz.sh. Each harness defines LLVMFuzzerTestOneInput; libFuzzer supplies `main`.
// MakeSeeds (built without the sanitizers) writes the structure-aware seed corpora.
let harnesses = ["FuzzSafetensors", "FuzzCheckpoint", "FuzzCompressedModel", "FuzzCIFAR", "FuzzGzip", "FuzzTar"]

// Optimised like the library's numeric targets (whose debug builds are -O too): the harnesses'
// byte loops would otherwise dominate each execution. `precondition` stays active under -O.
let optimised: [SwiftSetting] = [.unsafeFlags(["-O"])]

let package = Package(
    name: "swift-cs231n-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "swift-cs231n", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "CS231n", package: "swift-cs231n")], swiftSettings: optimised),
        .executableTarget(name: "MakeSeeds", dependencies: ["FuzzSupport"]),
    ] + harnesses.map { name in
        .executableTarget(name: name, dependencies: ["FuzzSupport"], swiftSettings: optimised + [.unsafeFlags(["-parse-as-library"])])
    }
)
