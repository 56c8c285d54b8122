import Apply
import Foundation
import TestSupport
import Testing

/// The real `cutover` binary editing a reference-pattern routing file that a real nginx serves.
@Suite struct CLIApplyTests {
    /// The lines of `new` that differ from `old`, by position (both must have the same number of lines).
    static func changedLines(_ old: String, _ new: String) -> [(old: String, new: String)] {
        let a = old.components(separatedBy: "\n"), b = new.components(separatedBy: "\n")
        guard a.count == b.count else { return [(old: "\(a.count) lines", new: "\(b.count) lines")] }
        return zip(a, b).filter { $0 != $1 }.map { (old: $0, new: $1) }
    }

    /// The entry lines (trimmed) of every `split_clients` block of a routing file.
    static func splitClientsEntries(_ text: String) -> [[String]] {
        var blocks: [[String]] = []
        var current: [String]?
        for line in text.components(separatedBy: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("split_clients ") {
                current = []
            } else if trimmed == "}", let entries = current {
                blocks.append(entries)
                current = nil
            } else if current != nil, !trimmed.isEmpty, !trimmed.hasPrefix("#") {
                current?.append(trimmed)
            }
        }
        return blocks
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    /// The `cutover routes --json` document.
    static func routes(_ setup: CLIReferenceNginx) throws -> [String: Any] {
        let result = try setup.cutover(["routes", "--json", "--config", setup.routingPath])
        try #require(result.exitCode == 0, "\(result)")
        return try json(result.stdout)
    }

    static func endpointPercent(_ routes: [String: Any], pattern: String) -> Double? {
        let endpoints = routes["endpoints"] as? [[String: Any]] ?? []
        return endpoints.first { $0["pattern"] as? String == pattern }?["percent"] as? Double
            ?? (endpoints.first { $0["pattern"] as? String == pattern }?["percent"] as? Int).map(Double.init)
    }

    @Test func setAppliesOneLineThatNginxServesAndJournals() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let before = try setup.routingText()
        let client = HTTPTestClient(port: setup.frontPort)
        #expect(try setup.newShare(client, path: "/v2/orders/7", count: 40) < 40, "orders start in the 50% group")

        // A dry run prints the diff and changes nothing.
        let dry = try setup.cutover(["set", "orders", "--percent", "100", "--dry-run", "--config", setup.routingPath])
        #expect(dry.exitCode == 0, "\(dry)")
        #expect(dry.stdout.contains("--- a\(setup.routingPath)") && dry.stdout.contains("+++ b\(setup.routingPath)"), "\(dry.stdout)")
        #expect(dry.stdout.contains(#"-    ~^/v2/orders/(\d+)$ "$group2_routing";"#), "\(dry.stdout)")
        #expect(dry.stdout.contains(#"+    ~^/v2/orders/(\d+)$ "$group3_routing";"#), "\(dry.stdout)")
        #expect(try setup.routingText() == before)
        #expect(setup.journalLines().isEmpty)

        let result = try setup.cutoverReloading(["set", "orders", "--percent", "100", "--yes", "--reason", "itest", "--config", setup.routingPath],
                                                client: client)
        try #require(result.exitCode == 0, "\(result)")
        #expect(!result.stdout.contains("applied: applied:"), "the outcome is said once: \(result.stdout)")
        let after = try setup.routingText()
        let changed = Self.changedLines(before, after)
        #expect(changed.count == 1, "changed lines: \(changed)")
        #expect(changed.first?.new == #"    ~^/v2/orders/(\d+)$ "$group3_routing";"#, "\(changed)")
        #expect(Self.endpointPercent(try Self.routes(setup), pattern: #"~^/v2/orders/(\d+)$"#) == 100)
        let journal = setup.journalLines()
        #expect(journal.count == 1 && journal.first?.contains("\"applied\"") == true, "\(journal)")
        // Every request now reaches the new service.
        #expect(try setup.newShare(client, path: "/v2/orders/7", count: 60) == 60)
        #expect(try setup.newShare(client, path: "/v2/orders/7/items", count: 10) == 0, "a near miss stays on the current service")

        // Back to 50%: the split roughly follows (60 requests: 4 sd of a binomial is about 26%).
        let half = try setup.cutoverReloading(["set", "orders", "--percent", "50", "--yes", "--config", setup.routingPath], client: client)
        try #require(half.exitCode == 0, "\(half)")
        #expect(try setup.routingText() == before)
        let share = Double(try setup.newShare(client, path: "/v2/orders/7", count: 60)) / 60
        #expect(abs(share - 0.5) <= 0.26, "50% configured, \(Int(share * 100))% observed")

        let history = try setup.cutover(["history", "--json"])
        try #require(history.exitCode == 0, "\(history)")
        let changes = try #require(try Self.json(history.stdout)["changes"] as? [[String: Any]])
        #expect(changes.count == 2)
        #expect(changes.compactMap { $0["outcome"] as? String } == ["applied", "applied"], "\(changes)")
    }

    @Test func routesJSONHasExactlyTheDocumentedKeys() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        // An endpoint in a group that does not exist gives a problem to check the problem shape too.
        let broken = try setup.routingText().replacingOccurrences(of: #"/v2/status/ping "$group3_routing";"#,
                                                                  with: #"/v2/status/ping "$group9_routing";"#)
        try broken.write(toFile: setup.routingPath, atomically: true, encoding: .utf8)
        let document = try Self.routes(setup)
        #expect(Set(document.keys) == ["config", "groups", "endpoints", "problems"])
        #expect(document["config"] as? String == setup.routingPath)
        let groups = try #require(document["groups"] as? [[String: Any]])
        #expect(groups.count == 3)
        for group in groups { #expect(Set(group.keys) == ["name", "key", "percent", "file", "line"], "\(group)") }
        #expect(groups.compactMap { $0["name"] as? String } == ["group1_routing", "group2_routing", "group3_routing"])
        #expect(groups.map { ($0["percent"] as? Int) ?? -1 } == [30, 50, 100])
        let endpoints = try #require(document["endpoints"] as? [[String: Any]])
        #expect(endpoints.count == 3)
        for endpoint in endpoints {
            #expect(Set(endpoint.keys) == ["name", "pattern", "id", "target", "group", "percent", "file", "line"], "\(endpoint)")
            #expect(endpoint["id"] as? String == endpoint["pattern"] as? String, "no key here is escaped, so its identity reads as its pattern")
            #expect(endpoint["file"] as? String == setup.routingPath)
        }
        #expect(endpoints.compactMap { $0["pattern"] as? String } == ReferenceRouting.endpoints.map(\.key))
        #expect(endpoints.compactMap { $0["target"] as? String } == ReferenceRouting.endpoints.map(\.target))
        let problems = try #require(document["problems"] as? [[String: Any]])
        #expect(!problems.isEmpty, "an endpoint in an undefined group is a problem")
        for problem in problems { #expect(Set(problem.keys) == ["severity", "message", "file", "line"], "\(problem)") }
    }

    @Test func refusedEditsAndFailingCommandsLeaveFileAndNginxAsTheyWere() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let before = try setup.routingText()
        let client = HTTPTestClient(port: setup.frontPort)
        let workers = setup.workers()
        #expect(!workers.isEmpty)

        // Usage errors (a percent out of range) and edits Cutover refuses (an unknown endpoint or group).
        let outOfRange = try setup.cutover(["group", "group1_routing", "--percent", "100.5", "--yes", "--config", setup.routingPath])
        #expect([64, 3].contains(outOfRange.exitCode), "\(outOfRange)")
        #expect(outOfRange.stderr.contains("100.5"), "\(outOfRange)")
        let unknownEndpoint = try setup.cutover(["set", "nosuchendpoint", "--percent", "50", "--yes", "--config", setup.routingPath])
        #expect(unknownEndpoint.exitCode == 3, "\(unknownEndpoint)")
        #expect(!unknownEndpoint.stderr.isEmpty)
        let unknownGroup = try setup.cutover(["group", "group7_routing", "--percent", "10", "--yes", "--config", setup.routingPath])
        #expect(unknownGroup.exitCode == 3, "\(unknownGroup)")
        #expect(try setup.routingText() == before)
        #expect(setup.journalLines().isEmpty, "nothing was attempted")

        // A config nginx -t rejects: the edit is refused (exit 3), nothing changes, traffic goes on.
        let invalid = before + "\nthis_is_not_a_directive on;\n"
        try invalid.write(toFile: setup.routingPath, atomically: true, encoding: .utf8)
        let refused = try setup.cutover(["group", "group3_routing", "--percent", "0", "--yes", "--config", setup.routingPath])
        #expect(refused.exitCode == 3, "\(refused)")
        #expect(refused.stdout.contains("this_is_not_a_directive"), "nginx's complaint is shown: \(refused)")
        #expect(try setup.routingText() == invalid)
        try before.write(toFile: setup.routingPath, atomically: true, encoding: .utf8)
        #expect(setup.workers() == workers, "nginx was not reloaded")
        #expect(try setup.newShare(client, path: "/v2/status/ping", count: 20) == 20, "group3 still sends everything to the new service")
    }

    @Test func aFailingValidateCommandIsRefusedAndAFailingReloadIsReverted() throws {
        let setup = try CLIReferenceNginx(nginxSettings: ["validate: [/bin/false]"])
        defer { setup.nginx.stop() }
        let before = try setup.routingText()
        let workers = setup.workers()
        let refused = try setup.cutover(["group", "group3_routing", "--percent", "0", "--yes", "--config", setup.routingPath])
        #expect(refused.exitCode == 3, "\(refused)")
        #expect(refused.stdout.contains("/bin/false"), "the failing command is named: \(refused)")
        #expect(try setup.routingText() == before)
        #expect(setup.workers() == workers, "nginx was not reloaded")
        #expect(setup.journalLines().count == 1 && setup.journalLines().first?.contains("validation-refused") == true, "\(setup.journalLines())")

        let reloadFails = try CLIReferenceNginx(nginxSettings: ["reload: [/bin/false]"])
        defer { reloadFails.nginx.stop() }
        let original = try reloadFails.routingText()
        let reverted = try reloadFails.cutover(["group", "group3_routing", "--percent", "0", "--yes", "--config", reloadFails.routingPath])
        #expect(reverted.exitCode == 4, "\(reverted)")
        #expect(try reloadFails.routingText() == original)
        let journal = reloadFails.journalLines()
        #expect(journal.count == 1 && journal.first?.contains("reload-failed-reverted") == true, "\(journal)")
        let client = HTTPTestClient(port: reloadFails.frontPort)
        #expect(try reloadFails.newShare(client, path: "/v2/status/ping", count: 20) == 20)

        for setup in [setup, reloadFails] {
            #expect(setup.nginx.masterPid.map { ProcessTable.isAlive($0) } == true, "nginx still runs")
        }
    }

    @Test func twoConcurrentSetsOnDifferentEndpointsBothLand() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let old = setup.workers()
        let results = LockedResults()
        let group = DispatchGroup()
        // orders 50% → group3 (100%); ping 100% → group1 (30%): one map line each.
        for (endpoint, percent) in [("orders", "100"), ("ping", "30")] {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    results.append(try setup.cutover(["set", endpoint, "--percent", percent, "--yes", "--config", setup.routingPath]))
                } catch {
                    results.fail("\(error)")
                }
            }.start()
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        let (done, failures) = results.snapshot()
        #expect(failures.isEmpty, "\(failures)")
        #expect(done.count == 2 && done.allSatisfy { $0.exitCode == 0 }, "\(done)")
        let text = try setup.routingText()
        #expect(text.contains(#"    ~^/v2/orders/(\d+)$ "$group3_routing";"#), "orders' change landed")
        #expect(text.contains(#"    /v2/status/ping "$group1_routing";"#), "ping's change landed")
        let journal = setup.journalLines()
        #expect(journal.count == 2 && journal.allSatisfy { $0.contains("\"applied\"") }, "\(journal)")
        let routes = try Self.routes(setup)
        #expect(Self.endpointPercent(routes, pattern: #"~^/v2/orders/(\d+)$"#) == 100)
        #expect(Self.endpointPercent(routes, pattern: "/v2/status/ping") == 30)
        #expect(setup.awaitExit(of: old))
        let client = HTTPTestClient(port: setup.frontPort)
        #expect(try setup.newShare(client, path: "/v2/orders/1", count: 30) == 30)
    }

    @Test func addThenRemoveAnEndpoint() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let original = try setup.routingText()
        let client = HTTPTestClient(port: setup.frontPort)
        #expect(try setup.newShare(client, path: "/v2/users/5", count: 10) == 0, "not migrated yet")

        let add = try setup.cutoverReloading(["add", #"~^/v2/users/(\d+)$"#, "--target", "/v2/user/$1", "--group", "group3_routing",
                                              "--yes", "--config", setup.routingPath], client: client)
        try #require(add.exitCode == 0, "\(add)")
        let routes = try Self.routes(setup)
        #expect(Self.endpointPercent(routes, pattern: #"~^/v2/users/(\d+)$"#) == 100, "\(routes)")
        #expect(try setup.newShare(client, path: "/v2/users/5", count: 20) == 20)
        #expect(try setup.newShare(client, path: "/v2/users/5/x", count: 5) == 0)

        let remove = try setup.cutoverReloading(["remove", "users", "--yes", "--config", setup.routingPath], client: client)
        try #require(remove.exitCode == 0, "\(remove)")
        #expect(try setup.routingText() == original, "removing what was added restores the file")
        #expect(try setup.newShare(client, path: "/v2/users/5", count: 20) == 0)
    }

    @Test func rollbackAllResumeAndUndo() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let original = try setup.routingText()
        let client = HTTPTestClient(port: setup.frontPort)

        let rollback = try setup.cutoverReloading(["rollback", "--all", "--yes", "--config", setup.routingPath], client: client)
        try #require(rollback.exitCode == 0, "\(rollback)")
        let rolledBack = try setup.routingText()
        let blocks = Self.splitClientsEntries(rolledBack)
        #expect(blocks.count == 3 && blocks.allSatisfy { $0 == [#"* "current_service";"#] }, "every group holds only `*`: \(blocks)")
        let routes = try Self.routes(setup)
        let percents = (routes["groups"] as? [[String: Any]] ?? []).map { ($0["percent"] as? Int) ?? -1 }
        #expect(percents == [0, 0, 0], "\(routes)")
        let afterRollback = try setup.newShare(client, path: "/v2/status/ping", count: 20)
        #expect(afterRollback == 0, "\(afterRollback) of 20 reached the new service after the rollback; workers \(setup.workers()), rollback output: \(rollback)")

        let resume = try setup.cutoverReloading(["resume", "--yes", "--config", setup.routingPath], client: client)
        try #require(resume.exitCode == 0, "\(resume)")
        #expect(try setup.routingText() == original, "resume restores the original bytes")
        #expect(try setup.newShare(client, path: "/v2/status/ping", count: 20) == 20)

        let set = try setup.cutover(["group", "group2_routing", "--percent", "100", "--yes", "--config", setup.routingPath])
        try #require(set.exitCode == 0, "\(set)")
        #expect(try setup.routingText() != original)
        let undo = try setup.cutover(["undo", "--yes", "--config", setup.routingPath])
        try #require(undo.exitCode == 0, "\(undo)")
        #expect(try setup.routingText() == original, "undo reverts the last change")

        let history = try setup.cutover(["history", "--json"])
        try #require(history.exitCode == 0, "\(history)")
        let changes = try #require(try Self.json(history.stdout)["changes"] as? [[String: Any]])
        let actions = changes.compactMap { ($0["change"] as? [String: Any])?["action"] as? String }
        #expect(actions.count == 4, "\(actions)")
        #expect(Array(actions.prefix(3)) == ["rollback-all", "resume", "group"], "\(actions)")
        #expect(changes.allSatisfy { $0["outcome"] as? String == "applied" }, "\(changes)")
    }
}

/// Results gathered from threads.
final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [CutoverBinary.Result] = []
    private var failures: [String] = []

    func append(_ result: CutoverBinary.Result) { lock.withLock { results.append(result) } }
    func fail(_ message: String) { lock.withLock { failures.append(message) } }
    func snapshot() -> ([CutoverBinary.Result], [String]) { lock.withLock { (results, failures) } }
}

/// The CLI against a lock another process holds.
@Suite struct CLIConflictTests {
    @Test func anEditWhileAnotherWriterHoldsTheLockIsAConflict() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let before = try setup.routingText()
        let workers = setup.workers()
        // This test process holds the lock the child must take (it waits three seconds, then gives up).
        let lock = try FileLock.acquire(path: ApplyConfiguration.lockFile(besideConfig: setup.nginx.mainConfig), wait: .zero)
        defer { lock.release() }
        let result = try setup.cutover(["group", "group1_routing", "--percent", "10", "--yes", "--config", setup.routingPath])
        #expect(result.exitCode == 5, "\(result)")
        #expect(result.stderr.contains("\(getpid())") || result.stdout.contains("\(getpid())"), "the holder is named: \(result)")
        #expect(try setup.routingText() == before)
        #expect(setup.workers() == workers, "nginx was not reloaded")
    }
}
