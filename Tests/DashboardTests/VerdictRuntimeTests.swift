import Apply
import Dashboard
import Foundation
import TerminalUI
import TestSupport
import Testing
import TrafficStats

/// The verdict through the running dashboard: a rollback applied in the session is `rolled back` on the next
/// snapshot, with the verdict before it kept.
@Suite struct VerdictRuntimeTests {
    @Test func aRollbackInTheSessionShowsAsRolledBackAtOnce() throws {
        let dir = try TempDir(prefix: "cutover-verdict-session")
        let environment = ["XDG_STATE_HOME": dir.path + "/state", "HOME": dir.path]
        let session = try DashboardSession.demo(directory: dir.path + "/demo", rate: 500, environment: environment)
        session.app.keyTimeout = .milliseconds(5)
        let backend = TestBackend(width: 140, height: 40)
        var rolledBackAt: Date?
        var sentKeys = false
        var allRolledBack = false
        let deadline = Date().addingTimeInterval(30)
        session.run(backend: backend) {
            let state = session.app.state
            // Roll everything back once the demo's traffic shows in the table.
            if !sentKeys, (state.snapshot?.lines ?? 0) > 0 {
                backend.enqueue(.char("R"), .char("y"))
                sentKeys = true
            }
            if rolledBackAt == nil, state.lastApply?.succeeded == true { rolledBackAt = Date() }
            if rolledBackAt != nil {
                allRolledBack = !state.rows.isEmpty && state.rows.allSatisfy { $0.verdict.rolledBackAt != nil && $0.health == .noBaseline }
            }
            return allRolledBack || Date() > deadline
        }
        #expect(allRolledBack, "rows: \(session.app.state.rows.map { "\($0.endpoint.name) \($0.verdict.summary)" })")
        // The state the loop ended on, drawn (the loop stops before its next frame).
        let screen = render(session.app.state, width: 140, height: 40).lines().joined(separator: "\n")
        #expect(screen.contains("rolled back"))
        #expect(screen.contains("no baseline"))
        // The first snapshot after the apply already says so: at most a publication (0.5 s) and a frame later.
        if let at = rolledBackAt { #expect(Date().timeIntervalSince(at) < 5) }
    }
}
