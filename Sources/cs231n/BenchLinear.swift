import CS231n
import Foundation

extension BenchCommand {
    /// W3: CS231n's `LinearClassifier.train` recipe for Softmax and the SVM, timed like the peer
    /// (the training loop with its batch sampling; 1 warm-up, then the median), with the
    /// validation accuracy that shows the arithmetic is the same.
    func benchLinear(printer: ResultPrinter, peerNames: [String]) throws {
        let settings = SGDSettings(seed: common.seed)
        printer.say("W3: linear Softmax and SVM on raw pixels (mean image subtracted, bias column): \(settings.iterations) "
                    + "iterations of batch \(settings.batchSize), lr \(settings.learningRate), reg \(settings.regularization); "
                    + "1 warm-up + median of \(repeats)")
        let splits = try Dataset.cifar10(directory: dataDir ?? CIFAR10.defaultDirectory).split()
        let inputs = try LinearInputs<Float>(splits: splits)
        let losses: [LinearLoss] = [.softmax, .svm]
        var ours: [LinearLoss: Double] = [:]
        printer.say("loss".padded(10) + ["median s", "min s", "max s", "val acc"].map { $0.leftPadded(11) }.joined())
        for loss in losses {
            let (timing, accuracy) = loss == .svm
                ? try timeTraining(LinearSVM<Float>.self, inputs: inputs, settings: settings)
                : try timeTraining(Softmax<Float>.self, inputs: inputs, settings: settings)
            ours[loss] = timing.median
            printer.say(loss.description.padded(10)
                        + String(format: "%11.3f%11.3f%11.3f%10.1f%%", timing.median, timing.min, timing.max, 100 * accuracy))
            let keys: [(String, JSONValue)] = [("workload", "W3"), ("loss", .string(loss.rawValue))]
            printer.figure(keys + [("min", .double(timing.min)), ("max", .double(timing.max))], metric: "seconds", value: timing.median)
            printer.figure(keys + [("split", "val")], metric: "accuracy", value: accuracy)
        }
        let runner = PeerRunner(peersDirectory: peersDir)
        for peer in peerNames {
            for loss in losses {
                let result = try runner.run(script: "w3_linear.py", peer: peer, arguments: [loss.rawValue], log: printer.say)
                guard let peerSeconds = (result["time_train"] as? [String: Any])?["median"] as? Double,
                      let mine = ours[loss] else { continue }
                let keys: [(String, JSONValue)] = [("workload", "W3"), ("loss", .string(loss.rawValue)), ("peer", .string(peer))]
                printer.figure(keys, metric: "seconds", value: peerSeconds)
                if let peerAccuracy = result["val_acc"] as? Double {
                    printer.figure(keys + [("split", "val")], metric: "accuracy", value: peerAccuracy)
                }
                printer.say(String(format: "%@ %@ / ours: %.3f s / %.3f s = %.2f× (ours faster above 1)", peer as NSString,
                                   loss.description as NSString, peerSeconds, mine, peerSeconds / mine))
                printer.figure(keys, metric: "speedup", value: peerSeconds / mine)
            }
        }
    }

    private func timeTraining<C: LinearClassifier>(
        _: C.Type, inputs: LinearInputs<Float>, settings: SGDSettings
    ) throws -> (TimingSummary, accuracy: Double) where C.Scalar == Float {
        var classifier = C(weights: nil)
        let timing = try TimingSummary.measure(repeats: repeats) {
            classifier = C(weights: nil)
            try classifier.train(inputs: inputs.train.x, labels: inputs.train.y,
                                 classCount: inputs.classNames.count, settings: settings)
        }
        return (timing, try classifier.accuracy(inputs: inputs.validation.x, labels: inputs.validation.y))
    }
}

extension String {
    /// Right-aligned in a column of `width` characters.
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
