import CS231nTensor
import Foundation

extension TSNE {
    /// scikit-learn's PCA start: the scores of the rows of `x` (N, D) on their first two principal
    /// components, (N, 2), divided by the first column's standard deviation and times 1e-4.
    ///
    /// The components come from subspace iteration on the centred rows (as scikit-learn's
    /// randomised solver): a seeded block of ten directions, eight rounds of XᵀX·V with two
    /// Float GEMMs each and Gram–Schmidt in Double, then the Rayleigh–Ritz step on the block.
    /// Each component's sign puts its largest loading positive.
    static func principalComponents(_ x: Tensor<Float>, seed: UInt64) throws -> Tensor<Float> {
        let (n, d) = (x.shape[0], x.shape[1])
        let centred = try centredColumns(x)
        let block = Swift.min(d, 10)
        var generator = RandomGenerator(seed: seed, stream: .initialization)
        var basis = Tensor<Float>.randn([d, block], using: &generator)
        for _ in 0..<8 {
            basis = try orthonormalColumns(matmul(centred, matmul(centred, basis), transposeA: true))
        }
        basis = try orthonormalColumns(basis)
        let scores = try matmul(centred, basis)
        // The block's covariance BᵀXᵀXB and its two leading eigenvectors.
        let gram = try matmul(scores, scores, transposeA: true).scalars.map(Double.init)
        let symmetric = (0..<(block * block)).map { 0.5 * (gram[$0] + gram[($0 % block) * block + $0 / block]) }
        let (_, vectors) = try SymmetricEigen.decompose(symmetric, size: block)
        var embedding = [Float](repeating: 0, count: n * 2)
        for component in 0..<Swift.min(2, block) {
            let column = block - 1 - component
            let rotation = (0..<block).map { vectors[$0 * block + column] }
            let loadings = basis.withUnsafeBufferPointer { b in
                (0..<d).map { row in (0..<block).reduce(0.0) { $0 + Double(b[row * block + $1]) * rotation[$1] } }
            }
            let largest = loadings.indices.max { Swift.abs(loadings[$0]) < Swift.abs(loadings[$1]) }!
            let sign = loadings[largest] < 0 ? -1.0 : 1.0
            scores.withUnsafeBufferPointer { s in
                for i in 0..<n {
                    embedding[i * 2 + component] = Float(sign * (0..<block).reduce(0.0) { $0 + Double(s[i * block + $1]) * rotation[$1] })
                }
            }
        }
        let first = (0..<n).map { Double(embedding[$0 * 2]) }
        let mean = first.reduce(0, +) / Double(n)
        let deviation = (first.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)).squareRoot()
        guard deviation > 0, deviation.isFinite else {
            throw TensorError.invalidArgument(operation: "TSNE", detail: "the \(n) points do not vary: all rows of the input are equal")
        }
        return try Tensor(shape: [n, 2], scalars: embedding.map { Float(Double($0) / deviation * 1e-4) })
    }

    /// x minus its column means (computed in Double).
    static func centredColumns(_ x: Tensor<Float>) throws -> Tensor<Float> {
        let (n, d) = (x.shape[0], x.shape[1])
        var means = [Double](repeating: 0, count: d)
        let values = x.scalars
        for i in 0..<n { for j in 0..<d { means[j] += Double(values[i * d + j]) } }
        return try Tensor(shape: [n, d], scalars: values.indices.map { Float(Double(values[$0]) - means[$0 % d] / Double(n)) })
    }

    /// The columns of a (D, B) matrix made orthonormal by modified Gram–Schmidt in Double; a
    /// column that vanishes (a rank-deficient block) becomes a unit vector orthogonal to the rest.
    static func orthonormalColumns(_ matrix: Tensor<Float>) throws -> Tensor<Float> {
        let (d, b) = (matrix.shape[0], matrix.shape[1])
        let values = matrix.scalars
        var columns = (0..<b).map { c in (0..<d).map { Double(values[$0 * b + c]) } }
        for c in 0..<b {
            for attempt in 0...d {
                for previous in 0..<c {
                    let dot = zip(columns[c], columns[previous]).reduce(0) { $0 + $1.0 * $1.1 }
                    for k in 0..<d { columns[c][k] -= dot * columns[previous][k] }
                }
                let norm = columns[c].reduce(0) { $0 + $1 * $1 }.squareRoot()
                if norm > 1e-12 || attempt == d {
                    columns[c] = columns[c].map { norm > 0 ? $0 / norm : 0 }
                    break
                }
                columns[c] = (0..<d).map { $0 == attempt ? 1 : 0 }
            }
        }
        return try Tensor(shape: [d, b], scalars: (0..<(d * b)).map { Float(columns[$0 % b][$0 / b]) })
    }
}
