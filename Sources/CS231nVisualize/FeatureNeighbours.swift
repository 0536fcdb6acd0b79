import CS231nClassifiers
import CS231nNN
import CS231nTensor

/// The nearest images in a feature space (AlexNet, Krizhevsky et al. 2012, figure 4): images
/// close in a late layer's features look alike to the net, though they may be far apart in pixels.
/// Exact, on the kNN classifier's distance kernels (`KNearestNeighbor.nearest`).
public enum FeatureNeighbours {
    /// The `k` nearest rows of `database` to each of `queries` by Euclidean distance between
    /// their `features` (a map from a batch of inputs to one row per input). The database passes
    /// through `features` a part at a time, each part's exact neighbours are merged, so memory
    /// holds one part's features; ties go to the smaller database index.
    /// `partSize` rows of the database go through `features` at a time (default: about 64 MB of
    /// features).
    public static func nearest(queries: Tensor<Float>, database: Tensor<Float>, k: Int, partSize: Int? = nil,
                               features: (Tensor<Float>) throws -> Tensor<Float>) throws -> Neighbours {
        let count = database.shape.first ?? 0
        guard (1...Swift.max(1, count)).contains(k), count > 0 else {
            throw TensorError.invalidArgument(operation: "FeatureNeighbours",
                detail: "k = \(k) must be in 1...\(count), the number of database images")
        }
        let queryFeatures = try features(queries).flattenedRows()
        let dimensions = Swift.max(1, queryFeatures.count / Swift.max(1, queryFeatures.shape[0]))
        let part = Swift.max(1, partSize ?? Swift.max(64, Swift.min(5_000, 16_777_216 / dimensions)))
        var found: Neighbours?
        for start in stride(from: 0, to: count, by: part) {
            let end = Swift.min(count, start + part)
            var knn = KNearestNeighbor()
            try knn.train(features(database.slice(start..<end)).flattenedRows())
            let nearest = try knn.nearest(queryFeatures, k: Swift.min(k, end - start))
            found = found?.merged(with: nearest, offset: start, k: k) ?? nearest
        }
        return found!
    }

    /// Neighbours in the activations of `layer` of `model`, computed in test mode, 500 inputs a pass.
    public static func nearest<M: InspectableModel>(_ model: M, layer: String, queries: Tensor<Float>, database: Tensor<Float>,
                                                    k: Int) throws -> Neighbours where M.Scalar == Float {
        guard model.inspectableLayers.contains(where: { $0.name == layer }) else {
            throw TensorError.invalidArgument(operation: "FeatureNeighbours",
                detail: "no layer \"\(layer)\"; the layers are " + model.inspectableLayers.map(\.description).joined(separator: ", "))
        }
        return try nearest(queries: queries, database: database, k: k) { inputs in
            let n = inputs.shape[0]
            return try Tensor.concatenate(stride(from: 0, to: n, by: 500).map {
                try model.activations(inputs.slice($0..<Swift.min(n, $0 + 500)), layer: layer).flattenedRows()
            })
        }
    }

    /// Neighbours in raw pixels: the inputs mapped back to pixel units (each value times its
    /// preprocessing scale; the subtracted mean cancels in a difference).
    public static func nearestInPixels(queries: Tensor<Float>, database: Tensor<Float>, pixels: InputPixels, k: Int) throws -> Neighbours {
        try nearest(queries: queries, database: database, k: k) { try pixels.inPixels($0) }
    }
}
