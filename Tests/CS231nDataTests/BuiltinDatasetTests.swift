import CS231nData
import Foundation
import Testing

@Suite struct BuiltinDatasetTests {
    @Test func sameSeedSameBytes() {
        let a = BuiltinDataset.generate(count: 300, seed: 42)
        let b = BuiltinDataset.generate(count: 300, seed: 42)
        #expect(a == b)
        let c = BuiltinDataset.generate(count: 300, seed: 43)
        #expect(a.pixels != c.pixels && a.labels != c.labels)
        #expect(a.classNames.count == 10 && Set(a.classNames).count == 10)
    }

    @Test func labelsAreBalancedAndImagesVary() {
        let images = BuiltinDataset.generate(count: 1000, seed: 1)
        #expect(images.labelCounts == [Int](repeating: 100, count: 10))
        // No two images alike, and every image uses a good part of the byte range.
        #expect(Set((0..<images.count).map { Array(images.imageBytes($0)) }).count == 1000)
        for i in 0..<20 {
            let bytes = images.imageBytes(i)
            #expect(Int(bytes.max()!) - Int(bytes.min()!) > 80)
        }
        // Images of one class differ in where their mass lies (position varies).
        let discs = images.labels.indices.filter { images.labels[$0] == 0 }.prefix(2)
        #expect(images.imageBytes(discs.first!) != images.imageBytes(discs.last!))
    }

    @Test func thousandsOfImagesInWellUnderASecond() {
        let start = Date()
        let images = BuiltinDataset.generate(count: 5000, seed: 9)
        let seconds = Date().timeIntervalSince(start)
        #expect(images.count == 5000)
        #expect(seconds < 1, "took \(seconds) s")
    }
}
