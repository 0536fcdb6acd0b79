import CS231nDistributed
import CS231nTensor
import Foundation
import Testing

/// The collectives of replicas as threads, which share their arithmetic with MPI's.
struct ReplicaGroupTests {
    @Test func sumInRankOrderAddsInDoubleAndIsTheSameOnEveryReplica() throws {
        let results = try LocalReplicas.run(3) { replicas -> [Float] in
            var values: [Float] = [1e8, Float(replicas.rank), 0.25 * Float(replicas.rank + 1)]
            if replicas.rank == 1 { values[0] = 1 }
            if replicas.rank == 2 { values[0] = -1e8 }
            try replicas.sumInRankOrder(&values)
            return values
        }
        // In Float, (1e8 + 1) − 1e8 is 0; accumulated in Double it is 1.
        #expect(results.allSatisfy { $0 == [1, 3, 1.5] })
    }

    @Test func broadcastAndShares() throws {
        let results = try LocalReplicas.run(3) { replicas -> ([Int], Range<Int>, [Int]) in
            let values = try replicas.broadcast(replicas.rank == 2 ? [7, 8, 9] : [], from: 2)
            var tensor = replicas.rank == 0 ? try Tensor<Double>(shape: [2, 2], scalars: [1, 2, 3, 4]) : Tensor<Double>.zeros([1])
            try replicas.broadcast(&tensor, from: 0)
            let counts = try replicas.sumInRankOrder(counts: [replicas.rank, 1])
            #expect(tensor.shape == [2, 2] && tensor.scalars == [1, 2, 3, 4])
            return (values, replicas.share(of: 10), counts)
        }
        #expect(results.map(\.0) == [[7, 8, 9], [7, 8, 9], [7, 8, 9]])
        #expect(results.map(\.1) == [0..<4, 4..<7, 7..<10])
        #expect(results.allSatisfy { $0.2 == [3, 3] })
    }

    struct Failure: Error, Equatable {}

    @Test func aFailingReplicaReleasesTheOthers() throws {
        #expect(throws: Failure.self) {
            _ = try LocalReplicas.run(3) { replicas -> Int in
                if replicas.rank == 1 { throw Failure() }
                var values: [Double] = [1]
                try replicas.sumInRankOrder(&values)
                return 0
            }
        }
    }
}
