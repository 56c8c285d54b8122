import Apply
import Foundation
import NginxConfig
import Rollout
import TestSupport
import Testing

/// Why an end-to-end step failed: what was awaited and what the screen showed.
struct EndToEndError: Error, CustomStringConvertible {
    var description: String
}

/// A `cutover` process in a private tmux server: send keys, read the pane, and always kill the server.
final class TmuxSession {
    let socket: String
    let runner = ProcessRunner()

    init(width: Int, height: Int, environment: [String: String], command: [String]) throws {
        socket = "cutover-e2e-" + UUID().uuidString.prefix(8).lowercased()
        let env = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let result = try runner.run(["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-x", "\(width)", "-y", "\(height)",
                                     "env"] + env + command, timeout: .seconds(10))
        guard result.succeeded else { throw EndToEndError(description: "tmux new-session failed: \(result.summary): \(result.message)") }
    }

    /// Kills the tmux server (and with it the dashboard).
    func kill() {
        _ = try? runner.run(["tmux", "-L", socket, "kill-server"], timeout: .seconds(5))
    }

    /// Sends keys as tmux names them (`j`, `+`, `Enter`), one argument each.
    func send(_ keys: String...) throws {
        let result = try runner.run(["tmux", "-L", socket, "send-keys"] + keys, timeout: .seconds(5))
        guard result.succeeded else { throw EndToEndError(description: "tmux send-keys failed: \(result.message)") }
    }

    /// The pane's text now.
    func pane() throws -> String {
        let result = try runner.run(["tmux", "-L", socket, "capture-pane", "-p"], timeout: .seconds(5))
        guard result.succeeded else { throw EndToEndError(description: "tmux capture-pane failed: \(result.message)") }
        return result.stdout
    }

    /// Polls every 100 ms until `condition` holds for the pane, at most `seconds`; throws with the last pane otherwise.
    @discardableResult
    func waitFor(_ what: String, seconds: Double = 15, _ condition: (String) throws -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < deadline {
            last = try pane()
            if try condition(last) { return last }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw EndToEndError(description: "timed out after \(seconds) s waiting for \(what); the screen was:\n\(last)")
    }
}

/// Waits (polling every 100 ms, at most `seconds`) until `condition` holds.
func eventually(_ what: String, seconds: Double = 15, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: 0.1)
    }
    throw EndToEndError(description: "timed out after \(seconds) s waiting for \(what)")
}

@Suite(.serialized) struct EndToEndTests {
    @Test func demoRampsAndRollsBackInARealTerminal() throws {
        let dir = try TempDir(prefix: "cutover-e2e")
        let demo = dir.path + "/demo"
        let journal = Journal(path: demo + "/journal.jsonl")  // the demo journals inside its sandbox
        let tmux = try TmuxSession(width: 120, height: 40,
                                   environment: ["XDG_STATE_HOME": dir.path + "/state", "HOME": dir.path, "LANG": "C.UTF-8",
                                                 "LC_ALL": "C.UTF-8", "TERM": "xterm-256color"],
                                   command: [try CutoverBinary.path(), "demo", "--dir", demo])
        defer { tmux.kill() }
        let config = demo + "/cutover-demo.conf"
        func model() throws -> RolloutModel { Discovery.discover(try ConfigSet.load(path: config)) }

        try tmux.waitFor("the endpoint table") { $0.contains("Endpoints (10)") && $0.contains("book.get_book_info") }
        // Some traffic is read before changing anything.
        try tmux.waitFor("traffic on screen") { pane in pane.contains("req/s current") && !pane.contains(" 0 lines") }

        // Select book.get_book_info (third row) and ramp its group, 25% → 50%.
        try tmux.send("j", "j")
        try tmux.waitFor("the selection on book.get_book_info") { $0.contains("▶book.get_book_info") }
        try tmux.send("+")
        try tmux.waitFor("the confirmation") { $0.contains("Apply this change?") && $0.contains("25% → 50%") }
        try tmux.send("y")
        try eventually("group3_routing at 50% on disk") { try model().group(named: "group3_routing")?.percent == Percent(hundredths: 5000) }
        try eventually("the journal record") {
            try journal.records().contains { $0.change.action == "group" && $0.change.percentsAfter["group3_routing"] == 50 && $0.outcome == .applied }
        }
        let ramped = try tmux.waitFor("the outcome and the new percent on screen") { pane in
            pane.contains("validated, reloaded") && pane.contains("key to reload")
                && pane.split(separator: "\n").contains { $0.contains("book.get_book_info") && $0.contains(" 50% ") }
        }
        #expect(ramped.contains("group: book.chapters_by_status 25% → 50%"))

        // Roll back everything: R, then the single confirming key.
        try tmux.send("R")
        try tmux.waitFor("the rollback confirmation") { $0.contains("Roll back?") }
        try tmux.send("y")
        try eventually("every endpoint at 0% on disk") { try model().endpoints.allSatisfy { $0.percent == .zero } }
        let names = try model().endpoints.map(\.name)
        #expect(names.count == 10)
        let rolledBack = try tmux.waitFor("every endpoint at 0% on screen") { pane in
            let lines = pane.split(separator: "\n")
            return names.allSatisfy { name in lines.contains { $0.contains(name) && $0.contains("  0% ") } }
                && pane.contains("validated, reloaded")
        }
        #expect(rolledBack.contains("rollback-all"))
        #expect(try journal.records().last?.change.action == "rollback-all")

        // q quits and the pane's program ends (tmux then closes the session).
        try tmux.send("q")
        try eventually("the dashboard to exit", seconds: 10) {
            let result = try tmux.runner.run(["tmux", "-L", tmux.socket, "has-session"], timeout: .seconds(5))
            return !result.succeeded
        }
    }
}
