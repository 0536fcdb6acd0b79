/// How far a distance computed in Float may lie from the true one:
/// d(1 − relative) − absolute ≤ d̂ ≤ d(1 + relative) + absolute.
///
/// A Float GEMM on raw pixels loses digits (‖x‖² ≈ 6·10⁷ has a spacing of 4), so two training
/// images at nearly the same distance can swap places. With a rigorous bound the selection
/// knows which neighbours are certain and settles only the doubtful ones in Double, so the
/// predictions equal a float64 reference and cannot depend on how the work was split.
struct DistanceErrorBound: Sendable {
    var absolute: Double
    var relative: Double

    /// Values compared as they are: only exact ties are doubtful, and they go to the smaller index.
    static let exact = DistanceErrorBound(absolute: 0, relative: 0)

    /// Float unit roundoff.
    static let unitRoundoff = 0x1p-24

    /// γ_n = n·u / (1 − n·u), the classic bound on the relative error of an n-term sum.
    static func gamma(_ n: Int) -> Double {
        let nu = Double(n) * unitRoundoff
        return nu < 0.5 ? nu / (1 - nu) : .infinity
    }

    /// (‖q‖² + ‖t‖²) − 2·q·t from Float norms and a Float GEMM: the dot product is off by at most
    /// γ_D·‖q‖‖t‖, the three roundings after it by a few u·(‖q‖ + ‖t‖)², and centring both
    /// operands in Float first (which shrinks the norms) by 2u·(‖q‖ + ‖t‖)² more.
    static func squaredL2(dimensions: Int, queryNorm: Double, largestTrainingNorm: Double) -> DistanceErrorBound {
        let reach = queryNorm + largestTrainingNorm
        return DistanceErrorBound(absolute: (2 * gamma(dimensions + 2) + 12 * unitRoundoff) * reach * reach,
                                  relative: 1e-12)
    }

    /// Σ|q − t| in Float: each difference rounds once, the sum at most γ_D relatively.
    static func l1(dimensions: Int) -> DistanceErrorBound {
        DistanceErrorBound(absolute: 0, relative: gamma(dimensions + 2) + 2 * unitRoundoff + 1e-12)
    }

    /// Computed values above this cannot be closer than the element whose computed value is `t`.
    @inline(__always)
    func upperWindow(_ t: Double) -> Double {
        (t + absolute) * (1 + relative) / (1 - relative) + absolute
    }

    /// Computed values below this are certainly closer than the element whose computed value is `t`.
    @inline(__always)
    func lowerWindow(_ t: Double) -> Double {
        (t - absolute) * (1 - relative) / (1 + relative) - absolute
    }
}

/// Finds the k nearest training rows in one row of computed distances and takes their vote,
/// for several k at once (the largest k's candidates contain every smaller k's).
///
/// The neighbours are the k smallest by (true distance, training index), so distance ties go
/// to the smaller index; the vote's ties go to the smaller label, as numpy's
/// `argmax(bincount)` does. One selector per worker: it reuses its scratch buffers.
struct NeighbourSelector {
    let ks: [Int]
    let classCount: Int
    private var smallest: [Float] = []
    private var candidates: [(value: Float, index: Int)] = []
    private var reference: [Double] = []
    private var window: [Int] = []
    private var counts: [Int]
    private var windowCounts: [Int]

    /// `ks` ascending, distinct, each at least 1 and at most the row length.
    init(ks: [Int], classCount: Int) {
        self.ks = ks
        self.classCount = classCount
        counts = [Int](repeating: 0, count: classCount)
        windowCounts = counts
        smallest.reserveCapacity(ks.last! + 1)
    }

    /// Votes for every k of `ks` over `row[0..<count]`; `record(kIndex, label)` receives them.
    /// `label(j)` is training column j's class, `referenceDistance(j)` its distance in Double.
    mutating func vote(row: UnsafePointer<Float>, count: Int, bound: DistanceErrorBound,
                       label: (Int) -> Int, referenceDistance: (Int) -> Double,
                       record: (Int, Int) -> Void) {
        let largestK = ks.last!
        let threshold = largestK == 1 ? Self.minimum(row, count) : kthSmallest(row, count, largestK)
        collectCandidates(row, count, upTo: bound.upperWindow(Double(threshold)))
        for (kIndex, k) in ks.enumerated() {
            let t = Double(candidates[k - 1].value)
            let low = bound.lowerWindow(t), high = bound.upperWindow(t)
            var sureEnd = 0
            while sureEnd < k - 1 && Double(candidates[sureEnd].value) < low { sureEnd += 1 }
            var windowEnd = k
            while windowEnd < candidates.count && Double(candidates[windowEnd].value) <= high { windowEnd += 1 }
            for c in 0..<classCount { counts[c] = 0; windowCounts[c] = 0 }
            for c in 0..<sureEnd { counts[label(candidates[c].index)] += 1 }
            for c in sureEnd..<windowEnd { windowCounts[label(candidates[c].index)] += 1 }
            if let winner = settledWinner(picks: k - sureEnd, from: windowEnd - sureEnd) {
                record(kIndex, winner)
                continue
            }
            // Doubtful: rank the window by the Double distance, then by index.
            window.removeAll(keepingCapacity: true)
            for c in sureEnd..<windowEnd {
                if reference[c].isNaN { reference[c] = referenceDistance(candidates[c].index) }
                window.append(c)
            }
            window.sort { (reference[$0], candidates[$0].index) < (reference[$1], candidates[$1].index) }
            for c in window.prefix(k - sureEnd) { counts[label(candidates[c].index)] += 1 }
            var best = 0
            for c in 1..<classCount where counts[c] > counts[best] { best = c }
            record(kIndex, best)
        }
    }

    /// The `k` nearest columns of `row[0..<count]` by (true distance, index), nearest first,
    /// each with its distance from `referenceDistance`: the Float values only shortlist, so the
    /// order is the Double reference's whatever rounding the Float kernels made.
    mutating func nearest(row: UnsafePointer<Float>, count: Int, k: Int, bound: DistanceErrorBound,
                          referenceDistance: (Int) -> Double) -> [(index: Int, distance: Double)] {
        let threshold = k == 1 ? Self.minimum(row, count) : kthSmallest(row, count, k)
        collectCandidates(row, count, upTo: bound.upperWindow(Double(threshold)))
        var ranked = candidates.map { (index: $0.index, distance: referenceDistance($0.index)) }
        ranked.sort { ($0.distance, $0.index) < ($1.distance, $1.index) }
        return Array(ranked.prefix(k))
    }

    /// The vote's winner when every way of picking `picks` of the `size` doubtful neighbours
    /// (labels counted in `windowCounts`) gives the same one, else nil. A class's count lies
    /// between its sure votes plus the picks the other labels cannot absorb, and its sure votes
    /// plus all its doubtful ones; the winner must beat every rival's best with its worst.
    private func settledWinner(picks: Int, from size: Int) -> Int? {
        var leader = 0, leaderLeast = -1
        for c in 0..<classCount {
            let least = counts[c] + Swift.max(0, picks - (size - windowCounts[c]))
            if least > leaderLeast { leader = c; leaderLeast = least }
        }
        for c in 0..<classCount where c != leader {
            let most = counts[c] + Swift.min(picks, windowCounts[c])
            if c < leader ? most >= leaderLeast : most > leaderLeast { return nil }
        }
        return leader
    }

    /// Every column whose computed value is at most `limit`, sorted by (value, index).
    private mutating func collectCandidates(_ row: UnsafePointer<Float>, _ count: Int, upTo limit: Double) {
        candidates.removeAll(keepingCapacity: true)
        // Float(limit).nextUp over-includes by at most one spacing, which the windows then exclude.
        let floatLimit = limit.isFinite ? Float(limit).nextUp : .infinity
        for j in 0..<count where row[j] <= floatLimit { candidates.append((row[j], j)) }
        candidates.sort { ($0.value, $0.index) < ($1.value, $1.index) }
        reference.removeAll(keepingCapacity: true)
        reference.append(contentsOf: repeatElement(.nan, count: candidates.count))
    }

    /// The k-th smallest value: a sorted buffer of the k smallest so far, entered only by values
    /// below its largest, which after the first few hundred columns almost none are.
    private mutating func kthSmallest(_ row: UnsafePointer<Float>, _ count: Int, _ k: Int) -> Float {
        smallest.removeAll(keepingCapacity: true)
        for j in 0..<k { smallest.append(row[j]) }
        smallest.sort()
        var largest = smallest[k - 1]
        smallest.withUnsafeMutableBufferPointer { buffer in
            for j in k..<count {
                let value = row[j]
                guard value < largest else { continue }
                var position = k - 1
                while position > 0 && buffer[position - 1] > value {
                    buffer[position] = buffer[position - 1]
                    position -= 1
                }
                buffer[position] = value
                largest = buffer[k - 1]
            }
        }
        return largest
    }

    /// The smallest value, eight lanes at a time.
    private static func minimum(_ row: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: .infinity)
        let vectorCount = count & ~7
        var j = 0
        while j < vectorCount {
            let v = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
            lanes = lanes.replacing(with: v, where: v .< lanes)
            j += 8
        }
        var result = lanes.min()
        for j in vectorCount..<count where row[j] < result { result = row[j] }
        return result
    }
}
