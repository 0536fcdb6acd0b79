import CS231n
import Foundation

// Usage: OwnTrainingLoop [OUTPUT-FOLDER [EPOCHS]]. Trains a two-layer net on CIFAR-10 when it is
// in $CS231N_DATA_DIR or ~/.cache/cs231n (`cs231n data download cifar10`), else on the built-in
// images, then writes OUTPUT-FOLDER/model.safetensors for `cs231n evaluate` and `cs231n visualize`.
let arguments = CommandLine.arguments.dropFirst()
let output = arguments.first ?? "own-training-loop"
let epochs = arguments.dropFirst().first.flatMap { Int($0) } ?? 3
let seed: UInt64 = 0

// Training allocates the same large activations every step; keep their pages in the process.
LargeAllocations.keepInProcess()

// The data: 49,000 / 1,000 images (CIFAR-10) or 9,000 / 1,000 (built-in), the mean image
// subtracted and the pixels scaled by 1/255, the preprocessing recorded for the checkpoint.
let cifar = FileManager.default.fileExists(atPath: CIFAR10.defaultDirectory + "/data_batch_1.bin")
let dataset = cifar ? try Dataset.cifar10() : try Dataset.builtin(count: Dataset.standardBuiltinTrainCount + 1_000, seed: seed)
let data = try PreparedData<Float>(dataset.split(), fitting: .meanImage)

// The net, named layers in order: affine 200 + ReLU, then the class scores. Its configuration is
// data, which the checkpoint stores, so `cs231n evaluate` and `visualize` rebuild the same net.
// The optimizer takes W4's settings (PyTorch's SGD momentum, lr 0.02, decay 0.95, L2 1e-3).
let recipe = Recipe.twoLayer
var net = try SequentialConfiguration(inputShape: [LabeledImages.imageSize], layers: [
    .init("fc1", .affine(outputs: 200, activation: .relu)),
    .init("scores", .affine(outputs: data.classNames.count)),
], regularization: recipe.regularization, seed: seed).model(as: Float.self)
var optimizer = Optimizer<Float>(recipe.optimizerSettings)

// Each epoch visits the images in a permutation drawn from the seed and the epoch.
var batch = Tensor<Float>(uninitializedShape: [0])
for epoch in 1...epochs {
    let order = BatchOrder(seed: seed, epoch: epoch, count: data.train.count, batchSize: recipe.batchSize)
    var lossSum = 0.0
    for step in 0..<order.count {
        data.train.gather(order[step], into: &batch)
        let (loss, gradients) = try net.loss(batch, order[step].map { data.train.y[$0] })
        try optimizer.update(&net.parameters, gradients: gradients)
        lossSum += Double(loss)
    }
    optimizer.settings.learningRate *= recipe.learningRateDecay
    let accuracy = try net.accuracy(data.val.x, data.val.y)
    print(String(format: "epoch %d: loss %.3f, val accuracy %.1f%%", epoch, lossSum / Double(order.count), 100 * accuracy))
}

// A checkpoint that records how the inputs were prepared, so that evaluation prepares them alike.
try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
try Checkpoint.save(net, data: CheckpointData(data), to: output + "/model.safetensors")
print("wrote \(output)/model.safetensors; try `cs231n evaluate \(output)/model.safetensors`")
