import CS231n
@testable import CS231nVisualize
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

/// Counts the elements of an XML document by name, or fails to parse.
private final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    /// The text of each element, whole (the parser may deliver it in pieces).
    var texts: [String] = []
    private var current = ""
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        counts[name, default: 0] += 1
        current = ""
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        let text = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !text.isEmpty { texts.append(text) }
        current = ""
    }

    static func parse(_ svg: String) -> ElementCounter? {
        let counter = ElementCounter()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = counter
        return parser.parse() ? counter : nil
    }
}

@Suite("SVG plots and matrix pictures")
struct SVGPlotTests {
    func crossValidationPlot() -> SVGPlot {
        var plot = SVGPlot(title: "Cross-validation on k <L2>", xLabel: "k", yLabel: "accuracy")
        plot.add(.init(name: "mean ± std", x: [1, 3, 5, 10], y: [0.27, 0.26, 0.27, 0.269], errors: [0.014, 0.013, 0, 0.015]))
        plot.add(.init(name: "each fold", x: [1, 1, 3, 3], y: [0.25, 0.29, 0.25, 0.27], style: .markers))
        return plot
    }

    @Test("renders well-formed SVG with title, labels, legend, error bars and ticks")
    func rendersWellFormed() throws {
        let svg = try crossValidationPlot().render()
        let parsed = try #require(ElementCounter.parse(svg), "the SVG must be well-formed XML")
        #expect(parsed.texts.contains("Cross-validation on k <L2>"))   // escaped in the file, intact when parsed
        for label in ["k", "accuracy", "mean ± std", "each fold"] { #expect(parsed.texts.contains(label)) }
        #expect(svg.contains("&lt;L2&gt;"))
        // Three non-zero error bars of three lines each; the zero one is not drawn.
        let errorBarLines = svg.components(separatedBy: "\n").filter { $0.hasPrefix("<line") && $0.components(separatedBy: "<line").count == 4 }
        #expect(errorBarLines.count == 3)
        // One mean line; 4 + 4 markers in the plot and one per series in the legend.
        #expect(parsed.counts["path"] == 1)
        #expect(parsed.counts["circle"] == 10)
        // Round x ticks from 1 to 10 appear as labels.
        for tick in ["2", "4", "6", "8", "10"] { #expect(parsed.texts.contains(tick)) }
    }

    @Test("ticks are round numbers; log axes tick at powers of ten")
    func ticks() {
        let linear = Axis(scale: .linear, range: 0.2405...0.3013, pixels: 0...100, flipped: false).ticks()
        #expect(linear.count >= 4 && linear.count <= 8)
        #expect(linear.allSatisfy { abs(($0 * 100).rounded() - $0 * 100) < 1e-9 })
        let log = Axis(scale: .log, range: 0.5...2000, pixels: 0...100, flipped: false).ticks()
        #expect(log == [1, 10, 100, 1000])
        #expect(Axis(scale: .linear, range: 0...1, pixels: 0...1, flipped: false).label(0.25) == "0.25")
    }

    @Test("bad series give clear errors")
    func badSeries() {
        var plot = SVGPlot(title: "t", xLabel: "x", yLabel: "y")
        #expect(throws: SVGPlot.PlotError.self) { try plot.render() }
        plot.add(.init(name: "short", x: [1, 2], y: [1]))
        #expect((try? plot.render()) == nil)
        var log = SVGPlot(title: "t", xLabel: "x", yLabel: "y")
        log.yScale = .log
        log.add(.init(name: "loss", x: [1, 2], y: [1, 0]))
        do {
            _ = try log.render()
            Issue.record("a zero on a log axis must be rejected")
        } catch {
            #expect(String(describing: error).contains("log axis"))
        }
    }

    @Test("writes the file atomically")
    func writes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("svgplot-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("cv.svg").path
        try crossValidationPlot().write(to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == crossValidationPlot().render())
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["cv.svg"])
    }

    @Test("matrix pictures scale min to black and max to white, averaging blocks when large")
    func matrixPicture() throws {
        let matrix = try Tensor<Float>(shape: [2, 4], scalars: [0, 1, 2, 3, 4, 5, 6, 8])
        let full = try MatrixImage.grayscale(matrix)
        #expect((full.width, full.height) == (4, 2))
        #expect(full.pixels.first == 0 && full.pixels.last == 255)
        #expect(full.pixels[3] == UInt8((3.0 / 8 * 255).rounded()))
        let halved = try MatrixImage.grayscale(matrix, maxWidth: 2, maxHeight: 1)
        #expect((halved.width, halved.height) == (2, 1))
        // Block means 2.5 and 4.75 become the darkest and the brightest.
        #expect(halved.pixels == [0, 255])
        #expect(throws: TensorError.self) { try MatrixImage.grayscale(Tensor<Float>([1, 2])) }
    }
}
