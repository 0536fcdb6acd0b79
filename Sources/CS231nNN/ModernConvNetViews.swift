/// The modern CNN's data-dependent start and its test-time views.
extension ModernConvNet {
    /// Sets the frozen whitening filters from the first `count` images (N, C, H, W): the
    /// eigenvectors of the covariance of their K×K patches, each scaled by 1/√(λ + ε), and
    /// their negatives (the GELU after them keeps both signs). The filtered patches then have
    /// unit variance along every principal direction. ε is relative to the mean pixel variance,
    /// so that any scaling of the inputs gives the same filtered patches (airbench's 5e-4 is
    /// for inputs standardized per channel).
    public mutating func initializeWhitening(from images: Tensor<S>, count: Int = 5000, epsilon: Double = 5e-4) throws {
        guard images.rank == 4, Array(images.shape.dropFirst()) == configuration.inputShape, images.shape[0] > 0 else {
            throw TensorError.shapeMismatch(operation: "ModernConvNet.initializeWhitening",
                detail: "images \(describeShape(images.shape)) are not (N×\(configuration.inputShape.map(String.init).joined(separator: "×")))")
        }
        let g = whiten, k = g.kernelHeight, features = g.patchSize
        let n = Swift.min(count, images.shape[0])
        var sums = [Double](repeating: 0, count: features), products = [Double](repeating: 0, count: features * features)
        var patch = [Double](repeating: 0, count: features)
        images.withUnsafeBufferPointer { x in
            for image in 0..<n {
                let base = x.baseAddress! + image * g.channels * g.inputPlane
                for y in 0..<g.outputHeight {
                    for column in 0..<g.outputWidth {
                        var index = 0
                        for c in 0..<g.channels {
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    patch[index] = Double(base[(c * g.height + y + ky) * g.width + column + kx])
                                    index += 1
                                }
                            }
                        }
                        for i in 0..<features {
                            sums[i] += patch[i]
                            for j in 0...i { products[i * features + j] += patch[i] * patch[j] }
                        }
                    }
                }
            }
        }
        let total = Double(n * g.outputPlane)
        var covariance = [Double](repeating: 0, count: features * features)
        for i in 0..<features {
            for j in 0...i {
                let value = products[i * features + j] / total - (sums[i] / total) * (sums[j] / total)
                (covariance[i * features + j], covariance[j * features + i]) = (value, value)
            }
        }
        let (values, vectors) = try SymmetricEigen.decompose(covariance, size: features)
        let pixelVariance = (0..<features).reduce(0.0) { $0 + covariance[$1 * features + $1] } / Double(features)
        var filters = [S](repeating: 0, count: 2 * features * features)
        for e in 0..<features {
            let scale = 1 / (Swift.max(values[e], 0) + epsilon * pixelVariance).squareRoot()
            for i in 0..<features {
                let value = S(vectors[i * features + e] * scale)
                filters[e * features + i] = value
                filters[(features + e) * features + i] = -value
            }
        }
        bufferTensors.whitenWeight = try Tensor(shape: [2 * features, g.channels, k, k], scalars: filters)
    }

    /// Each image mirrored left to right.
    @inlinable
    static func mirrored(_ x: Tensor<S>) -> Tensor<S> {
        let width = x.shape[3], rows = x.count / width
        var out = Tensor<S>(uninitializedShape: x.shape)
        x.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for row in 0..<rows {
                    for column in 0..<width { target[row * width + column] = source[row * width + width - 1 - column] }
                }
            }
        }
        return out
    }

    /// Each image moved by `shift` pixels down and right (negative: up and left), the
    /// uncovered border filled by reflection, as airbench's translated test-time views.
    @inlinable
    static func translated(_ x: Tensor<S>, by shift: Int) -> Tensor<S> {
        let (height, width) = (x.shape[2], x.shape[3]), planes = x.count / (height * width)
        func reflect(_ i: Int, _ size: Int) -> Int { i < 0 ? -i : (i >= size ? 2 * size - 2 - i : i) }
        var out = Tensor<S>(uninitializedShape: x.shape)
        x.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for plane in 0..<planes {
                    let offset = plane * height * width
                    for y in 0..<height {
                        let sourceRow = offset + reflect(y - shift, height) * width
                        for column in 0..<width {
                            target[offset + y * width + column] = source[sourceRow + reflect(column - shift, width)]
                        }
                    }
                }
            }
        }
        return out
    }
}

extension ModernConvNet: InspectableModel {
    public var inspectableLayers: [InspectedLayer] {
        var layers = [InspectedLayer(name: "whiten", shape: [whitenFilters, whiten.outputHeight, whiten.outputWidth],
                                     summary: "whitening conv \(whiten.kernelHeight)x\(whiten.kernelWidth) + GELU")]
        for (index, group) in groups.enumerated() {
            layers.append(InspectedLayer(name: "group\(index + 1)", shape: [widths[index], group.conv2.height, group.conv2.width],
                                         summary: "conv 3x3, max pool 2, BN-GELU, conv 3x3, BN-GELU"))
        }
        return layers + [InspectedLayer(name: "scores", shape: [configuration.classes], summary: "max pool \(headPool), linear")]
    }

    /// Guided backpropagation and the deconvnet change the backward pass at ReLUs; this net has
    /// GELUs, where those rules are not defined, so only the true gradient is offered.
    @inlinable
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func trace(_ x: Tensor<S>) throws -> ForwardTrace<S> {
        let caches = try forward(x, mode: .test)
        let last = groups.count + 1
        return ForwardTrace(model: "ModernConvNet", layers: inspectableLayers, input: x, rules: [.standard], activations: { layer in
            switch layer {
            case 0: try ImageLayout.nhwc.convert(caches.groups[0].conv1.x, to: .nchw)
            case last: caches.scores
            default: try ImageLayout.nhwc.convert(caches.groups[layer - 1].output, to: .nchw)
            }
        }, backward: { layer, upstream, rule in
            guard rule == .standard else {
                throw TensorError.invalidArgument(operation: "ModernConvNet",
                    detail: "the \(rule.rawValue) rule is defined at ReLUs and this net uses GELU; use the standard gradient (saliency)")
            }
            let start = layer == last ? upstream : try ImageLayout.nchw.convert(upstream, to: .nhwc)
            return try backward(start, from: layer, caches, needs: .input).dx!
        })
    }
}
