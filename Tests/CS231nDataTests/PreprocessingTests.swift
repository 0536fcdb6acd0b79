import CS231nData
import Testing

@Suite struct PreprocessingTests {
    @Test func meanImageComesFromTrainingOnlyAndIsSubtractedEverywhere() throws {
        let training = Fixtures.images(count: 40), validation = Fixtures.images(count: 10, offset: 77)
        var train = training.rows(Double.self), val = validation.rows(Double.self)
        let mean = try MeanImage(fitting: train)
        #expect(mean.mean.shape == [3072])
        for j in [0, 1, 1500, 3071] {
            let expected = (0..<40).reduce(0.0) { $0 + Double(training.pixels[$1 * 3072 + j]) } / 40
            #expect(abs(mean.mean[j] - expected) < 1e-9)
        }
        try mean.subtract(from: &train)
        try mean.subtract(from: &val)
        let centred = try train.mean(axis: 0)
        #expect(centred.scalars.allSatisfy { abs($0) < 1e-9 })
        #expect(abs(val[3, 10] - (Double(validation.pixels[3 * 3072 + 10]) - mean.mean[10])) < 1e-9)
        var wrong = Tensor<Double>.zeros([2, 3071])
        #expect(throws: TensorError.self) { try mean.subtract(from: &wrong) }
    }

    @Test func channelNormalisationGivesZeroMeanUnitDeviationPerChannel() throws {
        var images = BuiltinDataset.generate(count: 64, seed: 3).images(Float.self)
        let normalizer = try ChannelNormalizer(fitting: images)
        #expect(normalizer.mean.count == 3)
        try normalizer.apply(to: &images)
        for c in 0..<3 {
            var sum = 0.0, squares = 0.0
            for n in 0..<64 { for y in 0..<32 { for x in 0..<32 {
                let v = Double(images[n, c, y, x])
                sum += v
                squares += v * v
            } } }
            let count = Double(64 * 1024)
            #expect(abs(sum / count) < 1e-3)
            #expect(abs(squares / count - 1) < 1e-3)
        }
    }

    @Test func biasTrickAppendsOnes() throws {
        let rows = try Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let biased = try appendingBiasColumn(rows)
        #expect(biased.shape == [2, 4])
        #expect(biased.scalars == [1, 2, 3, 1, 4, 5, 6, 1])
        #expect(throws: TensorError.self) { try appendingBiasColumn(Tensor<Float>.zeros([2, 3, 4])) }
    }

    @Test func preparedDataFollowsTheNotebookPipeline() throws {
        let splits = try makeSplits(training: Fixtures.images(count: 50), test: Fixtures.images(count: 8, offset: 9),
                                    numTrain: 40, numVal: 10)
        let rows = try PreparedData(splits, preprocessing: Preprocessing(appendBias: true), as: Double.self)
        #expect(rows.xTrain.shape == [40, 3073] && rows.xVal.shape == [10, 3073] && rows.xTest?.shape == [8, 3073])
        #expect(rows.yVal == splits.val.labels && rows.yTest == splits.test?.labels)
        let mean = try #require(rows.meanImage).mean
        #expect(abs(rows.xVal[2, 7] - (Double(splits.val.pixels[2 * 3072 + 7]) - mean[7])) < 1e-9)
        #expect(rows.xTest![5, 3072] == 1)

        let images = try PreparedData(splits, preprocessing: Preprocessing(layout: .images, normalizeChannels: true),
                                      as: Float.self)
        #expect(images.xTrain.shape == [40, 3, 32, 32] && images.channelNormalizer != nil)
        #expect(throws: TensorError.self) {
            try PreparedData(splits, preprocessing: Preprocessing(layout: .images, appendBias: true), as: Float.self)
        }
        let raw = try PreparedData(splits, preprocessing: Preprocessing(subtractMean: false), as: Float.self)
        #expect(raw.xTrain == splits.train.rows(Float.self) && raw.meanImage == nil)
    }
}
