import CS231nTensor
import Foundation
import Testing

@Suite struct AtomicFileTests {
    func folder(_ name: String = #function) -> String {
        let path = NSTemporaryDirectory() + "cs231n-atomic-\(name.filter(\.isLetter))-\(UUID().uuidString)"
        try! FileSystem.createDirectory(atPath: path)
        return path
    }

    func entries(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    @Test func writesReplacesAndLeavesNoTemporaryFile() throws {
        let folder = folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/a.bin"
        try AtomicFile.write([1, 2, 3], to: path)
        try AtomicFile.write([4, 5], to: path)
        #expect(try FileSystem.contents(atPath: path) == [4, 5])
        #expect(entries(folder) == ["a.bin"])
    }

    @Test func failuresAreSentencesAndKeepTheOldFile() throws {
        let folder = folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(throws: FileWriteError(path: folder + "/missing/a.png",
                                       reason: "cannot create a temporary file in \(folder)/missing: the folder \(folder)/missing does not exist")) {
            try AtomicFile.write([1], to: folder + "/missing/a.png")
        }
        // A folder in the way: the rename fails, and the temporary file is removed.
        try FileSystem.createDirectory(atPath: folder + "/taken/inner")
        do {
            try AtomicFile.write([1], to: folder + "/taken")
            Issue.record("writing over a folder succeeded")
        } catch let error as FileWriteError {
            #expect(error.description.hasPrefix("cannot write \(folder)/taken: cannot move the temporary file"), "\(error)")
            #expect(!error.description.contains("Code="), "\(error)")
        }
        #expect(entries(folder) == ["taken"])
        #expect(throws: FileWriteError.self) { try AtomicFile.write([1], to: folder + "/") }
    }

    /// A pid no process has now.
    func deadPid() -> pid_t {
        var pid: pid_t = 4_000_000
        while kill(pid, 0) == 0 || errno != ESRCH { pid -= 1 }
        return pid
    }

    @Test func staleTemporaryFilesOfKilledWritesAreRemoved() throws {
        let folder = folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let dead = ".m.bin.tmp-\(deadPid())"                 // the writer was killed
        let ownEarlier = ".m.bin.tmp-\(getpid())-999999"      // an earlier process with our pid
        let reused = ".m.bin.tmp-1-7"                          // pid 1 exists, but started after the file
        let running = ".m.bin.tmp-1-8"                         // may be a write in progress: kept
        let otherTarget = ".n.bin.tmp-\(deadPid())"            // another file's: not ours to remove
        let unrelated = ".m.bin.tmp-12x"                       // not a name the writer makes
        for name in [dead, ownEarlier, reused, running, otherTarget, unrelated] {
            #expect(FileManager.default.createFile(atPath: folder + "/" + name, contents: Data([0])))
        }
        var old = [timeval(tv_sec: 1, tv_usec: 0), timeval(tv_sec: 1, tv_usec: 0)]
        #expect(utimes(folder + "/" + reused, &old) == 0)
        try AtomicFile.write([7], to: folder + "/m.bin")
        var expected = [otherTarget, unrelated, running, "m.bin"]
        #if !os(Linux)
        expected.append(reused) // the start time of another process is known only from /proc
        #endif
        #expect(entries(folder) == expected.sorted())
    }

    @Test func destinationsAreCheckedBeforeALongRun() throws {
        let folder = folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try AtomicFile.checkWritable(folder + "/model.safetensors")
        #expect(throws: FileWriteError(path: folder + "/no/such/model.safetensors",
            reason: "cannot create a temporary file in \(folder)/no/such: the folder \(folder)/no/such does not exist")) {
            try AtomicFile.checkWritable(folder + "/no/such/model.safetensors")
        }
        #expect(throws: FileWriteError(path: folder, reason: "a folder of that name is in the way")) {
            try AtomicFile.checkWritable(folder)
        }
        #expect(entries(folder).isEmpty, "nothing is written")
        let long = folder + "/" + String(repeating: "n", count: AtomicFile.longestName + 1)
        #expect(throws: FileWriteError.self) { try AtomicFile.checkWritable(long) }
        #expect(throws: FileWriteError.self) { try AtomicFile.write([1], to: long) }
        try AtomicFile.write([1], to: folder + "/" + String(repeating: "n", count: AtomicFile.longestName))
        #expect(entries(folder) == [String(repeating: "n", count: AtomicFile.longestName)])
    }

    @Test func createDirectoryNamesWhatIsInTheWay() throws {
        let folder = folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileSystem.createDirectory(atPath: folder + "/a/b/c")
        try FileSystem.createDirectory(atPath: folder + "/a/b")
        #expect(FileManager.default.createFile(atPath: folder + "/file", contents: Data([1])))
        #expect(throws: FileWriteError(path: folder + "/file/sub",
                                       reason: "cannot create the folder: \(folder)/file exists and is not a folder")) {
            try FileSystem.createDirectory(atPath: folder + "/file/sub")
        }
    }

    @Test func contentsRefusesWhatIsNotARegularFile() throws {
        #expect(throws: FileReadError(path: "/dev/zero", reason: "it is not a regular file")) { try FileSystem.contents(atPath: "/dev/zero") }
        #expect(throws: FileReadError(path: "/", reason: "it is a folder")) { try FileSystem.contents(atPath: "/") }
        #expect(throws: FileReadError(path: "/no/such", reason: "no such file")) { try FileSystem.contents(atPath: "/no/such") }
    }
}
