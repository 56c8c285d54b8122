import Apply
@testable import Autopilot
import Foundation
import NginxConfig
import Rollout
import TestSupport
import Testing
import TrafficStats

@Suite struct PlanTests {
    static let c = "~^/v2/c$", a = "~^/v2/a$", b = "~^/v2/b$"

    func steps(_ p: [Int]) -> [Percent] { p.map { Percent(hundredths: $0 * 100) } }

    @Test func aPlanRampsThroughEveryStepOnlyWhenBakeRequestsAndGateAllHold() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: steps([10, 25, 50]), bakeSeconds: 600, gate: .healthy,
                                          minRequests: 100, reason: "ramp c")
        #expect(plan.state == .pending && plan.target == .endpoint(Self.c))
        // First tick: c is alone in group2, so no isolation; the first step above 5% is 10%.
        w.expectApplies(1)
        w.expectNotifications(1)
        var events = try w.autopilot.tick(verdicts: [:])
        #expect(events.map(\.kind) == [.planStep])
        #expect(try w.percent("c") == 10 && w.percent("a") == 10)
        // Inside the bake nothing moves, however healthy.
        w.clock.advance(599)
        events = try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .healthy, new: 5000)])
        #expect(events.isEmpty)
        #expect(w.autopilot.progress[plan.id]?.waiting.contains("bake 1s left") == true)
        // Bake over but too few new-service requests since the step began.
        w.clock.advance(1)
        events = try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .healthy, new: 99)])
        #expect(events.isEmpty)
        #expect(w.autopilot.progress[plan.id]?.waiting == "1 more new-service requests (99/100)")
        // Enough requests, but the gate does not hold.
        events = try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .watch, new: 400)])
        #expect(events.isEmpty)
        #expect(w.autopilot.progress[plan.id]?.waiting == "gate healthy: verdict watch")
        // A verdict that still counts requests from before the step does not count.
        events = try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .healthy, new: 400, since: 1)])
        #expect(events.isEmpty)
        // All three: step 2.
        w.expectApplies(1)
        w.expectNotifications(1)
        events = try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .healthy, new: 400)])
        #expect(events.map(\.kind) == [.planStep])
        #expect(events.first?.percentBefore == 10 && events.first?.percentAfter == 25)
        #expect(try w.percent("c") == 25)
        w.clock.advance(600)
        w.expectApplies(1)
        w.expectNotifications(1)
        events = try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .healthy, new: 400)])
        #expect(try w.percent("c") == 50)
        // The last step bakes too, then the plan completes and the endpoint stays.
        w.clock.advance(600)
        w.expectNotifications(1)
        events = try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .healthy, new: 400)])
        #expect(events.map(\.kind) == [.planCompleted])
        #expect(try w.plan(plan.id)?.state == .completed)
        #expect(try w.percent("c") == 50 && w.percent("a") == 10 && w.percent("b") == 10)
        // Every transition is in the plan log; every step in the journal with the plan's reason.
        #expect(try w.store.records().map(\.event) == ["created", "step", "step", "step", "completed"])
        let journal = try w.journal()
        #expect(journal.count == 3 && journal.allSatisfy { $0.outcome == .applied && ($0.change.reason ?? "").hasPrefix(Autopilot.marker) })
        #expect(journal[1].change.reason?.contains("step 2/3: 10% → 25% — ramp c") == true)
        w.autopilot.notifier?.waitUntilIdle(limit: .seconds(5))
        let inputs = w.notifyRunner.inputs
        #expect(inputs.count == 4 && inputs.allSatisfy { $0.argv == w.notifyArgv })
        let first = try JSONSerialization.jsonObject(with: Data(inputs[0].input.utf8)) as? [String: Any]
        #expect(first?["event"] as? String == "plan-step" && first?["plan"] as? String == plan.id.raw && first?["percent_after"] as? Double == 10)
        #expect(inputs[0].input.hasSuffix("}\n") && inputs[0].input.filter { $0 == "\n" }.count == 1)
        w.nginx.verifyAllRan()
        w.notifyRunner.verifyAllRan()
    }

    @Test func anEndpointSharingItsGroupIsMovedIntoItsOwnGroupFirstSoNoOtherMoves() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: "a", group: nil, steps: steps([25, 50]), bakeSeconds: 60, gate: .healthy, minRequests: 0, reason: nil)
        w.expectApplies(2)
        w.expectNotifications(1)
        let events = try w.autopilot.tick(verdicts: [:])
        #expect(events.map(\.kind) == [.planIsolated, .planStep])
        #expect(try w.percent("a") == 25 && w.percent("b") == 10 && w.percent("c") == 5)
        let model = try w.model()
        #expect(model.endpoints.first { $0.name == "a" }?.groupName == "ramp_a_routing")
        #expect(model.endpoints.first { $0.name == "b" }?.groupName == "group1_routing")
        let journal = try w.journal()
        // The isolation is one journaled change that moves nobody's share.
        #expect(journal.map(\.change.action) == ["isolate", "group"])
        #expect(journal[0].change.percentsBefore["endpoint:a"] == 10 && journal[0].change.percentsAfter["ramp_a_routing"] == 10)
        #expect(try w.plan(plan.id)?.group == "ramp_a_routing")
        #expect(try w.store.records().map(\.event) == ["created", "isolated", "step"])
        w.nginx.verifyAllRan()
    }

    @Test func aBadVerdictDuringAStepAbortsAndRollsBackWithTheEvidence() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: steps([10, 25]), bakeSeconds: 600, gate: .healthy, minRequests: 0, reason: nil)
        w.expectApplies(1)
        w.expectNotifications(1)
        _ = try w.autopilot.tick(verdicts: [:])
        w.clock.advance(30)
        w.expectApplies(1)
        w.expectNotifications(1)
        let bad = w.verdict(Self.c, .bad, new: 2400, reasons: ["5xx 5.1% vs 0.3% (+4.8 pp, margin 0.5 pp)"])
        let events = try w.autopilot.tick(verdicts: [Self.c: bad])
        #expect(events.map(\.kind) == [.planAborted])
        #expect(events[0].verdict == .bad && events[0].evidence.contains { $0.contains("5xx 5.1% vs 0.3%") })
        #expect(try w.percent("c") == 0 && w.percent("a") == 10)
        let stored = try #require(try w.plan(plan.id))
        #expect(stored.state == .aborted && stored.note?.contains("verdict bad for c at 10%") == true)
        let last = try #require(try w.store.records().last)
        #expect(last.event == "aborted" && last.evidence.contains { $0.contains("2400 new-service and 21600 current-service requests") })
        let rollback = try #require(try w.journal().last)
        #expect(rollback.change.action == "rollback" && rollback.change.reason?.contains("evidence: c: verdict bad") == true)
        #expect(last.journal == rollback.id)
        // Nothing more happens to an aborted plan.
        #expect(try w.autopilot.tick(verdicts: [Self.c: bad]).isEmpty)
        w.autopilot.notifier?.waitUntilIdle(limit: .seconds(5))
        #expect(w.notifyRunner.inputs.last?.input.contains("\"event\":\"plan-aborted\"") == true)
        w.nginx.verifyAllRan()
    }

    @Test func theNotBadGateAdvancesOnWatch() throws {
        let w = try World()
        _ = try w.autopilot.create(endpoint: "c", group: nil, steps: steps([10, 25]), bakeSeconds: 0, gate: .notBad, minRequests: 10, reason: nil)
        w.expectApplies(2)
        w.expectNotifications(2)
        _ = try w.autopilot.tick(verdicts: [:])
        let events = try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .watch, new: 10)])
        #expect(events.map(\.kind) == [.planStep])
        #expect(try w.percent("c") == 25)
        w.nginx.verifyAllRan()
    }

    @Test func pauseStopsTheBakeClockResumeContinuesItPromoteSkipsItOnce() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: steps([10, 25, 50]), bakeSeconds: 600, gate: .healthy, minRequests: 0, reason: nil)
        w.expectApplies(1)
        w.expectNotifications(1)
        _ = try w.autopilot.tick(verdicts: [:])
        w.clock.advance(300)
        var (after, events) = try w.autopilot.perform(.pause, plan: plan.id.raw, reason: "lunch")
        #expect(after.state == .paused && events.map(\.kind) == [.planPaused])
        #expect(throws: PlanError.self) { try w.autopilot.perform(.pause, plan: plan.id.raw) }
        w.clock.advance(3600)
        let healthy = { w.verdict(Self.c, .healthy, new: 1000) }
        #expect(try w.autopilot.tick(verdicts: [Self.c: healthy()]).isEmpty)
        (after, _) = try w.autopilot.perform(.resume, plan: String(plan.id.raw.prefix(6)))
        #expect(after.state == .running && after.bakeLeft(at: w.clock.now) == 300)
        w.clock.advance(299)
        #expect(try w.autopilot.tick(verdicts: [Self.c: healthy()]).isEmpty)
        w.clock.advance(1)
        w.expectApplies(1)
        w.expectNotifications(1)
        #expect(try w.autopilot.tick(verdicts: [Self.c: healthy()]).map(\.kind) == [.planStep])
        // Promote: the next check skips the bake and the gate, once.
        (after, events) = try w.autopilot.perform(.promote, plan: plan.id.raw)
        #expect(after.promote && events.map(\.kind) == [.planPromoted])
        w.expectApplies(1)
        w.expectNotifications(1)
        let step = try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .notEnoughData, new: 0)])
        #expect(step.map(\.kind) == [.planStep] && step[0].evidence.last?.contains("promoted") == true)
        #expect(try w.percent("c") == 50)
        #expect(try w.plan(plan.id)?.promote == false)
        #expect(try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .notEnoughData, new: 0)]).isEmpty)
        #expect(try w.store.records().map(\.event) == ["created", "step", "paused", "resumed", "step", "promote", "step"])
        w.nginx.verifyAllRan()
    }

    @Test func theOperatorsAbortRollsTheEndpointBack() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: steps([10, 25]), bakeSeconds: 600, gate: .healthy, minRequests: 0, reason: nil)
        w.expectApplies(1)
        w.expectNotifications(1)
        _ = try w.autopilot.tick(verdicts: [:])
        w.expectApplies(1)
        let (after, events) = try w.autopilot.perform(.abort, plan: plan.id.raw, reason: "customer complaint")
        #expect(after.state == .aborted && events.map(\.kind) == [.planAborted])
        #expect(try w.percent("c") == 0)
        let rollback = try #require(try w.journal().last)
        #expect(rollback.change.reason?.contains("customer complaint") == true)
        #expect(!(rollback.change.reason ?? "").hasPrefix(Autopilot.marker))
        #expect(throws: PlanError.self) { try w.autopilot.perform(.resume, plan: plan.id.raw) }
        w.nginx.verifyAllRan()
    }

    @Test func aPlanSurvivesARestartInTheMiddleOfABake() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: steps([10, 25]), bakeSeconds: 600, gate: .healthy, minRequests: 0, reason: nil)
        w.expectApplies(1)
        w.expectNotifications(1)
        _ = try w.autopilot.tick(verdicts: [:])
        let stepTime = try #require(try w.journal().last).time
        w.clock.advance(400)
        // The process dies; a new one (same files, nothing in memory) takes over.
        let restarted = w.make()
        let since = Int64(stepTime.timeIntervalSince1970)
        let healthy = w.verdict(Self.c, .healthy, new: 900, since: since)
        #expect(try restarted.tick(verdicts: [Self.c: healthy]).isEmpty)
        #expect(restarted.progress[plan.id]?.waiting == "bake 3m20s left")
        w.clock.advance(200)
        w.expectApplies(1)
        w.expectNotifications(1)
        #expect(try restarted.tick(verdicts: [Self.c: healthy]).map(\.kind) == [.planStep])
        #expect(try w.percent("c") == 25)
        w.nginx.verifyAllRan()
    }

    @Test func anOperatorsChangeToTheEndpointPausesThePlan() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: steps([10, 25]), bakeSeconds: 60, gate: .healthy, minRequests: 0, reason: nil)
        w.expectApplies(1)
        w.expectNotifications(1)
        _ = try w.autopilot.tick(verdicts: [:])
        w.clock.advance(10)
        try w.operatorApplies(.setGroupPercent(group: "group2_routing", percent: Percent(hundredths: 300), create: false))
        w.clock.advance(100)
        let events = try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .healthy, new: 900)])
        #expect(events.map(\.kind) == [.planPaused])
        #expect(try w.plan(plan.id)?.note?.contains("by hand") == true)
        #expect(try w.percent("c") == 3)
        w.nginx.verifyAllRan()
    }

    @Test func aGroupPlanRampsTheGroupAndCountsItsEndpointsTogether() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: nil, group: "group1_routing", steps: steps([20, 40]), bakeSeconds: 0, gate: .healthy, minRequests: 100, reason: nil)
        #expect(plan.target == .group("group1_routing"))
        w.expectApplies(1)
        w.expectNotifications(1)
        _ = try w.autopilot.tick(verdicts: [:])
        #expect(try w.percent("a") == 20 && w.percent("b") == 20)
        // 60 + 40 new-service requests across the group make the hundred; one endpoint not healthy holds it.
        #expect(try w.autopilot.tick(verdicts: [Self.a: w.verdict(Self.a, .healthy, new: 60), Self.b: w.verdict(Self.b, .watch, new: 40)]).isEmpty)
        #expect(w.autopilot.progress[plan.id]?.gate == "a healthy, b watch")
        w.expectApplies(1)
        w.expectNotifications(1)
        #expect(try w.autopilot.tick(verdicts: [Self.a: w.verdict(Self.a, .healthy, new: 60), Self.b: w.verdict(Self.b, .healthy, new: 40)]).map(\.kind) == [.planStep])
        #expect(try w.percent("a") == 40 && w.percent("b") == 40)
        w.nginx.verifyAllRan()
    }

    @Test func aStepNginxRefusesPausesThePlanAndIsReported() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: steps([10, 25]), bakeSeconds: 60, gate: .healthy, minRequests: 0, reason: nil)
        w.nginx.expect(.init(["nginx", "-t"], exitCode: 1, stderr: "nginx: [emerg] unknown directive \"bogus\""))
        w.expectNotifications(1)
        let events = try w.autopilot.tick(verdicts: [:])
        #expect(events.map(\.kind) == [.applyFailed])
        #expect(events[0].outcome == "validation-refused" && events[0].message.contains("step 1 (10%) was not applied"))
        let stored = try #require(try w.plan(plan.id))
        #expect(stored.state == .paused && stored.note?.contains("`cutover plan resume \(plan.id)`") == true)
        #expect(try w.percent("c") == 5, "the config is as it was")
        // Resumed, it tries again (pending: no step was applied).
        _ = try w.autopilot.perform(.resume, plan: plan.id.raw)
        #expect(try w.plan(plan.id)?.state == .pending)
        w.expectApplies(1)
        w.expectNotifications(1)
        #expect(try w.autopilot.tick(verdicts: [:]).map(\.kind) == [.planStep])
        #expect(try w.percent("c") == 10)
        w.autopilot.notifier?.waitUntilIdle(limit: .seconds(5))
        #expect(w.notifyRunner.inputs.first?.input.contains("\"event\":\"apply-failed\"") == true)
        w.nginx.verifyAllRan()
    }

    @Test func aPausedPlanStillAbortsOnABadVerdict() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: steps([10, 25]), bakeSeconds: 60, gate: .healthy, minRequests: 0, reason: nil)
        w.expectApplies(1)
        w.expectNotifications(1)
        _ = try w.autopilot.tick(verdicts: [:])
        _ = try w.autopilot.perform(.pause, plan: plan.id.raw)
        w.expectApplies(1)
        w.expectNotifications(1)
        #expect(try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .bad, new: 800)]).map(\.kind) == [.planAborted])
        #expect(try w.percent("c") == 0 && w.plan(plan.id)?.state == .aborted)
        w.nginx.verifyAllRan()
    }

    @Test func aPlanWhoseEndpointIsAlreadyAboveEveryStepCompletesWithoutAChange() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: steps([1, 5]), bakeSeconds: 60, gate: .healthy, minRequests: 0, reason: nil)
        w.expectNotifications(1)
        #expect(try w.autopilot.tick(verdicts: [:]).map(\.kind) == [.planCompleted])
        #expect(try w.plan(plan.id)?.note == "already at 5%, at or above every step")
        #expect(try w.journal().isEmpty)
    }

    @Test func badInputIsRefusedWithWhatToDo() throws {
        let w = try World()
        #expect(throws: PlanError("--steps must increase (e.g. 1,5,10,25,50,100)")) {
            try w.autopilot.create(endpoint: "c", group: nil, steps: steps([10, 5]), bakeSeconds: 60, gate: .healthy, minRequests: 0, reason: nil)
        }
        #expect(throws: PlanError.self) {
            try w.autopilot.create(endpoint: "nope", group: nil, steps: steps([10]), bakeSeconds: 60, gate: .healthy, minRequests: 0, reason: nil)
        }
        let first = try w.autopilot.create(endpoint: "a", group: nil, steps: steps([50]), bakeSeconds: 60, gate: .healthy, minRequests: 0, reason: nil)
        // The group holds a, so ramping it would move a's plan's endpoint too.
        #expect {
            try w.autopilot.create(endpoint: nil, group: "group1_routing", steps: steps([50]), bakeSeconds: 60, gate: .healthy, minRequests: 0, reason: nil)
        } throws: { ($0 as? PlanError)?.message.contains("plan \(first.id) already ramps") == true }
        #expect(throws: PlanError.self) { try w.autopilot.perform(.pause, plan: "p-nothere") }
        #expect(try w.store.plans().count == 1)
    }

    @Test func durationsAndStepsAreReadAsOperatorsWriteThem() {
        #expect(DurationText.seconds("10m") == 600 && DurationText.seconds("90s") == 90 && DurationText.seconds("2h") == 7200)
        #expect(DurationText.seconds("1d") == 86400 && DurationText.seconds("45") == 45)
        #expect(DurationText.seconds("ten") == nil && DurationText.seconds("") == nil && DurationText.seconds("-5m") == nil)
        #expect(DurationText.format(200) == "3m20s" && DurationText.format(3600) == "1h00m" && DurationText.format(59) == "59s")
    }

    @Test func aTornLastLineOfThePlanLogLosesOnlyThatTransition() throws {
        let w = try World()
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: steps([10]), bakeSeconds: 60, gate: .healthy, minRequests: 0, reason: nil)
        let handle = try #require(FileHandle(forWritingAtPath: w.store.path))
        handle.seekToEndOfFile()
        handle.write(Data("{\"event\":\"paus".utf8))
        try handle.close()
        #expect(try w.store.plans().map(\.id) == [plan.id])
        _ = try w.autopilot.perform(.pause, plan: plan.id.raw)
        #expect(try w.store.records().map(\.event) == ["created", "paused"])
        // A broken line in the middle is an error naming it.
        try (try String(contentsOfFile: w.store.path, encoding: .utf8) + "garbage\n{}\n").write(toFile: w.store.path, atomically: true, encoding: .utf8)
        #expect { try w.store.plans() } throws: { ($0 as? PlanStoreError)?.message.contains("is not a plan record") == true }
    }
}

/// `cutover ramp --hosts`: a plan whose every change goes to some hosts of the fleet only (a canary).
@Suite struct CanaryPlanTests {
    static let c = PlanTests.c

    /// A second host beside the World's file: its own routing file, reached through a fleet pipeline of its own.
    static func canary(_ w: World, runner: ScriptedRunner) throws -> (path: String, applier: @Sendable ([String]) throws -> EditApplier) {
        try FileManager.default.createDirectory(atPath: w.dir.file("edge2"), withIntermediateDirectories: true)
        let path = try w.dir.write("edge2/routing.conf", routing)
        let control = NginxControl(validateArgv: ["nginx-edge2", "-t"], reloadArgv: ["nginx-edge2", "-s", "reload"])
        let target = NginxTarget(name: "edge2", configPath: path, control: control, runner: runner)
        let journal = Journal(path: w.dir.file(".routing.conf.cutover-journal.jsonl"))
        let configuration = ApplyConfiguration(nginx: control, mainConfig: journal.path, journal: journal, configPath: w.dir.file("routing.conf"))
        let clock = w.clock.applyClock
        let applier: @Sendable ([String]) throws -> EditApplier = { names in
            guard names == ["edge2"] else { throw PlanError("unknown hosts \(names)") }
            let fleet = FleetPipeline(targets: [target], reference: target, configuration: configuration, clock: clock)
            return EditApplier(pipeline: ApplyPipeline(configuration: configuration, runner: runner, clock: clock),
                               configPath: path, prefix: nil, names: RolloutNames(), fleet: fleet)
        }
        return (path, applier)
    }

    static func percent(_ path: String, _ key: String) throws -> Double? {
        Discovery.discover(try ConfigSet.load(path: path), names: RolloutNames()).endpoints.first { $0.pattern == key }?.percent.value
    }

    @Test func everyStepAndTheAbortGoToTheCanaryHostOnly() throws {
        let w = try World()
        let edge2 = ScriptedRunner()
        let (path, applier) = try Self.canary(w, runner: edge2)
        w.autopilot.hostApplier = applier
        let before = try w.config()
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: [Percent(hundredths: 1000), Percent(hundredths: 2500)],
                                          bakeSeconds: 60, gate: .notBad, minRequests: 10, reason: "canary", hosts: ["edge2"])
        #expect(plan.hosts == ["edge2"])
        #expect(try w.store.plan(plan.id.raw)?.hosts == ["edge2"], "the plan log keeps the hosts")
        edge2.expect(.init(["nginx-edge2", "-t"]))
        edge2.expect(.init(["nginx-edge2", "-s", "reload"]))
        w.expectNotifications(1)
        var events = try w.autopilot.tick(verdicts: [:])
        #expect(events.map(\.kind) == [.planStep], "\(events)")
        #expect(try Self.percent(path, Self.c) == 10)
        #expect(try w.config() == before, "the other host is untouched")
        #expect(try w.journal().last?.hosts?.map(\.host) == ["edge2"])
        // A bad verdict rolls the canary back, on the canary.
        w.clock.advance(61)
        edge2.expect(.init(["nginx-edge2", "-t"]))
        edge2.expect(.init(["nginx-edge2", "-s", "reload"]))
        w.expectNotifications(1)
        events = try w.autopilot.tick(verdicts: [Self.c: w.verdict(Self.c, .bad, new: 500)])
        #expect(events.map(\.kind).contains(.planAborted), "\(events)")
        #expect(try Self.percent(path, Self.c) == 0)
        #expect(try w.config() == before)
        edge2.verifyAllRan()
        w.nginx.verifyAllRan()
    }

    @Test func aCanaryRampMustGateOnNotBadAndNeedsAnExecutorThatReachesItsHosts() throws {
        let w = try World()
        #expect(throws: PlanError.self) {
            try w.autopilot.create(endpoint: "c", group: nil, steps: [Percent(hundredths: 1000)], bakeSeconds: 60, gate: .healthy,
                                   minRequests: 10, reason: nil, hosts: ["edge2"])
        }
        // Without a fleet to choose from, the plan cannot even be created (its hosts cannot be read).
        #expect(throws: PlanError.self) {
            try w.autopilot.create(endpoint: "c", group: nil, steps: [Percent(hundredths: 1000)], bakeSeconds: 60, gate: .notBad,
                                   minRequests: 10, reason: nil, hosts: ["edge2"])
        }
        // A plan made elsewhere but executed here fails, saying why, and changes nothing.
        let (_, applier) = try Self.canary(w, runner: ScriptedRunner())
        w.autopilot.hostApplier = applier
        let plan = try w.autopilot.create(endpoint: "c", group: nil, steps: [Percent(hundredths: 1000)], bakeSeconds: 60, gate: .notBad,
                                          minRequests: 10, reason: nil, hosts: ["edge2"])
        let executor = w.make()
        w.expectNotifications(1)
        let events = try executor.tick(verdicts: [:])
        #expect(events.first?.message.contains("no `hosts:` to reach them") == true, "\(events)")
        #expect(try w.store.plan(plan.id.raw)?.state == .paused)
    }
}
