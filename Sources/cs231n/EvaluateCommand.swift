import ArgumentParser
import CS231n
import Foundation

/// `cs231n evaluate`: a trained checkpoint's accuracy, per class, and its confusion matrix.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a checkpoint from `cs231n train` on a split: accuracy, per-class accuracy, confusion matrix.",
        discussion: """
            The model is rebuilt from the checkpoint's metadata with its best-val weights (--latest: the \
            last epoch's), and the split is prepared as in training, with the stored mean and scale. Writes \
            confusion-<split>.png into --output.
            """)

    enum Split: String, ExpressibleByArgument, CaseIterable { case train, val, test }

    @OptionGroup var checkpoint: CheckpointOptions

    @Option(help: "Split to score: val, test (needs test_batch.bin for cifar10) or train.")
    var split: Split = .val

    @Option(name: [.short, .long], help: "Folder for the confusion-matrix picture.")
    var output = "evaluate-output"

    @OptionGroup var common: CommonOptions

    func validate() throws {
        try FileSystem.checkCreatable(directory: output)
    }

    func run() throws {
        let printer = ResultPrinter(json: common.json)
        let (model, file) = try checkpoint.model()
        let data = try checkpoint.data(file, for: model).data
        let chosen: LabeledTensors<Float>
        switch split {
        case .train: chosen = data.train
        case .val: chosen = data.val
        case .test:
            guard let test = data.test else {
                throw ValidationError("--split test: this \(data.origin?.dataset.rawValue ?? "") data has no test split "
                                      + "(CIFAR-10's test_batch.bin is not in \(data.origin?.directory ?? "the data folder"))")
            }
            chosen = test
        }
        guard chosen.count > 0 else {
            throw ValidationError("the \(split.rawValue) split of the data \(checkpoint.path) records is empty: there is nothing to score")
        }
        let predictions = try model.predict(chosen.x)
        let classes = data.classNames.count
        var counts = Array(repeating: Array(repeating: 0, count: classes), count: classes)
        for (truth, guess) in zip(chosen.y, predictions) { counts[truth][guess] += 1 }
        let correct = (0..<classes).reduce(0) { $0 + counts[$1][$1] }
        let accuracy = Double(correct) / Double(Swift.max(1, chosen.count))
        // A checkpoint written by a program (Checkpoint.save) has one set of weights and no epochs.
        let weights = file.metadata["solver.epoch"].map { "\(checkpoint.latest ? "last epoch" : "best val") weights, epoch \($0)" }
            ?? "its weights as saved"
        printer.say(String(format: "%@ (%@): %@ accuracy %.2f%% (%d of %d)", checkpoint.path as NSString,
                           weights as NSString, split.rawValue as NSString, 100 * accuracy, correct, chosen.count))
        printer.figure([("command", "evaluate"), ("split", .string(split.rawValue))], metric: "accuracy", value: accuracy)
        for (label, name) in data.classNames.enumerated() {
            let total = counts[label].reduce(0, +)
            let classAccuracy = total > 0 ? Double(counts[label][label]) / Double(total) : 0
            printer.say("  " + name.padded(12) + String(format: "%6.1f%%  (%d of %d)", 100 * classAccuracy, counts[label][label], total))
            printer.figure([("command", "evaluate"), ("split", .string(split.rawValue)), ("class", .string(name))],
                           metric: "accuracy", value: classAccuracy)
        }
        try FileSystem.createDirectory(atPath: output)
        let path = output + "/confusion-\(split.rawValue).png"
        try TrainingFigures.confusionMatrix(counts, classNames: data.classNames,
                                            title: String(format: "%@ confusion matrix, accuracy %.1f%%", split.rawValue, 100 * accuracy))
            .write(to: path)
        printer.say("wrote \(path)")
    }
}
