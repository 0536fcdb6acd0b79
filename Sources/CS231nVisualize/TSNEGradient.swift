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
        let tree = method == .barnesHut ? UnsafeSendable(QuadTree(xs: xs.base, ys: ys.base, count: n)) : nil
        let squaredTheta = theta * theta
        let affinities = UnsafeSendable(self)
        gradient.values.withUnsafeMutableBufferPointer { values in
            gradient.repulsion.withUnsafeMutableBufferPointer { repulsion in
                gradient.normalization.withUnsafeMutableBufferPointer { normalization in
                    let (attraction, pushes, shares) = (SendablePointer(values.baseAddress!), SendablePointer(repulsion.baseAddress!),
                                                        SendablePointer(normalization.baseAddress!))
                    Parallel.forEachChunk(n, minimumChunk: 32) { rows in
                        for i in rows {
                            let forces: PointForces
                            if let tree {
                                forces = affinities.value.sparseAttraction(i, xs: xs.base, ys: ys.base)
                                    .adding(tree.value.repulsion(of: i, x: xs.base[i], y: ys.base[i], squaredTheta: squaredTheta))
                            } else {
                                guard case .dense(let p) = affinities.value.storage else { return }
                                forces = p.withUnsafeBufferPointer {
                                    Self.exactForces(i, count: n, xs: xs.base, ys: ys.base, p: $0.baseAddress! + i * n)
                                }
                            }
                            (attraction.base[i], attraction.base[n + i]) = (forces.attractionX, forces.attractionY)
                            (pushes.base[i], pushes.base[n + i]) = (forces.repulsionX, forces.repulsionY)
                            shares.base[i] = forces.normalization
                        }
                    }
                }
            }
        }
        gradient.combine(exaggeration: exaggeration)
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

    /// Σ_j p_ij w_ij (y_i − y_j) over row i's neighbours.
    func sparseAttraction(_ i: Int, xs: UnsafePointer<Float>, ys: UnsafePointer<Float>) -> PointForces {
        guard case let .sparse(rowStarts, columns, values) = storage else { return PointForces() }
        var forces = PointForces()
        let (x, y) = (xs[i], ys[i])
        for k in rowStarts[i]..<rowStarts[i + 1] {
            let j = Int(columns[k])
            let dx = x - xs[j], dy = y - ys[j]
            let pw = values[k] / (1 + dx * dx + dy * dy)
            forces.attractionX += pw * dx
            forces.attractionY += pw * dy
        }
        return forces
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
