/// A quadtree over the map's points for Barnes–Hut's repulsion (van der Maaten 2014): every
/// cell knows how many points it holds and their centre of mass, so a cell that looks small
/// from a point (width < θ · distance) acts on it as one heavy point.
///
/// Built serially by inserting the points in order, so the tree, and with it every force, is
/// the same whatever the thread count. Points at the same position share a leaf, as do points
/// still together at `maximumDepth`.
struct QuadTree {
    /// What the traversal reads, 20 bytes a cell; children are four consecutive cells.
    struct Cell {
        var massX: Float = 0, massY: Float = 0
        var count: Float = 0
        var squaredWidth: Float = 0
        /// The first of the four children, or −1 for a leaf.
        var firstChild: Int32 = -1
    }

    static let maximumDepth = 48

    private(set) var cells: [Cell] = []
    /// The leaf holding each point.
    private(set) var leafOf: [Int32]

    init(xs: UnsafePointer<Float>, ys: UnsafePointer<Float>, count n: Int) {
        var low = (x: Float.infinity, y: Float.infinity), high = (x: -Float.infinity, y: -Float.infinity)
        for i in 0..<n {
            low = (Swift.min(low.x, xs[i]), Swift.min(low.y, ys[i]))
            high = (Swift.max(high.x, xs[i]), Swift.max(high.y, ys[i]))
        }
        // A square a little wider than the points, so that none lies on its outer edge.
        let half = Swift.max(high.x - low.x, high.y - low.y, Float.leastNormalMagnitude) * 0.5 * (1 + 1e-3)
        var builder = Builder(xs: xs, ys: ys, rootCentre: ((low.x + high.x) / 2, (low.y + high.y) / 2), half: half)
        for i in 0..<n { builder.insert(i) }
        cells = builder.finishedCells()
        leafOf = (0..<n).map { Int32(builder.leaf(x: xs[$0], y: ys[$0])) }
    }

    /// Σ_j w_ij² (y_i − y_j) and Σ_j w_ij over every other point j from the point at (x, y) in
    /// leaf `ownLeaf`, cells that look small from it summarised by their centre of mass. The own
    /// leaf adds its duplicates' w = 1 and no force.
    @inline(__always)
    static func repulsion(cells: UnsafePointer<Cell>, ownLeaf: Int, x: Float, y: Float, squaredTheta: Float) -> PointForces {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 3 * maximumDepth + 8) { stack in
            // Local accumulators stay in registers; a struct captured by the closure would not.
            var normalization: Float = 0, repulsionX: Float = 0, repulsionY: Float = 0
            let stack = stack.baseAddress!
            stack[0] = 0
            var top = 1
            while top > 0 {
                top -= 1
                let index = Int(stack[top])
                let cell = cells[index]
                if index == ownLeaf {
                    normalization += cell.count - 1
                    continue
                }
                let dx = x - cell.massX, dy = y - cell.massY
                let squaredDistance = dx * dx + dy * dy
                if cell.firstChild >= 0 && cell.squaredWidth >= squaredTheta * squaredDistance {
                    // Empty quadrants are never pushed; the first child is visited first.
                    let first = Int(cell.firstChild)
                    if cells[first + 3].count > 0 { stack[top] = Int32(first + 3); top += 1 }
                    if cells[first + 2].count > 0 { stack[top] = Int32(first + 2); top += 1 }
                    if cells[first + 1].count > 0 { stack[top] = Int32(first + 1); top += 1 }
                    if cells[first].count > 0 { stack[top] = Int32(first); top += 1 }
                    continue
                }
                let w = 1 / (1 + squaredDistance), weight = cell.count * w
                normalization += weight
                repulsionX += weight * w * dx
                repulsionY += weight * w * dy
            }
            return PointForces(repulsionX: repulsionX, repulsionY: repulsionY, normalization: normalization)
        }
    }

    /// The tree while points go in: geometry, sums of positions, one point per leaf.
    struct Builder {
        let xs: UnsafePointer<Float>, ys: UnsafePointer<Float>
        var centres: [(x: Float, y: Float)]
        var halves: [Float]
        var counts: [Int] = [0]
        var sums: [(x: Double, y: Double)] = [(0, 0)]
        var firstChild: [Int32] = [-1]
        /// The point a leaf holds (with its duplicates), or −1.
        var occupant: [Int] = [-1]

        init(xs: UnsafePointer<Float>, ys: UnsafePointer<Float>, rootCentre: (Float, Float), half: Float) {
            self.xs = xs; self.ys = ys
            centres = [rootCentre]
            halves = [half]
        }

        func quadrant(_ cell: Int, x: Float, y: Float) -> Int32 {
            (x >= centres[cell].x ? 1 : 0) + (y >= centres[cell].y ? 2 : 0)
        }

        mutating func insert(_ point: Int) {
            let (x, y) = (xs[point], ys[point])
            var cell = 0, depth = 0
            while true {
                counts[cell] += 1
                sums[cell].x += Double(x); sums[cell].y += Double(y)
                if firstChild[cell] >= 0 {
                    cell = Int(firstChild[cell] + quadrant(cell, x: x, y: y))
                    depth += 1
                    continue
                }
                guard occupant[cell] >= 0 else { occupant[cell] = point; return }
                let resident = (x: xs[occupant[cell]], y: ys[occupant[cell]])
                if (resident.x == x && resident.y == y) || depth >= QuadTree.maximumDepth { return }
                split(cell)
                // The resident (and its duplicates) move down whole; the new point goes on down.
                let child = Int(firstChild[cell] + quadrant(cell, x: resident.x, y: resident.y))
                counts[child] = counts[cell] - 1
                sums[child] = (sums[cell].x - Double(x), sums[cell].y - Double(y))
                occupant[child] = occupant[cell]
                occupant[cell] = -1
                cell = Int(firstChild[cell] + quadrant(cell, x: x, y: y))
                depth += 1
            }
        }

        mutating func split(_ cell: Int) {
            firstChild[cell] = Int32(centres.count)
            let quarter = halves[cell] / 2, centre = centres[cell]
            for child in 0..<4 {
                centres.append((centre.x + (child & 1 == 1 ? quarter : -quarter), centre.y + (child & 2 == 2 ? quarter : -quarter)))
                halves.append(quarter)
                counts.append(0); sums.append((0, 0)); firstChild.append(-1); occupant.append(-1)
            }
        }

        /// The leaf a position falls in.
        func leaf(x: Float, y: Float) -> Int {
            var cell = 0
            while firstChild[cell] >= 0 { cell = Int(firstChild[cell] + quadrant(cell, x: x, y: y)) }
            return cell
        }

        func finishedCells() -> [QuadTree.Cell] {
            centres.indices.map { cell in
                let count = Double(Swift.max(1, counts[cell]))
                return QuadTree.Cell(massX: Float(sums[cell].x / count), massY: Float(sums[cell].y / count),
                                     count: Float(counts[cell]), squaredWidth: 4 * halves[cell] * halves[cell],
                                     firstChild: firstChild[cell])
            }
        }
    }
}
