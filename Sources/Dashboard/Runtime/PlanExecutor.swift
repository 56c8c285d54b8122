import Apply
import Autopilot
import Foundation
import Rollout
import TrafficStats

/// The dashboard's way to the ramp plans: reads them, runs the operator's commands, and executes them (the
/// single-executor lease and `Autopilot.tick`) when no other process does. Called on the effect runner's
/// background queue, never on the UI thread.
public protocol PlanExecuting: Sendable {
    /// Takes the lease when it is free (and this dashboard may execute), runs one round of decisions on
    /// `verdicts` when it holds it (nil: no figures yet, no decisions), and reads the plans.
    func tick(verdicts: [String: Verdict]?) -> AutopilotReport
    /// An operator's command on a plan.
    func perform(_ command: Autopilot.Command, plan: PlanID) -> AutopilotReport
    /// Creates a plan for the endpoint with map key `endpoint`.
    func create(endpoint: String, steps: [Percent], defaults: PlanDefaults) -> AutopilotReport
    /// Gives the lease up (the dashboard is ending).
    func release()
}

/// The real one: an `Autopilot` over the dashboard's own `EditApplier` (the pipeline a key press takes), its
/// plan store beside the journal, and the lease file beside them.
public final class LeasedAutopilot: PlanExecuting, @unchecked Sendable {
    /// The autopilot (its applier is the dashboard's).
    public let autopilot: Autopilot
    /// Whether this dashboard may take the lease (not when read-only, nor without logs to judge from).
    public let mayExecute: Bool
    /// Why it may not, for the Plans view.
    public let whyNot: String
    private let lock = NSLock()
    private var lease: ExecutorLease?
    private let acquire: @Sendable () throws -> ExecutorLease.Outcome

    /// Creates it; `acquire` tries the lease once (the default: the store's lease file, role `dashboard`).
    public init(autopilot: Autopilot, mayExecute: Bool,
                whyNot: String = "nobody executes the plans: read-only, so this dashboard does not; start `cutover guard`",
                acquire: (@Sendable () throws -> ExecutorLease.Outcome)? = nil) {
        self.autopilot = autopilot
        self.mayExecute = mayExecute
        self.whyNot = whyNot
        let store = autopilot.store, clock = autopilot.clock
        self.acquire = acquire ?? { try ExecutorLease.acquire(path: store.leasePath, role: "dashboard", clock: clock) }
    }

    deinit { lease?.release() }

    public func tick(verdicts: [String: Verdict]?) -> AutopilotReport {
        lock.lock()
        defer { lock.unlock() }
        var events: [AutopilotEvent] = []
        var holder: LeaseHolder??
        // Taken only with verdicts to decide on: a dashboard that cannot judge must not keep a guard on standby.
        if lease == nil && mayExecute && verdicts != nil {
            do {
                switch try acquire() {
                case .acquired(let taken):
                    lease = taken
                    let previous = taken.tookOverFrom.map { ", taken over from \($0), which is gone" } ?? ""
                    events.append(AutopilotEvent(.lease, time: autopilot.clock.now(), message: "this dashboard executes the plans now\(previous)"))
                case .held(let by):
                    holder = .some(by)
                }
            } catch {
                return AutopilotReport(snapshot: snapshot(holder: nil, error: "\(error)"), message: "autopilot: \(error)", isError: true)
            }
        }
        var failure: String?
        if lease != nil, let verdicts {
            do {
                events += try autopilot.tick(verdicts: verdicts)
                try autopilot.store.saveProgress(Array(autopilot.progress.values), at: autopilot.clock.now())
            } catch {
                failure = "\(error)"
            }
        }
        let report = AutopilotReport(snapshot: snapshot(holder: holder, error: nil), events: events,
                                     message: failure.map { "autopilot: \($0); retrying every round" }, isError: failure != nil)
        return report
    }

    public func perform(_ command: Autopilot.Command, plan: PlanID) -> AutopilotReport {
        lock.lock()
        defer { lock.unlock() }
        do {
            let (after, events) = try autopilot.perform(command, plan: plan.raw, reason: "from the dashboard")
            for event in events { autopilot.notifier?.notify(event) }
            let failed = events.first { $0.kind == .applyFailed }
            return AutopilotReport(snapshot: snapshot(holder: nil, error: nil), events: events,
                                   message: failed?.message ?? "plan \(after.id): \(command.rawValue) done, now \(after.state.rawValue)", isError: failed != nil)
        } catch {
            return AutopilotReport(snapshot: snapshot(holder: nil, error: nil), message: "plan \(plan): \(error)", isError: true)
        }
    }

    public func create(endpoint: String, steps: [Percent], defaults: PlanDefaults) -> AutopilotReport {
        lock.lock()
        defer { lock.unlock() }
        do {
            let plan = try autopilot.create(endpoint: endpoint, group: nil, steps: steps, bakeSeconds: defaults.bakeSeconds, gate: defaults.gate,
                                            minRequests: defaults.minRequests, reason: "from the dashboard")
            let who = lease != nil ? "this dashboard executes it" : (mayExecute ? "it starts once this dashboard or a guard holds the lease" : "start `cutover guard` to carry it out")
            return AutopilotReport(snapshot: snapshot(holder: nil, error: nil),
                                   message: "plan \(plan.id) created for \(plan.target): \(plan.steps.map(\.nginxText).joined(separator: " → ")); \(who)")
        } catch {
            return AutopilotReport(snapshot: snapshot(holder: nil, error: nil), message: "no plan created: \(error)", isError: true)
        }
    }

    public func release() {
        lock.lock()
        defer { lock.unlock() }
        lease?.release()
        lease = nil
    }

    /// What the plan log and the lease say now; `holder` is the holder just seen, when the lease was tried.
    private func snapshot(holder: LeaseHolder??, error: String?) -> AutopilotSnapshot {
        let store = autopilot.store
        var plans: [RampPlan] = []
        var failure = error
        do { plans = try store.plans() } catch { failure = failure ?? error.description }
        if let lease {
            return AutopilotSnapshot(plans: plans, progress: autopilot.progress, executor: .thisDashboard(since: lease.holder.since), error: failure)
        }
        let other: LeaseHolder? = holder ?? ExecutorLease.currentHolder(path: store.leasePath)
        // The executor's view counts only while it runs.
        let progress = other == nil ? [:] : Dictionary((store.progress()?.plans ?? []).map { ($0.plan, $0) }, uniquingKeysWith: { a, _ in a })
        let executor: PlanExecutor
        if let other {
            executor = .other(other)
        } else if holder != nil {
            executor = .other(nil)
        } else {
            executor = .nobody(mayExecute ? "nobody executes the plans yet: this dashboard takes the lease once it has figures to judge from"
                               : whyNot)
        }
        return AutopilotSnapshot(plans: plans, progress: progress, executor: executor, error: failure)
    }
}
