import Foundation
import CS231nNN
import CS231nOptim
import Testing

@Suite struct ModelShapesTests {
    static let configurations: [ModelConfiguration] = [
        ModelConfiguration(kind: "two-layer", inputShape: [3072], hiddenSizes: [7], classes: 10),
        ModelConfiguration(kind: "fully-connected", inputShape: [3, 4, 4], hiddenSizes: [5, 6], classes: 3, normalization: .batchnorm),
        ModelConfiguration(kind: "fully-connected", inputShape: [12], hiddenSizes: [5], classes: 3, normalization: .layernorm),
        ModelConfiguration(kind: "fully-connected", inputShape: [12], hiddenSizes: [], classes: 3),
        ModelConfiguration(kind: "three-layer-convnet", inputShape: [3, 8, 6], hiddenSizes: [9], classes: 4,
                           convolution: ConvNetSettings(filters: 5, filterSize: 3)),
        ModelConfiguration(kind: "three-layer-convnet", inputShape: [3, 32, 32], hiddenSizes: [10], classes: 10),
        ModelConfiguration(kind: "cnn", inputShape: [3, 16, 16], hiddenSizes: [4, 6], classes: 10),
        ModelConfiguration(kind: "cnn", inputShape: [3, 32, 32], hiddenSizes: [8, 8, 8], classes: 10,
                           modernConvNet: ModernConvNetSettings(whiteningKernel: 3)),
    ]

    /// The shapes computed without building the model are those of the built model.
    @Test(arguments: configurations)
    func shapesAreThoseOfTheBuiltModel(configuration: ModelConfiguration) throws {
        let shapes = try ModelShapes(configuration)
        let model = try AnyModel<Float>(configuration)
        #expect(shapes.parameters == Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.0, $0.1.shape) }))
        #expect(shapes.buffers == Dictionary(uniqueKeysWithValues: model.buffers.map { ($0.0, $0.1.shape) }))
        #expect(shapes.elementCount == model.parameters.scalarCount + model.buffers.scalarCount)
    }

    @Test func hugeConfigurationsAreRefusedWithoutAllocating() {
        let huge: [ModelConfiguration] = [
            ModelConfiguration(kind: "fully-connected", inputShape: [3072], hiddenSizes: [1 << 62], classes: 10),
            ModelConfiguration(kind: "fully-connected", inputShape: [3072], hiddenSizes: [1_000_000_000], classes: 10),
            ModelConfiguration(kind: "two-layer", inputShape: [3, (1 << 62) + 32, 32], hiddenSizes: [4], classes: 10),
            ModelConfiguration(kind: "three-layer-convnet", inputShape: [3, 32, 32], hiddenSizes: [4], classes: 10,
                               convolution: ConvNetSettings(filters: 1 << 62)),
            ModelConfiguration(kind: "three-layer-convnet", inputShape: [3, 32, 32], hiddenSizes: [4], classes: 10,
                               convolution: ConvNetSettings(filterSize: (1 << 32) + 1)),
            ModelConfiguration(kind: "cnn", inputShape: [3, 32, 32], hiddenSizes: [8], classes: 10,
                               modernConvNet: ModernConvNetSettings(whiteningKernel: Int.max)),
            ModelConfiguration(kind: "cnn", inputShape: [3, 32, 32], hiddenSizes: [1 << 31, 1 << 31], classes: 10),
            ModelConfiguration(kind: "fully-connected", inputShape: [12], hiddenSizes: [-4], classes: 3),
            ModelConfiguration(kind: "mystery", inputShape: [12], hiddenSizes: [4], classes: 3),
        ]
        for configuration in huge {
            #expect(throws: TensorError.self, "\(configuration)") { try ModelShapes(configuration) }
        }
    }

    /// Every net's initializer refuses sizes out of range, naming the field and the range,
    /// before it allocates (a 10⁶-unit hidden layer on CIFAR-10 would need 12 GB).
    @Test func netsRefuseSizesOutOfRangeBeforeAllocating() {
        let cases: [(ModelConfiguration, String)] = [
            (ModelConfiguration(kind: "two-layer", inputShape: [3072], hiddenSizes: [1 << 62], classes: 10),
             "hiddenSizes[0] is 4611686018427387904, outside the valid range 1...16777216"),
            (ModelConfiguration(kind: "fully-connected", inputShape: [3072], hiddenSizes: [1_000_000], classes: 10),
             "more than 1073741824 elements together"),
            (ModelConfiguration(kind: "three-layer-convnet", inputShape: [3, (1 << 62) + 32, 32], hiddenSizes: [4], classes: 10),
             "inputShape[1] is 4611686018427387936, outside the valid range 1...16777216"),
            (ModelConfiguration(kind: "three-layer-convnet", inputShape: [3, 32, 32], hiddenSizes: [4], classes: 10,
                                convolution: ConvNetSettings(filters: 1 << 62)),
             "convolution.filters is 4611686018427387904, outside the valid range 1...16777216"),
            (ModelConfiguration(kind: "cnn", inputShape: [3, 32, 32], hiddenSizes: [8], classes: 0),
             "classes is 0, outside the valid range 1...16777216"),
        ]
        for (configuration, message) in cases {
            do {
                _ = try AnyModel<Float>(configuration)
                Issue.record("\(configuration) was built")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
    }

    /// Checkpoints written before the settings were typed kept them as an `options` object of
    /// strings: it reads into the typed settings, and a key or value no version wrote is refused
    /// by name. A net writes its defaults out, so its configuration round-trips.
    @Test func legacyOptionsReadIntoTheTypedSettings() throws {
        let base = #"{"classes":10,"hiddenSizes":[8],"inputShape":[3,32,32],"keepProbability":1,"normalization":"none","#
            + #""regularization":0,"seed":0,"#
        let conv = try ModelConfiguration.fromJSON(base + #""kind":"three-layer-convnet","options":{"filter-size":"5","filters":"4"}}"#)
        #expect(conv.convolution == ConvNetSettings(filters: 4, filterSize: 5))
        let cnn = try ModelConfiguration.fromJSON(base + #""kind":"cnn","options":{"label-smoothing":"0.1","tta":"0","widths":"8"}}"#)
        #expect(cnn.modernConvNet == ModernConvNetSettings(labelSmoothing: 0.1, testTimeAugmentation: 0))
        for (options, message) in [(#"{"whiten-kernel":"1e300"}"#, #"option whiten-kernel "1e300" is not a whole number"#),
                                   (#"{"tta":"x"}"#, #"option tta "x""#), (#"{"depth":"3"}"#, #"cnn has no option "depth""#)] {
            do {
                _ = try ModelConfiguration.fromJSON(base + #""kind":"cnn","options":"# + options + "}")
                Issue.record("options \(options) were read")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
        let net = try ThreeLayerConvNet<Float>(configuration: ModelConfiguration(kind: "three-layer-convnet", inputShape: [3, 8, 8],
                                                                                 hiddenSizes: [4], classes: 3))
        #expect(net.configuration.convolution == ConvNetSettings())
        #expect(try ModelConfiguration.fromJSON(net.configuration.jsonString()) == net.configuration)
        let modern = try ModernConvNet<Float>(inputShape: [3, 8, 8], widths: [4], settings: ModernConvNetSettings(outputScale: 0.5))
        #expect(try ModelConfiguration.fromJSON(modern.configuration.jsonString()) == modern.configuration)
    }

    @Test func aConfigurationFromJSONWithHugeSizesIsRefused() throws {
        let json = #"{"classes":10,"hiddenSizes":[1e9],"inputShape":[3072],"keepProbability":1,"kind":"fully-connected","#
            + #""normalization":"none","options":{},"regularization":0,"seed":0}"#
        // JSON's 1e9 is an integer to the decoder or refused by it; either way no model is built.
        do {
            let configuration = try ModelConfiguration.fromJSON(json)
            #expect(configuration.hiddenSizes == [1_000_000_000])
            #expect(throws: TensorError.self) { try FullyConnectedNet<Float>(configuration: configuration) }
        } catch is TensorError {}
    }
}
