import CS231nData

extension InputPixels {
    /// The pixels behind inputs prepared by `preprocessor`, each image shaped `imageShape`.
    public init(_ preprocessor: Preprocessor, imageShape: [Int]) throws {
        try self.init(mean: Tensor(preprocessor.mean.map { Float($0) }), scale: Tensor(preprocessor.scale.map { Float($0) }),
                      imageShape: imageShape)
    }
}
