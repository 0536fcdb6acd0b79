import CS231nTensor
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why a download failed.
public enum DownloadError: Error, Equatable, CustomStringConvertible {
    case unreachable(url: String, reason: String)
    case httpStatus(url: String, status: Int)
    case incomplete(url: String, received: Int64, expected: Int64)
    case checksumMismatch(path: String, expected: String, actual: String)

    public var description: String {
        switch self {
        case .unreachable(let url, let reason):
            return "cannot download \(url): \(reason)"
        case .httpStatus(let url, let status):
            return "cannot download \(url): the server answered HTTP \(status)"
        case .incomplete(let url, let received, let expected):
            return "the download of \(url) stopped after \(received) of \(expected) bytes; nothing was kept"
        case .checksumMismatch(let path, let expected, let actual):
            return "\(path) has MD5 \(actual), expected \(expected): the file is damaged or not the official "
                + "archive; it was not used"
        }
    }
}

/// HTTPS downloads streamed to disk: the file appears under its name only once complete and,
/// when a digest is given, verified.
public enum Downloader {
    /// Fetches `url` into `destination`, via `destination.part`. `progress` receives the bytes
    /// so far and the total when the server tells it.
    public static func fetch(_ url: URL, to destination: String, md5 expected: String?,
                             progress: @escaping @Sendable (Int64, Int64?) -> Void = { _, _ in }) throws {
        let partial = destination + ".part"
        unlink(partial)
        guard FileManager.default.createFile(atPath: partial, contents: nil),
              let handle = FileHandle(forWritingAtPath: partial) else {
            throw FileWriteError(path: partial, reason: String(cString: strerror(errno)))
        }
        let receiver = StreamReceiver(handle: handle, url: url.absoluteString, progress: progress)
        let configuration = URLSessionConfiguration.default
        configuration.timeoutIntervalForRequest = 30
        let session = URLSession(configuration: configuration, delegate: receiver, delegateQueue: nil)
        session.dataTask(with: url).resume()
        receiver.finished.wait()
        session.finishTasksAndInvalidate()
        try? handle.close()
        do {
            let digest = try receiver.result()
            if let expected, digest != expected.lowercased() {
                throw DownloadError.checksumMismatch(path: url.absoluteString, expected: expected, actual: digest)
            }
            guard rename(partial, destination) == 0 else {
                throw FileWriteError(path: destination, reason: String(cString: strerror(errno)))
            }
        } catch {
            unlink(partial)
            throw error
        }
    }

    /// The MD5 of a file, read in 4 MiB pieces.
    public static func md5(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CIFARError.unreadableFile(path: path, reason: "cannot open it")
        }
        defer { try? handle.close() }
        var md5 = MD5()
        while let piece = try handle.read(upToCount: 4 << 20), !piece.isEmpty {
            piece.withUnsafeBytes { md5.update($0) }
        }
        return md5.finalize()
    }
}

/// Writes the response body to a file as it arrives, hashing it on the way. URLSession calls
/// the delegate methods one at a time, and `finished` orders them before `result()`.
final class StreamReceiver: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let handle: FileHandle
    private let url: String
    private let progress: @Sendable (Int64, Int64?) -> Void
    private var md5 = MD5()
    private var received: Int64 = 0
    private var expected: Int64?
    private var failure: Error?
    let finished = DispatchSemaphore(value: 0)

    init(handle: FileHandle, url: String, progress: @escaping @Sendable (Int64, Int64?) -> Void) {
        self.handle = handle
        self.url = url
        self.progress = progress
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        if let http = response as? HTTPURLResponse, http.statusCode != 200 {
            failure = DownloadError.httpStatus(url: url, status: http.statusCode)
            completionHandler(.cancel)
            return
        }
        expected = response.expectedContentLength > 0 ? response.expectedContentLength : nil
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard failure == nil else { return }
        do {
            try handle.write(contentsOf: data)
        } catch {
            failure = FileWriteError(path: url, reason: error.localizedDescription)
            dataTask.cancel()
            return
        }
        data.withUnsafeBytes { md5.update($0) }
        received += Int64(data.count)
        progress(received, expected)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if failure == nil, let error {
            failure = DownloadError.unreachable(url: url, reason: error.localizedDescription)
        }
        finished.signal()
    }

    /// The MD5 of the body, or why it is not complete.
    func result() throws -> String {
        if let failure { throw failure }
        if let expected, received != expected {
            throw DownloadError.incomplete(url: url, received: received, expected: expected)
        }
        return md5.finalize()
    }
}
