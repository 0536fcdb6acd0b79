import CS231nData
import Foundation

/// A self-contained SVG line plot: series of points drawn as lines and/or markers, optional
/// ± error bars, axes with round-number ticks (linear or log), axis labels, a title and a legend.
///
///     var plot = SVGPlot(title: "Cross-validation on k", xLabel: "k", yLabel: "accuracy")
///     plot.add(.init(name: "mean ± std", x: ks, y: means, errors: stds))
///     try plot.write(to: "cv.svg")
public struct SVGPlot: Sendable {
    public enum Scale: Sendable { case linear, log }

    public enum Style: Sendable { case line, markers, lineAndMarkers }

    public struct Series: Sendable {
        public var name: String
        public var x: [Double]
        public var y: [Double]
        /// Half-lengths of vertical error bars (y ± error), one per point.
        public var errors: [Double]?
        public var style: Style
        /// Any SVG colour; nil takes the next of the palette.
        public var color: String?

        public init(name: String, x: [Double], y: [Double], errors: [Double]? = nil,
                    style: Style = .lineAndMarkers, color: String? = nil) {
            self.name = name; self.x = x; self.y = y; self.errors = errors; self.style = style; self.color = color
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var width = 720.0
    public var height = 460.0
    public var xScale = Scale.linear
    public var yScale = Scale.linear
    /// Fixed axis ranges; nil fits the data (error bars included) with a margin.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    public private(set) var series: [Series] = []

    /// matplotlib's "tab10" colours.
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
    }

    public mutating func add(_ series: Series) { self.series.append(series) }

    public enum PlotError: Error, CustomStringConvertible {
        case badSeries(String)
        public var description: String {
            switch self { case .badSeries(let detail): return "SVGPlot: \(detail)" }
        }
    }

    /// Writes the SVG atomically (a temporary file renamed into place).
    public func write(to path: String) throws {
        try AtomicFile.write(Array(try render().utf8), to: path)
    }

    // Margins around the plot area, in pixels.
    private static let left = 72.0, right = 24.0, top = 44.0, bottom = 58.0

    /// The SVG document.
    public func render() throws -> String {
        try validate()
        let plotWidth = width - Self.left - Self.right, plotHeight = height - Self.top - Self.bottom
        let xAxis = Axis(scale: xScale, range: xRange ?? fittedRange(\.x, scale: xScale, errors: false),
                         pixels: Self.left...(Self.left + plotWidth), flipped: false)
        let yAxis = Axis(scale: yScale, range: yRange ?? fittedRange(\.y, scale: yScale, errors: true),
                         pixels: Self.top...(Self.top + plotHeight), flipped: true)
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(svgNumber(width))" height="\(svgNumber(height))" viewBox="0 0 \(svgNumber(width)) \(svgNumber(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(svgNumber(width / 2))" y="26" text-anchor="middle" font-size="16">\(xmlEscaped(title))</text>

        """
        svg += grid(xAxis, yAxis)
        svg += "<clipPath id=\"plot-area\"><rect x=\"\(svgNumber(Self.left))\" y=\"\(svgNumber(Self.top))\" width=\"\(svgNumber(plotWidth))\" height=\"\(svgNumber(plotHeight))\"/></clipPath>\n"
        svg += "<g clip-path=\"url(#plot-area)\">\n"
        for (index, s) in series.enumerated() { svg += draw(s, color: color(index), xAxis, yAxis) }
        svg += "</g>\n"
        svg += "<rect x=\"\(svgNumber(Self.left))\" y=\"\(svgNumber(Self.top))\" width=\"\(svgNumber(plotWidth))\" height=\"\(svgNumber(plotHeight))\" fill=\"none\" stroke=\"black\"/>\n"
        svg += "<text x=\"\(svgNumber(Self.left + plotWidth / 2))\" y=\"\(svgNumber(height - 14))\" text-anchor=\"middle\" font-size=\"13\">\(xmlEscaped(xLabel))</text>\n"
        svg += "<text transform=\"translate(18 \(svgNumber(Self.top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">\(xmlEscaped(yLabel))</text>\n"
        svg += legend(plotRight: Self.left + plotWidth)
        return svg + "</svg>\n"
    }

    private func validate() throws {
        guard !series.isEmpty else { throw PlotError.badSeries("no series to plot") }
        for s in series {
            guard s.x.count == s.y.count else {
                throw PlotError.badSeries("series \"\(s.name)\" has \(s.x.count) x values but \(s.y.count) y values")
            }
            if let errors = s.errors, errors.count != s.y.count {
                throw PlotError.badSeries("series \"\(s.name)\" has \(errors.count) error bars for \(s.y.count) points")
            }
            if xScale == .log, s.x.contains(where: { $0 <= 0 }) {
                throw PlotError.badSeries("series \"\(s.name)\" has x ≤ 0 on a log axis")
            }
            if yScale == .log, s.y.contains(where: { $0 <= 0 }) {
                throw PlotError.badSeries("series \"\(s.name)\" has y ≤ 0 on a log axis")
            }
        }
    }

    private func color(_ index: Int) -> String { series[index].color ?? Self.palette[index % Self.palette.count] }

    /// The data's extent (finite values only), widened by 5% (linear) or to whole decades' edges (log).
    private func fittedRange(_ values: KeyPath<Series, [Double]>, scale: Scale, errors: Bool) -> ClosedRange<Double> {
        var low = Double.infinity, high = -Double.infinity
        for s in series {
            for (i, v) in s[keyPath: values].enumerated() where v.isFinite {
                let e = errors ? (s.errors?[i] ?? 0) : 0
                let spread = e.isFinite ? Swift.abs(e) : 0
                low = Swift.min(low, v - spread); high = Swift.max(high, v + spread)
            }
        }
        guard low.isFinite, high.isFinite else { return scale == .log ? 1...10 : 0...1 }
        switch scale {
        case .linear:
            let margin = high > low ? 0.05 * (high - low) : Swift.max(0.5, Swift.abs(low) * 0.1)
            return (low - margin)...(high + margin)
        case .log:
            let positiveLow = low > 0 ? low : (high > 0 ? high / 10 : 1)
            let l = Foundation.log10(positiveLow), h = Foundation.log10(Swift.max(high, positiveLow))
            let margin = h > l ? 0.05 * (h - l) : 0.5
            return Foundation.pow(10, l - margin)...Foundation.pow(10, h + margin)
        }
    }

    private func grid(_ xAxis: Axis, _ yAxis: Axis) -> String {
        var svg = "<g stroke=\"#e5e5e5\">\n"
        var labels = ""
        for tick in xAxis.ticks() {
            let x = xAxis.pixel(tick)
            svg += "<line x1=\"\(svgNumber(x))\" y1=\"\(svgNumber(yAxis.pixels.lowerBound))\" x2=\"\(svgNumber(x))\" y2=\"\(svgNumber(yAxis.pixels.upperBound))\"/>\n"
            labels += "<line x1=\"\(svgNumber(x))\" y1=\"\(svgNumber(yAxis.pixels.upperBound))\" x2=\"\(svgNumber(x))\" y2=\"\(svgNumber(yAxis.pixels.upperBound + 5))\" stroke=\"black\"/>\n"
            labels += "<text x=\"\(svgNumber(x))\" y=\"\(svgNumber(yAxis.pixels.upperBound + 19))\" text-anchor=\"middle\">\(xAxis.label(tick))</text>\n"
        }
        for tick in yAxis.ticks() {
            let y = yAxis.pixel(tick)
            svg += "<line x1=\"\(svgNumber(xAxis.pixels.lowerBound))\" y1=\"\(svgNumber(y))\" x2=\"\(svgNumber(xAxis.pixels.upperBound))\" y2=\"\(svgNumber(y))\"/>\n"
            labels += "<line x1=\"\(svgNumber(xAxis.pixels.lowerBound - 5))\" y1=\"\(svgNumber(y))\" x2=\"\(svgNumber(xAxis.pixels.lowerBound))\" y2=\"\(svgNumber(y))\" stroke=\"black\"/>\n"
            labels += "<text x=\"\(svgNumber(xAxis.pixels.lowerBound - 8))\" y=\"\(svgNumber(y + 4))\" text-anchor=\"end\">\(yAxis.label(tick))</text>\n"
        }
        return svg + "</g>\n" + labels
    }

    private func draw(_ s: Series, color: String, _ xAxis: Axis, _ yAxis: Axis) -> String {
        let points = s.x.indices.filter { s.x[$0].isFinite && s.y[$0].isFinite }
        var svg = ""
        if let errors = s.errors {
            svg += "<g stroke=\"\(color)\" stroke-width=\"1.5\">\n"
            for i in points where errors[i].isFinite && errors[i] != 0 {
                let x = xAxis.pixel(s.x[i])
                let low = yAxis.pixel(s.y[i] - Swift.abs(errors[i])), high = yAxis.pixel(s.y[i] + Swift.abs(errors[i]))
                svg += "<line x1=\"\(svgNumber(x))\" y1=\"\(svgNumber(low))\" x2=\"\(svgNumber(x))\" y2=\"\(svgNumber(high))\"/>"
                svg += "<line x1=\"\(svgNumber(x - 4))\" y1=\"\(svgNumber(low))\" x2=\"\(svgNumber(x + 4))\" y2=\"\(svgNumber(low))\"/>"
                svg += "<line x1=\"\(svgNumber(x - 4))\" y1=\"\(svgNumber(high))\" x2=\"\(svgNumber(x + 4))\" y2=\"\(svgNumber(high))\"/>\n"
            }
            svg += "</g>\n"
        }
        if s.style != .markers {
            // A non-finite value breaks the line rather than joining across the gap.
            var path = "", pen = false
            for i in s.x.indices {
                guard s.x[i].isFinite && s.y[i].isFinite else { pen = false; continue }
                path += "\(pen ? "L" : "M")\(svgNumber(xAxis.pixel(s.x[i]))) \(svgNumber(yAxis.pixel(s.y[i]))) "
                pen = true
            }
            svg += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
        }
        if s.style != .line {
            svg += "<g fill=\"\(color)\">"
            for i in points { svg += "<circle cx=\"\(svgNumber(xAxis.pixel(s.x[i])))\" cy=\"\(svgNumber(yAxis.pixel(s.y[i])))\" r=\"3\"/>" }
            svg += "</g>\n"
        }
        return svg
    }

    private func legend(plotRight: Double) -> String {
        let longest = series.map(\.name.count).max() ?? 0
        let boxWidth = 40 + 7 * Double(longest), boxHeight = 10 + 18 * Double(series.count)
        let x = plotRight - boxWidth - 8, y = Self.top + 8
        var svg = "<g><rect x=\"\(svgNumber(x))\" y=\"\(svgNumber(y))\" width=\"\(svgNumber(boxWidth))\" height=\"\(svgNumber(boxHeight))\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999\"/>\n"
        for (index, s) in series.enumerated() {
            let rowY = y + 14 + 18 * Double(index), c = color(index)
            if s.style != .markers {
                svg += "<line x1=\"\(svgNumber(x + 8))\" y1=\"\(svgNumber(rowY))\" x2=\"\(svgNumber(x + 28))\" y2=\"\(svgNumber(rowY))\" stroke=\"\(c)\" stroke-width=\"2\"/>"
            }
            if s.style != .line { svg += "<circle cx=\"\(svgNumber(x + 18))\" cy=\"\(svgNumber(rowY))\" r=\"3\" fill=\"\(c)\"/>" }
            svg += "<text x=\"\(svgNumber(x + 34))\" y=\"\(svgNumber(rowY + 4))\">\(xmlEscaped(s.name))</text>\n"
        }
        return svg + "</g>\n"
    }
}

/// One axis: maps data values to pixels and chooses its ticks.
struct Axis {
    let scale: SVGPlot.Scale
    let range: ClosedRange<Double>
    let pixels: ClosedRange<Double>
    let flipped: Bool

    private func transform(_ v: Double) -> Double { scale == .log ? log10(v) : v }

    func pixel(_ value: Double) -> Double {
        let low = transform(range.lowerBound), high = transform(range.upperBound)
        let t = high > low ? (transform(value) - low) / (high - low) : 0.5
        let span = pixels.upperBound - pixels.lowerBound
        return flipped ? pixels.upperBound - t * span : pixels.lowerBound + t * span
    }

    /// Round-number ticks: steps of 1, 2 or 5 × 10ⁿ giving about six (linear); powers of ten,
    /// with 2× and 5× between them over few decades (log).
    func ticks() -> [Double] {
        switch scale {
        case .linear:
            let step = Axis.niceStep(range.upperBound - range.lowerBound, count: 6)
            guard step > 0, step.isFinite else { return [range.lowerBound] }
            let first = (range.lowerBound / step).rounded(.up)
            return stride(from: first, through: range.upperBound / step + 1e-9, by: 1).map { ($0 * step) }
        case .log:
            let low = Int(log10(range.lowerBound).rounded(.down)), high = Int(log10(range.upperBound).rounded(.up))
            let multiples: [Double] = high - low <= 2 ? [1, 2, 5] : [1]
            return (low...high).flatMap { e in multiples.map { $0 * pow(10, Double(e)) } }.filter { range.contains($0) }
        }
    }

    static func niceStep(_ span: Double, count: Int) -> Double {
        let raw = span / Double(count)
        let magnitude = pow(10, log10(raw).rounded(.down))
        let fraction = raw / magnitude
        return (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * magnitude
    }

    /// Shortest faithful text: "0.25", "15", "1e-05".
    func label(_ value: Double) -> String {
        if Swift.abs(value) < 1e-12 { return "0" }
        if Swift.abs(value) >= 1e5 || Swift.abs(value) < 1e-3 { return String(format: "%g", value) }
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// Two decimals: SVG coordinates need no more.
private func svgNumber(_ value: Double) -> String { String(format: "%.2f", value) }

private func xmlEscaped(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
