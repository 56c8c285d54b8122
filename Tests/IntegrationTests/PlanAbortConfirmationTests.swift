import Apply
import Autopilot
import Foundation
import TestSupport
import Testing

/// `cutover plan abort ID` confirms the rollback from the traffic, as `cutover rollback --confirm-traffic` does:
/// exit 7 when the new service still gets the endpoint's requests after the old workers drained.
@Suite struct PlanAbortConfirmationTests {
    /// A plan on ping made by `cutover ramp`, then put where an executor would have left it: its one step live.
    func runningPlan(_ setup: CLIReferenceNginx, config: String) throws -> String {
        let created = try setup.cutover(["ramp", "ping", "--steps", "100", "--bake", "1h", "--config", config])
        try #require(created.exitCode == 0, "\(created)")
        let id = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let store = PlanStore(journalPath: setup.journalPath)
        var plan = try #require(try store.plan(id), "no plan \(id) in \(store.path)")
        plan.state = .running
        plan.group = "group3_routing"
        plan.step = 0
        plan.stepStarted = Date()
        try store.append(PlanRecord(time: Date(), event: "step", plan: plan, by: "test"))
        return id
    }

    @Test func abortConfirmsTheRollbackOrExits7WhenNewServiceTrafficGoesOn() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let traffic = FaultCLITests.Traffic(port: setup.frontPort, path: "/v2/status/ping")
        defer { traffic.stop() }
        let logs = ["--main-log", setup.mainLog, "--migration-log", setup.migrationLog]
        // A copy of the routing that nginx does not load: the abort's rollback is accepted, nginx routes as before.
        let decoy = try setup.nginx.write("decoy/routing.conf", try setup.routingText())
        let lying = try runningPlan(setup, config: decoy)
        let lie = try setup.cutover(["plan", "abort", lying, "--confirm-traffic", "1.5", "--config", decoy] + logs, timeout: .seconds(40))
        #expect(lie.exitCode == 7, "\(lie)")
        #expect(lie.stdout.contains("plan \(lying): aborted"), "\(lie)")
        #expect(lie.stderr.contains("rollback-not-confirmed") && lie.stderr.contains("TRAFFIC DOES NOT CONFIRM THE ROLLBACK"), "\(lie)")

        let real = try runningPlan(setup, config: setup.routingPath)
        let done = try setup.cutover(["plan", "abort", real, "--confirm-traffic", "1.5", "--config", setup.routingPath] + logs, timeout: .seconds(40))
        #expect(done.exitCode == 0, "\(done)")
        #expect(done.stdout.contains("rollback-confirmed") && done.stdout.contains("traffic confirms the rollback: 0 new-service requests for ping"), "\(done)")
        let routing = try setup.routingText()
        #expect(routing.contains(#"/v2/status/ping "current_service";"#), "\(routing)")
    }
}
