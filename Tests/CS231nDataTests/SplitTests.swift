import CS231nData
import Testing

@Suite struct SplitTests {
    /// Image i is recognisable by its first pixel bytes (see `Fixtures.images`).
    func identities(_ images: LabeledImages) -> [Int] {
        let reference = Fixtures.images(count: 200)
        var index = [ArraySlice<UInt8>: Int]()
        for i in 0..<reference.count { index[reference.imageBytes(i)] = i }
        return (0..<images.count).map { index[images.imageBytes($0)] ?? -1 }
    }

    @Test func defaultSplitIsContiguousAndDisjoint() throws {
        let training = Fixtures.images(count: 200)
        let test = Fixtures.images(count: 30, offset: 500)
        let splits = try makeSplits(training: training, test: test, numTrain: 150, numVal: 40)
        #expect(splits.train == training.slice(0..<150))
        #expect(splits.val == training.slice(150..<190))
        #expect(splits.test == test)
        #expect(Set(identities(splits.train)).isDisjoint(with: identities(splits.val)))
        let fewerTests = try makeSplits(training: training, test: test, numTrain: 150, numVal: 40, numTest: 10)
        #expect(fewerTests.test == test.slice(0..<10))
    }

    @Test func splitSizesAreChecked() {
        let training = Fixtures.images(count: 20)
        #expect(throws: DatasetError.invalidSize("numTrain 15 + numVal 6 exceeds the 20 training images")) {
            try makeSplits(training: training, test: nil, numTrain: 15, numVal: 6)
        }
        #expect(throws: DatasetError.self) { try makeSplits(training: training, test: nil, numTrain: 0, numVal: 6) }
        #expect(throws: DatasetError.self) { try makeSplits(training: training, test: nil, numTrain: Int.max, numVal: 6) }
        #expect(throws: TensorError.self) { try training.subsampled(count: 21) }
    }

    @Test func devSubsetIsDeterministicAndDrawnFromTraining() throws {
        let splits = try makeSplits(training: Fixtures.images(count: 200), test: nil, numTrain: 150, numVal: 50)
        let dev = try splits.dev(count: 20, seed: 7)
        #expect(dev == (try splits.dev(count: 20, seed: 7)))
        #expect(dev != (try splits.dev(count: 20, seed: 8)))
        let ids = identities(dev)
        #expect(Set(ids).count == 20 && ids.allSatisfy { (0..<150).contains($0) })
    }

    @Test func foldsFollowArraySplitAndPartition() throws {
        #expect(try LabeledImages.foldRanges(count: 10, k: 3) == [0..<4, 4..<7, 7..<10])
        #expect(try LabeledImages.foldRanges(count: 5000, k: 5).map(\.count) == [1000, 1000, 1000, 1000, 1000])
        let images = Fixtures.images(count: 23)
        let folds = try images.folds(5)
        #expect(folds.map(\.count) == [5, 5, 5, 4, 4])
        #expect(LabeledImages.concatenated(folds) == images)
        for heldOut in 0..<5 {
            let (train, val) = try images.crossValidationSplit(folds: 5, heldOut: heldOut)
            #expect(val == folds[heldOut])
            #expect(train.count + val.count == 23)
            #expect(train == LabeledImages.concatenated(folds.enumerated().filter { $0.offset != heldOut }.map(\.element)))
        }
        #expect(throws: TensorError.self) { try images.folds(24) }
        #expect(throws: TensorError.self) { try images.crossValidationSplit(folds: 5, heldOut: 5) }
    }

    @Test func subsetAndSliceKeepLabelsWithImages() {
        let images = Fixtures.images(count: 12)
        let picked = images.subset([11, 0, 11])
        #expect(picked.labels == [1, 0, 1])
        #expect(picked.imageBytes(0) == images.imageBytes(11) && picked.imageBytes(2) == images.imageBytes(11))
        #expect(images.slice(3..<5).labels == [3, 4])
        #expect(images.labelCounts == [2, 2, 1, 1, 1, 1, 1, 1, 1, 1])
    }
}
