// swift-tools-version:6.0
import PackageDescription

// A training loop of one's own on the swift-cs231n library, as a package of its own that
// depends on the library by path. Build it in release: the training path is inlinable and
// specialised in this module.
let package = Package(
    name: "OwnTrainingLoop",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "swift-cs231n", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "OwnTrainingLoop", dependencies: [.product(name: "CS231n", package: "swift-cs231n")]),
    ]
)
