import Apply
import Foundation
import Rollout
import TestSupport
import Testing

/// `cutover history` lists the journal newest first, like the dashboard's History view, and names a group a
/// change created as new (not `-→10%`); `--version` prints the version.
@Suite struct HistoryTextTests {
    static func record(_ id: String, minutesAgo: Double, groups: [String], before: [String: Double], after: [String: Double]) -> JournalRecord {
        JournalRecord(id: id, time: Date().addingTimeInterval(-minutesAgo * 60), user: "ops", host: "bastion",
                      change: ChangeDescription(action: "set", endpoints: ["/v2/a"], groups: groups, percentsBefore: before, percentsAfter: after),
                      outcome: .applied, message: "applied: 1 file(s) validated, swapped in and nginx reloaded", files: [],
                      configHashBefore: "a", configHashAfter: "b", validate: nil, reload: nil, verify: nil, undoes: nil)
    }

    @Test func newestFirstAndNewGroupsNamed() throws {
        let dir = try TempDir(prefix: "cutover-history-text")
        let journal = Journal(path: dir.path + "/state/cutover/journal.jsonl")
        try FileManager.default.createDirectory(atPath: dir.path + "/state/cutover", withIntermediateDirectories: true)
        try journal.append(Self.record("old", minutesAgo: 30, groups: ["group2_routing"], before: ["group2_routing": 5], after: ["group2_routing": 10]))
        try journal.append(Self.record("new", minutesAgo: 1, groups: ["group6_routing"], before: [:], after: ["group6_routing": 10]))
        let env = ["XDG_STATE_HOME": dir.path + "/state", "HOME": dir.path, "XDG_CONFIG_HOME": dir.path + "/config"]
        let result = try runCutover(["history"], cwd: dir.path, env: env)
        try #require(result.exitCode == 0, "\(result)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.contains("group6_routing new at 10%") == true, "newest first: \(lines)")
        #expect(lines.last?.contains("group2_routing 5%→10%") == true)
        #expect(!result.stdout.contains("-→"))
        let last = try runCutover(["history", "--last", "1"], cwd: dir.path, env: env)
        #expect(last.stdout.contains("group6_routing") && !last.stdout.contains("group2_routing"), "--last keeps the newest")

        let version = try runCutover(["--version"], cwd: dir.path, env: env)
        #expect(version.exitCode == 0 && version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3,
                "\(version)")
    }

    @Test func anEndpointsOwnPercentsAreShownWhenTheRecordKeepsThem() throws {
        let dir = try TempDir(prefix: "cutover-history-endpoints")
        let journal = Journal(path: dir.path + "/state/cutover/journal.jsonl")
        try FileManager.default.createDirectory(atPath: dir.path + "/state/cutover", withIntermediateDirectories: true)
        let ping = EndpointID(raw: "/v2/status/ping")
        let typed = ChangeDescription(action: "rollback", endpoints: ["ping"], endpointIDs: [ping],
                                      endpointPercentsBefore: [ping: 10], endpointPercentsAfter: [ping: 0])
        try journal.append(JournalRecord(id: "typed", time: Date(), user: "ops", host: "bastion", change: typed, outcome: .applied,
                                         message: "applied", files: [], configHashBefore: "a", configHashAfter: "b"))
        let env = ["XDG_STATE_HOME": dir.path + "/state", "HOME": dir.path, "XDG_CONFIG_HOME": dir.path + "/config"]
        let result = try runCutover(["history"], cwd: dir.path, env: env)
        try #require(result.exitCode == 0, "\(result)")
        #expect(result.stdout.contains("endpoints: ping 10%→0%"), "\(result.stdout)")
    }
}
