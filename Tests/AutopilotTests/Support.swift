import Apply
@testable import Autopilot
import Foundation
import NginxConfig
import Rollout
import TestSupport
import Testing
import TrafficStats

/// A scripted clock: time moves only when a test advances it (or the pipeline sleeps), in whole seconds.
final class ScriptedClock: @unchecked Sendable {
    private let lock = NSLock()
    private var seconds: Double = 1_790_000_000

    /// Moves time forward.
    func advance(_ by: Double) { lock.withLock { seconds += by } }

    /// Now.
    var now: Date { lock.withLock { Date(timeIntervalSince1970: seconds) } }

    /// The clock as the pipeline and the autopilot take it.
    var applyClock: ApplyClock {
        ApplyClock(now: { [self] in now },
                   monotonic: { [self] in .milliseconds(Int64(lock.withLock { seconds } * 1000)) },
                   sleep: { [self] d in advance(d.millisecondsDouble / 1000) })
    }
}

/// The routing of the unit tests (`TestSupport`'s three-endpoint routing).
let routing = threeEndpointRouting

/// One autopilot over a routing file in a temp dir, a scripted nginx, a scripted clock and a scripted notify
/// command, with the verdicts a test makes up counting from the last change the autopilot reported.
final class World: @unchecked Sendable {
    let dir: TempDir
    let clock = ScriptedClock()
    let nginx = ScriptedRunner()
    let notifyRunner = ScriptedRunner()
    let store: PlanStore
    var autopilot: Autopilot
    private let lock = NSLock()
    private var changed: [EndpointID: Int64] = [:]
    let notifyArgv = ["notify-hook", "--json"]
    var failures: [AutopilotEvent] { lock.withLock { failed } }
    private var failed: [AutopilotEvent] = []

    init(guardSettings: GuardSettings = GuardSettings(), text: String = routing) throws {
        dir = try TempDir(prefix: "cutover-autopilot")
        _ = try dir.write("routing.conf", text)
        store = PlanStore(journalPath: dir.file(".routing.conf.cutover-journal.jsonl"))
        autopilot = Autopilot(applier: World.applier(dir, runner: nginx, clock: clock), store: store)
        autopilot = make(guardSettings: guardSettings)
    }

    static func applier(_ dir: TempDir, runner: ScriptedRunner, clock: ScriptedClock) -> EditApplier {
        let control = NginxControl(validateArgv: ["nginx", "-t"], reloadArgv: ["nginx", "-s", "reload"], verify: [])
        let configuration = ApplyConfiguration(nginx: control, mainConfig: dir.file("routing.conf"),
                                               journal: Journal(path: dir.file(".routing.conf.cutover-journal.jsonl")),
                                               configPath: dir.file("routing.conf"))
        return EditApplier(pipeline: ApplyPipeline(configuration: configuration, runner: runner, clock: clock.applyClock),
                           configPath: dir.file("routing.conf"), prefix: nil, names: RolloutNames())
    }

    /// A new autopilot over the same files (a restarted process).
    func make(guardSettings: GuardSettings = GuardSettings()) -> Autopilot {
        let notifier = Notifier(argv: notifyArgv, runner: notifyRunner, timeout: .seconds(5), clock: .system) { [self] e in lock.withLock { failed.append(e) } }
        let a = Autopilot(applier: World.applier(dir, runner: nginx, clock: clock), store: store, guardSettings: guardSettings,
                          clock: clock.applyClock, notifier: notifier)
        a.onApplied = { [self] change in lock.withLock { for e in change.endpoints { changed[e.id] = change.time } } }
        return a
    }

    /// Expects `count` changes to go through nginx (validate and reload each).
    func expectApplies(_ count: Int) {
        for _ in 0..<count {
            nginx.expect(.init(["nginx", "-t"]))
            nginx.expect(.init(["nginx", "-s", "reload"]))
        }
    }

    /// Expects `count` notifications, answered with `exitCode`.
    func expectNotifications(_ count: Int, exitCode: Int32 = 0) {
        for _ in 0..<count { notifyRunner.expect(.init(notifyArgv, exitCode: exitCode, stderr: exitCode == 0 ? "" : "hook said no")) }
    }

    /// A verdict on the requests since the last change the autopilot made to `key` (or `since`).
    func verdict(_ key: EndpointID, _ state: VerdictState, new: Int, since: Int64? = nil, reasons: [String] = []) -> Verdict {
        let from = since ?? lock.withLock { changed[key] } ?? 0
        return Verdict(state: state, reasons: reasons.isEmpty ? ["5xx 0.4% vs 0.3% (+0.1 pp, margin 0.5 pp)"] : reasons,
                       since: from, baseline: .concurrent, newRequests: new, currentRequests: new * 9)
    }

    func config() throws -> String { try dir.read("routing.conf") }

    func model() throws -> RolloutModel { Discovery.discover(try ConfigSet.load(path: dir.file("routing.conf")), names: RolloutNames()) }

    func percent(_ name: String) throws -> Double? { try model().endpoints.first { $0.name == name }?.percent.value }

    func journal() throws -> [JournalRecord] { try Journal(path: dir.file(".routing.conf.cutover-journal.jsonl")).records() }

    func plan(_ id: PlanID) throws -> RampPlan? { try store.plan(id.raw) }

    /// Applies an operator's change through the same pipeline (a key press or `cutover set`).
    func operatorApplies(_ edit: RolloutEdit, reason: String = "operator") throws {
        expectApplies(1)
        let config = try ConfigSet.load(path: dir.file("routing.conf"))
        let editor = RolloutEditor(config: config)
        let preview = try editor.apply(edit)
        let report = try World.applier(dir, runner: nginx, clock: clock).apply(edit, preview: preview, previewModel: editor.model, reason: reason)
        precondition(report.outcome == .applied, report.message)
    }

    deinit { dir.remove() }
}
