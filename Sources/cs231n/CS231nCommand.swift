import ArgumentParser
import CS231n

@main
struct CS231nCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cs231n",
        abstract: "CS231n visual recognition in Swift: datasets, classifiers, nets and what they learned.",
        version: Toolkit.version,
        subcommands: [DemoCommand.self, InfoCommand.self, BenchCommand.self, DataCommand.self, LinearCommand.self, GradCheckCommand.self, KNNCommand.self, TrainCommand.self, EvaluateCommand.self, CompressCommand.self, VisualizeCommand.self])

    static func main() {
        LargeAllocations.keepInProcess()
        DistributedRun.main(self)
    }
}
