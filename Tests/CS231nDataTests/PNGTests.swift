@testable import CS231nData
import Foundation
import Testing

@Suite struct PNGTests {
    @Test(arguments: [PNGImage.ColorType.gray, .rgb])
    func encodedPNGDecodesToTheSamePixels(colorType: PNGImage.ColorType) throws {
        var rng = RandomGenerator(seed: 3)
        let width = 37, height = 23, channels = colorType.rawValue
        // Half noise, half smooth gradient, so every PNG filter gets chosen somewhere.
        let pixels = (0..<(width * height * channels)).map { i -> UInt8 in
            i < width * height * channels / 2 ? UInt8(truncatingIfNeeded: rng.next()) : UInt8(truncatingIfNeeded: i / 7)
        }
        let image = PNGImage(width: width, height: height, colorType: colorType, pixels: pixels)
        let bytes = image.encoded()
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(try PNGImage.decode(bytes) == image)
    }

    @Test func damagedPNGIsRejected() {
        let bytes = PNGImage(width: 4, height: 4, colorType: .rgb, fill: .white).encoded()
        var damaged = bytes
        damaged[40] ^= 0xFF
        #expect(throws: ArchiveError.self) { try PNGImage.decode(damaged) }
        #expect(throws: ArchiveError.self) { try PNGImage.decode(Array(bytes.prefix(30))) }
    }

    @Test func writesAtomicallyAndReadsBack() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let image = PNGImage(width: 3, height: 2, colorType: .gray, pixels: [0, 50, 100, 150, 200, 250])
        try image.write(to: folder.file("a.png"))
        #expect(try PNGImage.decode(try #require(folder.read("a.png"))) == image)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["a.png"])
        #expect(throws: FileWriteError.self) { try image.write(to: folder.file("missing/dir/a.png")) }
    }

    @Test func gridPlacesUpscaledTilesWithPadding() throws {
        // Two 2×2 RGB tiles, raw 0…255 values.
        let values: [Float] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120,
                               130, 140, 150, 160, 170, 180, 190, 200, 210, 220, 230, 240]
        var grid = ImageGrid(columns: 2, scale: 3, scaling: .fixed(min: 0, max: 255))
        grid.padding = 1
        let picture = try grid.render(try Tensor(shape: [2, 3, 2, 2], scalars: values))
        #expect(picture.width == 1 + 2 * (6 + 1) && picture.height == 1 + 6 + 1)
        #expect(picture.colorType == .rgb)
        #expect(picture.pixel(x: 0, y: 0) == .white)
        // Tile 0, pixel (row 1, column 0) spans x 1…3, y 4…6: channels 30, 70, 110.
        #expect(picture.pixel(x: 2, y: 5) == RGB(30, 70, 110))
        // Tile 1 starts after the padding column at x = 8: pixel (0, 1) is 140, 180, 220.
        #expect(picture.pixel(x: 8 + 4, y: 2) == RGB(140, 180, 220))
        #expect(picture.pixel(x: 7, y: 2) == .white)
    }

    @Test func perImageScalingStretchesEachTile() throws {
        let tiles = try Tensor<Double>(shape: [2, 1, 1, 3], scalars: [-1, 0, 1, 100, 150, 200])
        var grid = ImageGrid(columns: 2)
        grid.padding = 0
        let picture = try grid.render(tiles)
        #expect(picture.colorType == .gray)
        #expect(picture.pixels == [0, 128, 255, 0, 128, 255])
        grid.scaling = .global
        #expect(try grid.render(tiles).pixels[3] == UInt8((101.0 / 201 * 255).rounded()))
    }

    @Test func labelsAreDrawnInTheirMargins() throws {
        var grid = ImageGrid(columns: 2, scaling: .fixed(min: 0, max: 1))
        grid.rowLabels = ["cat", "dog"]
        grid.captions = ["a", "b", "c", "d"]
        grid.title = "Samples"
        let picture = try grid.render(Tensor<Float>.ones([4, 3, 8, 8]))
        let labelWidth = BitmapFont.width("cat") + grid.padding
        // Some ink (black) lies left of the tiles, where the row labels go.
        let ink = (0..<picture.height).contains { y in (0..<labelWidth).contains { x in picture.pixel(x: x, y: y) == .black } }
        #expect(ink)
        #expect(throws: TensorError.self) {
            var bad = grid
            bad.rowLabels = ["only one"]
            return try bad.render(Tensor<Float>.ones([4, 3, 8, 8]))
        }
        #expect(throws: TensorError.self) { try ImageGrid(columns: 2).render(Tensor<Float>.ones([4, 2, 8, 8])) }
    }

    @Test func classSampleGridHasARowPerClass() throws {
        let images = BuiltinDataset.generate(count: 200, seed: 2)
        let picture = try images.classSampleGrid(perClass: 4, seed: 0, scale: 1)
        let labelWidth = images.classNames.map { BitmapFont.width($0) }.max()! + 2
        #expect(picture.width == labelWidth + 4 * 34 + 2)
        #expect(picture.height == 10 * 34 + 2)
        #expect(try PNGImage.decode(picture.encoded()) == picture)
    }

    @Test func fontHasEveryPrintableCharacterUsedInLabels() {
        for character in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:;%/()[]+=*#'!?<>| " {
            #expect(BitmapFont.glyphs[character] != nil, "\(character)")
        }
    }
}
