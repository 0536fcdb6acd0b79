import CS231nData
import Foundation
import Testing

/// The real training batches in ../shared/data, when this checkout sits next to them.
@Suite struct CIFARIntegrationTests {
    static let directory: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent("shared/data/cifar-10-batches-bin").path
    }()

    static var present: Bool { FileManager.default.fileExists(atPath: directory + "/data_batch_1.bin") }

    /// Label counts and first labels of each batch, computed once with numpy
    /// (`np.bincount(raw[:, 0])` on `np.fromfile(...).reshape(-1, 3073)`).
    static let expected: [(counts: [Int], firstLabels: [Int], firstPixels: [UInt8])] = [
        ([985, 971, 1019, 1006, 998, 1027, 1004, 983, 985, 1022], [4, 8, 3, 1, 3, 4, 3, 1, 5, 6], [150, 149, 152, 155, 163]),
        ([1013, 1006, 1017, 995, 976, 1001, 984, 1019, 1008, 981], [3, 3, 3, 8, 3, 5, 6, 6, 5, 9], [163, 164, 168, 170, 170]),
        ([957, 1052, 973, 1029, 1021, 960, 976, 1007, 1029, 996], [6, 7, 6, 0, 4, 5, 0, 0, 9, 8], [45, 60, 73, 97, 103]),
        ([1072, 975, 1005, 965, 1002, 997, 1035, 988, 992, 969], [9, 6, 7, 3, 3, 3, 4, 5, 9, 7], [214, 144, 165, 171, 177]),
        ([973, 996, 986, 1005, 1003, 1015, 1001, 1003, 986, 1032], [9, 2, 6, 1, 1, 7, 3, 6, 7, 5], [158, 176, 201, 210, 226]),
    ]

    @Test(.enabled(if: present, "needs ../shared/data/cifar-10-batches-bin"))
    func trainingBatchesHaveTheKnownLabels() throws {
        let start = Date()
        let train = try CIFAR10.load(directory: Self.directory, train: true)
        let seconds = Date().timeIntervalSince(start)
        print("loaded 50,000 CIFAR-10 training images in \(String(format: "%.3f", seconds)) s")
        #expect(train.count == 50_000)
        #expect(train.classNames == ["airplane", "automobile", "bird", "cat", "deer",
                                     "dog", "frog", "horse", "ship", "truck"])
        for (b, batch) in Self.expected.enumerated() {
            let part = train.slice((b * 10_000)..<((b + 1) * 10_000))
            #expect(part.labelCounts == batch.counts, "data_batch_\(b + 1).bin")
            #expect(Array(part.labels.prefix(10)) == batch.firstLabels, "data_batch_\(b + 1).bin")
            #expect(Array(part.imageBytes(0).prefix(5)) == batch.firstPixels, "data_batch_\(b + 1).bin")
        }
        #expect(train.labelCounts == [Int](repeating: 5_000, count: 10))
        let splits = try Dataset.cifar10(directory: Self.directory).split()
        #expect(splits.train.count == 49_000 && splits.val.count == 1_000 && splits.test == nil)
        #expect(splits.val.labels.prefix(3) == train.labels[49_000..<49_003])
    }
}
