import CS231n
import Foundation

extension BenchCommand {
    /// W5: CS231n's ThreeLayerConvNet (conv 32×7×7 pad 3 - ReLU - pool 2 - affine 8192→100 - ReLU -
    /// affine 100→10) for one epoch of BENCHMARKS.md's recipe: He init, L2 1e-3 on the weights
    /// (the model's reg·W gradient term is PyTorch Adam's weight_decay on the weights group),
    /// Adam lr 1e-3, β 0.9/0.999, ε 1e-8, batch 128. Training is timed like the peer (the training
    /// loop only); inference is the forward pass over 10,000 images at batch 500, 1 warm-up and
    /// the median of 3.
    func benchConvNet(printer: ResultPrinter, peerNames: [String]) throws {
        let epochs = 1, batchSize = 128, inferenceBatch = 500
        printer.say("W5: three-layer conv net (32 filters 7×7 pad 3, pool 2, hidden 100), He init, L2 1e-3 on weights, "
                    + "Adam lr 1e-3, batch \(batchSize), \(epochs) epoch on 49,000 images")
        let data = try PreparedData<Float>(Dataset.cifar10(directory: dataDir ?? CIFAR10.defaultDirectory).split(),
                                           fitting: .meanImage, inputShape: [3, 32, 32])
        let model = try ThreeLayerConvNet<Float>(filters: 32, filterSize: 7, hiddenSize: 100, classes: 10,
                                                 weightScale: nil, regularization: 1e-3, seed: common.seed)
        var solver = try Solver(model: model, train: data.train, val: data.val,
                                optimizer: OptimizerSettings(rule: .adam, learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8),
                                options: SolverOptions(epochs: epochs, batchSize: batchSize, trainAccuracySamples: 1000,
                                                       seed: common.seed))
        let epochSeconds = try trainTimingEpochs(&solver, printer: printer)
        let trainSeconds = epochSeconds.reduce(0, +)
        let trainRate = Double(epochs * data.train.count) / trainSeconds
        // The val accuracy of the model as trained (the Solver keeps the best epoch's; with one
        // epoch they are the same).
        let valAccuracy = try solver.model.accuracy(data.val.x, data.val.y)

        let inferenceImages = try data.test.map { try $0.x.slice(0..<Swift.min(10_000, $0.count)) }
            ?? data.train.x.slice(0..<10_000)
        let trained = solver.model
        let timing = try TimingSummary.measure(warmup: 1, repeats: 3) {
            _ = try trained.predict(inferenceImages, batchSize: inferenceBatch)
        }
        let inferenceCount = inferenceImages.shape[0]
        let inferenceRate = Double(inferenceCount) / timing.median
        printer.say(String(format: "ours: train %.1f s = %.0f img/s; inference %d images at batch %d: median %.2f s = %.0f img/s "
                           + "(min %.2f, max %.2f); val acc %.1f%%",
                           trainSeconds, trainRate, inferenceCount, inferenceBatch, timing.median, inferenceRate,
                           timing.min, timing.max, 100 * valAccuracy))
        printer.figure([("workload", "W5"), ("phase", "train"), ("seconds", .double(trainSeconds))],
                       metric: "images_per_second", value: trainRate)
        printer.figure([("workload", "W5"), ("phase", "inference"), ("seconds", .double(timing.median))],
                       metric: "images_per_second", value: inferenceRate)
        printer.figure([("workload", "W5"), ("split", "val")], metric: "accuracy", value: valAccuracy)

        let runner = PeerRunner(peersDirectory: peersDir)
        for peer in peerNames {
            let result = try runner.run(script: "w5_convnet.py", peer: peer, log: printer.say)
            let keys: [(String, JSONValue)] = [("workload", "W5"), ("peer", .string(peer))]
            if let peerAccuracy = result["val_acc"] as? Double {
                printer.figure(keys + [("split", "val")], metric: "accuracy", value: peerAccuracy)
                printer.say(String(format: "%@: val acc %.1f%% (ours %.1f%%)", peer as NSString, 100 * peerAccuracy, 100 * valAccuracy))
            }
            // Without test_batch.bin the peer scores the 1,000 val images as its "test" set yet
            // divides 10,000 by the time; its rate is recomputed from the images it really scored.
            let peerInferenceImages = Double(data.test == nil ? data.val.count : 10_000)
            let peerInferenceRate = ((result["inference_time"] as? [String: Any])?["median"] as? Double).map { peerInferenceImages / $0 }
            let peerRates = [("train", trainRate, result["train_images_per_s"] as? Double),
                             ("inference", inferenceRate, peerInferenceRate)]
            for (phase, ours, rate) in peerRates {
                guard let peerRate = rate else { continue }
                printer.figure(keys + [("phase", .string(phase))], metric: "images_per_second", value: peerRate)
                printer.figure(keys + [("phase", .string(phase))], metric: "speedup", value: ours / peerRate)
                printer.say(String(format: "%@ ours / %@: %.0f / %.0f img/s = %.2f×", phase as NSString, peer as NSString,
                                   ours, peerRate, ours / peerRate))
            }
        }
    }
}
