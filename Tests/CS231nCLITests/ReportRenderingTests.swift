import CS231n
import Foundation
import Testing

/// Renders the demo's report.html in a real browser (headless Chromium) and checks what a
/// person would see: a page that is not blank and as tall as its content.
struct ReportRenderingTests {
    static var tool: URL { TestEnvironment.tool }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = try start(executable, arguments)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Starts `executable` with its output discarded; the caller waits for it.
    static func start(_ executable: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test(.enabled(if: TestEnvironment.toolIsBuilt, "\(TestEnvironment.toolMissing)"),
          .enabled(if: TestEnvironment.chromium != nil, "Chromium is not installed (apt-get install chromium)"))
    func reportRendersInChromium() throws {
        let chromium = try #require(TestEnvironment.chromium)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cs231n-report-\(getpid())")
        defer { try? FileManager.default.removeItem(at: folder) }
        // The data stage (the sample grid) and the conv net's stage, whose "Understanding the net"
        // section holds the occlusion maps, the feature-space neighbours and the t-SNE map.
        #expect(try Self.run(Self.tool.path, ["demo", "--stages", "data,convnet", "--num-train", "500", "--num-val", "60",
                                              "-o", folder.path]) == 0)
        let report = folder.appendingPathComponent("report.html")
        let html = try String(contentsOf: report, encoding: .utf8)
        #expect(html.contains("data:image/png;base64,"))
        // An inline SVG's namespace is a name, not a request.
        let requests = html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "")
        #expect(!requests.contains("http://") && !requests.contains("https://"), "the report makes no external requests")
        #expect(html.contains("Understanding the net") && html.contains("Occlusion sensitivity") && html.contains("t-SNE"))

        let screenshot = folder.appendingPathComponent("shot.png")
        let windowHeight = 12_000
        try Self.run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                "--window-size=1200,\(windowHeight)", "--screenshot=\(screenshot.path)", report.absoluteString])
        let image = try PNGImage.decode(Array(try Data(contentsOf: screenshot)), source: screenshot.path)
        #expect(image.width == 1200 && image.height == windowHeight)

        // The last row that is not plain white is where the page's content ends.
        let stride = image.width * image.channels
        var contentBottom = 0, inkPixels = 0
        for y in 0..<image.height {
            var rowHasInk = false
            for x in 0..<image.width where image.pixels[y * stride + x * image.channels] < 250 {
                rowHasInk = true
                inkPixels += 1
            }
            if rowHasInk { contentBottom = y }
        }
        #expect(inkPixels > image.width * image.height / 50, "the page is not blank")
        // The sample grid alone is 10 rows of 64-pixel tiles; with the headings and tables the
        // page must be taller than that, and it must end before the window does.
        #expect(contentBottom > 10 * 64 + 300, "content ends at \(contentBottom)")
        #expect(contentBottom < windowHeight - 50)
    }
}
