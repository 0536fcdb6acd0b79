// swift-tools-version:6.0
import PackageDescription

// Numeric targets are built optimised in every configuration (debug tests of numeric code are
// otherwise 10-100x slower) and, on x86-64, for AVX2+FMA: without `-target-cpu` every SIMD FMA
// becomes a libm call, about 100x slower. The manifest is compiled for the host, so `#if arch`
// keeps these flags off arm64 and macOS-on-Apple-silicon builds.
#if arch(x86_64)
let cpuFlags = ["-target-cpu", "haswell"]
// Only the AVX-512 GEMM kernels are built for AVX-512; they run only where the CPU reports it.
let avx512Flags = ["-target-cpu", "skylake-avx512"]
#else
let cpuFlags: [String] = []
let avx512Flags: [String] = []
#endif

let numericSettings: [SwiftSetting] = [
    .unsafeFlags(cpuFlags + ["-O", "-enforce-exclusivity=unchecked", "-cross-module-optimization"]),
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "swift-cs231n",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "CS231n", targets: ["CS231n"]),
        .library(name: "CS231nDemo", targets: ["CS231nDemo"]),
        .executable(name: "cs231n", targets: ["cs231n"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // `swift package generate-documentation --target CS231n`: the DocC catalog in Sources/CS231n.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // Hand-written SIMD kernels (the Swift GEMM) and the parallel loops they run on.
        .target(name: "CS231nKernels", swiftSettings: numericSettings),
        // The same GEMM instantiated for AVX-512, chosen at run time where the CPU has it.
        .target(name: "CS231nKernelsAVX512", dependencies: ["CS231nKernels"], swiftSettings: [
            .unsafeFlags(avx512Flags + ["-O", "-enforce-exclusivity=unchecked", "-cross-module-optimization"]),
            .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
        ]),
        // Tensor core: dense row-major tensors, BLAS backend with a Swift GEMM fallback,
        // seeded RNG, parallel loops, gradient checking.
        .target(name: "CS231nTensor", dependencies: ["CS231nKernels", "CS231nKernelsAVX512"],
                swiftSettings: numericSettings),
        // CIFAR-10 and the built-in dataset, splits, preprocessing, augmentation, PNG output.
        .target(name: "CS231nData", dependencies: ["CS231nTensor"], swiftSettings: numericSettings),
        // k-nearest-neighbour and linear (SVM, Softmax) classifiers, image features.
        .target(name: "CS231nClassifiers", dependencies: ["CS231nTensor", "CS231nData"],
                swiftSettings: numericSettings),
        // Layers with forward/backward side by side, losses, fully-connected and conv nets.
        .target(name: "CS231nNN", dependencies: ["CS231nTensor"], swiftSettings: numericSettings),
        // Update rules, the training Solver, safetensors checkpoints.
        .target(name: "CS231nOptim", dependencies: ["CS231nTensor", "CS231nNN", "CS231nData"],
                swiftSettings: numericSettings),
        // Deep Compression: pruning with retraining, weight sharing, and the compressed file format.
        .target(name: "CS231nCompression", dependencies: ["CS231nTensor", "CS231nNN", "CS231nData", "CS231nOptim"],
                swiftSettings: numericSettings),
        // Plots and pictures of what a model learned and how it trained: training curves, saliency, deconvnet and guided backprop
        // projections, feature maps, class models, fooling images, occlusion, neighbours in
        // feature space, t-SNE maps.
        .target(name: "CS231nVisualize", dependencies: ["CS231nTensor", "CS231nData", "CS231nNN", "CS231nClassifiers", "CS231nOptim"],
                swiftSettings: numericSettings),
        // MPI, loaded at run time (Open MPI's libmpi), and replicas as threads of one process.
        .target(name: "CS231nDistributed", dependencies: ["CS231nTensor"], swiftSettings: numericSettings),
        // The library product: one import for all stages.
        .target(name: "CS231n", dependencies: [
            "CS231nTensor", "CS231nData", "CS231nClassifiers", "CS231nNN", "CS231nOptim", "CS231nCompression",
            "CS231nVisualize", "CS231nDistributed",
        ]),
        // The demo: the whole pipeline into one report.html, with its stage cache. Apart from the
        // umbrella (which does not re-export it), so that `import CS231n` stays the course alone.
        .target(name: "CS231nDemo", dependencies: ["CS231n"], swiftSettings: numericSettings),
        .executableTarget(name: "cs231n", dependencies: [
            "CS231n", "CS231nDemo", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: numericSettings),
        // Examples: programs on the library alone, built with the package so that CI keeps them compiling.
        .executableTarget(name: "OwnTrainingLoop", dependencies: ["CS231n"], path: "Examples/OwnTrainingLoop",
                          swiftSettings: numericSettings),
        .testTarget(name: "CS231nTensorTests", dependencies: ["CS231nTensor"]),
        .testTarget(name: "CS231nDataTests", dependencies: ["CS231nData"]),
        .testTarget(name: "CS231nClassifiersTests", dependencies: ["CS231nClassifiers"]),
        .testTarget(name: "CS231nNNTests", dependencies: ["CS231nData", "CS231nNN", "CS231nOptim", "CS231nCompression"]),
        .testTarget(name: "CS231nVisualizeTests", dependencies: ["CS231nVisualize", "CS231nNN"]),
        .testTarget(name: "CS231nCLITests", dependencies: ["CS231n"]),
        .testTarget(name: "CS231nDemoTests", dependencies: ["CS231nDemo", "CS231n"]),
        .testTarget(name: "CS231nDistributedTests", dependencies: ["CS231nDistributed", "CS231nData", "CS231nOptim", "CS231nClassifiers"]),
    ]
)
