import Apply
import Foundation
import TestSupport
import Testing

@Suite struct JournalTests {
    func record(_ id: String, outcome: ApplyOutcome = .applied, undoes: String? = nil) -> JournalRecord {
        JournalRecord(id: id, time: Date(timeIntervalSince1970: 1_790_000_000), user: "ops", host: "edge-1",
                      change: ChangeDescription(action: "set-percent", endpoints: ["/v2/a"], groups: ["group1"],
                                                percentsBefore: ["group1": 10], percentsAfter: ["group1": 25], reason: "ramp"),
                      outcome: outcome, message: "m", files: [FileRecord(path: "/x", hashBefore: "a", hashAfter: "b", diff: "d")],
                      configHashBefore: "a", configHashAfter: "b", undoes: undoes)
    }

    @Test func appendsOneLinePerRecordAndReadsThemBack() throws {
        let dir = try TempDir()
        let journal = Journal(path: dir.file("state/cutover/journal.jsonl"))
        #expect(try journal.records().isEmpty)
        try journal.append(record("1"))
        try journal.append(record("2", outcome: .validationRefused))
        let text = try dir.read("state/cutover/journal.jsonl")
        #expect(text.split(separator: "\n").count == 2)
        #expect(text.hasSuffix("\n"))
        let records = try journal.records()
        #expect(records.map(\.id) == ["1", "2"])
        #expect(records[0] == record("1"))
        #expect(records[1].outcome == .validationRefused)
        #expect(text.contains("\"outcome\":\"validation-refused\""))
    }

    @Test func toleratesATornLastLine() throws {
        let dir = try TempDir()
        let journal = Journal(path: dir.file("journal.jsonl"))
        try journal.append(record("1"))
        let handle = try #require(FileHandle(forWritingAtPath: journal.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"id\":\"2\",\"ti".utf8))
        try handle.close()
        #expect(try journal.records().map(\.id) == ["1"])
    }

    @Test func refusesACorruptLineInTheMiddle() throws {
        let dir = try TempDir()
        let journal = Journal(path: dir.file("journal.jsonl"))
        try journal.append(record("1"))
        let handle = try #require(FileHandle(forWritingAtPath: journal.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("garbage\n".utf8))
        try handle.close()
        try journal.append(record("3"))
        #expect(throws: ApplyError.self) { try journal.records() }
    }

    @Test func defaultPathFollowsXDGStateHome() {
        #expect(Journal.defaultPath(environment: ["XDG_STATE_HOME": "/s", "HOME": "/h"]) == "/s/cutover/journal.jsonl")
        #expect(Journal.defaultPath(environment: ["HOME": "/h"]) == "/h/.local/state/cutover/journal.jsonl")
    }

    @Test func summaryIsOneReadableLine() {
        var r = record("0123456789")
        r.validate = StepRecord(command: ["nginx", "-t"], succeeded: true, exitCode: 0, durationMs: 23.4, message: "")
        #expect(r.summary == "2026-09-21T14:13:20Z  ops@edge-1  set-percent  /v2/a  group1 10%->25%  applied  (validate 23 ms)  — ramp")
    }

    @Test func lastUndoableWalksBackPastUndoneChanges() throws {
        let dir = try TempDir()
        let journal = Journal(path: dir.file("journal.jsonl"))
        try journal.append(record("1"))
        try journal.append(record("2"))
        try journal.append(record("3", outcome: .validationRefused))
        #expect(try journal.lastUndoable()?.id == "2")
        try journal.append(record("4", undoes: "2"))
        #expect(try journal.lastUndoable()?.id == "1")
        try journal.append(record("5", undoes: "1"))
        #expect(try journal.lastUndoable() == nil)
    }
}
