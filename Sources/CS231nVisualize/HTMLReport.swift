import CS231nTensor
import Foundation

/// A self-contained HTML report: inline CSS, PNGs as data URIs, SVGs inline, no external
/// requests. Sections are Codable so a finished stage can be stored and reused as it is.
public struct HTMLReport: Sendable {
    public var title: String
    public var sections: [ReportSection]

    public init(title: String, sections: [ReportSection] = []) {
        self.title = title
        self.sections = sections
    }

    public func render() -> String {
        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>\(Self.style)</style>
        </head><body>
        <h1>\(escape(title))</h1>
        <nav><ol>
        """
        for (i, section) in sections.enumerated() {
            html += "<li><a href=\"#s\(i)\">\(escape(section.title))</a></li>"
        }
        html += "</ol></nav>\n"
        for (i, section) in sections.enumerated() {
            html += "<section id=\"s\(i)\"><h2>\(escape(section.title))</h2>\n"
            for block in section.blocks { html += render(block) + "\n" }
            html += "</section>\n"
        }
        return html + "</body></html>\n"
    }

    func render(_ block: ReportBlock) -> String {
        switch block {
        case .heading(let text):
            return "<h3>\(escape(text))</h3>"
        case .paragraph(let text):
            return "<p>\(escape(text))</p>"
        case .timing(let text):
            // Marked so that two runs can be compared apart from their timings.
            return "<p class=\"timing\">\(escape(text))</p>"
        case .keyValues(let pairs):
            return "<table class=\"kv\">" + pairs.map { "<tr><th>\(escape($0.key))</th><td>\(escape($0.value))</td></tr>" }.joined() + "</table>"
        case .table(let header, let rows, let highlightRow):
            var out = "<table><thead><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead><tbody>"
            for (i, row) in rows.enumerated() {
                out += (i == highlightRow ? "<tr class=\"best\">" : "<tr>") + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>"
            }
            return out + "</tbody></table>"
        case .png(let data, let caption, let width):
            let style = width.map { " style=\"width:\($0)px\"" } ?? ""
            return "<figure><img\(style) alt=\"\(escape(caption))\" src=\"data:image/png;base64,\(data.base64EncodedString())\">"
                + "<figcaption>\(escape(caption))</figcaption></figure>"
        case .svg(let svg, let caption):
            return "<figure>\(Self.stripXMLDeclaration(svg))<figcaption>\(escape(caption))</figcaption></figure>"
        }
    }

    static func stripXMLDeclaration(_ svg: String) -> String {
        guard svg.hasPrefix("<?xml"), let end = svg.range(of: "?>") else { return svg }
        return String(svg[end.upperBound...])
    }

    /// Writes the report atomically (`AtomicFile`).
    public func write(to url: URL) throws {
        try AtomicFile.write(Array(render().utf8), to: url.path)
    }

    static let style = """
    body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;background:#fff}
    h1{border-bottom:2px solid #333;padding-bottom:.3em}h2{margin-top:2em;border-bottom:1px solid #ccc}
    table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
    th{background:#f3f3f3}table.kv th{text-align:left}tr.best td{background:#e6f4e6;font-weight:bold}
    figure{display:inline-block;margin:1em 1em 1em 0;vertical-align:top}figcaption{font-size:13px;color:#555;max-width:520px}
    img{image-rendering:pixelated;border:1px solid #ddd}p.timing{color:#666;font-size:13px}nav ol{columns:2}
    """
}

public struct ReportSection: Codable, Sendable {
    public var title: String
    public var blocks: [ReportBlock]
    public init(title: String, blocks: [ReportBlock] = []) {
        self.title = title
        self.blocks = blocks
    }
}

public enum ReportBlock: Codable, Sendable {
    /// A subsection's title within a section.
    case heading(String)
    case paragraph(String)
    /// A line that differs from run to run (seconds, throughput); kept apart for comparisons.
    case timing(String)
    case keyValues([KeyValue])
    case table(header: [String], rows: [[String]], highlightRow: Int?)
    case png(Data, caption: String, width: Int?)
    case svg(String, caption: String)

    public struct KeyValue: Codable, Sendable {
        public var key: String, value: String
        public init(_ key: String, _ value: String) { self.key = key; self.value = value }
    }
}

func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.append(character)
        }
    }
    return out
}
