import CS231nTensor
import Foundation
import Testing

@Suite struct OutputChecksTests {
    @Test func foldersToCreateAreCheckedWithoutCreatingThem() throws {
        let root = NSTemporaryDirectory() + "cs231n-output-checks-\(UUID().uuidString)"
        try FileSystem.createDirectory(atPath: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileSystem.checkCreatable(directory: root)
        try FileSystem.checkCreatable(directory: root + "/new/deeper")
        try FileSystem.checkCreatable(directory: "")
        #expect(!FileManager.default.fileExists(atPath: root + "/new"), "checking creates nothing")
        #expect(FileManager.default.createFile(atPath: root + "/file", contents: Data()))
        #expect(throws: FileWriteError(path: root + "/file/sub", reason: "cannot create the folder: \(root)/file exists and is not a folder")) {
            try FileSystem.checkCreatable(directory: root + "/file/sub")
        }
        #expect(throws: FileWriteError(path: root + "/file", reason: "cannot create the folder: \(root)/file exists and is not a folder")) {
            try FileSystem.checkCreatable(directory: root + "/file")
        }
    }

    @Test func foundationFileErrorsBecomeSentences() throws {
        let root = NSTemporaryDirectory() + "cs231n-output-checks-\(UUID().uuidString)"
        try FileSystem.createDirectory(atPath: root)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(FileManager.default.createFile(atPath: root + "/a", contents: Data()))
        #expect(FileManager.default.createFile(atPath: root + "/b", contents: Data()))
        do {
            try FileManager.default.moveItem(atPath: root + "/a", toPath: root + "/b")
            Issue.record("moving over an existing file succeeded")
        } catch {
            let sentence = try #require(FileSystem.sentence(for: error))
            #expect(sentence.contains(root) && !sentence.contains("Code="), "\(sentence)")
        }
        do {
            _ = try FileManager.default.contentsOfDirectory(atPath: root + "/missing")
            Issue.record("listing a missing folder succeeded")
        } catch {
            let sentence = try #require(FileSystem.sentence(for: error))
            #expect(sentence == "\(root)/missing: no such file or folder", "\(sentence)")
        }
        #expect(FileSystem.sentence(for: FileWriteError(path: "x", reason: "y")) == nil, "our own errors are sentences already")
    }
}
