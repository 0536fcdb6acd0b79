import CS231nTensor
import Foundation

/// An 8-bit gray or RGB picture that encodes to PNG (and decodes from the PNGs it writes and
/// other non-interlaced 8-bit gray/RGB files), with no external tool.
public struct PNGImage: Sendable, Equatable {
    public enum ColorType: Int, Sendable { case gray = 1, rgb = 3 }

    public let width: Int
    public let height: Int
    public let colorType: ColorType
    /// Row-major, interleaved samples: `width × height × channels` bytes.
    public var pixels: [UInt8]

    public var channels: Int { colorType.rawValue }

    public init(width: Int, height: Int, colorType: ColorType, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "PNGImage: empty \(width)×\(height) picture")
        precondition(pixels.count == width * height * colorType.rawValue,
                     "PNGImage: \(pixels.count) bytes for \(width)×\(height)×\(colorType.rawValue)")
        self.width = width
        self.height = height
        self.colorType = colorType
        self.pixels = pixels
    }

    /// A picture filled with one colour (gray pictures take the red component).
    public init(width: Int, height: Int, colorType: ColorType, fill: RGB) {
        let sample = colorType == .gray ? [fill.red] : [fill.red, fill.green, fill.blue]
        self.init(width: width, height: height, colorType: colorType,
                  pixels: Array([[UInt8]](repeating: sample, count: width * height).joined()))
    }

    public func encoded() -> [UInt8] {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = PNGImage.bigEndian(UInt32(width)) + PNGImage.bigEndian(UInt32(height))
        header += [8, colorType == .gray ? 0 : 2, 0, 0, 0]
        PNGImage.appendChunk("IHDR", header, to: &png)
        PNGImage.appendChunk("IDAT", Zlib.compress(filteredRows()), to: &png)
        PNGImage.appendChunk("IEND", [], to: &png)
        return png
    }

    /// Writes the PNG atomically: a reader never sees half a file.
    public func write(to path: String) throws {
        try AtomicFile.write(encoded(), to: path)
    }

    /// Each row prefixed by the filter (none, sub, up, average, Paeth) that leaves the
    /// smallest sum of absolute differences: the usual heuristic, and it keeps figures small.
    func filteredRows() -> [UInt8] {
        let stride = width * channels
        var output = [UInt8]()
        output.reserveCapacity((stride + 1) * height)
        var candidate = [UInt8](repeating: 0, count: stride)
        var best = [UInt8](repeating: 0, count: stride)
        for row in 0..<height {
            var bestFilter = 0, bestCost = Int.max
            for filter in 0...4 {
                var cost = 0
                for i in 0..<stride {
                    let value = pixels[row * stride + i] &- PNGImage.predictor(
                        filter, pixels, row: row, index: i, stride: stride, channels: channels)
                    candidate[i] = value
                    cost += Int(Int8(bitPattern: value).magnitude)
                }
                if cost < bestCost {
                    bestCost = cost
                    bestFilter = filter
                    swap(&best, &candidate)
                }
            }
            output.append(UInt8(bestFilter))
            output += best
        }
        return output
    }

    /// The PNG prediction of sample `index` in `row` from its left, upper and upper-left neighbours.
    static func predictor(_ filter: Int, _ samples: [UInt8], row: Int, index: Int,
                          stride: Int, channels: Int) -> UInt8 {
        let left = index >= channels ? Int(samples[row * stride + index - channels]) : 0
        let up = row > 0 ? Int(samples[(row - 1) * stride + index]) : 0
        let upLeft = row > 0 && index >= channels ? Int(samples[(row - 1) * stride + index - channels]) : 0
        switch filter {
        case 1: return UInt8(left)
        case 2: return UInt8(up)
        case 3: return UInt8((left + up) / 2)
        case 4:
            let estimate = left + up - upLeft
            let (a, b, c) = (abs(estimate - left), abs(estimate - up), abs(estimate - upLeft))
            return UInt8(a <= b && a <= c ? left : b <= c ? up : upLeft)
        default: return 0
        }
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }

    static func appendChunk(_ type: String, _ data: [UInt8], to png: inout [UInt8]) {
        let typed = Array(type.utf8) + data
        png += bigEndian(UInt32(data.count)) + typed + bigEndian(CRC32.checksum(typed))
    }

    /// Reads an 8-bit, non-interlaced gray or RGB PNG, checking every chunk's CRC.
    public static func decode(_ bytes: [UInt8], source: String = "PNG data") throws -> PNGImage {
        func fail(_ offset: Int, _ detail: String) -> ArchiveError {
            .corrupt(source: source, offset: offset, detail: detail)
        }
        guard bytes.count >= 8, bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw fail(0, "not a PNG file (bad signature)")
        }
        var offset = 8
        var header: [UInt8]?
        var compressed = [UInt8]()
        while true {
            guard offset + 12 <= bytes.count else {
                throw ArchiveError.truncated(source: source, detail: "the PNG ends before its IEND chunk")
            }
            let length = Int(bytes[offset..<(offset + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            guard offset + 12 + length <= bytes.count else {
                throw ArchiveError.truncated(source: source, detail: "a PNG chunk runs past the end")
            }
            let typed = Array(bytes[(offset + 4)..<(offset + 8 + length)])
            let stored = bytes[(offset + 8 + length)..<(offset + 12 + length)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard stored == CRC32.checksum(typed) else { throw fail(offset, "chunk CRC mismatch") }
            let type = String(decoding: typed[0..<4], as: UTF8.self)
            let data = Array(typed[4...])
            switch type {
            case "IHDR": header = data
            case "IDAT": compressed += data
            case "IEND":
                guard let header, header.count == 13 else { throw fail(8, "missing or bad IHDR") }
                return try decodePixels(header: header, compressed: compressed, source: source)
            default: break
            }
            offset += 12 + length
        }
    }

    private static func decodePixels(header: [UInt8], compressed: [UInt8], source: String) throws -> PNGImage {
        let width = Int(header[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        let height = Int(header[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard header[8] == 8, header[9] == 0 || header[9] == 2, header[12] == 0, width > 0, height > 0 else {
            throw ArchiveError.corrupt(source: source, offset: 16,
                                       detail: "only 8-bit non-interlaced gray or RGB PNGs are supported")
        }
        let colorType: ColorType = header[9] == 0 ? .gray : .rgb
        let channels = colorType.rawValue, stride = width * channels
        // Width and height are 32-bit each: the product is checked, and the inflated data may be
        // no larger than the picture it should hold.
        let expected = (stride + 1).multipliedReportingOverflow(by: height)
        guard !expected.overflow, expected.partialValue <= Gzip.defaultLimit else {
            throw ArchiveError.corrupt(source: source, offset: 16,
                detail: "a \(width)×\(height) picture is larger than the \(Gzip.defaultLimit) bytes allowed")
        }
        let raw = try Zlib.decompress(compressed, source: source, limit: expected.partialValue)
        guard raw.count == expected.partialValue else {
            throw ArchiveError.corrupt(source: source, offset: 0,
                detail: "image data holds \(raw.count) bytes, expected \(expected.partialValue)")
        }
        var pixels = [UInt8](repeating: 0, count: stride * height)
        for row in 0..<height {
            let filter = Int(raw[row * (stride + 1)])
            guard filter <= 4 else {
                throw ArchiveError.corrupt(source: source, offset: 0, detail: "row \(row) has unknown filter \(filter)")
            }
            for i in 0..<stride {
                // Computed before the store: passing `pixels` while assigning into it would copy
                // the whole image for every byte.
                let predicted = predictor(filter, pixels, row: row, index: i, stride: stride, channels: channels)
                pixels[row * stride + i] = raw[row * (stride + 1) + 1 + i] &+ predicted
            }
        }
        return PNGImage(width: width, height: height, colorType: colorType, pixels: pixels)
    }
}

/// An 8-bit colour.
public struct RGB: Sendable, Equatable {
    public var red, green, blue: UInt8
    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }
    public static let white = RGB(255, 255, 255), black = RGB(0, 0, 0)
}

extension PNGImage {
    /// Sets one pixel, ignoring positions outside the picture.
    public mutating func set(x: Int, y: Int, _ colour: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let index = (y * width + x) * channels
        if colorType == .gray {
            pixels[index] = colour.red
        } else {
            pixels[index] = colour.red
            pixels[index + 1] = colour.green
            pixels[index + 2] = colour.blue
        }
    }

    public func pixel(x: Int, y: Int) -> RGB {
        let index = (y * width + x) * channels
        return colorType == .gray ? RGB(pixels[index], pixels[index], pixels[index])
            : RGB(pixels[index], pixels[index + 1], pixels[index + 2])
    }
}
