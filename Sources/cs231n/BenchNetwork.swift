import CS231n
import Foundation

extension BenchCommand {
    /// W4: the two-layer net 3072-500-ReLU-10 for 10 epochs with BENCHMARKS.md's recipe, timed
    /// like the peer (the training loop only: batch gathering, forward, backward, update),
    /// with the final model's validation accuracy to show the arithmetic matches.
    func benchTwoLayerNet(printer: ResultPrinter, peerNames: [String]) throws {
        let epochs = 10, batchSize = 200
        printer.say("W4: two-layer net 3072-500-10, He init, reg 1e-3, SGD momentum 0.9 (PyTorch convention), "
                    + "lr 0.02 × 0.95 per epoch, batch \(batchSize), \(epochs) epochs on 49,000 images")
        let data = try PreparedData<Float>(Dataset.cifar10(directory: dataDir ?? CIFAR10.defaultDirectory).split(), fitting: .meanImage)
        let model = try TwoLayerNet<Float>(inputSize: 3072, hiddenSize: 500, classes: 10, weightScale: nil,
                                           regularization: 1e-3, seed: common.seed)
        var solver = try Solver(model: model, train: data.train, val: data.val,
                                optimizer: OptimizerSettings(rule: .pytorchMomentum, learningRate: 0.02, momentum: 0.9),
                                options: SolverOptions(epochs: epochs, batchSize: batchSize, learningRateDecay: 0.95,
                                                       trainAccuracySamples: 1000, seed: common.seed))
        let epochSeconds = try trainTimingEpochs(&solver, printer: printer)
        let trainSeconds = epochSeconds.reduce(0, +)
        let imagesPerSecond = Double(epochs * data.train.count) / trainSeconds
        let finalVal = solver.history.valAccuracy.last ?? 0
        let sorted = epochSeconds.sorted()
        printer.say(String(format: "ours: train %.1f s, %.0f img/s (per-epoch median %.2f s, min %.2f, max %.2f); final val acc %.1f%%",
                           trainSeconds, imagesPerSecond, sorted[sorted.count / 2], sorted.first!, sorted.last!, 100 * finalVal))
        printer.figure([("workload", "W4"), ("seconds", .double(trainSeconds))], metric: "images_per_second", value: imagesPerSecond)
        printer.figure([("workload", "W4"), ("split", "val")], metric: "accuracy", value: finalVal)
        let runner = PeerRunner(peersDirectory: peersDir)
        for peer in peerNames {
            let result = try runner.run(script: "w4_twolayer.py", peer: peer, log: printer.say)
            guard let peerRate = result["images_per_s"] as? Double else { continue }
            let keys: [(String, JSONValue)] = [("workload", "W4"), ("peer", .string(peer))]
            printer.figure(keys, metric: "images_per_second", value: peerRate)
            if let peerAccuracy = result["val_acc"] as? Double {
                printer.figure(keys + [("split", "val")], metric: "accuracy", value: peerAccuracy)
                printer.say(String(format: "%@: val acc %.1f%% (ours %.1f%%)", peer as NSString, 100 * peerAccuracy, 100 * finalVal))
            }
            printer.say(String(format: "ours / %@: %.0f / %.0f img/s = %.2f×", peer as NSString, imagesPerSecond, peerRate,
                               imagesPerSecond / peerRate))
            printer.figure(keys, metric: "speedup", value: imagesPerSecond / peerRate)
        }
    }
}
