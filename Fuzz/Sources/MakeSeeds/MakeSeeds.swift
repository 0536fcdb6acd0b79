import Foundation
import FuzzSupport

/// Writes the seed corpora under Fuzz/Corpus/<harness>/: small valid files of every format and
/// the same files with edited headers (wrapped shapes, huge lengths, wrong dtypes, sizes that
/// overflow), the cases found by hand before the harnesses existed.
///
///     swift run --package-path Fuzz MakeSeeds [Fuzz/Corpus]
@main struct MakeSeeds {
    static func main() throws {
        let root = CommandLine.arguments.dropFirst().first ?? "Fuzz/Corpus"
        let corpora: [(String, [(String, [UInt8])])] = [
            ("FuzzSafetensors", try safetensorsSeeds()), ("FuzzCheckpoint", try checkpointSeeds()),
            ("FuzzCompressedModel", try compressedSeeds()), ("FuzzCIFAR", cifarSeeds()),
            ("FuzzGzip", gzipSeeds()), ("FuzzTar", tarSeeds()),
        ]
        for (harness, seeds) in corpora {
            try FileSystem.createDirectory(atPath: root + "/" + harness)
            for (name, bytes) in seeds { try AtomicFile.write(bytes, to: root + "/" + harness + "/" + name) }
            print("\(harness): \(seeds.count) seeds, \(seeds.reduce(0) { $0 + $1.1.count }) bytes")
        }
    }

    static let wrap = 1 << 62

    /// `bytes` with the header entry `name`'s field `key` set to `value`.
    static func edit(_ bytes: [UInt8], _ name: String, _ key: String, _ value: Any) -> [UInt8] {
        HeaderEdits.safetensors(bytes) { header in
            var entry = header[name] as! [String: Any]
            entry[key] = value
            header[name] = entry
        }!
    }

    static func safetensorsSeeds() throws -> [(String, [UInt8])] {
        var file = SafetensorsFile()
        file.add("f32", try Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
        file.add("f64", Tensor<Double>([0.5, -1]))
        try file.add("i64", dtype: .i64, shape: [1], bytes: [1, 0, 0, 0, 0, 0, 0, 0])
        try file.add("u64", dtype: .u64, shape: [1], bytes: [2, 0, 0, 0, 0, 0, 0, 0])
        try file.add("u8", dtype: .u8, shape: [2, 2], bytes: [1, 2, 3, 4])
        file.add("empty", Tensor<Float>.zeros([0, 3]))
        file.metadata = ["format": "seed", "note": "λ"]
        let valid = file.serialized()
        var hugeHeader = valid
        for i in 0..<8 { hugeHeader[i] = 0xFF }
        var noChecksum = file
        noChecksum.metadata = [:]
        return [
            ("valid", valid),
            ("empty-header", Array(HeaderEdits.safetensors(valid) { $0 = [:] }!.prefix(16))),
            ("wrapped-shape", edit(valid, "f32", "shape", [wrap + 6])),
            ("wrapped-product", edit(valid, "f64", "shape", [1 << 32, 1 << 32, 2])),
            ("negative-shape", edit(valid, "f32", "shape", [-2, -3])),
            ("fractional-shape", edit(valid, "f32", "shape", [2.5, 3])),
            ("reversed-offsets", edit(valid, "f32", "data_offsets", [24, 0])),
            ("overlapping", edit(valid, "f64", "data_offsets", [16, 32])),
            ("beyond-data", edit(valid, "u8", "data_offsets", [0, Int.max])),
            ("unknown-dtype", edit(valid, "f32", "dtype", "F16")),
            ("huge-header-length", hugeHeader),
            ("no-checksum", noChecksum.serialized()),
        ]
    }

    /// Tiny models of every kind, so that each execution builds its model in microseconds.
    static let configurations = [
        ModelConfiguration(kind: "two-layer", inputShape: [12], hiddenSizes: [4], classes: 3),
        ModelConfiguration(kind: "fully-connected", inputShape: [12], hiddenSizes: [4, 3], classes: 3,
                           normalization: .batchnorm, keepProbability: 0.9),
        ModelConfiguration(kind: "fully-connected", inputShape: [2, 2, 3], hiddenSizes: [4], classes: 3, normalization: .layernorm),
        ModelConfiguration(kind: "three-layer-convnet", inputShape: [3, 4, 4], hiddenSizes: [4], classes: 3,
                           convolution: ConvNetSettings(filters: 2, filterSize: 3)),
        ModelConfiguration(kind: "cnn", inputShape: [3, 8, 8], hiddenSizes: [2, 2], classes: 3),
    ]

    /// A checkpoint of `configuration`'s freshly built model: latest and best weights, histories,
    /// the mean image and the metadata the loaders read.
    static func checkpoint(_ configuration: ModelConfiguration) throws -> [UInt8] {
        let model = try AnyModel<Float>(configuration)
        var file = CompressedModel.floatFile(model, data: ParameterStore([("mean_image", Tensor<Float>.ones(configuration.inputShape))]),
                                             metadata: ["data.dataset": "builtin"])
        for (name, tensor) in model.parameters { file.add("best.params." + name, tensor) }
        for (name, tensor) in model.buffers { file.add("best.buffers." + name, tensor) }
        file.add("history.loss", Tensor<Double>([2.3, 2.1]))
        file.add("history.val_accuracy", Tensor<Double>([0.3]))
        return file.serialized()
    }

    static func withConfiguration(_ bytes: [UInt8], _ change: (inout ModelConfiguration) -> Void) throws -> [UInt8] {
        var file = try Checkpoint.read(parsing: bytes, path: "seed")
        var configuration = try ModelConfiguration.fromJSON(file.metadata["model.config"]!)
        change(&configuration)
        file.metadata["model.config"] = configuration.jsonString()
        return file.serialized()
    }

    /// A format 2 checkpoint: a tiny `SequentialConfiguration` conv net, rebuilt through the
    /// registry from its stored configuration.
    static func sequentialCheckpoint() throws -> SafetensorsFile {
        let configuration = SequentialConfiguration(inputShape: [3, 4, 4], layers: [
            .init("conv1", .conv2D(filters: 2, kernel: 3, padding: 1, activation: .relu)),
            .init("norm1", .batchNorm()),
            .init("pool1", .maxPool2D()),
            .init("scores", .affine(outputs: 3)),
        ], regularization: 1e-3, seed: 1)
        let net = try configuration.model(as: Float.self)
        var file = SafetensorsFile()
        for (prefix, store) in [("params.", net.parameters), ("buffers.", net.buffers)] {
            for (name, tensor) in store { file.add(prefix + name, tensor); file.add("best." + prefix + name, tensor) }
        }
        file.add("data.mean_image", Tensor<Float>.ones([3, 4, 4]))
        file.metadata = ["format": Checkpoint.format, "format_version": Checkpoint.registeredFormatVersion,
                         "model.kind": SequentialConfiguration.kind, "model.configuration": try configuration.jsonString(),
                         "model.training_steps": "0", "data.dataset": "builtin"]
        return file
    }

    static func sequentialSeeds() throws -> [(String, [UInt8])] {
        let file = try sequentialCheckpoint()
        func changed(_ key: String, _ change: (String) -> String) -> [UInt8] {
            var edited = file
            edited.metadata[key] = change(edited.metadata[key] ?? "")
            return edited.serialized()
        }
        return [
            ("sequential", file.serialized()),
            ("sequential-filters-2^62", changed("model.configuration") { $0.replacingOccurrences(of: "\"filters\":2", with: "\"filters\":\(wrap)") }),
            ("sequential-unknown-kind", changed("model.kind") { _ in "mystery" }),
            ("sequential-steps-negative", changed("model.training_steps") { _ in "-5" }),
        ]
    }

    static func checkpointSeeds() throws -> [(String, [UInt8])] {
        var seeds = try configurations.map { ("\($0.kind)-\($0.normalization)", try checkpoint($0)) }
        seeds += try sequentialSeeds()
        let fc = seeds[1].1, cnn = seeds[4].1, conv = seeds[3].1
        seeds += [
            ("wrapped-mean-image", edit(fc, "data.mean_image", "shape", [wrap + 12])),
            ("wrapped-best-W1", edit(fc, "best.params.W1", "shape", [wrap + 48])),
            ("wrapped-history", edit(fc, "history.loss", "shape", [wrap + 2])),
            ("dtype-f16", edit(fc, "params.W1", "dtype", "F16")),
            ("hidden-2^62", try withConfiguration(fc) { $0.hiddenSizes = [wrap, 3] }),
            ("hidden-larger-than-file", try withConfiguration(fc) { $0.hiddenSizes = [100_000, 3] }),
            ("input-2^62", try withConfiguration(fc) { $0.inputShape = [3, wrap + 32, 32] }),
            ("unknown-kind", try withConfiguration(fc) { $0.kind = "mystery" }),
            ("whiten-kernel-1e300", try withConfiguration(cnn) { $0.modernConvNet = ModernConvNetSettings(whiteningKernel: .max) }),
            ("cnn-huge-plane", try withConfiguration(cnn) { $0.inputShape = [3, 1 << 40, 1 << 40] }),
            ("filters-2^62", try withConfiguration(conv) { $0.convolution?.filters = wrap }),
            ("filter-size-even", try withConfiguration(conv) { $0.convolution?.filterSize = 4 }),
        ]
        return seeds
    }

    static func compressed(_ configuration: ModelConfiguration, sparsity: Double, bits: Int) throws -> [UInt8] {
        var model = try AnyModel<Float>(configuration)
        try Pruning.apply(Pruning.masks(for: model.parameters, sparsity: sparsity), to: &model.parameters)
        let shared = try SharedWeightsModel(model, bits: bits)
        return CompressedModel(shared, data: ParameterStore([("mean_image", Tensor<Float>.zeros(configuration.inputShape))]),
                               metadata: ["data.dataset": "builtin"]).serialized()
    }

    static func compressedSeeds() throws -> [(String, [UInt8])] {
        let twoLayer = try compressed(configurations[0], sparsity: 0.5, bits: 2)
        func section(_ index: Int, _ key: String, _ value: Any) -> [UInt8] {
            HeaderEdits.compressedModel(twoLayer) { header, _ in
                var sections = header["sections"] as! [[String: Any]]
                sections[index][key] = value
                header["sections"] = sections
            }!
        }
        func layer(_ key: String, _ value: Any) -> [UInt8] {
            HeaderEdits.compressedModel(twoLayer) { header, _ in
                var layers = header["layers"] as! [[String: Any]]
                layers[0][key] = value
                header["layers"] = layers
            }!
        }
        func model(_ key: String, _ value: Any) -> [UInt8] {
            HeaderEdits.compressedModel(twoLayer) { header, _ in
                var model = header["model"] as! [String: Any]
                model[key] = value
                header["model"] = model
            }!
        }
        return [
            ("two-layer", twoLayer),
            ("fc-batchnorm", try compressed(configurations[1], sparsity: 0.9, bits: 3)),
            ("three-layer-convnet", try compressed(configurations[3], sparsity: 0.7, bits: 4)),
            ("section-length-near-max", section(0, "length", Int.max - 10)),
            ("section-offset-negative", section(0, "offset", Int.min + 1672)),
            ("entries-2^61", layer("positionEntries", 1 << 61)),
            ("nonzeros-2^61", layer("nonzeros", 1 << 61)),
            ("layer-shape-2^40", layer("shape", [1 << 40])),
            ("model-hidden-2^62", model("hiddenSizes", [wrap])),
            ("model-hidden-over-cap", model("hiddenSizes", [1 << 24])),
        ]
    }

    static func cifarSeeds() -> [(String, [UInt8])] {
        let names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        func seed(_ meta: String, _ records: [UInt8]) -> [UInt8] {
            let text = Array(meta.utf8)
            let padded = text + [UInt8](repeating: 0x0A, count: (4 - text.count % 4) % 4)
            return [UInt8(padded.count / 4)] + padded + records
        }
        let images = BuiltinDataset.generate(count: 2, seed: 0)
        let records = CIFAR10.records(images)
        var badLabel = records
        badLabel[0] = 200
        return [
            ("meta-lf", seed(names.joined(separator: "\n") + "\n", records)),
            ("meta-crlf", seed(names.joined(separator: "\r\n") + "\r\n", Array(records.prefix(CIFAR10.recordSize)))),
            ("meta-eleven", seed((names + ["x"]).joined(separator: "\n"), records)),
            ("bad-label", [0] + badLabel),
            ("torn-batch", [0] + Array(records.dropLast(7))),
        ]
    }

    static func gzipSeeds() -> [(String, [UInt8])] {
        let text = Array("CIFAR-10 batches, checkpoints and pictures, compressed and not.\n".utf8)
        let gzip = Gzip.compress(text)
        var named = [0x1F, 0x8B, 8, 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 255] as [UInt8]
        named += [3, 0, 1, 2, 3] + Array("a.txt\0".utf8) + Array("comment\0".utf8)
        let crc = CRC32.checksum(named)
        named += [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF)] + gzip.dropFirst(10)
        var reserved = gzip
        reserved[3] = 0x20
        let picture = PNGImage(width: 3, height: 2, colorType: .rgb, fill: RGB(10, 200, 30)).encoded()
        return [
            ("text", gzip), ("zeros-64k", Gzip.compress([UInt8](repeating: 0, count: 1 << 16))),
            ("zlib", Zlib.compress(text)), ("header-fields", named), ("reserved-flag", reserved),
            ("two-members", gzip + gzip), ("png", picture),
            ("stored-block", [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255, 1, 5, 0, 0xFA, 0xFF] + Array("hello".utf8) + [0x86, 0xA6, 0x10, 0x36, 5, 0, 0, 0]),
        ]
    }

    static func tarSeeds() -> [(String, [UInt8])] {
        let files = Tar.archive([("cifar-10-batches-bin/batches.meta.txt", Array("cat\ndog\n".utf8)),
                                 ("cifar-10-batches-bin/data_batch_1.bin", [UInt8](repeating: 7, count: 700))])
        var hugeSize = files
        for (i, byte) in "77777777777".utf8.enumerated() { hugeSize[124 + i] = byte }
        let longName = String(repeating: "d/", count: 60) + "file.bin"
        var gnu = Tar.archive([("././@LongLink", Array(longName.utf8) + [0]), ("short", [1, 2, 3])])
        gnu[156] = UInt8(ascii: "L")
        var pax = Tar.archive([("PaxHeader", Array("20 path=pax/name.txt\n".utf8)), ("x.txt", [4, 5])])
        pax[156] = UInt8(ascii: "x")
        return [("two-files", files), ("size-near-2^33", ChecksumFixups.tar(hugeSize)),
                ("gnu-long-name", ChecksumFixups.tar(gnu)), ("pax-header", ChecksumFixups.tar(pax))]
    }
}
