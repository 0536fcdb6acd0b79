/// What was wrong with a compressed stream or an archive, and where.
public enum ArchiveError: Error, Equatable, CustomStringConvertible {
    case corrupt(source: String, offset: Int, detail: String)
    case truncated(source: String, detail: String)
    /// The data inflates to more than the caller allows.
    case tooLarge(source: String, limit: Int)

    public var description: String {
        switch self {
        case .tooLarge(let source, let limit):
            return "\(source) inflates to more than \(limit) bytes, the most allowed: it is not the data expected "
                + "(a decompression bomb?)"
        case .corrupt(let source, let offset, let detail):
            return "\(source) is corrupt at byte \(offset): \(detail)"
        case .truncated(let source, let detail):
            return "\(source) is truncated: \(detail) (an interrupted download? delete it and download again)"
        }
    }
}

/// A DEFLATE (RFC 1951) decoder: stored, fixed and dynamic Huffman blocks, producing at most
/// `limit` bytes. The input is untrusted: every read is checked against its end and every write
/// against the limit with explicit comparisons, which hold in release builds too.
struct Inflater {
    private let input: UnsafeRawBufferPointer
    private let source: String
    private let limit: Int
    private(set) var position: Int
    private var bitBuffer: UInt64 = 0
    private var bitCount = 0
    var output: [UInt8] = []

    /// DEFLATE codes at most 258 bytes in about two bits, so no stream inflates beyond this
    /// multiple of its size; a size hint above it is not believed.
    static let maximumRatio = 1032

    /// `expectedSize`, a hint from the container, reserves that much output when plausible.
    init(_ input: UnsafeRawBufferPointer, from start: Int, source: String, limit: Int, expectedSize: Int = 0) {
        self.input = input
        self.source = source
        self.limit = limit
        position = start
        let plausible = (input.count - start).multipliedReportingOverflow(by: Inflater.maximumRatio)
        output.reserveCapacity(Swift.min(expectedSize, limit, plausible.overflow ? limit : plausible.partialValue))
    }

    /// Throws unless `count` more bytes fit under the limit.
    @inline(__always)
    private func reserve(_ count: Int) throws {
        guard count <= limit - output.count else { throw ArchiveError.tooLarge(source: source, limit: limit) }
    }

    /// The byte just past the stream, once `run` has finished.
    var endOffset: Int { position - bitCount / 8 }

    mutating func run() throws {
        var isFinal = false
        while !isFinal {
            isFinal = try bits(1) == 1
            switch try bits(2) {
            case 0: try copyStoredBlock()
            case 1: try decodeBlock(literals: HuffmanTable.fixedLiterals, distances: HuffmanTable.fixedDistances)
            case 2:
                let (literals, distances) = try readDynamicTables()
                try decodeBlock(literals: literals, distances: distances)
            default: throw corrupt("block type 3 is reserved")
            }
        }
    }

    private func corrupt(_ detail: String) -> ArchiveError {
        .corrupt(source: source, offset: endOffset, detail: "deflate stream: " + detail)
    }

    @inline(__always)
    private mutating func refill() {
        while bitCount <= 56 && position < input.count {
            bitBuffer |= UInt64(input[position]) << UInt64(bitCount)
            position += 1
            bitCount += 8
        }
    }

    @inline(__always)
    private mutating func bits(_ n: Int) throws -> Int {
        if bitCount < n {
            refill()
            guard bitCount >= n else {
                throw ArchiveError.truncated(source: source, detail: "the compressed data ends mid-stream")
            }
        }
        let value = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        bitBuffer >>= UInt64(n)
        bitCount -= n
        return value
    }

    @inline(__always)
    private mutating func decode(_ table: HuffmanTable) throws -> Int {
        if bitCount < table.maxLength { refill() }
        let entry = table.entries[Int(bitBuffer & UInt64(table.mask))]
        let length = Int(entry & 0xFF)
        guard length > 0 else { throw corrupt("invalid Huffman code") }
        guard length <= bitCount else {
            throw ArchiveError.truncated(source: source, detail: "the compressed data ends mid-stream")
        }
        bitBuffer >>= UInt64(length)
        bitCount -= length
        return Int(entry >> 8)
    }

    private mutating func copyStoredBlock() throws {
        _ = try bits(bitCount % 8)
        let length = try bits(16), complement = try bits(16)
        guard length == complement ^ 0xFFFF else { throw corrupt("stored block length check fails") }
        try reserve(length)
        var remaining = length
        while remaining > 0 && bitCount >= 8 {
            output.append(UInt8(try bits(8)))
            remaining -= 1
        }
        guard position + remaining <= input.count else {
            throw ArchiveError.truncated(source: source, detail: "a stored block ends early")
        }
        output.append(contentsOf: input[position..<(position + remaining)])
        position += remaining
    }

    private static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    private mutating func readDynamicTables() throws -> (HuffmanTable, HuffmanTable) {
        let literalCount = try bits(5) + 257, distanceCount = try bits(5) + 1, codeCount = try bits(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else { throw corrupt("too many codes") }
        var codeLengthLengths = [Int](repeating: 0, count: 19)
        for i in 0..<codeCount { codeLengthLengths[Inflater.codeLengthOrder[i]] = try bits(3) }
        guard let codeLengths = HuffmanTable(lengths: codeLengthLengths) else {
            throw corrupt("bad code-length code")
        }
        var lengths = [Int]()
        while lengths.count < literalCount + distanceCount {
            let symbol = try decode(codeLengths)
            switch symbol {
            case 0...15: lengths.append(symbol)
            case 16:
                guard let previous = lengths.last else { throw corrupt("repeat with no previous length") }
                lengths += repeatElement(previous, count: 3 + (try bits(2)))
            case 17: lengths += repeatElement(0, count: 3 + (try bits(3)))
            default: lengths += repeatElement(0, count: 11 + (try bits(7)))
            }
        }
        guard lengths.count == literalCount + distanceCount else { throw corrupt("code lengths overrun") }
        guard lengths[256] > 0 else { throw corrupt("no end-of-block code") }
        guard let literals = HuffmanTable(lengths: Array(lengths[..<literalCount])),
              let distances = HuffmanTable(lengths: Array(lengths[literalCount...])) else {
            throw corrupt("over-subscribed Huffman code")
        }
        return (literals, distances)
    }

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
                             67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
                              5, 5, 5, 5, 0]
    static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385,
                               513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10,
                                10, 11, 11, 12, 12, 13, 13]

    private mutating func decodeBlock(literals: HuffmanTable, distances: HuffmanTable) throws {
        while true {
            let symbol = try decode(literals)
            if symbol < 256 {
                try reserve(1)
                output.append(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let lengthIndex = symbol - 257
            guard lengthIndex < 29 else { throw corrupt("invalid length symbol \(symbol)") }
            let length = Inflater.lengthBase[lengthIndex] + (try bits(Inflater.lengthExtra[lengthIndex]))
            let distanceSymbol = try decode(distances)
            guard distanceSymbol < 30 else { throw corrupt("invalid distance symbol \(distanceSymbol)") }
            let distance = Inflater.distanceBase[distanceSymbol]
                + (try bits(Inflater.distanceExtra[distanceSymbol]))
            guard distance <= output.count else {
                throw corrupt("distance \(distance) reaches before the start of the data")
            }
            try reserve(length)
            // Byte by byte: appending a slice of `output` to itself would copy the whole
            // buffer on every back-reference (the slice keeps it shared), making inflate quadratic.
            let start = output.count - distance
            for i in 0..<length { output.append(output[start + i]) }
        }
    }
}

/// A canonical Huffman code as a lookup table indexed by the next `maxLength` input bits
/// (LSB first); each entry is `symbol << 8 | code length`, 0 where no code matches.
struct HuffmanTable: Sendable {
    let entries: [UInt32]
    let maxLength: Int
    let mask: Int

    /// Nil when the lengths over-subscribe the code space. Incomplete codes are accepted, as
    /// zlib does (a lone distance code is legal); their unused entries decode as errors.
    init?(lengths: [Int]) {
        let maxLength = max(1, lengths.max() ?? 0)
        var counts = [Int](repeating: 0, count: 16)
        for length in lengths where length > 0 { counts[length] += 1 }
        var available = 1
        for length in 1...15 {
            available = available * 2 - counts[length]
            if available < 0 { return nil }
        }
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for length in 1...15 {
            nextCode[length] = code
            code = (code + counts[length]) << 1
        }
        var entries = [UInt32](repeating: 0, count: 1 << maxLength)
        for (symbol, length) in lengths.enumerated() where length > 0 {
            let canonical = nextCode[length]
            nextCode[length] += 1
            var reversed = 0
            for bit in 0..<length where canonical & (1 << bit) != 0 { reversed |= 1 << (length - 1 - bit) }
            var index = reversed
            while index < entries.count {
                entries[index] = UInt32(symbol << 8 | length)
                index += 1 << length
            }
        }
        self.entries = entries
        self.maxLength = maxLength
        self.mask = (1 << maxLength) - 1
    }

    static let fixedLiterals = HuffmanTable(
        lengths: Array(repeating: 8, count: 144) + Array(repeating: 9, count: 112)
            + Array(repeating: 7, count: 24) + Array(repeating: 8, count: 8))!
    static let fixedDistances = HuffmanTable(lengths: Array(repeating: 5, count: 30))!
}
