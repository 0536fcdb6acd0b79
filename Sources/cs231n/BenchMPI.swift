import ArgumentParser
import CS231n
import Foundation

extension BenchCommand {
    /// MPI (under mpirun): the sum over the ranks that data-parallel training makes every step,
    /// MPI's own `MPI_Allreduce` and the rank-ordered sum the Solver uses, from 4 bytes to
    /// 64 MiB (latency, and bus bandwidth 2(p − 1)/p · bytes / time as nccl-tests count it); then
    /// the bytes of one step's gradients of W4, W5 and W6 and the time to sum them. Each size is
    /// checked: the ordered sum must equal the sum made here, in rank order, to the bit.
    func benchCollectives(printer: ResultPrinter) throws {
        guard let world = try DistributedRun.world() else {
            throw ValidationError("bench MPI measures the ranks of an MPI job: run it as mpirun -np 2 --mca btl tcp,self cs231n bench MPI")
        }
        printer.say("MPI: \(world.size) ranks, \(world.library.implementation); median of up to \(repeats * 20) timed calls per size")
        printer.say("      bytes   MPI_Allreduce              ordered sum (ours)")
        for elements in [1, 16, 256, 4_096, 65_536, 1 << 20, 1 << 22, 1 << 24] {
            let native = try timeSum(elements, on: world) { try world.allreduceSum($0) }
            let ordered = try timeSum(elements, on: world) { try world.sumInRankOrder($0) }
            let bytes = elements * MemoryLayout<Float>.stride
            let bus = { (seconds: Double) in 2 * Double(world.size - 1) / Double(world.size) * Double(bytes) / seconds / 1e9 }
            printer.say(String(format: "%11d   %9.1f µs %6.3f GB/s   %9.1f µs %6.3f GB/s", bytes, 1e6 * native, bus(native),
                               1e6 * ordered, bus(ordered)))
            for (name, seconds) in [("mpi-allreduce", native), ("ordered-sum", ordered)] {
                let keys: [(String, JSONValue)] = [("workload", "MPI"), ("collective", .string(name)), ("ranks", .int(world.size)),
                                                   ("bytes", .int(bytes))]
                printer.figure(keys, metric: "seconds", value: seconds)
                printer.figure(keys, metric: "bus_gigabytes_per_second", value: bus(seconds))
            }
        }
        let models: [(String, Int)] = [
            ("W4", try TwoLayerNet<Float>(inputSize: 3072, hiddenSize: 500, classes: 10).parameters.scalarCount),
            ("W5", try ThreeLayerConvNet<Float>(filters: 32, filterSize: 7, hiddenSize: 100, classes: 10).parameters.scalarCount),
            ("W6", try ModernConvNet<Float>().parameters.scalarCount),
        ]
        for (workload, parameters) in models {
            let seconds = try timeSum(parameters + 1, on: world) { try world.sumInRankOrder($0) }
            printer.say(String(format: "%@: %d parameters, %.2f MB of gradients per step summed in %.2f ms", workload as NSString,
                               parameters, Double(4 * (parameters + 1)) / 1e6, 1e3 * seconds))
            let keys: [(String, JSONValue)] = [("workload", .string(workload)), ("ranks", .int(world.size)),
                                               ("bytes", .int(4 * (parameters + 1)))]
            printer.figure(keys, metric: "gradient_sum_seconds", value: seconds)
        }
    }

    /// The median time of `sum` on `elements` Floats (after a barrier, so that the ranks start
    /// together), having checked the ordered sum once against one made here.
    private func timeSum(_ elements: Int, on world: Communicator,
                         _ sum: (UnsafeMutableBufferPointer<Float>) throws -> Void) throws -> Double {
        let contribution = { (rank: Int) in (0..<elements).map { Float(($0 % 97) * (rank + 1)) * 0.125 } }
        let mine = contribution(world.rank)
        var values = mine
        try values.withUnsafeMutableBufferPointer { try sum($0) }
        var expected = [Double](repeating: 0, count: elements)
        for rank in 0..<world.size {
            for (i, value) in contribution(rank).enumerated() { expected[i] += Double(value) }
        }
        guard values == expected.map({ Float($0) }) else {
            throw ValidationError("rank \(world.rank): the sum of \(elements) values over \(world.size) ranks is wrong")
        }
        let calls = Swift.max(3, Swift.min(repeats * 20, 200_000_000 / Swift.max(1, 4 * elements)))
        var times: [Double] = []
        for _ in 0..<calls {
            values = mine
            try world.barrier()
            let start = world.time
            try values.withUnsafeMutableBufferPointer { try sum($0) }
            times.append(world.time - start)
        }
        return times.sorted()[times.count / 2]
    }
}
