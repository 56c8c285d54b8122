import Foundation
import Testing
import TestSupport
@testable import AccessLog

/// Collects the lines a follower hands out.
final class LineCollector {
    var lines: [String] = []
    var oversized: [Int] = []

    func poll(_ follower: LogFollower) {
        follower.poll(onOversized: { _, _, length in self.oversized.append(length) }) { _, line in
            self.lines.append(String(decoding: line, as: UTF8.self))
        }
    }
}

@Suite struct LogFollowerTests {
    let simple = LogFormat.combined

    func line(_ n: Int, second: Int = 24) -> String {
        "10.0.0.\(n % 250) - - [28/Nov/2026:01:55:\(String(format: "%02d", second)) +0000] \"GET /item/\(n) HTTP/1.1\" 200 1 \"-\" \"t\"\n"
    }

    @Test func followsAppendsAndWaitsForPartialLines() throws {
        let dir = try LogTempDirectory("follow-append")
        defer { dir.remove() }
        try dir.write("access.log", line(0))
        let clock = ManualSecondsClock()
        let follower = LogFollower(sources: [LogSource(path: dir.file("access.log"), role: .main)], start: .end(lookBackSeconds: nil),
                                   clock: { clock.now() })
        let collector = LineCollector()
        collector.poll(follower)
        #expect(collector.lines.isEmpty)  // started at the end
        try dir.append("access.log", line(1) + "partial")
        collector.poll(follower)
        #expect(collector.lines.count == 1)
        #expect(collector.lines.first?.contains("/item/1 ") == true)
        try dir.append("access.log", " rest\n")
        collector.poll(follower)
        #expect(collector.lines.last == "partial rest")
        collector.poll(follower)
        #expect(collector.lines.count == 2)
    }

    @Test func startingMidLineSkipsTheUnfinishedLine() throws {
        let dir = try LogTempDirectory("follow-midline")
        defer { dir.remove() }
        try dir.write("access.log", line(0) + "half a li")
        let follower = LogFollower(sources: [LogSource(path: dir.file("access.log"), role: .main)], start: .end(lookBackSeconds: nil))
        let collector = LineCollector()
        try dir.append("access.log", "ne\n" + line(2))
        collector.poll(follower)
        #expect(collector.lines.count == 1)
        #expect(collector.lines.first?.contains("/item/2 ") == true)
        #expect(collector.oversized.isEmpty)
    }

    @Test func renameRotationFinishesTheOldFileThenSwitches() throws {
        let dir = try LogTempDirectory("follow-rename")
        defer { dir.remove() }
        try dir.write("access.log", "")
        let clock = ManualSecondsClock()
        let follower = LogFollower(sources: [LogSource(path: dir.file("access.log"), role: .main)], start: .beginning,
                                   clock: { clock.now() }, retireAfter: 5)
        let collector = LineCollector()
        try dir.append("access.log", line(1))
        collector.poll(follower)
        // logrotate renames; nginx keeps writing to the renamed file until it reopens.
        try FileManager.default.moveItem(atPath: dir.file("access.log"), toPath: dir.file("access.log.1"))
        try dir.append("access.log.1", line(2))
        collector.poll(follower)
        try dir.append("access.log.1", line(3))
        try dir.write("access.log", line(4))
        collector.poll(follower)
        try dir.append("access.log.1", line(5))  // a late write to the old file is still read
        try dir.append("access.log", line(6))
        clock.advance(1)
        collector.poll(follower)
        clock.advance(10)
        collector.poll(follower)
        collector.poll(follower)
        let items = collector.lines.compactMap { $0.split(separator: " ").dropFirst(6).first.map(String.init) }
        #expect(items.sorted() == (1...6).map { "/item/\($0)" })
    }

    @Test func copyTruncateRestartsFromTheTop() throws {
        let dir = try LogTempDirectory("follow-copytruncate")
        defer { dir.remove() }
        try dir.write("access.log", line(1) + line(2))
        let follower = LogFollower(sources: [LogSource(path: dir.file("access.log"), role: .main)], start: .beginning)
        let collector = LineCollector()
        collector.poll(follower)
        #expect(collector.lines.count == 2)
        try FileManager.default.copyItem(atPath: dir.file("access.log"), toPath: dir.file("access.log.1"))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("access.log")))
        try handle.truncate(atOffset: 0)
        try handle.close()
        try dir.append("access.log", line(3))
        collector.poll(follower)
        #expect(collector.lines.count == 3)
        #expect(collector.lines.last?.contains("/item/3 ") == true)
        // Truncated and refilled past the old offset before the next poll: detected by content, not size.
        try dir.append("access.log", line(4))
        collector.poll(follower)
        let h2 = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("access.log")))
        try h2.truncate(atOffset: 0)
        try h2.close()
        try dir.append("access.log", line(15) + line(16) + line(17))
        collector.poll(follower)
        #expect(collector.lines.suffix(3).map { $0.contains("/item/1") } == [true, true, true])
        #expect(collector.lines.count == 7)
    }

    @Test func deleteAndCreate() throws {
        let dir = try LogTempDirectory("follow-delete")
        defer { dir.remove() }
        try dir.write("access.log", line(1))
        let clock = ManualSecondsClock()
        let follower = LogFollower(sources: [LogSource(path: dir.file("access.log"), role: .main)], start: .beginning,
                                   clock: { clock.now() }, retireAfter: 2)
        let collector = LineCollector()
        collector.poll(follower)
        try FileManager.default.removeItem(atPath: dir.file("access.log"))
        collector.poll(follower)
        #expect(collector.lines.count == 1)
        try dir.write("access.log", line(2) + line(3))
        collector.poll(follower)
        clock.advance(3)
        collector.poll(follower)
        try dir.append("access.log", line(4))
        collector.poll(follower)
        #expect(collector.lines.count == 4)
        #expect(collector.lines.last?.contains("/item/4 ") == true)
    }

    @Test func readsRotatedPartsFromTheStartAndLooksBackByLogTime() throws {
        let dir = try LogTempDirectory("follow-lookback")
        defer { dir.remove() }
        try dir.write("access.log.1", line(1, second: 1) + line(2, second: 2))
        var text = ""
        for second in 0..<60 { text += line(100 + second, second: second) }
        try dir.write("access.log", text)
        let whole = LogFollower(sources: [LogSource(path: dir.file("access.log.1"), role: .main),
                                          LogSource(path: dir.file("access.log"), role: .main)], start: .beginning)
        let all = LineCollector()
        all.poll(whole)
        #expect(all.lines.count == 62)
        #expect(all.lines.first?.contains("/item/1 ") == true)
        let recent = LogFollower(sources: [LogSource(path: dir.file("access.log"), role: .main)], start: .end(lookBackSeconds: 10),
                                 chunkSize: 4096)
        let tail = LineCollector()
        tail.poll(recent)
        #expect(tail.lines.count == 11)
        #expect(tail.lines.first?.contains("01:55:49") == true)
    }

    @Test func reportsOversizedLinesAndKeepsGoing() throws {
        let dir = try LogTempDirectory("follow-oversized")
        defer { dir.remove() }
        try dir.write("access.log", "")
        let follower = LogFollower(sources: [LogSource(path: dir.file("access.log"), role: .main)], start: .beginning,
                                   chunkSize: 4096, maxLineLength: 1000)
        let collector = LineCollector()
        try dir.append("access.log", line(1) + String(repeating: "x", count: 10_000) + "\n" + line(2))
        try dir.append("access.log", [0xFF, 0x00, 0xC3, 0x0A])
        collector.poll(follower)
        #expect(collector.oversized == [10_000])
        #expect(follower.oversizedLines == [1])
        #expect(collector.lines.count == 3)
        #expect(collector.lines[1].contains("/item/2 "))
    }

    /// A line longer than `maxLineLength` is reported whether or not it fits in one read (it used to be delivered
    /// when it did), and its sample is the line's first bytes (it used to be the bytes of the last read).
    @Test func oversizedLinesDoNotDependOnWhereReadsFall() throws {
        let dir = try LogTempDirectory("follow-oversized-aligned")
        defer { dir.remove() }
        let long = "HEAD" + String(repeating: "y", count: 2_000) + "\n"
        let longer = "FRONT" + String(repeating: "z", count: 9_000) + "\n"
        try dir.write("access.log", line(1) + long + line(2) + longer + line(3))
        let follower = LogFollower(sources: [LogSource(path: dir.file("access.log"), role: .main)], start: .beginning,
                                   chunkSize: 4096, maxLineLength: 1000)
        var heads: [String] = []
        var lengths: [Int] = []
        var lines: [String] = []
        follower.poll(onOversized: { _, head, length in
            heads.append(String(decoding: head, as: UTF8.self))
            lengths.append(length)
        }) { _, line in lines.append(String(decoding: line, as: UTF8.self)) }
        #expect(lengths == [2_004, 9_005])
        #expect(heads.map { String($0.prefix(5)) } == ["HEADy", "FRONT"])
        #expect(heads.allSatisfy { $0.utf8.count == 256 })
        #expect(follower.oversizedLines == [2])
        #expect(lines.count == 3)
    }
}

@Suite struct LogLookBackTests {
    func line(_ minute: Int, _ second: Int) -> String {
        "10.0.0.1 - - [28/Nov/2026:01:\(String(format: "%02d", minute)):\(String(format: "%02d", second)) +0000] \"GET /m\(minute)s\(second) HTTP/1.1\" 200 1 \"-\" \"t\"\n"
    }

    @Test func binarySearchesBigFilesAndKeepsAnUnfinishedLastLine() throws {
        let dir = try LogTempDirectory("lookback-big")
        defer { dir.remove() }
        var text = ""
        // An hour of lines, slightly out of order, about 500 KB: the search must probe, not read everything.
        for minute in 0..<60 {
            for second in stride(from: 0, to: 60, by: 5) {
                text += line(minute, second)
                text += line(minute, max(0, second - 1))
            }
        }
        try dir.write("access.log", text + String(line(59, 59).dropLast()))
        let follower = LogFollower(sources: [LogSource(path: dir.file("access.log"), role: .main)], start: .end(lookBackSeconds: 30),
                                   chunkSize: 4096)
        let collector = LineCollector()
        collector.poll(follower)
        // The newest time is 01:59:59 (the unfinished line), so lines from 01:59:29 on: 12 complete ones.
        #expect(collector.lines.first?.contains("01:59:30") == true)
        #expect(collector.lines.count == 12)
        try dir.append("access.log", "\n")
        collector.poll(follower)
        #expect(collector.lines.last?.contains("/m59s59 ") == true)
        #expect(collector.lines.count == 13)
    }
}

@Suite struct LogFileErrorTests {
    @Test func reportsUnopenableFilesButNotMissingOnes() throws {
        let dir = try LogTempDirectory("follow-unopenable")
        defer { dir.remove() }
        try dir.write("plain.log", "x\n")
        // A path through a regular file fails with ENOTDIR, whoever runs the test (root reads any file).
        let follower = LogFollower(sources: [LogSource(path: dir.file("missing.log"), role: .main),
                                             LogSource(path: dir.file("plain.log/access.log"), role: .main)], start: .beginning)
        #expect(follower.fileErrors[0] == nil)
        #expect(follower.fileErrors[1]?.code == ENOTDIR)
        #expect(follower.fileErrors[1]?.description.contains("plain.log/access.log") == true)
        #expect(LogFileError(path: "/var/log/nginx/access.log", code: EACCES).description.contains("permissions"))
    }
}
