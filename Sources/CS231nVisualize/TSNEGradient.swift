import CS231nTensor
import Foundation

/// The gradient of KL(P ‖ Q) and the divergence itself, with q_ij = w_ij / Z,
/// w_ij = 1 / (1 + ‖y_i − y_j‖²) and Z = Σ_{k≠l} w_kl:
///
///     dC/dy_i = 4 Σ_j (p_ij − q_ij) w_ij (y_i − y_j)
///             = 4 (Σ_j p_ij w_ij (y_i − y_j)  −  Σ_j w_ij² (y_i − y_j) / Z)
///                  attraction                   repulsion
///
/// The attraction runs over P's nonzero entries; the repulsion and Z over every pair (exact) or
/// over a quadtree's cells (Barnes–Hut). Points are planar: x coordinates, then y.
extension TSNEAffinities {
    /// The gradient at `points` (2N values) with P multiplied by `exaggeration`, into `gradient`.
    func gradient(at points: UnsafePointer<Float>, exaggeration: Float, theta: Float,
                  into gradient: inout PlaneGradient) throws {
        let n = count
        let xs = SendableConstPointer(points), ys = SendableConstPointer(points + n)
        gradient.values.withUnsafeMutableBufferPointer { values in
            gradient.repulsion.withUnsafeMutableBufferPointer { repulsion in
                gradient.normalization.withUnsafeMutableBufferPointer { normalization in
                    let (attraction, pushes, shares) = (SendablePointer(values.baseAddress!), SendablePointer(repulsion.baseAddress!),
                                                        SendablePointer(normalization.baseAddress!))
                    // Workers get raw pointers only: copying the arrays into them would retain
                    // and release shared storage from every point.
                    withForces(at: xs.base, ys.base, squaredTheta: theta * theta) { forces in
                        Parallel.forEachChunk(n, minimumChunk: 32) { rows in
                            for i in rows {
                                let f = forces(i)
                                (attraction.base[i], attraction.base[n + i]) = (f.attractionX, f.attractionY)
                                (pushes.base[i], pushes.base[n + i]) = (f.repulsionX, f.repulsionY)
                                shares.base[i] = f.normalization
                            }
                        }
                    }
                }
            }
        }
        gradient.combine(exaggeration: exaggeration)
    }

    /// Calls `body` with a function giving each point's forces: the exact sums over every other
    /// point, or the sparse attraction plus the repulsion from a quadtree of the points.
    func withForces(at xs: UnsafePointer<Float>, _ ys: UnsafePointer<Float>, squaredTheta: Float,
                    _ body: (@Sendable (Int) -> PointForces) -> Void) {
        let n = count, points = (SendableConstPointer(xs), SendableConstPointer(ys))
        switch storage {
        case .dense(let p):
            p.withUnsafeBufferPointer { p in
                let p = SendableConstPointer(p.baseAddress!)
                body { i in Self.exactForces(i, count: n, xs: points.0.base, ys: points.1.base, p: p.base + i * n) }
            }
        case let .sparse(rowStarts, columns, values):
            let tree = QuadTree(xs: xs, ys: ys, count: n)
            rowStarts.withUnsafeBufferPointer { rowStarts in
                columns.withUnsafeBufferPointer { columns in
                    values.withUnsafeBufferPointer { values in
                        tree.cells.withUnsafeBufferPointer { cells in
                            tree.leafOf.withUnsafeBufferPointer { leafOf in
                                let rows = SparseRows(starts: rowStarts.baseAddress!, columns: columns.baseAddress!, values: values.baseAddress!)
                                let (cells, leafOf) = (SendableConstPointer(cells.baseAddress!), SendableConstPointer(leafOf.baseAddress!))
                                body { i in
                                    rows.attraction(i, xs: points.0.base, ys: points.1.base)
                                        .adding(QuadTree.repulsion(cells: cells.base, ownLeaf: Int(leafOf.base[i]), x: points.0.base[i],
                                                                   y: points.1.base[i], squaredTheta: squaredTheta))
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// KL(P ‖ Q) = Σ_{p_ij > 0} p_ij log(p_ij · Z / w_ij), with Z summed over every pair (so the
    /// Barnes–Hut value is the true divergence of the map, not its tree estimate).
    func klDivergence(at points: UnsafePointer<Float>) -> Double {
        let n = count
        let xs = SendableConstPointer(points), ys = SendableConstPointer(points + n)
        let zeros = [Float](repeating: 0, count: n)
        var shares = [Double](repeating: 0, count: n)
        shares.withUnsafeMutableBufferPointer { output in
            let target = SendablePointer(output.baseAddress!)
            zeros.withUnsafeBufferPointer { noAffinity in
                let none = SendableConstPointer(noAffinity.baseAddress!)
                Parallel.forEachChunk(n, minimumChunk: 32) { rows in
                    for i in rows {
                        target.base[i] = Double(Self.exactForces(i, count: n, xs: xs.base, ys: ys.base, p: none.base).normalization)
                    }
                }
            }
        }
        let logZ = Foundation.log(shares.reduce(0, +))
        var terms = [Double](repeating: 0, count: n)
        let affinities = UnsafeSendable(self)
        terms.withUnsafeMutableBufferPointer { output in
            let target = SendablePointer(output.baseAddress!)
            Parallel.forEachChunk(n, minimumChunk: 32) { rows in
                for i in rows {
                    var sum = 0.0
                    affinities.value.forEachEntry(ofRow: i) { j, p in
                        guard p > 0 else { return }
                        let dx = Double(xs.base[i] - xs.base[j]), dy = Double(ys.base[i] - ys.base[j])
                        sum += Double(p) * (Foundation.log(Double(p) * (1 + dx * dx + dy * dy)) + logZ)
                    }
                    target.base[i] = sum
                }
            }
        }
        return terms.reduce(0, +)
    }

    /// Calls `body(j, p_ij)` for row i's stored entries, in column order: every nonzero one
    /// (sparse rows may also hold zeros, where a neighbour's Gaussian underflowed).
    func forEachEntry(ofRow i: Int, _ body: (Int, Float) -> Void) {
        switch storage {
        case .dense(let p):
            for j in 0..<count where p[i * count + j] > 0 { body(j, p[i * count + j]) }
        case let .sparse(rowStarts, columns, values):
            for k in rowStarts[i]..<rowStarts[i + 1] { body(Int(columns[k]), values[k]) }
        }
    }

    /// Point i's attraction (P's row `p`), repulsion and share of Z against every other point,
    /// eight points at a time.
    @inline(__always)
    static func exactForces(_ i: Int, count n: Int, xs: UnsafePointer<Float>, ys: UnsafePointer<Float>,
                            p: UnsafePointer<Float>) -> PointForces {
        let x = xs[i], y = ys[i]
        let vx = SIMD8<Float>(repeating: x), vy = SIMD8<Float>(repeating: y), one = SIMD8<Float>(repeating: 1)
        var ax = SIMD8<Float>(), ay = SIMD8<Float>(), rx = SIMD8<Float>(), ry = SIMD8<Float>(), z = SIMD8<Float>()
        var j = 0
        while j + 8 <= n {
            let dx = vx - UnsafeRawPointer(xs + j).loadUnaligned(as: SIMD8<Float>.self)
            let dy = vy - UnsafeRawPointer(ys + j).loadUnaligned(as: SIMD8<Float>.self)
            let w = one / (one + dx * dx).addingProduct(dy, dy)
            let pw = UnsafeRawPointer(p + j).loadUnaligned(as: SIMD8<Float>.self) * w
            ax.addProduct(pw, dx); ay.addProduct(pw, dy)
            let ww = w * w
            rx.addProduct(ww, dx); ry.addProduct(ww, dy)
            z += w
            j += 8
        }
        var forces = PointForces(attractionX: ax.sum(), attractionY: ay.sum(), repulsionX: rx.sum(), repulsionY: ry.sum(),
                                 normalization: z.sum())
        while j < n {
            let dx = x - xs[j], dy = y - ys[j]
            let w = 1 / (1 + dx * dx + dy * dy)
            forces.attractionX += p[j] * w * dx; forces.attractionY += p[j] * w * dy
            forces.repulsionX += w * w * dx; forces.repulsionY += w * w * dy
            forces.normalization += w
            j += 1
        }
        // The sum included the point itself: w_ii = 1, with no force.
        forces.normalization -= 1
        return forces
    }
}

/// Compressed rows of P, by pointer, for the workers.
struct SparseRows: @unchecked Sendable {
    let starts: UnsafePointer<Int>
    let columns: UnsafePointer<Int32>
    let values: UnsafePointer<Float>

    /// Σ_j p_ij w_ij (y_i − y_j) over row i's entries.
    @inline(__always)
    func attraction(_ i: Int, xs: UnsafePointer<Float>, ys: UnsafePointer<Float>) -> PointForces {
        var forces = PointForces()
        let (x, y) = (xs[i], ys[i])
        for k in starts[i]..<starts[i + 1] {
            let j = Int(columns[k])
            let dx = x - xs[j], dy = y - ys[j]
            let pw = values[k] / (1 + dx * dx + dy * dy)
            forces.attractionX += pw * dx
            forces.attractionY += pw * dy
        }
        return forces
    }
}

/// What one point feels: Σ_j p_ij w_ij (y_i − y_j), Σ_j w_ij² (y_i − y_j) and Σ_j w_ij.
struct PointForces {
    var attractionX: Float = 0, attractionY: Float = 0
    var repulsionX: Float = 0, repulsionY: Float = 0
    var normalization: Float = 0

    func adding(_ other: PointForces) -> PointForces {
        PointForces(attractionX: attractionX + other.attractionX, attractionY: attractionY + other.attractionY,
                    repulsionX: repulsionX + other.repulsionX, repulsionY: repulsionY + other.repulsionY,
                    normalization: normalization + other.normalization)
    }
}
