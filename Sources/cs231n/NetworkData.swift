import ArgumentParser
import CS231n
import Foundation

enum NetworkDataset: String, ExpressibleByArgument, CaseIterable, Sendable {
    case cifar10, builtin
}

/// How pixel rows (0…255) become net inputs: x′ = (x − mean) / scale, value by value, both
/// fitted on the training split only.
enum InputPreprocessing: String, Sendable {
    /// CS231n's (W4, W5): the mean training image, then ÷ 255.
    case meanImage = "mean-image"
    /// airbench's (W6): each colour channel's mean and standard deviation over the training
    /// pixels, so that every channel has unit variance. The cnn's whitening depends on this
    /// scale: its ε (5e-4) is sized for unit-variance inputs.
    case channelStandardization = "channel-standardization"
}

/// The data the nets train on: the CS231n split of a dataset as Float rows,
/// x = (x − meanImage) / scaleImage, with what a checkpoint needs to prepare the same data again.
struct NetworkData {
    var train: LabeledTensors<Float>
    var val: LabeledTensors<Float>
    var test: LabeledTensors<Float>?
    /// Per input value (3072): what is subtracted, then what divides.
    var meanImage: Tensor<Float>
    var scaleImage: Tensor<Float>
    var classNames: [String]
    /// "data.*" facts saved in checkpoints: where the data came from and how it was prepared.
    var metadata: [String: String]

    /// Loads `dataset` and fits `preprocessing` on its training split. Examples are shaped
    /// [N] + `inputShape` ([3072] rows for fully-connected nets).
    static func load(dataset: NetworkDataset, dataDirectory: String?, numTrain: Int?, numVal: Int,
                     seed: UInt64, inputShape: [Int] = [LabeledImages.imageSize],
                     preprocessing: InputPreprocessing = .meanImage) throws -> NetworkData {
        let (splits, source) = try loadSplits(dataset: dataset, dataDirectory: dataDirectory, numTrain: numTrain,
                                              numVal: numVal, seed: seed)
        var data = try prepare(splits, preprocessing: preprocessing, inputShape: inputShape)
        data.metadata = [
            "data.dataset": dataset.rawValue, "data.source": source, "data.seed": String(seed),
            "data.num_train": String(splits.train.count), "data.num_val": String(splits.val.count),
            "data.preprocessing": "\(preprocessing.rawValue): (x - data.mean_image) / data.scale_image on CHW rows of 0..255 pixels",
            "data.class_names": Checkpoint.jsonArray(splits.train.classNames),
        ]
        return data
    }

    /// The checkpoint tensors (saved as "data.<name>") that `load(checkpoint:)` reads back.
    var checkpointTensors: [(String, Tensor<Float>)] { [("mean_image", meanImage), ("scale_image", scaleImage)] }

    /// The same splits a checkpoint was trained on, prepared with its stored mean and scale
    /// (checkpoints written before the scale was stored divided by 255); or, with `dataset`
    /// other than the checkpoint's, that dataset's default split, prepared alike.
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
        let scale = file.tensor("data.scale_image", as: Float.self) ?? Tensor(shape: mean.shape, repeating: 255)
        guard scale.shape == mean.shape, scale.scalars.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw CheckpointError.corrupt(path: path,
                detail: "data.scale_image \(describeShape(scale.shape)) is not positive and finite throughout, "
                    + "or does not match data.mean_image \(describeShape(mean.shape))")
        }
        var data = try prepare(splits, stored: (mean, scale), inputShape: inputShape)
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

    /// Rows normalized with the `stored` mean and scale, or with `preprocessing` fitted on the
    /// training rows when nil.
    static func prepare(_ splits: DatasetSplits, preprocessing: InputPreprocessing = .meanImage,
                        stored: (mean: Tensor<Float>, scale: Tensor<Float>)? = nil, inputShape: [Int]) throws -> NetworkData {
        var trainRows = splits.train.rows(Float.self)
        let (mean, scale) = try stored ?? fit(preprocessing, on: trainRows)
        try normalize(&trainRows, mean: mean, scale: scale)
        func tensors(_ images: LabeledImages) throws -> LabeledTensors<Float> {
            var rows = images.rows(Float.self)
            try normalize(&rows, mean: mean, scale: scale)
            return try LabeledTensors(x: rows.reshaped([images.count] + inputShape), y: images.labels)
        }
        return NetworkData(train: try LabeledTensors(x: trainRows.reshaped([splits.train.count] + inputShape), y: splits.train.labels),
                           val: try tensors(splits.val), test: try splits.test.map(tensors),
                           meanImage: mean, scaleImage: scale, classNames: splits.train.classNames, metadata: [:])
    }

    /// The per-value mean and scale of `preprocessing` on the training rows.
    static func fit(_ preprocessing: InputPreprocessing, on rows: Tensor<Float>) throws -> (mean: Tensor<Float>, scale: Tensor<Float>) {
        let features = rows.count / Swift.max(1, rows.shape[0])
        switch preprocessing {
        case .meanImage:
            return (try MeanImage<Float>(fitting: rows).mean, Tensor(shape: [features], repeating: 255))
        case .channelStandardization:
            let channels = try ChannelNormalizer<Float>(fitting: rows)
            let plane = features / channels.mean.count
            func perValue(_ values: [Double]) throws -> Tensor<Float> {
                try Tensor(shape: [features], scalars: values.flatMap { Array(repeating: Float($0), count: plane) })
            }
            return (try perValue(channels.mean), try perValue(channels.standardDeviation))
        }
    }

    /// rows = (rows − mean) / scale, value by value, in place, rows in parallel.
    static func normalize(_ rows: inout Tensor<Float>, mean: Tensor<Float>, scale: Tensor<Float>) throws {
        let features = mean.count
        guard rows.rank == 2, rows.shape[1] == features, scale.count == features else {
            throw TensorError.shapeMismatch(operation: "normalize",
                detail: "rows \(describeShape(rows.shape)) against a mean of \(describeShape(mean.shape)) and a scale of \(describeShape(scale.shape))")
        }
        let count = rows.shape[0]
        mean.withUnsafeBufferPointer { mean in
            scale.withUnsafeBufferPointer { scale in
                rows.withUnsafeMutableBufferPointer { values in
                    let average = SendableConstPointer(mean.baseAddress!), divisor = SendableConstPointer(scale.baseAddress!)
                    let target = SendablePointer(values.baseAddress!)
                    Parallel.forEachChunk(count, minimumChunk: 64) { range in
                        for row in range {
                            let line = target.base + row * features
                            for j in 0..<features { line[j] = (line[j] - average.base[j]) / divisor.base[j] }
                        }
                    }
                }
            }
        }
    }

    /// Turns net inputs back into pixels for pictures.
    func pixels(imageShape: [Int]) throws -> InputPixels {
        try InputPixels(mean: meanImage, scale: scaleImage, imageShape: imageShape)
    }
}
