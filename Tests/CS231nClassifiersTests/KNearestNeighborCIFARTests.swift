import CS231nClassifiers
import CS231nData
import CS231nTensor
import Foundation
import Testing

/// W1's dev setting on the real CIFAR-10: train = images 0..4,999, queries = 49,000..49,499,
/// raw pixels. The expected predictions are the float64 numpy reference of
/// scripts/knn_reference.py (stable argsort, argmax of bincount), digit i being query i's label.
private enum Reference {
    static let l2k1 =
        "0643550532464228574056924062218538060120422900502485658044726444668240408045484844202022692444023656" +
        "4745050002454046420524665742288054446744038717842875622667640423843880574260045552022476145426403442" +
        "2451404482224523046585108646422630182023282522482214246605408488287472638034320043445894694420826002" +
        "5274888000244253462486934823647848440528330466385085362852825254543444820218824040549023624627232425" +
        "8023024586098712266404605422462610066744842472842904200424456284008684220662120680062623834840364252"
    static let l2k10 =
        "1446244020444228484522522854248938440148424408604405448824724072664245428042604802602022292444024622" +
        "4240044482240722440382435342200052424544023202042845322257428428024888404660045422008406042422422442" +
        "6424204284222282842005688622424330882890282222267074462405200498284432378034620423442894634420864002" +
        "5218400202442454310202934022244848420487490244884805022890825656043024888288854440279480422221262422" +
        "8322824086028722262484100244430790466420822444824804200424446886024384200422822280320454844820462252"
    static let l1k1 =
        "9646554532464328576082924854218538460120425900503485658844726472668248400045474424402722692444083656" +
        "4745056186450742328582674742202024246564034387822895322627444423883888574560024546069466045426473442" +
        "0451084482222623046685608636426630282993282522422214646695400418387472638064820842045092694420866803" +
        "5214686000244433460482734423245848440529230266384005326018825254542844880218824040549023064327262496" +
        "8023074587028134460604800422434710066444822482846804288423126234068684220664120680062023732870304263"
    static let l1k10 =
        "1446244530022220494542522054218538040120422908304405648824724412604040428087404402202062692444014652" +
        "4240040486220746620082465026208452444744026416022842322257622428884888204220045452008408826422425442" +
        "4454004284222488026005688682422360182998284422267244422405400498284472378034428222442892034260862002" +
        "5212600200442454294206904026244868420487490264092204322090820634022024888288834420279080422221262422" +
        "8022024087028764222484180222432792426468822474842802280922546866060684200402828280360451860872424150"
    /// Correct predictions per fold of 5-fold cross-validation on the 5,000, per k.
    static let l2Folds: [Int: [Int]] = [
        1: [277, 244, 278, 272, 283],
        3: [251, 247, 281, 272, 269],
        5: [256, 249, 286, 281, 284],
        8: [239, 254, 299, 258, 277],
        10: [255, 256, 291, 261, 281],
        12: [258, 247, 290, 261, 281],
        15: [266, 258, 294, 262, 284],
        20: [262, 253, 288, 253, 281],
        50: [252, 260, 276, 251, 261],
        100: [238, 245, 266, 248, 253],
    ]
    /// Correct predictions per fold of 5-fold cross-validation on the 5,000, per k.
    static let l1Folds: [Int: [Int]] = [
        1: [292, 261, 301, 279, 310],
        3: [265, 253, 313, 284, 280],
        5: [287, 266, 321, 288, 297],
        8: [295, 286, 309, 299, 290],
        10: [292, 284, 307, 296, 300],
        12: [291, 277, 306, 287, 302],
        15: [304, 280, 319, 291, 302],
        20: [293, 270, 321, 284, 292],
        50: [274, 261, 314, 277, 280],
        100: [270, 263, 289, 257, 268],
    ]
}

/// The CIFAR-10 folder: $CS231N_DATA_DIR, else ../shared/data next to the package.
private let dataDirectory: String? = {
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let candidates: [String?] = [ProcessInfo.processInfo.environment["CS231N_DATA_DIR"],
                      packageRoot.appendingPathComponent("../shared/data/cifar-10-batches-bin").standardized.path]
    return candidates.compactMap { $0 }.first {
        FileManager.default.fileExists(atPath: ($0 as NSString).appendingPathComponent("data_batch_5.bin"))
    }
}()

private let devSet: (training: LabeledImages, queries: LabeledImages)? = {
    guard let dataDirectory, let all = try? CIFAR10.load(directory: dataDirectory, train: true) else { return nil }
    return (all.slice(0..<5000), all.slice(49_000..<49_500))
}()

private func digits(_ labels: [Int]) -> String { labels.map(String.init).joined() }

@Suite("k-nearest neighbours on CIFAR-10 (W1 dev setting)",
       .enabled(if: dataDirectory != nil, "CIFAR-10 not found in $CS231N_DATA_DIR or ../shared/data: skipped"))
struct KNearestNeighborCIFARTests {
    @Test("predictions equal the float64 numpy reference; accuracies as the assignment's",
          arguments: [(DistanceMetric.l2, 1, Reference.l2k1, 0.246), (.l2, 10, Reference.l2k10, 0.272),
                      (.l1, 1, Reference.l1k1, 0.278), (.l1, 10, Reference.l1k10, 0.288)])
    func devPredictions(metric: DistanceMetric, k: Int, expected: String, accuracy: Double) throws {
        let (training, queries) = try #require(devSet)
        var model = KNearestNeighbor()
        try model.train(training.rows(Float.self), labels: training.labels)
        let predictions = try model.predict(queries.rows(Float.self), k: k, metric: metric)
        #expect(digits(predictions) == expected)
        let correct = zip(predictions, queries.labels).filter { $0 == $1 }.count
        #expect(abs(Double(correct) / 500 - accuracy) < 1e-9)
    }

    @Test("5-fold cross-validation equals the float64 numpy reference", arguments: DistanceMetric.allCases)
    func crossValidation(metric: DistanceMetric) throws {
        let (training, _) = try #require(devSet)
        let expected = metric == .l2 ? Reference.l2Folds : Reference.l1Folds
        let ks = expected.keys.sorted()
        let result = try CrossValidation.kNearestNeighbor(rows: training.rows(Float.self), labels: training.labels,
                                                          ks: ks, folds: 5, metric: metric)
        for (kIndex, k) in ks.enumerated() {
            #expect(result.accuracies[kIndex].map { Int(($0 * 1000).rounded()) } == expected[k], "k = \(k)")
        }
    }
}
