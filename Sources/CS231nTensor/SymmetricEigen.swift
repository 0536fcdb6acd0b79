/// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations, in Double.
/// Written by hand because the only BLAS loaded at run time has no LAPACK, and the matrices here
/// (patch covariances, 12×12) are far too small for that to matter: Jacobi is exact to rounding
/// and a few dozen lines.
public enum SymmetricEigen {
    /// Eigenvalues in ascending order and the matching unit eigenvectors as the columns of an
    /// n×n row-major matrix, like `numpy.linalg.eigh` and `torch.linalg.eigh`.
    public static func decompose(_ matrix: [Double], size n: Int) throws -> (values: [Double], vectors: [Double]) {
        guard n > 0, matrix.count == n * n else {
            throw TensorError.shapeMismatch(operation: "SymmetricEigen", detail: "\(matrix.count) entries for a \(n)×\(n) matrix")
        }
        for i in 0..<n {
            for j in 0..<i where Swift.abs(matrix[i * n + j] - matrix[j * n + i]) > 1e-9 * Swift.max(1, Swift.abs(matrix[i * n + j])) {
                throw TensorError.invalidArgument(operation: "SymmetricEigen",
                    detail: "the matrix is not symmetric at (\(i), \(j)): \(matrix[i * n + j]) vs \(matrix[j * n + i])")
            }
            if !matrix[i * n + i].isFinite { throw TensorError.invalidArgument(operation: "SymmetricEigen", detail: "non-finite entry at (\(i), \(i))") }
        }
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<n where q < n { off += a[p * n + q] * a[p * n + q] } }
            if off < 1e-30 { break }
            for p in 0..<(n - 1) {
                for q in (p + 1)..<n where a[p * n + q] != 0 {
                    // The rotation that zeroes a[p][q] (Golub & Van Loan, the symmetric Schur step).
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1 : -1) / (Swift.abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let (akp, akq) = (a[k * n + p], a[k * n + q])
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let (apk, aqk) = (a[p * n + k], a[q * n + k])
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let (vkp, vkq) = (v[k * n + p], v[k * n + q])
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0 * n + $0] < a[$1 * n + $1] }
        let values = order.map { a[$0 * n + $0] }
        var vectors = [Double](repeating: 0, count: n * n)
        for (column, source) in order.enumerated() {
            for row in 0..<n { vectors[row * n + column] = v[row * n + source] }
        }
        return (values, vectors)
    }
}
