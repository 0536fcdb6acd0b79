/// A DEFLATE (RFC 1951) compressor: LZ77 over hash chains, then a dynamic Huffman code per
/// block, or a stored block where that would be smaller. Enough to keep the PNG figures small.
enum Deflate {
    static let maxChain = 48
    static let blockTokens = 1 << 16

    static func compress(_ data: [UInt8]) -> [UInt8] {
        var writer = BitWriter()
        let tokens = data.withUnsafeBufferPointer { matchTokens($0) }
        if tokens.isEmpty {
            writeBlock(tokens[...], bytes: data[...], isFinal: true, into: &writer)
        }
        var tokenStart = 0, byteStart = 0
        while tokenStart < tokens.count {
            let tokenEnd = min(tokens.count, tokenStart + blockTokens)
            let byteEnd = byteStart + tokens[tokenStart..<tokenEnd].reduce(0) { $0 + $1.byteCount }
            writeBlock(tokens[tokenStart..<tokenEnd], bytes: data[byteStart..<byteEnd],
                       isFinal: tokenEnd == tokens.count, into: &writer)
            tokenStart = tokenEnd
            byteStart = byteEnd
        }
        writer.alignToByte()
        return writer.bytes
    }

    /// A literal byte (distance 0) or a back-reference of `length` bytes `distance` back.
    struct Token {
        var length: UInt16
        var distance: UInt16
        var byteCount: Int { distance == 0 ? 1 : Int(length) }
    }

    static func matchTokens(_ data: UnsafeBufferPointer<UInt8>) -> [Token] {
        let count = data.count
        var tokens = [Token]()
        tokens.reserveCapacity(count / 2)
        var head = [Int32](repeating: -1, count: 1 << 15)
        var previous = [Int32](repeating: -1, count: count)
        func hash(_ i: Int) -> Int {
            (Int(data[i]) << 10 ^ Int(data[i + 1]) << 5 ^ Int(data[i + 2])) & 0x7FFF
        }
        func insert(_ i: Int) {
            guard i + 2 < count else { return }
            let h = hash(i)
            previous[i] = head[h]
            head[h] = Int32(i)
        }
        var i = 0
        while i < count {
            var bestLength = 0, bestDistance = 0
            if i + 2 < count {
                var candidate = Int(head[hash(i)])
                var chain = maxChain
                let limit = min(258, count - i)
                while candidate >= 0 && i - candidate <= 32768 && chain > 0 {
                    var length = 0
                    while length < limit && data[candidate + length] == data[i + length] { length += 1 }
                    if length > bestLength {
                        bestLength = length
                        bestDistance = i - candidate
                        if length == limit { break }
                    }
                    candidate = Int(previous[candidate])
                    chain -= 1
                }
            }
            if bestLength >= 3 {
                tokens.append(Token(length: UInt16(bestLength), distance: UInt16(bestDistance)))
                for j in i..<(i + bestLength) { insert(j) }
                i += bestLength
            } else {
                tokens.append(Token(length: UInt16(data[i]), distance: 0))
                insert(i)
                i += 1
            }
        }
        return tokens
    }

    /// (symbol, extra bits, extra value) for a match length 3...258.
    static let lengthCodes: [(Int, Int, Int)] = (0...258).map { length in
        guard length >= 3 else { return (0, 0, 0) }
        let index = Inflater.lengthBase.lastIndex { $0 <= length }!
        return (257 + index, Inflater.lengthExtra[index], length - Inflater.lengthBase[index])
    }

    static func distanceCode(_ distance: Int) -> (Int, Int, Int) {
        let index = Inflater.distanceBase.lastIndex { $0 <= distance }!
        return (index, Inflater.distanceExtra[index], distance - Inflater.distanceBase[index])
    }

    static func writeBlock(_ tokens: ArraySlice<Token>, bytes: ArraySlice<UInt8>, isFinal: Bool,
                           into writer: inout BitWriter) {
        var literalFrequencies = [Int](repeating: 0, count: 286)
        var distanceFrequencies = [Int](repeating: 0, count: 30)
        var extraBits = 0
        for token in tokens {
            if token.distance == 0 {
                literalFrequencies[Int(token.length)] += 1
            } else {
                let (symbol, extra, _) = lengthCodes[Int(token.length)]
                let (distanceSymbol, distanceExtra, _) = distanceCode(Int(token.distance))
                literalFrequencies[symbol] += 1
                distanceFrequencies[distanceSymbol] += 1
                extraBits += extra + distanceExtra
            }
        }
        literalFrequencies[256] = 1
        let header = DynamicHeader(literalFrequencies: literalFrequencies,
                                   distanceFrequencies: distanceFrequencies)
        let dynamicBits = 3 + header.bitCount + extraBits
            + zip(literalFrequencies, header.literalLengths).reduce(0) { $0 + $1.0 * $1.1 }
            + zip(distanceFrequencies, header.distanceLengths).reduce(0) { $0 + $1.0 * $1.1 }
        let storedBits = (bytes.count + 5 * max(1, (bytes.count + 65534) / 65535)) * 8 + 7
        if storedBits <= dynamicBits {
            writeStored(bytes, isFinal: isFinal, into: &writer)
            return
        }
        writer.write(isFinal ? 1 : 0, 1)
        writer.write(2, 2)
        header.write(into: &writer)
        let literalCodes = canonicalCodes(header.literalLengths)
        let distanceCodes = canonicalCodes(header.distanceLengths)
        for token in tokens {
            if token.distance == 0 {
                writer.write(literalCodes[Int(token.length)], header.literalLengths[Int(token.length)])
            } else {
                let (symbol, extra, value) = lengthCodes[Int(token.length)]
                writer.write(literalCodes[symbol], header.literalLengths[symbol])
                writer.write(value, extra)
                let (distanceSymbol, distanceExtra, distanceValue) = distanceCode(Int(token.distance))
                writer.write(distanceCodes[distanceSymbol], header.distanceLengths[distanceSymbol])
                writer.write(distanceValue, distanceExtra)
            }
        }
        writer.write(literalCodes[256], header.literalLengths[256])
    }

    static func writeStored(_ bytes: ArraySlice<UInt8>, isFinal: Bool, into writer: inout BitWriter) {
        var start = bytes.startIndex
        repeat {
            let end = min(bytes.endIndex, start + 65535)
            writer.write(isFinal && end == bytes.endIndex ? 1 : 0, 1)
            writer.write(0, 2)
            writer.alignToByte()
            let length = end - start
            writer.write(length, 16)
            writer.write(length ^ 0xFFFF, 16)
            writer.bytes += bytes[start..<end]
            start = end
        } while start < bytes.endIndex
    }

    /// Codes for the lengths, bit-reversed because DEFLATE sends Huffman codes MSB first.
    static func canonicalCodes(_ lengths: [Int]) -> [Int] {
        var counts = [Int](repeating: 0, count: 16)
        for length in lengths where length > 0 { counts[length] += 1 }
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for length in 1...15 {
            nextCode[length] = code
            code = (code + counts[length]) << 1
        }
        return lengths.map { length in
            guard length > 0 else { return 0 }
            let canonical = nextCode[length]
            nextCode[length] += 1
            var reversed = 0
            for bit in 0..<length where canonical & (1 << bit) != 0 { reversed |= 1 << (length - 1 - bit) }
            return reversed
        }
    }

    /// Huffman code lengths no longer than `limit`; frequencies are flattened until they fit.
    static func huffmanLengths(_ frequencies: [Int], limit: Int) -> [Int] {
        var weights = frequencies
        while true {
            let lengths = unlimitedHuffmanLengths(weights)
            if (lengths.max() ?? 0) <= limit { return lengths }
            weights = weights.map { $0 == 0 ? 0 : max(1, $0 / 2) }
        }
    }

    static func unlimitedHuffmanLengths(_ frequencies: [Int]) -> [Int] {
        var lengths = [Int](repeating: 0, count: frequencies.count)
        let used = frequencies.indices.filter { frequencies[$0] > 0 }.sorted {
            (frequencies[$0], $0) < (frequencies[$1], $1)
        }
        if used.count <= 1 {
            for symbol in used { lengths[symbol] = 1 }
            return lengths
        }
        // Two-queue Huffman: leaves in weight order, merged nodes appended in weight order.
        var weight = used.map { frequencies[$0] }
        var parent = [Int](repeating: -1, count: 2 * used.count - 1)
        var nextLeaf = 0, nextMerged = used.count
        func takeSmallest() -> Int {
            if nextLeaf < used.count && (nextMerged >= weight.count || weight[nextLeaf] <= weight[nextMerged]) {
                nextLeaf += 1
                return nextLeaf - 1
            }
            nextMerged += 1
            return nextMerged - 1
        }
        while weight.count < 2 * used.count - 1 {
            let a = takeSmallest(), b = takeSmallest()
            parent[a] = weight.count
            parent[b] = weight.count
            weight.append(weight[a] + weight[b])
        }
        var depth = [Int](repeating: 0, count: weight.count)
        for node in stride(from: weight.count - 2, through: 0, by: -1) { depth[node] = depth[parent[node]] + 1 }
        for (leaf, symbol) in used.enumerated() { lengths[symbol] = depth[leaf] }
        return lengths
    }
}

/// The code lengths of a dynamic block and their run-length-coded description.
struct DynamicHeader {
    static let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    let literalLengths: [Int]
    let distanceLengths: [Int]
    let literalCount: Int, distanceCount: Int
    /// Code-length symbols with their extra bits: (symbol, extra value).
    let runs: [(Int, Int)]
    let codeLengthLengths: [Int]
    let codeLengthCount: Int

    init(literalFrequencies: [Int], distanceFrequencies: [Int]) {
        literalLengths = Deflate.huffmanLengths(literalFrequencies, limit: 15)
        var distances = Deflate.huffmanLengths(distanceFrequencies, limit: 15)
        if distances.allSatisfy({ $0 == 0 }) { distances[0] = 1 }
        distanceLengths = distances
        literalCount = max(257, (literalLengths.lastIndex { $0 > 0 } ?? 0) + 1)
        distanceCount = max(1, (distanceLengths.lastIndex { $0 > 0 } ?? 0) + 1)
        runs = DynamicHeader.runLengths(Array(literalLengths[..<literalCount]) + distanceLengths[..<distanceCount])
        var frequencies = [Int](repeating: 0, count: 19)
        for (symbol, _) in runs { frequencies[symbol] += 1 }
        let codeLengthLengths = Deflate.huffmanLengths(frequencies, limit: 7)
        self.codeLengthLengths = codeLengthLengths
        codeLengthCount = max(4, (DynamicHeader.order.lastIndex { codeLengthLengths[$0] > 0 } ?? 0) + 1)
    }

    static func runLengths(_ lengths: [Int]) -> [(Int, Int)] {
        var runs = [(Int, Int)]()
        var i = 0
        while i < lengths.count {
            let value = lengths[i]
            var run = 1
            while i + run < lengths.count && lengths[i + run] == value { run += 1 }
            if value == 0 && run >= 11 {
                let take = min(run, 138)
                runs.append((18, take - 11))
                i += take
            } else if value == 0 && run >= 3 {
                runs.append((17, run - 3))
                i += run
            } else if value != 0 && run >= 4 {
                let take = min(run - 1, 6)
                runs.append((value, 0))
                runs.append((16, take - 3))
                i += take + 1
            } else {
                runs.append((value, 0))
                i += 1
            }
        }
        return runs
    }

    static let extraBits = [16: 2, 17: 3, 18: 7]

    var bitCount: Int {
        14 + 3 * codeLengthCount
            + runs.reduce(0) { $0 + codeLengthLengths[$1.0] + (DynamicHeader.extraBits[$1.0] ?? 0) }
    }

    func write(into writer: inout BitWriter) {
        writer.write(literalCount - 257, 5)
        writer.write(distanceCount - 1, 5)
        writer.write(codeLengthCount - 4, 4)
        for symbol in DynamicHeader.order[..<codeLengthCount] { writer.write(codeLengthLengths[symbol], 3) }
        let codes = Deflate.canonicalCodes(codeLengthLengths)
        for (symbol, extra) in runs {
            writer.write(codes[symbol], codeLengthLengths[symbol])
            if let bits = DynamicHeader.extraBits[symbol] { writer.write(extra, bits) }
        }
    }
}

/// Packs bit fields least-significant bit first, as DEFLATE stores them.
struct BitWriter {
    var bytes = [UInt8]()
    private var buffer: UInt64 = 0
    private var count = 0

    mutating func write(_ value: Int, _ bitCount: Int) {
        guard bitCount > 0 else { return }
        buffer |= UInt64(value & ((1 << bitCount) - 1)) << UInt64(count)
        count += bitCount
        while count >= 8 {
            bytes.append(UInt8(truncatingIfNeeded: buffer))
            buffer >>= 8
            count -= 8
        }
    }

    mutating func alignToByte() {
        if count > 0 { write(0, 8 - count) }
    }
}
