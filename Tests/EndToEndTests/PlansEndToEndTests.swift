import Apply
import Foundation
import TestSupport
import Testing

/// The dashboard executes a plan made with its own key when no guard runs: the real binary (the demo) in tmux.
@Suite(.serialized) struct PlansEndToEndTests {
    @Test func nCreatesAPlanThatTheDashboardItselfExecutes() throws {
        let dir = try TempDir(prefix: "cutover-e2e-plans")
        defer { dir.remove() }
        let demo = dir.path + "/demo"
        let journal = demo + "/journal.jsonl"
        let plans = demo + "/journal.plans.jsonl"
        let tmux = try TmuxSession(width: 120, height: 40, environment: EndToEndTests.environment(dir),
                                   command: [try CutoverBinary.path(), "demo", "--dir", demo])
        defer { tmux.kill() }
        try tmux.waitFor("traffic on screen") { pane in pane.contains("Endpoints (10)") && pane.contains("req/s current") && !pane.contains(" 0 lines") }
        try tmux.waitFor("this dashboard holding the lease") { $0.contains("autopilot this dashboard") }
        // The order changes with the figures: the filter picks the endpoint.
        try tmux.send("/")
        try tmux.type("get_book_info")
        try tmux.send("Enter")
        try tmux.waitFor("the selection on book.get_book_info") { $0.contains("▶book.get_book_info") && $0.contains("Endpoints (1") }
        try tmux.send("N")
        try tmux.waitFor("the plan's confirmation") { $0.contains("Create a ramp plan?") && $0.contains("ramp book.get_book_info from 25%") }
        try tmux.send("y")
        // Through the demo's pipeline: into its own group, then the first step, both journaled as the autopilot's.
        try eventually("the isolation and the first step in the journal", seconds: 20) {
            let lines = ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").split(separator: "\n")
            return lines.filter { $0.contains("autopilot: plan ") && $0.contains("\"outcome\":\"applied\"") }.count == 2
        }
        try eventually("the plan running in the plan log") { ((try? String(contentsOfFile: plans, encoding: .utf8)) ?? "").contains("\"state\":\"running\"") }
        try tmux.send("6")
        let view = try tmux.waitFor("the plans view") { pane in
            pane.contains("executed by this dashboard") && pane.split(separator: "\n").contains { $0.contains("book.get_book_info") && $0.contains("running") && $0.contains("1/3") }
                && pane.contains("autopilot: plan p-")  // the header's last change is the autopilot's
        }
        #expect(view.contains("Plans (1 active, 0 finished)"), "\(view)")
        // Pause it with p: the plan log says so and the view follows.
        try tmux.send("p")
        try eventually("the plan paused in the plan log") { ((try? String(contentsOfFile: plans, encoding: .utf8)) ?? "").contains("\"event\":\"paused\"") }
        try tmux.waitFor("the pause on screen") { pane in pane.split(separator: "\n").contains { $0.contains("book.get_book_info") && $0.contains("paused") } }
        try tmux.send("q")
        try eventually("the dashboard to exit", seconds: 10) {
            !(try tmux.runner.run(["tmux", "-L", tmux.socket, "has-session"], timeout: .seconds(5))).succeeded
        }
        // The lease went with it.
        #expect(FileLock.holderRecord(path: plans + ".lease") == nil)
    }
}
