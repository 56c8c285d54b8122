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

/// The plain-value figures as a traffic source.
struct FixedTraffic: TrafficSource {
    var figures: TrafficSnapshot
    func snapshot(_ window: TrafficWindow) -> TrafficSnapshot? { figures }
    var error: String? { nil }
    func setConfiguredPercent(_ percent: Double?, endpoint: String, at time: Int64) {}
}

/// Scripted wall time: each reading is half a second after the last (the loop reads it once per refresh).
final class SteppingClock: @unchecked Sendable {
    private let lock = NSLock()
    private var seconds = Double(Fixtures.epoch)

    var clock: ApplyClock {
        ApplyClock(now: { [self] in lock.withLock { seconds += 0.5; return Date(timeIntervalSince1970: seconds) } },
                   monotonic: { .zero },  // the stepped loop passes its own monotonic time
                   sleep: { _ in })
    }
}

/// A dashboard over the demo config in a temp dir, a scripted nginx, and the real autopilot with its plan log and
/// lease beside the journal; its effects run inline, so stepping the loop runs the autopilot's rounds.
final class PlanWorld: @unchecked Sendable {
    let dir: TempDir
    let nginx = ScriptedRunner()
    let planner: LeasedAutopilot
    let app: App
    let journalPath: String
    var store: PlanStore { planner.autopilot.store }

    init(readOnly: Bool = false) throws {
        dir = try TempDir(prefix: "cutover-dashboard-plans")
        let configPath = try dir.write("cutover-demo.conf", DemoScenario.standard.configText(directory: "/srv/demo"))
        journalPath = dir.file("journal.jsonl")
        let control = NginxControl(validateArgv: ["nginx", "-t"], reloadArgv: ["nginx", "-s", "reload"], verify: [])
        let pipeline = ApplyPipeline(configuration: ApplyConfiguration(nginx: control, mainConfig: configPath, journal: Journal(path: journalPath),
                                                                       configPath: configPath),
                                     runner: nginx, clock: .system)
        let applier = EditApplier(pipeline: pipeline, configPath: configPath, prefix: nil, names: RolloutNames())
        planner = LeasedAutopilot(autopilot: Autopilot(applier: applier, store: PlanStore(journalPath: journalPath)), mayExecute: !readOnly)
        let reader = LocalConfigReader(path: configPath)
        let loaded = try reader.load()
        let runner = EffectRunner(applier: PipelineChangeApplier(applier: applier, reader: reader), journal: Journal(path: journalPath),
                                  config: reader, traffic: FixedTraffic(figures: PlainFixtures.snapshot(logTime: Fixtures.epoch)),
                                  themes: { _ in (.default, []) }, inline: true, planner: planner)
        var state = AppState(configPath: configPath, loaded: loaded, readOnly: readOnly, now: Fixtures.now)
        state.timeZone = TimeZone(identifier: "UTC") ?? .current
        state.autopilot = AutopilotPane(enabled: true)
        app = App(state: state, runner: runner, traffic: FixedTraffic(figures: PlainFixtures.snapshot(logTime: Fixtures.epoch)),
                  clock: SteppingClock().clock)
    }

    func expectApplies(_ count: Int) {
        for _ in 0..<count {
            nginx.expect(.init(["nginx", "-t"]))
            nginx.expect(.init(["nginx", "-s", "reload"]))
        }
    }

    func journal() throws -> [JournalRecord] { try Journal(path: journalPath).records() }

    deinit {
        planner.release()
        dir.remove()
    }
}

@Suite(.serialized) struct PlanRuntimeTests {
    @Test func withNoGuardTheDashboardTakesTheLeaseAndExecutesThePlan() throws {
        let world = try PlanWorld()
        let plan = try world.planner.autopilot.create(endpoint: "book.get_book_info", group: nil, steps: [Percent(hundredths: 5000), Percent(hundredths: 7500)],
                                                      bakeSeconds: 600, gate: .healthy, minRequests: 500, reason: "runtime test")
        // It shares group3 with two others: first its own group at 25% (one change), then the first step (another).
        world.expectApplies(2)
        let backend = TestBackend(width: 120, height: 40)
        backend.enqueue(.char("6"))
        let done = stepApp(world.app, backend: backend, turns: 100) {
            world.app.state.autopilot.snapshot.plans.first?.state == .running && backend.lines().contains { $0.contains(plan.id.raw) && $0.contains("running") }
                && world.app.state.journal.count == 2 && (try? world.store.progress())??.plans.first?.plan == plan.id
        }
        #expect(done, "\(backend.lines().joined(separator: "\n"))")
        world.nginx.verifyAllRan()
        #expect(world.app.state.autopilot.snapshot.executor != .unknown)
        if case .thisDashboard = world.app.state.autopilot.snapshot.executor {} else { Issue.record("\(world.app.state.autopilot.snapshot.executor)") }
        #expect(backend.lines()[0].contains("autopilot this dashboard"))
        #expect(ExecutorLease.currentHolder(path: world.store.leasePath)?.role == "dashboard")
        // Through the same pipeline as a key press: journaled, marked as the autopilot's, and on the header.
        let records = try world.journal()
        #expect(records.count == 2 && records.allSatisfy { $0.outcome == .applied && ($0.change.reason ?? "").hasPrefix(Autopilot.marker) })
        #expect(try world.store.plan(plan.id.raw)?.percent == Percent(hundredths: 5000))
        #expect(world.app.state.journal.count == 2, "the journal was re-read after the change")
        #expect(backend.lines()[2].contains("autopilot: plan \(plan.id) step 1/2: 25% → 50%"), "\(backend.lines()[2])")
        #expect(world.store.progress()?.plans.first?.plan == plan.id, "cutover plans sees the progress")
    }

    @Test func whileAnotherProcessHoldsTheLeaseItShowsWhoAndChangesNothing() throws {
        let world = try PlanWorld()
        let plan = try world.planner.autopilot.create(endpoint: "book.get_book_info", group: nil, steps: [Percent(hundredths: 5000)],
                                                      bakeSeconds: 600, gate: .healthy, minRequests: 500, reason: nil)
        guard case .acquired(let other) = try ExecutorLease.acquire(path: world.store.leasePath, role: "guard", clock: .system) else {
            Issue.record("the test could not take the lease")
            return
        }
        let backend = TestBackend(width: 120, height: 40)
        backend.enqueue(.char("6"))
        let shown = stepApp(world.app, backend: backend, turns: 60) {
            backend.lines().contains { $0.contains("executed by cutover guard pid \(getpid())") }
        }
        #expect(shown, "\(backend.lines().joined(separator: "\n"))")
        #expect(backend.lines()[0].contains("autopilot guard pid \(getpid())"))
        let journal = try world.journal()
        #expect(world.nginx.commands.isEmpty && journal.isEmpty, "the holder executes, not this dashboard")
        #expect(try world.store.plan(plan.id.raw)?.state == .pending)
        // The holder goes away: the next round takes the lease over and starts the plan.
        other.release()
        world.expectApplies(2)
        let took = stepApp(world.app, backend: backend, turns: 60) { world.app.state.autopilot.snapshot.plans.first?.state == .running }
        #expect(took)
        world.nginx.verifyAllRan()
        #expect(world.app.state.status?.text.contains("autopilot:") == true)
    }

    @Test func withoutFiguresTheLeaseIsLeftForAGuard() throws {
        let world = try PlanWorld()
        let report = world.planner.tick(verdicts: nil)
        #expect(ExecutorLease.currentHolder(path: world.store.leasePath) == nil, "a dashboard that cannot judge keeps no guard on standby")
        guard case .nobody(let why)? = report.snapshot?.executor else { Issue.record("\(String(describing: report.snapshot))"); return }
        #expect(why.contains("once it has figures"))
        _ = world.planner.tick(verdicts: [:])
        #expect(ExecutorLease.currentHolder(path: world.store.leasePath)?.role == "dashboard")
    }

    @Test func aReadOnlyDashboardNeverTakesTheLease() throws {
        let world = try PlanWorld(readOnly: true)
        _ = try world.planner.autopilot.create(endpoint: "book.get_book_info", group: nil, steps: [Percent(hundredths: 5000)],
                                               bakeSeconds: 600, gate: .healthy, minRequests: 500, reason: nil)
        let backend = TestBackend(width: 120, height: 40)
        backend.enqueue(.char("6"))
        let shown = stepApp(world.app, backend: backend, turns: 40) {
            backend.lines().contains { $0.contains("read-only, so this dashboard does not; start `cutover guard`") }
        }
        #expect(shown, "\(backend.lines().joined(separator: "\n"))")
        #expect(ExecutorLease.currentHolder(path: world.store.leasePath) == nil)
        #expect(world.nginx.commands.isEmpty)
    }

    @Test func planKeysRunThroughTheRunner() throws {
        let world = try PlanWorld()
        let plan = try world.planner.autopilot.create(endpoint: "book.get_book_info", group: nil, steps: [Percent(hundredths: 5000)],
                                                      bakeSeconds: 600, gate: .healthy, minRequests: 500, reason: nil)
        guard case .acquired(let other) = try ExecutorLease.acquire(path: world.store.leasePath, role: "guard", clock: .system) else { return }
        defer { other.release() }
        let backend = TestBackend(width: 120, height: 40)
        backend.enqueue(.char("6"))
        #expect(stepApp(world.app, backend: backend, turns: 40) { !world.app.state.autopilot.snapshot.plans.isEmpty })
        // Pause the pending plan, then abort it (asks first; nothing is live, nothing to roll back).
        backend.enqueue(.char("p"))
        let paused = stepApp(world.app, backend: backend, turns: 40) { (try? world.store.plan(plan.id.raw))??.state == .paused }
        #expect(paused)
        backend.enqueue(.char("X"), .char("y"))
        let aborted = stepApp(world.app, backend: backend, turns: 40) { (try? world.store.plan(plan.id.raw))??.state == .aborted }
        #expect(aborted)
        #expect(world.app.state.status?.text.contains("abort done, now aborted") == true, "\(String(describing: world.app.state.status))")
        #expect(world.nginx.commands.isEmpty)
        // N creates one for the selected endpoint.
        backend.enqueue(.char("1"), .char("g"), .char("N"), .char("y"))
        let created = stepApp(world.app, backend: backend, turns: 40) { ((try? world.store.plans()) ?? []).count == 2 }
        #expect(created, "\(String(describing: world.app.state.status))")
        #expect(world.app.state.status?.text.contains("created for") == true)
    }
}
