import CS231nData
import Testing

/// The one split policy: train first, val after it (1,000, or a fifth of a smaller set), the
/// test set apart; sizes checked before anything is drawn.
@Suite struct DatasetTests {
    @Test func theBuiltinSetSplitsAsTheCommandsDid() throws {
        let dataset = try Dataset.builtin(count: 10_000, seed: 4)
        let splits = try dataset.split()
        #expect(splits.train.count == 9_000 && splits.val.count == 1_000 && splits.test?.count == 1_000)
        // What `train --dataset builtin` drew before: count = train + val from the seed, the
        // test set from seed + 1.
        let drawn = BuiltinDataset.generate(count: 10_000, seed: 4)
        #expect(splits.train == drawn.slice(0..<9_000) && splits.val == drawn.slice(9_000..<10_000))
        #expect(splits.test == BuiltinDataset.generate(count: 1_000, seed: 5))
        #expect(splits.origin == DataSpec(dataset: .builtin, seed: 4, numTrain: 9_000, numVal: 1_000))
        #expect(try DataSpec(dataset: .builtin, seed: 4).load().train == splits.train)
    }

    @Test func explicitSizesTakeValAfterTrain() throws {
        let dataset = try Dataset.builtin(count: 300, seed: 1, testCount: 0)
        #expect(dataset.test == nil && dataset.standardValCount == 60)
        let splits = try dataset.split(numTrain: 100, numVal: 50)
        #expect(splits.train == dataset.training.slice(0..<100) && splits.val == dataset.training.slice(100..<150))
        // Without numVal the standard share; without numTrain all but it.
        #expect(try dataset.split(numTrain: 100).val.count == 60)
        #expect(try dataset.split(numVal: 10).train.count == 240)
        let spec = DataSpec(dataset: .builtin, seed: 1, numTrain: 120, numVal: 30)
        let loaded = try spec.load()
        #expect(loaded.train.count == 120 && loaded.val.count == 30 && loaded.origin == spec)
        #expect(loaded.train == BuiltinDataset.generate(count: 150, seed: 1).slice(0..<120))
    }

    @Test func sizesThatDoNotFitAreRefusedBeforeDrawing() throws {
        let dataset = try Dataset.builtin(count: 20, seed: 0, testCount: 0)
        #expect(throws: DatasetError.invalidSize("numTrain 15 + numVal 6 exceeds the 20 training images")) {
            try dataset.split(numTrain: 15, numVal: 6)
        }
        #expect(throws: DatasetError.self) { try dataset.split(numTrain: 0) }
        #expect(throws: DatasetError.self) { try dataset.split(numTrain: 5, numVal: -1) }
        #expect(throws: DatasetError.self) { try Dataset.builtin(count: Dataset.maximumBuiltinCount + 1, seed: 0) }
        #expect(throws: DatasetError.self) { try Dataset.builtin(count: -1, seed: 0) }
        #expect(throws: DatasetError.self) { try DataSpec(dataset: .builtin, numTrain: Int.max, numVal: 1).load() }
        #expect(throws: DatasetError.self) { try DataSpec(dataset: .builtin, numTrain: 0).load() }
    }

    @Test func cifar10SplitsItsTrainingBatchesAndKeepsTheTestBatch() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        Fixtures.writeFolder(folder, perBatch: 10, testCount: 4)
        let dataset = try Dataset.cifar10(directory: folder.path)
        #expect(dataset.training.count == 50 && dataset.directory == folder.path && dataset.seed == nil)
        let splits = try dataset.split()
        #expect(splits.train.count == 40 && splits.val.count == 10 && splits.test == Fixtures.images(count: 4, offset: 1000))
        #expect(splits.origin == DataSpec(dataset: .cifar10, directory: folder.path, numTrain: 40, numVal: 10))
        let spec = DataSpec(dataset: .cifar10, directory: folder.path, seed: 9, numTrain: 30, numVal: 5)
        #expect(try spec.load().origin == spec && spec.load().val == dataset.training.slice(30..<35))
        #expect(throws: (any Error).self) { try Dataset.cifar10(directory: folder.path + "/missing") }
    }
}
