import CS231n
import Foundation

/// Demo stages for the first two classifiers of the course: k-NN and the linear SVM / Softmax.
extension DemoPipeline {
    static let knnKs = [1, 3, 5, 8, 10, 12, 15, 20, 50, 100]

    static var knnStage: DemoStage {
        DemoStage(name: "knn", title: "k-nearest neighbours",
                  inputs: ["cv_images": "2000", "folds": "5", "ks": knnKs.map(String.init).joined(separator: ","),
                           "distance": "l2"]) { context in
            let train = context.splits.train
            let cvImages = Swift.min(2000, train.count)
            let cvRows = train.slice(0..<cvImages)
            let result = try CrossValidation.kNearestNeighbor(rows: cvRows.rows(Float.self), labels: cvRows.labels,
                                                              ks: knnKs, folds: 5, metric: .l2)
            var plot = SVGPlot(title: "Cross-validation on k (L2, \(cvImages) images, 5 folds)", xLabel: "k",
                               yLabel: "cross-validation accuracy")
            plot.add(.init(name: "each fold", x: knnKs.flatMap { k in result.folds.map { _ in Double(k) } },
                           y: result.accuracies.flatMap { $0 }, style: .markers, color: "#9a9a9a"))
            plot.add(.init(name: "mean ± std", x: knnKs.map(Double.init), y: result.means,
                           errors: result.standardDeviations, color: SVGPlot.palette[0]))
            let rows = knnKs.indices.map { i in
                [String(knnKs[i])] + result.accuracies[i].map(percent) + [percent(result.means[i]) + " ± " + percent(result.standardDeviations[i])]
            }
            let best = result.bestK
            var model = KNearestNeighbor()
            try model.train(train.rows(Float.self), labels: train.labels)
            var accuracies: [ReportBlock.KeyValue] = [.init("best k (cross-validation)", String(best))]
            for (name, split) in context.evaluationSplits {
                let predictions = try model.predict(split.rows(Float.self), k: best, metric: .l2)
                let accuracy = fractionCorrect(predictions, split.labels)
                accuracies.append(.init("\(name) accuracy, k = \(best), \(train.count) training images", percent(accuracy)))
                context.report([("stage", "knn"), ("split", .string(name)), ("k", .int(best))], metric: "accuracy", value: accuracy)
            }
            let queries = context.splits.val.slice(0..<Swift.min(200, context.splits.val.count)).rows(Float.self)
            var cvModel = KNearestNeighbor()
            try cvModel.train(cvRows.rows(Float.self), labels: cvRows.labels)
            let distances = try cvModel.distances(queries, metric: .l2)
            let matrix = try MatrixImage.grayscale(distances)
            return ReportSection(title: "k-nearest neighbours", blocks: [
                .paragraph("Memorise the training set; label a query by a majority vote of its k closest training images "
                           + "(L2 distance, computed as ‖x‖² + ‖y‖² − 2x·y on the GEMM). k is chosen by 5-fold cross-validation."),
                .svg(try plot.render(), caption: "Accuracy against k: every fold, and the mean with ± std error bars"),
                .table(header: ["k"] + result.folds.indices.map { "fold \($0 + 1)" } + ["mean ± std"], rows: rows,
                       highlightRow: knnKs.firstIndex(of: best)),
                .keyValues(accuracies),
                .png(Data(matrix.encoded()), caption: "L2 distances from 200 validation images (rows) to the cross-validation "
                     + "images (columns); dark is near", width: 600),
            ])
        }
    }

    static var linearStage: DemoStage {
        DemoStage(name: "linear", title: "Linear classifiers: SVM and Softmax",
                  inputs: ["iterations": "1500", "batch": "200", "svm_lr": "5e-8,7e-8,1e-7", "softmax_lr": "2e-7,5e-7,1e-6",
                           "reg": "1e2,1e3", "inputs": "pixels minus the mean image, bias column"]) { context in
            let inputs = try LinearInputs<Float>(splits: context.splits)
            var blocks: [ReportBlock] = [
                .paragraph("f(x, W) = Wx + b as template matching: each class scores an image by a dot product with its template. "
                           + "Trained by minibatch SGD (1500 iterations of 200 images drawn with replacement); the grid over "
                           + "learning rate × regularization is scored on the validation split."),
            ]
            for loss in LinearLoss.allCases {
                let grid = HyperparameterSearch.defaultGrid(loss: loss, features: [])
                let settings = SGDSettings(iterations: 1500, batchSize: 200, seed: context.seed)
                let section: [ReportBlock]
                switch loss {
                case .svm: section = try linearSearch(LinearSVM<Float>.self, inputs, grid, settings, context)
                case .softmax: section = try linearSearch(Softmax<Float>.self, inputs, grid, settings, context)
                }
                blocks += section
            }
            return ReportSection(title: "Linear classifiers: SVM and Softmax", blocks: blocks)
        }
    }

    private static func linearSearch<C: LinearClassifier>(
        _ type: C.Type, _ inputs: LinearInputs<Float>, _ grid: (learningRates: [Double], regularizations: [Double]),
        _ settings: SGDSettings, _ context: DemoContext
    ) throws -> [ReportBlock] where C.Scalar == Float {
        let result = try HyperparameterSearch.run(type, train: inputs.train, validation: inputs.validation,
                                                  classCount: inputs.classNames.count, learningRates: grid.learningRates,
                                                  regularizations: grid.regularizations, settings: settings)
        let name = C.loss.description
        let rows = result.trials.map { trial in
            [String(format: "%.0e", trial.learningRate), String(format: "%.0e", trial.regularization),
             trial.trainAccuracy.map(percent) ?? "diverged", trial.validationAccuracy.map(percent) ?? "diverged"]
        }
        var accuracies: [ReportBlock.KeyValue] = [.init("\(name) best val accuracy", result.bestTrial.validationAccuracy.map(percent) ?? "–")]
        if let test = inputs.test {
            let accuracy = try result.best.accuracy(inputs: test.x, labels: test.y)
            accuracies.append(.init("\(name) test accuracy (best model)", percent(accuracy)))
            context.report([("stage", "linear"), ("loss", .string(C.loss.rawValue)), ("split", "test")],
                           metric: "accuracy", value: accuracy)
        }
        context.report([("stage", "linear"), ("loss", .string(C.loss.rawValue)), ("split", "val")],
                       metric: "accuracy", value: result.bestTrial.validationAccuracy ?? .nan)
        let templates = try ClassTemplates.picture(weights: result.best.weights!, classNames: inputs.classNames)
        let curve = TrainingFigures.iterationLossPlot(result.bestLossHistory.map(Double.init), title: "\(name) training loss (best model)")
        return [
            .table(header: ["\(name): lr", "reg", "train acc", "val acc"], rows: rows, highlightRow: result.bestIndex),
            .keyValues(accuracies),
            .png(Data(templates.encoded()), caption: "\(name) class templates: each class's weights as an image", width: nil),
            .svg(try curve.render(), caption: "\(name) loss per iteration"),
        ]
    }
}
