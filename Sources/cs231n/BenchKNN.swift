import CS231n
import Foundation

extension BenchCommand {
    /// W1: assignment 1's kNN at its own size, 500 validation queries × 5,000 training images,
    /// timed like the peer: distances + predict for k = 1 and 10, then 5-fold cross-validation
    /// over ten k. Also the three L2 versions side by side: the lesson of vectorisation.
    func benchKNNSmall(printer: ResultPrinter, peerNames: [String]) throws {
        let all = try CIFAR10.load(directory: dataDir ?? CIFAR10.defaultDirectory, train: true)
        let training = all.slice(0..<5000), queries = all.slice(49_000..<49_500)
        let (trainingRows, queryRows) = (training.rows(Float.self), queries.rows(Float.self))
        let ks = [1, 3, 5, 8, 10, 12, 15, 20, 50, 100]
        printer.say("W1: kNN, 500 queries (images 49,000…49,499) × 5,000 training images (0…4,999), raw pixels")
        var model = KNearestNeighbor()
        try model.train(trainingRows, labels: training.labels)
        try benchThreeVersions(model, queryRows, printer: printer)

        var ours: [String: Double] = [:]
        printer.say("distance  step                       median s    min s    max s   result")
        for metric in [DistanceMetric.l2, .l1] {
            var predictions: [[Int]] = []
            let predictTiming = try TimingSummary.measure(repeats: repeats) {
                var fresh = KNearestNeighbor()
                try fresh.train(trainingRows, labels: training.labels)
                predictions = try fresh.predict(queryRows, ks: [1, 10], metric: metric)
            }
            let accuracies = predictions.map { p in Double(zip(p, queries.labels).filter { $0 == $1 }.count) / 500 }
            report(metric, step: "distances + predict k=1,10", predictTiming,
                   result: String(format: "accuracy k=1 %.1f%%, k=10 %.1f%%", 100 * accuracies[0], 100 * accuracies[1]),
                   printer: printer)
            for (k, accuracy) in zip([1, 10], accuracies) {
                printer.figure([("workload", "W1"), ("distance", .string(metric.rawValue)), ("k", .int(k)), ("split", "val")],
                               metric: "accuracy", value: accuracy)
            }
            var result: CrossValidationResult?
            let crossValidationTiming = try TimingSummary.measure(repeats: Swift.min(repeats, 3)) {
                result = try CrossValidation.kNearestNeighbor(rows: trainingRows, labels: training.labels, ks: ks,
                                                              folds: 5, metric: metric)
            }
            let best = result!.bestK, bestMean = result!.means[ks.firstIndex(of: best)!]
            report(metric, step: "5-fold CV, 10 values of k", crossValidationTiming,
                   result: String(format: "best k = %d (mean %.1f%%)", best, 100 * bestMean), printer: printer)
            printer.figure([("workload", "W1"), ("distance", .string(metric.rawValue)), ("step", "cv")],
                           metric: "best_k", value: Double(best))
            if metric == .l2 { (ours["test"], ours["cv"]) = (predictTiming.median, crossValidationTiming.median) }
        }

        let runner = PeerRunner(peersDirectory: peersDir)
        for peer in peerNames {
            let result = try runner.run(script: "w1_knn_small.py", peer: peer, log: printer.say)
            for (step, key, label) in [("test", "time_test", "distances + predict"), ("cv", "time_cv", "5-fold CV")] {
                guard let peerSeconds = (result[key] as? [String: Any])?["median"] as? Double, let mine = ours[step] else { continue }
                let keys: [(String, JSONValue)] = [("workload", "W1"), ("distance", "l2"), ("step", .string(step)), ("peer", .string(peer))]
                printer.figure(keys, metric: "seconds", value: peerSeconds)
                printer.figure(keys, metric: "speedup", value: peerSeconds / mine)
                printer.say(String(format: "W1 L2 %@: %@ %.3f s / ours %.3f s = %.2f× (ours faster above 1)", label as NSString,
                                   peer as NSString, peerSeconds, mine, peerSeconds / mine))
            }
        }
    }

    /// Two loops, one loop and no loops on the same problem, once each. The one-loop version
    /// streams the training set through memory four times per query, so it runs on the first
    /// 100 queries only and its time is scaled ×5.
    private func benchThreeVersions(_ model: KNearestNeighbor, _ queries: Tensor<Float>, printer: ResultPrinter) throws {
        let sample = 100, scale = Double(queries.shape[0]) / Double(sample)
        let first = try queries.slice(0..<sample)
        var twoLoops = Tensor<Float>.zeros([0]), oneLoop = twoLoops, noLoops = twoLoops
        let twoLoopSeconds = try TimingSummary.time { twoLoops = try model.distancesTwoLoops(queries) }
        let oneLoopSeconds = try TimingSummary.time { oneLoop = try model.distancesOneLoop(first) } * scale
        let noLoopSeconds = try TimingSummary.time { noLoops = try model.distancesNoLoops(queries) }
        for (name, seconds) in [("two loops", twoLoopSeconds), ("one loop", oneLoopSeconds), ("no loops", noLoopSeconds)] {
            printer.figure([("workload", "W1"), ("distance", "l2"), ("version", .string(name))], metric: "seconds", value: seconds)
        }
        let oneLoopDifference = relativeFrobenius(oneLoop, try twoLoops.slice(0..<sample))
        let noLoopDifference = relativeFrobenius(noLoops, twoLoops)
        printer.say(String(format: "L2 distance matrix: two loops %.3f s, one loop %.3f s (100 queries ×%.0f), no loops %.3f s: "
                           + "no loops is %.0f× faster than two loops and %.0f× faster than one loop", twoLoopSeconds,
                           oneLoopSeconds, scale, noLoopSeconds, twoLoopSeconds / noLoopSeconds, oneLoopSeconds / noLoopSeconds))
        printer.say(String(format: "relative Frobenius difference to two loops: one loop %.1e, no loops %.1e",
                           oneLoopDifference, noLoopDifference))
    }

    private func relativeFrobenius(_ a: Tensor<Float>, _ b: Tensor<Float>) -> Double {
        let (x, y) = (a.scalars, b.scalars)
        let difference = zip(x, y).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        return (difference / y.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
    }

    private func report(_ metric: DistanceMetric, step: String, _ timing: TimingSummary, result: String,
                        printer: ResultPrinter) {
        printer.say(metric.description.padded(10) + step.padded(26)
                    + String(format: "%9.3f%9.3f%9.3f   ", timing.median, timing.min, timing.max) + result)
        printer.figure([("workload", "W1"), ("distance", .string(metric.rawValue)),
                        ("step", .string(step.hasPrefix("5-fold") ? "cv" : "test")),
                        ("min", .double(timing.min)), ("max", .double(timing.max))], metric: "seconds", value: timing.median)
    }

    /// W2: 1-nearest neighbour of every query against the whole training set, L2 and L1. With
    /// the shared data (no test batch) the 1,000 validation images query the 49,000 training
    /// images and the time is scaled to BENCHMARKS.md's 10,000 × 50,000.
    func benchNearestNeighbourFull(printer: ResultPrinter, peerNames: [String], queryCount: Int) throws {
        let splits = try Dataset.cifar10(directory: dataDir ?? CIFAR10.defaultDirectory).split()
        let (training, evaluation, split): (LabeledImages, LabeledImages, String) = splits.test.map {
            (LabeledImages.concatenated([splits.train, splits.val]), $0, "test")
        } ?? (splits.train, splits.val, "val")
        let queries = evaluation.slice(0..<Swift.min(queryCount, evaluation.count))
        let scale = (10_000 / Double(queries.count)) * (50_000 / Double(training.count))
        // The peers' L1 runs take minutes, so L1 is timed once on both sides; L2 takes the median of three.
        let runs: [DistanceMetric: Int] = [.l2: Swift.min(repeats, 3), .l1: 1]
        printer.say("W2: 1-NN, \(queries.count) \(split) queries × \(training.count) training images; L2 median of "
                    + "\(runs[.l2]!) runs, L1 one run (same for the peers); " + String(format: "×%.3f gives 10,000 × 50,000", scale))
        let (trainingRows, queryRows) = (training.rows(Float.self), queries.rows(Float.self))
        var ours: [DistanceMetric: Double] = [:]
        for metric in [DistanceMetric.l2, .l1] {
            var predictions: [Int] = []
            let seconds = try TimingSummary.measure(warmup: 0, repeats: runs[metric]!) {
                var model = KNearestNeighbor()
                try model.train(trainingRows, labels: training.labels)
                predictions = try model.predict(queryRows, k: 1, metric: metric)
            }.median
            let accuracy = Double(zip(predictions, queries.labels).filter { $0 == $1 }.count) / Double(queries.count)
            ours[metric] = seconds * scale
            printer.say(String(format: "%@: %.2f s → 10k × 50k: %.1f s; accuracy %.1f%%", metric.description as NSString,
                               seconds, seconds * scale, 100 * accuracy))
            let keys: [(String, JSONValue)] = [("workload", "W2"), ("distance", .string(metric.rawValue))]
            printer.figure(keys + [("queries", .int(queries.count)), ("training", .int(training.count))], metric: "seconds", value: seconds)
            printer.figure(keys, metric: "seconds_10k_50k", value: seconds * scale)
            printer.figure(keys + [("split", .string(split))], metric: "accuracy", value: accuracy)
        }
        let runner = PeerRunner(peersDirectory: peersDir)
        for peer in peerNames {
            for metric in [DistanceMetric.l2, .l1] {
                let result = try runner.run(script: "w2_nn_full.py", peer: peer,
                                            arguments: [metric.rawValue, String(queries.count), String(runs[metric]!)],
                                            log: printer.say)
                guard let peerSeconds = result["time_10k_s"] as? Double, let mine = ours[metric] else { continue }
                let keys: [(String, JSONValue)] = [("workload", "W2"), ("distance", .string(metric.rawValue)), ("peer", .string(peer))]
                printer.figure(keys, metric: "seconds_10k_50k", value: peerSeconds)
                printer.figure(keys, metric: "speedup", value: peerSeconds / mine)
                printer.say(String(format: "W2 %@ at 10k × 50k: %@ %.1f s / ours %.1f s = %.2f× (ours faster above 1)",
                                   metric.description as NSString, peer as NSString, peerSeconds, mine, peerSeconds / mine))
            }
        }
    }
}
