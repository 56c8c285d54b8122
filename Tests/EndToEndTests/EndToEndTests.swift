import Apply
import Foundation
import NginxConfig
import Rollout
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Why an end-to-end step failed: what was awaited and what the screen showed.
struct EndToEndError: Error, CustomStringConvertible {
    var description: String
}

/// A `cutover` process in a private tmux server: send keys, read the pane, and always kill the server.
final class TmuxSession {
    let socket: String
    let runner = ProcessRunner()

    init(width: Int, height: Int, environment: [String: String], command: [String], directory: String? = nil) throws {
        socket = "cutover-e2e-" + UUID().uuidString.prefix(8).lowercased()
        let env = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let cwd = directory.map { ["-c", $0] } ?? []
        let result = try runner.run(["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-x", "\(width)", "-y", "\(height)"]
                                     + cwd + ["env"] + env + command, timeout: .seconds(10))
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

    /// Types `text` into the pane byte for byte (escape sequences such as a mouse report included).
    func type(_ text: String) throws {
        let result = try runner.run(["tmux", "-L", socket, "send-keys", "-l", text], timeout: .seconds(5))
        guard result.succeeded else { throw EndToEndError(description: "tmux send-keys -l failed: \(result.message)") }
    }

    /// Resizes the window (and the pane in it).
    func resize(width: Int, height: Int) throws {
        let result = try runner.run(["tmux", "-L", socket, "resize-window", "-x", "\(width)", "-y", "\(height)"], timeout: .seconds(5))
        guard result.succeeded else { throw EndToEndError(description: "tmux resize-window failed: \(result.message)") }
    }

    /// The pane's text now with its colours and attributes as SGR escape sequences.
    func paneWithColours() throws -> String {
        let result = try runner.run(["tmux", "-L", socket, "capture-pane", "-e", "-p"], timeout: .seconds(5))
        guard result.succeeded else { throw EndToEndError(description: "tmux capture-pane -e failed: \(result.message)") }
        return result.stdout
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

    /// The environment of a dashboard in tmux: its own HOME and state, UTF-8, xterm's terminfo (SGR mouse).
    static func environment(_ dir: TempDir) -> [String: String] {
        ["XDG_STATE_HOME": dir.path + "/state", "XDG_CONFIG_HOME": dir.path + "/config", "HOME": dir.path, "LANG": "C.UTF-8",
         "LC_ALL": "C.UTF-8", "TERM": "xterm-256color"]
    }

    /// An xterm SGR mouse report (1-based cells): `button` 0 is the left button, 64/65 the wheel up/down.
    static func mouse(_ button: Int, x: Int, y: Int, release: Bool = false) -> String {
        "\u{1b}[<\(button);\(x + 1);\(y + 1)\(release ? "m" : "M")"
    }

    @Test func mouseSelectsScrollsAndSwitchesTabs() throws {
        let dir = try TempDir(prefix: "cutover-e2e-mouse")
        let tmux = try TmuxSession(width: 120, height: 40, environment: Self.environment(dir),
                                   command: [try CutoverBinary.path(), "demo", "--dir", dir.path + "/demo"])
        defer { tmux.kill() }
        let pane = try tmux.waitFor("the endpoint table") { $0.contains("Endpoints (10)") && $0.contains("book.list_reviews") }
        let lines = pane.components(separatedBy: "\n")
        let row = try #require(lines.firstIndex { $0.contains("book.list_reviews") })
        try tmux.type(Self.mouse(0, x: 10, y: row) + Self.mouse(0, x: 10, y: row, release: true))
        try tmux.waitFor("the clicked row selected") { $0.contains("▶book.list_reviews") }
        try tmux.type(Self.mouse(65, x: 10, y: row))
        try tmux.waitFor("the wheel moving the selection down three rows") { $0.contains("▶book.get_recommendations") }
        // The tabs close the header's second row: full titles when there is room, else shorter ones, else just the
        // numbers. They move as the traffic line's figures change width, so they are read off the screen right
        // before each click, and a click that landed on a tab that moved is tried again (at most 5 times).
        let tabs = 1
        var shown = false
        for _ in 0..<5 where !shown {
            let tabLine = try tmux.pane().components(separatedBy: "\n")[tabs]
            let x = try #require(tabLine.range(of: " 4 ", options: .backwards)
                .map { tabLine.distance(from: tabLine.startIndex, to: $0.lowerBound) + 1 })
            try tmux.type(Self.mouse(0, x: x, y: tabs) + Self.mouse(0, x: x, y: tabs, release: true))
            shown = (try? tmux.waitFor("the History view after a click on its tab", seconds: 3) { $0.contains("History: the journal") }) != nil
        }
        #expect(shown, "a click on the 4th tab shows History")
    }

    @Test func resizeRedrawsAndEveryWidthKeepsHelpAndQuit() throws {
        let dir = try TempDir(prefix: "cutover-e2e-resize")
        let tmux = try TmuxSession(width: 120, height: 40, environment: Self.environment(dir),
                                   command: [try CutoverBinary.path(), "demo", "--dir", dir.path + "/demo"])
        defer { tmux.kill() }
        try tmux.waitFor("the endpoint table") { $0.contains("Endpoints (10)") }
        for (w, h) in [(60, 20), (80, 24), (200, 60)] {
            try tmux.resize(width: w, height: h)
            let pane = try tmux.waitFor("the frame at \(w)x\(h)") { pane in
                let lines = pane.components(separatedBy: "\n").filter { !$0.isEmpty }
                return lines.count == h && lines.suffix(2).joined().contains("? help") && lines.suffix(2).joined().contains("q quit")
                    && lines.allSatisfy { $0.count <= w }
            }
            #expect(pane.contains("5xx %") && pane.contains("p99 ms"))
        }
    }

    @Test func installedBinaryFindsTheBuiltInThemes() throws {
        // The binary copied outside the source tree, started from an empty directory with an empty HOME.
        let dir = try TempDir(prefix: "cutover-e2e-theme")
        let bin = dir.path + "/bin/cutover"
        try FileManager.default.createDirectory(atPath: dir.path + "/bin", withIntermediateDirectories: true)
        // Copied by `cp`, not in this process: a file this process held open for writing would be inherited by
        // any child another test spawns meanwhile, and running it would then fail with "Text file busy".
        let copy = try ProcessRunner().run(["cp", try CutoverBinary.path(), bin], timeout: .seconds(30))
        try #require(copy.succeeded, "\(copy.message)")
        try FileManager.default.createDirectory(atPath: dir.path + "/work", withIntermediateDirectories: true)
        let version = try ProcessRunner().run([bin, "--version"], timeout: .seconds(10))
        #expect(version.succeeded && version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).range(of: #"^\d+\.\d+\.\d+$"#, options: .regularExpression) != nil,
                "\(version.stdout)")
        let tmux = try TmuxSession(width: 120, height: 40, environment: Self.environment(dir),
                                   command: [bin, "demo", "--dir", dir.path + "/demo", "--theme", "light"], directory: dir.path + "/work")
        defer { tmux.kill() }
        let pane = try tmux.waitFor("the light theme loaded") { $0.contains("theme: light") || $0.contains("not found") }
        #expect(!pane.contains("not found"), "\(pane)")
        try tmux.send("t")
        let next = try tmux.waitFor("t moving to the next theme") { !$0.contains("theme: light") && $0.contains("theme: ") }
        #expect(!next.contains("not found") && !next.contains("problem"), "\(next)")
    }

    @Test func watchWithAFIFOAsItsLogComesUpReportsItAndQuitsOnQ() throws {
        let dir = try TempDir(prefix: "cutover-e2e-fifo")
        // A routing config with its logs: the demo's sandbox (the demo itself is stopped once it is written).
        let demo = try TmuxSession(width: 100, height: 30, environment: Self.environment(dir),
                                   command: [try CutoverBinary.path(), "demo", "--dir", dir.path + "/demo"])
        try demo.waitFor("the demo's table") { $0.contains("Endpoints (10)") }
        demo.kill()
        let fifo = dir.path + "/fifo.log"
        #expect(mkfifo(fifo, 0o644) == 0)
        let tmux = try TmuxSession(width: 120, height: 40, environment: Self.environment(dir),
                                   command: [try CutoverBinary.path(), "watch", "--config", dir.path + "/demo/cutover-demo.conf",
                                             "--main-log", fifo, "--read-only"])
        defer { tmux.kill() }
        // The screen comes up (a FIFO with no writer used to hang the first read) with the log as a problem.
        try tmux.waitFor("the endpoint table") { $0.contains("Endpoints (10)") && $0.contains("book.get_book_info") }
        try tmux.send("5")
        let problems = try tmux.waitFor("the FIFO in the problems view") { $0.contains("Problems (") }
        #expect(problems.contains("[check log-unreadable] cannot read \(fifo): it is not a regular file"), "\(problems)")
        // q quits promptly.
        let asked = Date()
        try tmux.send("q")
        try eventually("the dashboard to exit on q", seconds: 5) {
            let result = try tmux.runner.run(["tmux", "-L", tmux.socket, "has-session"], timeout: .seconds(5))
            return !result.succeeded
        }
        #expect(Date().timeIntervalSince(asked) < 5)
    }

    @Test func eightColourTerminalKeepsGreysVisible() throws {
        let dir = try TempDir(prefix: "cutover-e2e-xterm")
        var environment = Self.environment(dir)
        environment["TERM"] = "xterm"
        let tmux = try TmuxSession(width: 100, height: 30, environment: environment,
                                   command: [try CutoverBinary.path(), "demo", "--dir", dir.path + "/demo"])
        defer { tmux.kill() }
        try tmux.waitFor("the endpoint table") { $0.contains("Endpoints (10)") }
        let coloured = try tmux.paneWithColours()
        // Borders, tabs and hints are grey in the default theme: on 8 colours they must not turn black.
        #expect(!coloured.contains("\u{1b}[30m─") && !coloured.contains("\u{1b}[30m│"), "a border drawn black on black")
        #expect(!coloured.contains("\u{1b}[30m 2 Groups"), "a tab drawn black")
        #expect(coloured.contains("\u{1b}[2m"), "greys become the terminal's own colour, dimmed")
        #expect(!coloured.contains("\u{1b}[90m"), "no bright colours on an 8-colour terminal")
    }
}
