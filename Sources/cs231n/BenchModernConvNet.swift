import CS231n
import Foundation

extension BenchCommand {
    /// W6: the airbench94-style net (BENCHMARKS.md, `peers/w6_airbench.py`) at batch 512: each
    /// timed step draws a random batch, mirrors and shifts it, runs the forward and backward
    /// passes and the Nesterov update, as the peer's step does. 3 warm-up steps, then
    /// `--w6-steps` timed ones; images/s = steps·batch / their total time.
    func benchModernConvNet(printer: ResultPrinter, peerNames: [String]) throws {
        let batchSize = 512, warmup = 3, steps = w6Steps
        printer.say("W6: airbench-style CNN (whiten 2×2 → groups 64/256/256 → linear), label smoothing 0.2, "
                    + "SGD-Nesterov 0.85, batch \(batchSize), \(warmup) warm-up + \(steps) timed steps")
        let data = try PreparedData<Float>(Dataset.cifar10(directory: dataDir ?? CIFAR10.defaultDirectory).split(),
                                           fitting: .channelStandardization, inputShape: [3, 32, 32])
        var model = try ModernConvNet<Float>(seed: common.seed)
        try model.initializeWhitening(from: data.train.x)
        var optimizer = Optimizer<Float>(Recipe.airbench94(batchSize: batchSize).optimizerSettings)
        let augmentation = Augmentation(.flipTranslate)
        var sampler = RandomGenerator(seed: common.seed, stream: .dataOrder)
        let scales = model.learningRateScales
        // Under mpirun each rank takes its share of every batch and the gradients are summed:
        // DataParallel around a training loop of one's own.
        let parallel = try DistributedRun.world().map(DataParallel.init)
        var times: [Double] = [], sumTimes: [Double] = []
        var lastLoss: Float = 0
        for step in 0..<(warmup + steps) {
            let start = Date()
            let indices = sampler.sampleWithReplacement(count: batchSize, from: data.train.count)
            let rows = parallel?.localRows(of: batchSize) ?? 0..<batchSize
            let local = Array(indices[rows])
            var batch = try data.train.x.gather(local)
            try augmentation.apply(to: &batch, origin: BatchOrigin(indices: local, epoch: 0, iteration: step, seed: common.seed,
                                                                   position: rows.lowerBound))
            var (loss, gradients) = try model.loss(batch, local.map { data.train.y[$0] })
            let summing = Date()
            if let parallel {
                loss = try parallel.reduce(loss: loss, gradients: &gradients, localCount: rows.count, globalCount: batchSize,
                                           reduction: model.lossReduction)
            }
            let summed = Date().timeIntervalSince(summing)
            try optimizer.update(&model.parameters, gradients: gradients, learningRateScales: scales)
            lastLoss = loss
            if step >= warmup {
                times.append(Date().timeIntervalSince(start))
                sumTimes.append(summed)
            }
        }
        let total = times.reduce(0, +), rate = Double(steps * batchSize) / total
        let sorted = times.sorted()
        printer.say(String(format: "ours: %d steps %.1f s -> %.1f img/s (step median %.3f s, min %.3f, max %.3f); "
                           + "EXTRAPOLATED 10 epochs of 49,000: %.1f min; last loss/img %.3f",
                           steps, total, rate, sorted[sorted.count / 2], sorted.first!, sorted.last!,
                           10 * 49_000 / rate / 60, lastLoss / Float(batchSize)))
        printer.figure([("workload", "W6"), ("phase", "train"), ("batch", .int(batchSize)), ("seconds", .double(total))],
                       metric: "images_per_second", value: rate)
        if let parallel {
            let median = sumTimes.sorted()[sumTimes.count / 2]
            printer.say(String(format: "%d ranks: gradient sum %.1f ms of the %.0f ms step (median)", parallel.size, 1e3 * median,
                               1e3 * sorted[sorted.count / 2]))
            printer.figure([("workload", "W6"), ("ranks", .int(parallel.size))], metric: "gradient_sum_seconds", value: median)
        }
        let runner = PeerRunner(peersDirectory: peersDir)
        for peer in peerNames {
            guard peer == "torch" else {
                printer.say("W6 has no \(peer) peer (only torch); skipped")
                continue
            }
            let result = try runner.run(script: "w6_airbench.py", peer: peer, arguments: [String(batchSize), String(steps)],
                                        namesPeer: false, log: printer.say)
            guard let peerRate = result["images_per_s"] as? Double else { continue }
            let keys: [(String, JSONValue)] = [("workload", "W6"), ("peer", .string(peer)), ("phase", "train")]
            printer.figure(keys, metric: "images_per_second", value: peerRate)
            printer.figure(keys, metric: "speedup", value: rate / peerRate)
            printer.say(String(format: "train ours / %@: %.0f / %.0f img/s = %.2f×", peer as NSString, rate, peerRate, rate / peerRate))
        }
    }
}
