import Apply
import Autopilot
@testable import Dashboard
import Foundation
import NginxConfig
import Rollout
import TerminalUI
import TestSupport
import Testing
import TrafficStats

/// Ramp plans written out as plain values for the Plans view and the plan keys.
enum PlanFixtures {
    static let holder = LeaseHolder(pid: 4242, host: "ops-1", user: "deploy", role: "guard", since: Fixtures.now.addingTimeInterval(-3600))

    static func key(_ state: AppState, _ name: String) throws -> EndpointID {
        try #require(state.model?.endpoints.first { $0.name == name }).id
    }

    static func plan(_ id: String, _ target: PlanTarget, steps: [Int] = [1, 5, 10, 25, 50, 100], state: PlanState, step: Int? = nil,
                     startedMinutesAgo: Double = 4, group: String? = nil, note: String? = nil) -> RampPlan {
        var plan = RampPlan(id: PlanID(raw: id), target: target, steps: steps.map { Percent(hundredths: $0 * 100) }, bakeSeconds: 600,
                            gate: .healthy, minRequests: 500, reason: "Q4 migration", created: Fixtures.now.addingTimeInterval(-7200),
                            createdBy: "ops@bastion pid 77")
        plan.state = state
        plan.step = step
        plan.group = group
        plan.note = note
        if step != nil {
            plan.stepStarted = Fixtures.now.addingTimeInterval(-startedMinutesAgo * 60)
            if state == .paused { plan.pausedAt = Fixtures.now.addingTimeInterval(-60) }
        }
        return plan
    }

    /// The screen state with five plans in every state, executed by a guard, auto-rollback on.
    static func state() throws -> AppState {
        var state = try ScreenTests.state()
        let book = try key(state, "book.get_book_info"), profile = try key(state, "user.get_profile")
        let history = try key(state, "user.get_history"), search = try key(state, "search.query")
        let plans = [
            plan("p-0000c3d4", .endpoint(profile), state: .paused, step: 0, group: "ramp_user_get_profile_routing",
                 note: "paused by ops@bastion pid 77: waiting for the cache warm-up"),
            plan("p-00002222", .group("group1_routing"), steps: [50, 100], state: .completed, step: 1, note: "completed at 100%"),
            plan("p-0000a1b2", .endpoint(book), state: .running, step: 1, group: "ramp_book_get_book_info_routing"),
            plan("p-00001111", .endpoint(search), state: .aborted, step: 3, note: "verdict bad for search.query at 25%: 5xx 5.9% on the new service vs 0.1%"),
            plan("p-0000e5f6", .endpoint(history), state: .pending),
        ]
        var pane = AutopilotPane(enabled: true)
        pane.autoRollback = true
        pane.snapshot = AutopilotSnapshot(plans: plans, progress: [
            PlanID(raw: "p-0000a1b2"): PlanProgress(plan: PlanID(raw: "p-0000a1b2"), gate: "healthy",
                                                    waiting: "bake 6m left; 120 more new-service requests (380/500)"),
            PlanID(raw: "p-0000c3d4"): PlanProgress(plan: PlanID(raw: "p-0000c3d4"), gate: "watch", waiting: "paused: waiting for the cache warm-up"),
        ], executor: .other(holder))
        state.autopilot = pane
        state.view = .plans
        return state
    }
}

@Suite struct PlansScreenTests {
    @Test func plansViewAtThreeSizes() throws {
        let state = try PlanFixtures.state()
        let large = render(state, width: 120, height: 40)
        assertSnapshot(large.snapshot(), name: "plans-120x40")
        let lines = large.lines()
        #expect(lines.contains { $0.contains("executed by cutover guard pid 4242 (deploy@ops-1, since 2026-11-28 01:00:00)") })
        #expect(lines.contains { $0.contains("p-0000a1b2") && $0.contains("2/6") && $0.contains("5%") && $0.contains("running") && $0.contains("6m") })
        #expect(lines[0].contains("autopilot guard pid 4242 · auto-rollback on"))
        // Live plans first, then the finished ones, newest first.
        let order = ["p-0000c3d4", "p-0000a1b2", "p-0000e5f6", "p-00001111", "p-00002222"].map { id in lines.firstIndex { $0.contains(id) } ?? -1 }
        #expect(order == order.sorted() && !order.contains(-1), "\(order)")
        assertSnapshot(render(state, width: 80, height: 24).snapshot(), name: "plans-80x24")
        assertSnapshot(render(state, width: 60, height: 20).snapshot(), name: "plans-60x20")
    }

    @Test func aClickSelectsAPlanAndASecondOpensIt() throws {
        for (width, height) in [(120, 40), (80, 24), (60, 20)] {
            var state = try PlanFixtures.state()
            state.screenWidth = width
            state.screenHeight = height
            let lines = render(state, width: width, height: height).lines()
            let row = try #require(lines.firstIndex { $0.contains("p-0000e5f6") })
            _ = press(&state, .mouse(MouseEvent(.press, x: 12, y: row)))
            #expect(state.selectedPlan?.id == PlanID(raw: "p-0000e5f6"), "\(width)x\(height)")
            _ = press(&state, .mouse(MouseEvent(.press, x: 12, y: row)))
            #expect(state.overlay == .detail(.plan(PlanID(raw: "p-0000e5f6")), scroll: 0), "\(width)x\(height)")
        }
    }

    @Test func emptyPlansAndThisDashboardExecuting() throws {
        var state = try PlanFixtures.state()
        state.autopilot.snapshot = AutopilotSnapshot(executor: .thisDashboard(since: Fixtures.now.addingTimeInterval(-30)))
        state.autopilot.autoRollback = false
        let lines = render(state, width: 120, height: 40).lines()
        #expect(lines.contains { $0.contains("No ramp plans. N on an endpoint") })
        #expect(lines.contains { $0.contains("executed by this dashboard") && $0.contains("lease taken at 01:59:30") })
        #expect(lines[0].contains("autopilot this dashboard · auto-rollback off"))
    }

    @Test func theEndpointDetailPaneAndDetailViewShowItsPlan() throws {
        var state = try PlanFixtures.state()
        state.view = .endpoints
        try select(&state, name: "book.get_book_info")
        let lines = render(state, width: 120, height: 40).lines()
        assertSnapshot(lines.joined(separator: "\n"), name: "endpoint-with-plan-120x40")
        #expect(lines.contains { $0.contains("ramp plan p-0000a1b2 step 2/6 at 5% · running · bake 5m59s left · gate healthy: healthy") })
        state.overlay = .detail(.endpoint(try PlanFixtures.key(state, "book.get_book_info")), scroll: 0)
        #expect(render(state, width: 120, height: 40).lines().contains { $0.contains("ramp plan: plan p-0000a1b2 step 2/6") })
        // Enter on a plan opens it in full.
        state.overlay = .none
        state.view = .plans
        state.listSelection = 1
        _ = reduce(&state, .openDetail)
        #expect(state.overlay == .detail(.plan(PlanID(raw: "p-0000a1b2")), scroll: 0))
        let detail = render(state, width: 120, height: 40).lines()
        #expect(detail.contains { $0.contains("steps: 1% → 5% → 10% → 25% → 50% → 100%") })
        #expect(detail.contains { $0.contains("waiting for: bake 6m left; 120 more new-service requests (380/500)") })
    }

    @Test func theHeaderAndHistoryShowTheAutopilotsActions() throws {
        var state = try PlanFixtures.state()
        var record = Fixtures.record(id: "9", action: "group", groups: ["ramp_book_get_book_info_routing"],
                                     before: ["ramp_book_get_book_info_routing": 1], after: ["ramp_book_get_book_info_routing": 5], minutesAgo: 1)
        record.change.reason = Autopilot.marker + "plan p-0000a1b2 step 2/6: 1% → 5% — Q4 migration"
        state.journal.append(record)
        state.view = .history
        let lines = render(state, width: 120, height: 40).lines()
        #expect(lines[2].contains("last change: 01:59:00 autopilot: plan p-0000a1b2 step 2/6: 1% → 5% — Q4 migration — applied"), "\(lines[2])")
        #expect(lines.contains { $0.contains("autopilot") && $0.contains("ramp_book_get_book_info_routing 1% → 5%") })
        #expect(lines.contains { $0.contains("autopilot: plan p-0000a1b2 step 2/6: 1% → 5% — Q4 migration · applied") })
        // The operator's own change afterwards takes the header back.
        state.lastApply = ApplyStatus(action: "group", summary: "group: x", outcome: .applied, message: "applied", finishedAt: Fixtures.now)
        #expect(!render(state, width: 120, height: 40).lines()[2].contains("autopilot:"))
    }
}

@Suite struct PlanKeyTests {
    @Test func keySixShowsThePlansAndPauseResumeGoAtOnce() throws {
        var state = try PlanFixtures.state()
        state.view = .endpoints
        _ = press(&state, .char("6"))
        #expect(state.view == .plans)
        // Row 0 is the paused plan: resume goes at once, pause is refused.
        #expect(press(&state, .char("c")) == [.planCommand(.resume, plan: PlanID(raw: "p-0000c3d4"))])
        #expect(press(&state, .char("p")).isEmpty)
        #expect(state.status?.text.contains("already paused") == true)
        _ = press(&state, .char("j"))
        #expect(press(&state, .char("p")) == [.planCommand(.pause, plan: PlanID(raw: "p-0000a1b2"))])
        #expect(press(&state, .char("c")).isEmpty && state.status?.text.contains("is not paused") == true)
        // A finished plan takes no command.
        _ = press(&state, .char("G"))
        #expect(press(&state, .char("p")).isEmpty && state.status?.text.contains("completed") == true)
    }

    @Test func promoteAndAbortAskFirst() throws {
        var state = try PlanFixtures.state()
        _ = press(&state, .char("j"))
        #expect(press(&state, .char("P")).isEmpty)
        guard case .confirm(let promote) = state.overlay else { Issue.record("no dialog"); return }
        #expect(promote.operation == .plan(.promote, PlanID(raw: "p-0000a1b2")) && promote.summary.contains("skips the rest of the bake"))
        let dialog = render(state, width: 80, height: 24).lines()
        #expect(dialog.contains { $0.contains("Promote the plan?") } && dialog.contains { $0.contains("y: promote") })
        #expect(press(&state, .char("n")).isEmpty && state.overlay == .none)
        _ = press(&state, .char("X"))
        guard case .confirm(let abort) = state.overlay else { Issue.record("no dialog"); return }
        #expect(abort.isRollback && abort.summary.contains("go back to the current service"))
        #expect(render(state, width: 80, height: 24).lines().contains { $0.contains("Abort the plan?") })
        #expect(press(&state, .enter).isEmpty, "Enter does not confirm")
        #expect(press(&state, .char("y")) == [.planCommand(.abort, plan: PlanID(raw: "p-0000a1b2"))])
        #expect(state.applying == nil, "a plan command is not the applying line's change")
    }

    @Test func inEndpointsThePlanKeysActOnTheSelectedEndpointsPlan() throws {
        var state = try PlanFixtures.state()
        state.view = .endpoints
        try select(&state, name: "book.get_book_info")
        #expect(press(&state, .char("p")) == [.planCommand(.pause, plan: PlanID(raw: "p-0000a1b2"))])
        try select(&state, name: "book.list_reviews")
        #expect(press(&state, .char("p")).isEmpty && state.status?.text.contains("has no live plan; N creates one") == true)
        state.view = .groups
        #expect(press(&state, .char("X")).isEmpty && state.status?.text.contains("Plans (6)") == true)
    }

    @Test func nCreatesAPlanForTheSelectedEndpointAfterAConfirmation() throws {
        var state = try PlanFixtures.state()
        state.view = .endpoints
        try select(&state, name: "book.list_reviews")
        let endpoint = try #require(state.selectedRow?.endpoint)
        #expect(press(&state, .char("N")).isEmpty)
        guard case .confirm(let pending) = state.overlay else { Issue.record("no dialog"); return }
        let steps = state.ladder.filter { $0 > endpoint.percent }
        #expect(pending.operation == .createPlan(endpoint: endpoint.pattern, steps: steps))
        #expect(pending.summary.contains("ramp book.list_reviews from 25%: 50% → 75% → 100%, bake 10m each, gate healthy, 500 new-service requests per step"),
                "\(pending.summary)")
        #expect(pending.summary.contains("executed by cutover guard pid 4242"))
        #expect(render(state, width: 80, height: 24).lines().contains { $0.contains("Create a ramp plan?") })
        #expect(press(&state, .char("y")) == [.createPlan(endpoint: endpoint.pattern, steps: steps, defaults: PlanDefaults())])
        // One live plan per endpoint.
        try select(&state, name: "book.get_book_info")
        #expect(press(&state, .char("N")).isEmpty && state.status?.isError == true && state.status?.text.contains("already ramps") == true)
        // Read-only: no plan keys at all.
        var readOnly = try PlanFixtures.state()
        readOnly.readOnly = true
        readOnly.view = .endpoints
        #expect(press(&readOnly, .char("N"), .char("p"), .char("X")).isEmpty && readOnly.overlay == .none)
    }

    @Test func theClockMakesOneRoundDueAtATime() throws {
        var state = try PlanFixtures.state()
        let first = reduce(&state, .tick(Fixtures.now))
        guard case .autopilotTick(let verdicts)? = first.first, first.count == 1 else { Issue.record("\(first)"); return }
        let search = try PlanFixtures.key(state, "search.query")
        #expect(verdicts?[search]?.state == .bad, "the verdicts go by map key")
        #expect(reduce(&state, .tick(Fixtures.now.addingTimeInterval(5))).isEmpty, "one round at a time")
        let step = AutopilotEvent(.planStep, time: Fixtures.now, plan: PlanID(raw: "p-0000a1b2"), endpoint: search.key.key, percentBefore: 5, percentAfter: 10,
                                  outcome: "applied", journal: "j1", message: "step 3/6: ramp 5% → 10%")
        var after = state.autopilot.snapshot
        after.executor = .thisDashboard(since: Fixtures.now)
        #expect(reduce(&state, .autopilotReported(AutopilotReport(snapshot: after, events: [step]))) == [.reloadConfig, .loadJournal])
        #expect(state.autopilot.snapshot.executor == .thisDashboard(since: Fixtures.now) && state.autopilot.lastAction == step)
        #expect(state.status?.text.hasPrefix("autopilot: plan-step plan=p-0000a1b2") == true)
        #expect(reduce(&state, .tick(Fixtures.now.addingTimeInterval(5.5))).isEmpty, "not before the interval")
        #expect(reduce(&state, .tick(Fixtures.now.addingTimeInterval(6.5))).count == 1)
        // Without an autopilot nothing is asked for.
        var off = try ScreenTests.state()
        #expect(reduce(&off, .tick(Fixtures.now)).isEmpty)
    }

    @Test func anAutomaticRollbackHereIsConfirmedFromTheTrafficLikeAKeyPress() throws {
        var state = try PlanFixtures.state()
        let search = try PlanFixtures.key(state, "search.query")
        let rollback = AutopilotEvent(.automaticRollback, time: Fixtures.now.addingTimeInterval(-30), endpoint: search.key.key, percentBefore: 50, percentAfter: 0,
                                      verdict: .bad, outcome: "applied", journal: "j9", message: "search.query rolled back by itself (50% → 0%); held for 10m")
        #expect(reduce(&state, .autopilotReported(AutopilotReport(snapshot: state.autopilot.snapshot, events: [rollback]))) == [.reloadConfig, .loadJournal])
        #expect(state.lastApply?.action == "rollback" && state.lastApply?.summary == "autopilot: search.query rolled back by itself (50% → 0%); held for 10m")
        #expect(state.status?.isError == true && state.status?.text.hasPrefix("autopilot: automatic-rollback") == true)
        // A breach with auto_rollback off changes nothing: no last change.
        var quiet = try PlanFixtures.state()
        let breach = AutopilotEvent(.breach, time: Fixtures.now, endpoint: search.key.key, verdict: .bad, message: "search.query is bad; auto_rollback is off, nothing done")
        #expect(reduce(&quiet, .autopilotReported(AutopilotReport(snapshot: quiet.autopilot.snapshot, events: [breach]))).isEmpty)
        #expect(quiet.lastApply?.action == "group" && quiet.status?.text.contains("auto_rollback is off") == true)
    }

    @Test func aStepTakenByTheGuardReReadsTheConfigAndTheJournal() throws {
        var state = try PlanFixtures.state()
        var after = state.autopilot.snapshot
        let i = try #require(after.plans.firstIndex { $0.id == PlanID(raw: "p-0000a1b2") })
        #expect(reduce(&state, .autopilotReported(AutopilotReport(snapshot: after))).isEmpty, "nothing moved")
        after.plans[i].step = 2
        #expect(reduce(&state, .autopilotReported(AutopilotReport(snapshot: after))) == [.reloadConfig, .loadJournal])
    }
}
