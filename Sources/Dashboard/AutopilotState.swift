import Apply
import Autopilot
import Foundation
import Rollout
import TrafficStats

/// Who executes the ramp plans and guardrails, as the dashboard last found it.
public enum PlanExecutor: Sendable, Equatable {
    /// Not known yet (the first check has not come back).
    case unknown
    /// This dashboard holds the single-executor lease and runs the autopilot itself.
    case thisDashboard(since: Date)
    /// Another process holds the lease (a `cutover guard`, another dashboard); nil when its file names no one yet.
    case other(LeaseHolder?)
    /// Nobody executes them, and this dashboard will not (read-only), with why.
    case nobody(String)
}

/// What the plan log and the executor say: the plans, each live plan's gate and wait, who executes them.
public struct AutopilotSnapshot: Sendable, Equatable {
    /// The plans, oldest first (finished ones too).
    public var plans: [RampPlan]
    /// What the executor found for each live plan at its last check.
    public var progress: [PlanID: PlanProgress]
    /// Who executes them.
    public var executor: PlanExecutor
    /// Why the plan log could not be read, if it could not.
    public var error: String?

    /// Creates a snapshot.
    public init(plans: [RampPlan] = [], progress: [PlanID: PlanProgress] = [:], executor: PlanExecutor = .unknown, error: String? = nil) {
        self.plans = plans
        self.progress = progress
        self.executor = executor
        self.error = error
    }
}

/// What an autopilot effect reports back: the snapshot after it, the events it caused, and the line for the
/// status bar (an operator's command's outcome).
public struct AutopilotReport: Sendable, Equatable {
    /// The plans and executor after the effect (nil: a notice that reads nothing, the last snapshot stands).
    public var snapshot: AutopilotSnapshot?
    /// What happened (steps, aborts, automatic rollbacks, the lease).
    public var events: [AutopilotEvent]
    /// The outcome of an operator's command or a failure, for the status line.
    public var message: String?
    /// Whether `message` reports a failure.
    public var isError: Bool

    /// Creates a report.
    public init(snapshot: AutopilotSnapshot?, events: [AutopilotEvent] = [], message: String? = nil, isError: Bool = false) {
        self.snapshot = snapshot
        self.events = events
        self.message = message
        self.isError = isError
    }
}

/// The parameters of a plan created from the dashboard: the settings' ladder and `cutover ramp`'s defaults.
public struct PlanDefaults: Sendable, Equatable {
    /// How long each step bakes, in seconds.
    public var bakeSeconds: Double = 600
    /// What must hold to advance.
    public var gate: PlanGate = .healthy
    /// New-service requests each step needs since it began.
    public var minRequests: Int = 500

    /// The defaults (10 minutes, healthy, 500).
    public init(bakeSeconds: Double = 600, gate: PlanGate = .healthy, minRequests: Int = 500) {
        self.bakeSeconds = bakeSeconds
        self.gate = gate
        self.minRequests = minRequests
    }
}

/// The dashboard's view of the autopilot: what it last read, the guardrail settings, and its own executor loop.
public struct AutopilotPane: Sendable, Equatable {
    /// Whether this session has an autopilot at all (a plan store and a pipeline); off, nothing is shown or run.
    public var enabled = false
    /// What was last read.
    public var snapshot = AutopilotSnapshot()
    /// The guardrails: automatic rollback on, and for which endpoints (nil: all).
    public var autoRollback = false
    public var guardedEndpoints: [String]?
    /// What a plan made here uses.
    public var defaults = PlanDefaults()
    /// A check of the lease and the plans (and a round of decisions when this dashboard executes) is under way.
    public var ticking = false
    /// When the last one came back.
    public var lastTick: Date?
    /// Seconds between two rounds.
    public var interval: Double = 1
    /// The latest automatic action (a step, an abort, a rollback), for the header.
    public var lastAction: AutopilotEvent?

    /// Creates a pane (disabled).
    public init(enabled: Bool = false) { self.enabled = enabled }

    /// The plans in the Plans view's order: live ones first (oldest first), then finished ones, newest first.
    public var orderedPlans: [RampPlan] {
        let plans = snapshot.plans
        return plans.filter { $0.state.isActive } + plans.filter { !$0.state.isActive }.reversed()
    }

    /// The live plan that moves `endpoint`, if any (by its map key, or its group for a group plan).
    public func activePlan(for endpoint: Endpoint) -> RampPlan? {
        snapshot.plans.last { plan in
            guard plan.state.isActive else { return false }
            switch plan.target {
            case .endpoint(let key): return key == endpoint.id
            case .group(let name): return endpoint.groupName == name
            }
        }
    }

    /// The executor in a few words for the header (`guard pid 4242`, `this dashboard`, `no executor`).
    public var executorLabel: String {
        switch snapshot.executor {
        case .unknown: return "checking"
        case .thisDashboard: return "this dashboard"
        case .other(let holder?): return "\(holder.role) pid \(holder.pid)"
        case .other(nil): return "another process"
        case .nobody: return "no executor"
        }
    }

    /// The executor in fewer words, for narrow headers (`guard 4242`, `this dash`, `no executor`).
    public var shortExecutorLabel: String {
        switch snapshot.executor {
        case .unknown: return "checking"
        case .thisDashboard: return "this dash"
        case .other(let holder?): return "\(holder.role) \(holder.pid)"
        case .other(nil): return "other"
        case .nobody: return "no executor"
        }
    }

    /// The executor in a sentence for the Plans view.
    public func executorSentence(zone: TimeZone) -> String {
        switch snapshot.executor {
        case .unknown: return "checking who executes the plans…"
        case .thisDashboard(let since): return "executed by this dashboard (pid \(getpid()), lease taken at \(formatTime(since, zone: zone)))"
        case .other(let holder?):
            return "executed by cutover \(holder.role) pid \(holder.pid) (\(holder.user)@\(holder.host), since \(formatDateTime(holder.since, zone: zone)))"
        case .other(nil): return "executed by another process (its lease file names no one yet)"
        case .nobody(let why): return why
        }
    }

    /// The events worth a line in the header: what the autopilot did by itself.
    public static func isAction(_ event: AutopilotEvent) -> Bool {
        switch event.kind {
        case .planIsolated, .planStep, .planCompleted, .planAborted, .automaticRollback, .applyFailed, .rollbackNotConfirmed, .guardCancelled,
             .guardHeld, .breach:
            return true
        default:
            return false
        }
    }
}

extension AppState {
    /// The plan selected in the Plans view.
    public var selectedPlan: RampPlan? {
        let plans = autopilot.orderedPlans
        guard !plans.isEmpty else { return nil }
        return plans[min(listSelection, plans.count - 1)]
    }

    /// The verdicts by endpoint identity, as the autopilot takes them; nil before the first figures.
    public var verdictsByEndpoint: [EndpointID: Verdict]? {
        guard let snapshot, let model else { return nil }
        let known = Set(model.endpoints.map(\.id))
        var out: [EndpointID: Verdict] = [:]
        for traffic in snapshot.endpoints where known.contains(traffic.id) { out[traffic.id] = traffic.verdict }
        return out
    }
}

/// A plan's cells as the Plans view and the detail pane write them.
enum PlanText {
    /// The endpoint's short name (its map key when the config no longer has it) or the group.
    static func target(_ plan: RampPlan, model: RolloutModel? = nil) -> String {
        switch plan.target {
        case .endpoint(let key): return (model?.endpoints.first { $0.id == key }?.name ?? key.description) + (plan.group.map { " (\($0))" } ?? "")
        case .group(let name): return "group " + name
        }
    }

    static func step(_ plan: RampPlan) -> String { "\(plan.step.map { "\($0 + 1)" } ?? "-")/\(plan.steps.count)" }

    static func bakeLeft(_ plan: RampPlan, now: Date) -> String {
        plan.state == .running || plan.state == .paused ? DurationText.format(plan.bakeLeft(at: now)) : "-"
    }

    static func gate(_ plan: RampPlan, _ progress: PlanProgress?) -> String { "\(plan.gate.rawValue): \(progress?.gate ?? "-")" }

    static func waiting(_ plan: RampPlan, _ progress: PlanProgress?, executor: PlanExecutor) -> String {
        guard plan.state.isActive else { return plan.note ?? "-" }
        if let waiting = progress?.waiting { return waiting }
        if case .nobody = executor { return "an executor (`cutover guard`, or a dashboard that is not read-only)" }
        return plan.note ?? "the next check"
    }

    /// One line for the endpoint's detail pane: `plan p-1a2b3c4d step 2/5 at 10% · running · bake 4m left · waits for …`.
    static func summary(_ plan: RampPlan, _ progress: PlanProgress?, executor: PlanExecutor, now: Date) -> String {
        var parts = ["plan \(plan.id) step \(step(plan))" + (plan.percent.map { " at \($0.nginxText)" } ?? ""), plan.state.rawValue]
        if plan.state == .running || plan.state == .paused { parts.append("bake \(bakeLeft(plan, now: now)) left") }
        parts.append("gate " + gate(plan, progress))
        parts.append("waits for " + waiting(plan, progress, executor: executor))
        return parts.joined(separator: " · ")
    }
}
