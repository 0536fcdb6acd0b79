/// Fixed-width unsigned codes packed into bytes, least significant bit first.
enum BitPacking {
    static func pack(_ codes: [Int], bits: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: byteCount(codes.count, bits: bits))
        var bit = 0
        for code in codes {
            for b in 0..<bits where code >> b & 1 == 1 { bytes[(bit + b) >> 3] |= 1 << UInt8((bit + b) & 7) }
            bit += bits
        }
        return bytes
    }

    /// The first `count` codes of `bytes`, which must hold `byteCount(count, bits:)` bytes.
    static func unpack(_ bytes: ArraySlice<UInt8>, count: Int, bits: Int) -> [Int] {
        let start = bytes.startIndex
        return (0..<count).map { index in
            var code = 0
            for b in 0..<bits {
                let bit = index * bits + b
                code |= Int(bytes[start + bit >> 3] >> UInt8(bit & 7) & 1) << b
            }
            return code
        }
    }

    /// ⌈count · bits / 8⌉ for bits in 1…8, arranged so that no count up to Int.max can wrap it
    /// (a file's entry count is untrusted): whole groups of 8 codes take `bits` bytes each.
    static func byteCount(_ count: Int, bits: Int) -> Int { (count / 8) * bits + ((count % 8) * bits + 7) / 8 }
}

/// Deep Compression's relative-index sparse encoding: the positions of a layer's non-zero weights
/// as gaps from the previous one (the first from position −1), each in `bits` bits. A gap g in
/// 1…2^bits − 1 is stored as g; a longer gap first takes filler entries, code 0, that each advance
/// 2^bits − 1 positions without a weight. Short codes thus cover most gaps of a sparse layer and
/// the rare long ones cost a few fillers.
enum RelativeIndex {
    static func longestGap(bits: Int) -> Int { (1 << bits) - 1 }

    static func encode(_ positions: [Int], bits: Int) -> [Int] {
        let longest = longestGap(bits: bits)
        var codes: [Int] = []
        codes.reserveCapacity(positions.count)
        var previous = -1
        for position in positions {
            var gap = position - previous
            while gap > longest { codes.append(0); gap -= longest }
            codes.append(gap)
            previous = position
        }
        return codes
    }

    /// How many codes `encode` writes, without writing them.
    static func entryCount(_ positions: [Int], bits: Int) -> Int {
        let longest = longestGap(bits: bits)
        var previous = -1
        return positions.reduce(0) { total, position in
            defer { previous = position }
            return total + (position - previous - 1) / longest + 1
        }
    }

    /// The code width in 1…8 bits that encodes `positions` in the fewest bits.
    static func bestBits(_ positions: [Int]) -> Int {
        (1...8).min { entryCount(positions, bits: $0) * $0 < entryCount(positions, bits: $1) * $1 }!
    }

    /// The bytes of `positions` encoded at their best width.
    static func byteCount(_ positions: [Int]) -> Int {
        let bits = bestBits(positions)
        return BitPacking.byteCount(entryCount(positions, bits: bits), bits: bits)
    }

    /// The positions back, or a description of what is wrong: a position at or beyond `limit`.
    static func decode(_ codes: [Int], bits: Int, limit: Int) -> Result<[Int], DecodeFailure> {
        let longest = longestGap(bits: bits)
        var positions: [Int] = []
        var position = -1
        for (entry, code) in codes.enumerated() {
            position += code == 0 ? longest : code
            guard position < limit else { return .failure(DecodeFailure(entry: entry, position: position)) }
            if code != 0 { positions.append(position) }
        }
        return .success(positions)
    }

    struct DecodeFailure: Error {
        var entry: Int
        var position: Int
    }
}
