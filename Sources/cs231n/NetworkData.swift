import ArgumentParser
import CS231n
import Foundation

enum NetworkDataset: String, ExpressibleByArgument, CaseIterable, Sendable {
    case cifar10, builtin
}

/// The data the nets train on: the CS231n split of a dataset as Float rows,
/// x = (x − mean training image) / 255 (W4's recipe), with what a checkpoint needs to prepare
/// the same data again.
struct NetworkData {
    var train: LabeledTensors<Float>
    var val: LabeledTensors<Float>
    var test: LabeledTensors<Float>?
    /// The mean training image (3072), subtracted before the division by 255.
    var meanImage: Tensor<Float>
    var classNames: [String]
    /// "data.*" facts saved in checkpoints: where the data came from and how it was prepared.
    var metadata: [String: String]

    static let pixelScale: Float = 255

    /// Loads `dataset` and fits the mean image on its training split. Examples are shaped
    /// [N] + `inputShape` ([3072] rows for fully-connected nets).
    static func load(dataset: NetworkDataset, dataDirectory: String?, numTrain: Int?, numVal: Int,
                     seed: UInt64, inputShape: [Int] = [LabeledImages.imageSize]) throws -> NetworkData {
        let (splits, source) = try loadSplits(dataset: dataset, dataDirectory: dataDirectory, numTrain: numTrain,
                                              numVal: numVal, seed: seed)
        var data = try prepare(splits, meanImage: nil, inputShape: inputShape)
        data.metadata = [
            "data.dataset": dataset.rawValue, "data.source": source, "data.seed": String(seed),
            "data.num_train": String(splits.train.count), "data.num_val": String(splits.val.count),
            "data.preprocessing": "(x - data.mean_image) / 255 on CHW rows of 0..255 pixels",
            "data.class_names": Checkpoint.jsonArray(splits.train.classNames),
        ]
        return data
    }

    /// The same splits a checkpoint was trained on, prepared with its stored mean image; or,
    /// with `dataset` other than the checkpoint's, that dataset's default split, prepared alike.
    static func load(checkpoint file: SafetensorsFile, path: String, dataDirectory: String?, inputShape: [Int],
                     dataset chosen: NetworkDataset? = nil) throws -> NetworkData {
        let metadata = file.metadata
        guard let datasetName = metadata["data.dataset"], let trainedOn = NetworkDataset(rawValue: datasetName),
              let numTrain = metadata["data.num_train"].flatMap(Int.init), let numVal = metadata["data.num_val"].flatMap(Int.init),
              let seed = metadata["data.seed"].flatMap(UInt64.init), let mean = file.tensor("data.mean_image", as: Float.self) else {
            throw CheckpointError.incompatible(path: path, detail: "it does not say which data it was trained on (data.* metadata and data.mean_image)")
        }
        let dataset = chosen ?? trainedOn
        let directory = dataDirectory ?? (dataset == trainedOn && dataset == .cifar10 ? metadata["data.source"] : nil)
        let (splits, _) = try loadSplits(dataset: dataset, dataDirectory: directory, numTrain: dataset == trainedOn ? numTrain : nil,
                                         numVal: numVal, seed: seed)
        var data = try prepare(splits, meanImage: mean, inputShape: inputShape)
        data.metadata = metadata.filter { $0.key.hasPrefix("data.") }
        return data
    }

    private static func loadSplits(dataset: NetworkDataset, dataDirectory: String?, numTrain: Int?, numVal: Int,
                                   seed: UInt64) throws -> (DatasetSplits, String) {
        switch dataset {
        case .cifar10:
            let directory = dataDirectory ?? CIFAR10.defaultDirectory
            let training = try CIFAR10.load(directory: directory, train: true)
            let test = CIFAR10.hasTestBatch(directory: directory) ? try CIFAR10.load(directory: directory, train: false) : nil
            return (try makeSplits(training: training, test: test, numTrain: numTrain ?? 49_000, numVal: numVal), directory)
        case .builtin:
            let count = (numTrain ?? 9_000) + numVal
            let training = BuiltinDataset.generate(count: count, seed: seed)
            let test = BuiltinDataset.generate(count: 1_000, seed: seed &+ 1)
            return (try makeSplits(training: training, test: test, numTrain: numTrain ?? 9_000, numVal: numVal), "generated")
        }
    }

    /// Rows normalized with `meanImage`, or with the mean of the training rows when nil.
    static func prepare(_ splits: DatasetSplits, meanImage: Tensor<Float>?, inputShape: [Int]) throws -> NetworkData {
        var trainRows = splits.train.rows(Float.self)
        let mean = try meanImage ?? MeanImage<Float>(fitting: trainRows).mean
        try normalize(&trainRows, meanImage: mean)
        func tensors(_ images: LabeledImages) throws -> LabeledTensors<Float> {
            var rows = images.rows(Float.self)
            try normalize(&rows, meanImage: mean)
            return try LabeledTensors(x: rows.reshaped([images.count] + inputShape), y: images.labels)
        }
        return NetworkData(train: try LabeledTensors(x: trainRows.reshaped([splits.train.count] + inputShape), y: splits.train.labels),
                           val: try tensors(splits.val), test: try splits.test.map(tensors),
                           meanImage: mean, classNames: splits.train.classNames, metadata: [:])
    }

    /// rows = (rows − mean) / 255, in place, rows in parallel.
    static func normalize(_ rows: inout Tensor<Float>, meanImage: Tensor<Float>) throws {
        let features = meanImage.count
        guard rows.rank == 2, rows.shape[1] == features else {
            throw TensorError.shapeMismatch(operation: "normalize", detail: "rows \(describeShape(rows.shape)) against a mean of \(describeShape(meanImage.shape))")
        }
        let count = rows.shape[0]
        meanImage.withUnsafeBufferPointer { mean in
            rows.withUnsafeMutableBufferPointer { values in
                let average = SendableConstPointer(mean.baseAddress!), target = SendablePointer(values.baseAddress!)
                Parallel.forEachChunk(count, minimumChunk: 64) { range in
                    for row in range {
                        let line = target.base + row * features
                        for j in 0..<features { line[j] = (line[j] - average.base[j]) / pixelScale }
                    }
                }
            }
        }
    }
}
