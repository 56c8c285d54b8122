import Apply
import Foundation
import NginxConfig
import Rollout
import TrafficStats

/// A routing change the autopilot made, for whoever computes the verdicts (so the next verdict counts the
/// requests since it).
public struct AppliedChange: Sendable, Equatable {
    /// The endpoints whose share changed, by identity, with their new percent.
    public var endpoints: [(id: EndpointID, percent: Double)]
    /// When (the journal record's time, Unix seconds).
    public var time: Int64
    /// Whether it sent them back to the current service.
    public var rollback: Bool

    public static func == (a: AppliedChange, b: AppliedChange) -> Bool {
        a.time == b.time && a.rollback == b.rollback && a.endpoints.map(\.id) == b.endpoints.map(\.id)
            && a.endpoints.map(\.percent) == b.endpoints.map(\.percent)
    }
}

/// What the executor knows of a plan between ticks (the plan log holds the plan itself).
public struct PlanProgress: Sendable, Equatable, Codable {
    /// The plan.
    public var plan: PlanID
    /// The gate's state for the live step (`healthy`, `watch`, …, one per endpoint for a group).
    public var gate: String
    /// What the plan waits for, in words.
    public var waiting: String

    /// Creates a progress record.
    public init(plan: PlanID, gate: String, waiting: String) {
        self.plan = plan
        self.gate = gate
        self.waiting = waiting
    }
}

/// The autopilot: executes ramp plans and the guardrails from the verdicts, every change through the apply
/// pipeline (validate, swap, reload, verify, revert, journal) exactly like a key press, every plan transition in
/// the plan log, every notifiable event to the notify command.
///
/// It decides; it reads no logs and draws nothing. The executor calls `tick(verdicts:)` with the verdicts the
/// traffic engine computed; `cutover ramp`, `plans` and `plan` call the operator commands.
public final class Autopilot: @unchecked Sendable {
    /// The prefix of the journal reason of every change the autopilot makes by itself; any other applied change
    /// of an endpoint is the operator's.
    public static let marker = "autopilot: "

    /// The pipeline every change goes through.
    public let applier: EditApplier
    /// The plans.
    public let store: PlanStore
    /// The guardrails.
    public var guardSettings: GuardSettings
    /// Time.
    public let clock: ApplyClock
    /// The notify command, if any.
    public let notifier: Notifier?
    /// The pipeline to a subset of the fleet's hosts (a plan made with `cutover ramp --hosts`); nil when this
    /// executor has no fleet to choose from, and such a plan then fails with that said.
    public var hostApplier: (@Sendable ([String]) throws -> EditApplier)?
    /// Told of every change applied (to note it in the traffic engine).
    public var onApplied: (@Sendable (AppliedChange) -> Void)?
    /// What the last tick found for each active plan.
    public private(set) var progress: [PlanID: PlanProgress] = [:]
    /// The SIGINT, SIGTERM or SIGHUP that arrived while a change was in flight (the pipeline finished or reverted
    /// that change and journaled it first); the executor stops after the tick.
    public private(set) var interruptedBy: Int32?

    private let who: String
    private var breaches: [EndpointID: Breach] = [:]

    /// A `bad` verdict the guardrail is dealing with.
    struct Breach {
        /// When the verdict was first seen bad.
        var start: Date
        /// The verdict's `since` then: a new change makes a new breach.
        var since: Int64?
        /// Acted on, cancelled or reported: nothing more until it ends.
        var handled = false
        /// Whether the cooldown hold was reported.
        var heldReported = false
    }

    /// Creates an autopilot over `applier`'s config with the plans in `store`.
    public init(applier: EditApplier, store: PlanStore, guardSettings: GuardSettings = GuardSettings(), clock: ApplyClock = .system,
                notifier: Notifier? = nil) {
        self.applier = applier
        self.store = store
        self.guardSettings = guardSettings
        self.clock = clock
        self.notifier = notifier
        self.who = "\(ApplyConfiguration.currentUser())@\(ApplyConfiguration.currentHost()) pid \(getpid())"
    }

    // MARK: - Operator commands

    /// Creates a plan for an endpoint (any unique part of its key) or a group, after checking it against the
    /// config and the other plans; the executor carries it out.
    ///
    /// With `hosts`, every change of the plan goes to those hosts only (a canary): the traffic figures still
    /// read every host, so the split the others keep differs from the canary's percent and the verdict says
    /// `watch` for the split; such a plan must gate on `not-bad` (a bad verdict still aborts it).
    public func create(endpoint: String?, group: String?, steps: [Percent], bakeSeconds: Double, gate: PlanGate,
                       minRequests: Int, reason: String?, hosts: [String]? = nil) throws -> RampPlan {
        try RampPlan.validate(steps: steps, bakeSeconds: bakeSeconds, minRequests: minRequests)
        if let hosts, gate == .healthy {
            throw PlanError("a ramp limited to \(hosts.joined(separator: ", ")) cannot gate on healthy: the other hosts keep their split, so "
                            + "the fleet-wide split never matches the canary's percent and the verdict stays watch; use --gate not-bad "
                            + "(a bad verdict still aborts the plan and rolls the canary back)")
        }
        let model = try loadModel(via: try applier(hosts: hosts, for: "the plan"))
        let target: PlanTarget
        switch (endpoint, group) {
        case (let query?, nil):
            do { target = .endpoint(try model.resolveEndpoint(query).id) } catch { throw PlanError(error.message) }
        case (nil, let name?):
            do { target = .group(try model.resolveGroup(name).name) } catch { throw PlanError(error.message) }
        default:
            throw PlanError("give an endpoint or --group NAME (one of them)")
        }
        return try store.withLock {
            let active = try store.plans().filter { $0.state.isActive }
            for other in active where overlaps(other, target, model: model) {
                throw PlanError("plan \(other.id) already ramps \(other.target) (\(other.state.rawValue)); abort it first (`cutover plan abort \(other.id)`)")
            }
            var plan = RampPlan(target: target, steps: steps, bakeSeconds: bakeSeconds, gate: gate, minRequests: minRequests,
                                reason: reason, created: clock.now(), createdBy: who)
            plan.hosts = hosts
            try store.append(PlanRecord(time: clock.now(), event: "created", plan: plan, evidence: reason.map { [$0] } ?? [], by: who))
            return plan
        }
    }

    /// The operator's commands on a plan.
    public enum Command: String, Sendable, CaseIterable {
        case pause, resume, promote, abort
    }

    /// Carries out `command` on the plan `id` (or a unique prefix), returning the plan after it and the events.
    @discardableResult
    public func perform(_ command: Command, plan id: String, reason: String? = nil) throws -> (RampPlan, [AutopilotEvent]) {
        try store.withLock {
            guard var plan = try store.plan(id) else {
                throw PlanError("no plan \(id); `cutover plans` lists them")
            }
            guard plan.state.isActive else {
                throw PlanError("plan \(plan.id) is \(plan.state.rawValue); only pending, running or paused plans take `\(command.rawValue)`")
            }
            let now = clock.now()
            var events: [AutopilotEvent] = []
            let words = reason.map { [$0] } ?? []
            switch command {
            case .pause:
                guard plan.state != .paused else { throw PlanError("plan \(plan.id) is already paused; `cutover plan resume \(plan.id)` continues it") }
                pause(&plan, now: now, note: "paused by \(who)" + (reason.map { ": \($0)" } ?? ""))
                try record("paused", plan, evidence: words)
                events.append(event(.planPaused, plan, message: plan.note ?? "paused"))
            case .resume:
                guard plan.state == .paused else { throw PlanError("plan \(plan.id) is not paused (\(plan.state.rawValue))") }
                resume(&plan, now: now)
                try record("resumed", plan, evidence: words)
                events.append(event(.planResumed, plan, message: "resumed by \(who)"))
            case .promote:
                plan.promote = true
                try record("promote", plan, evidence: words)
                events.append(event(.planPromoted, plan, message: "the next check skips the rest of the bake and the gate once (\(who))"))
            case .abort:
                let note = "aborted by \(who)" + (reason.map { ": \($0)" } ?? "")
                events += abort(&plan, note: note, evidence: words, verdict: nil, automatic: false)
            }
            return (plan, events)
        }
    }

    // MARK: - The executor

    /// One round of the executor: every active plan, then the guardrails of the endpoints no plan ramps.
    /// `verdicts` are by endpoint identity, as the traffic engine computed them.
    public func tick(verdicts: [EndpointID: Verdict]) throws -> [AutopilotEvent] {
        var events: [AutopilotEvent] = []
        let ids = try store.plans().filter { $0.state.isActive }.map(\.id)
        var ramped = Set<EndpointID>()
        for id in ids {
            events += try store.withLock { () throws -> [AutopilotEvent] in
                // Fresh under the lock: an operator's command may have landed since.
                guard var plan = try store.plan(id.raw), plan.state.isActive else { return [] }
                // A plan limited to some hosts reads the routing of those hosts (they differ from the others).
                let model: RolloutModel
                do {
                    model = try loadModel(for: plan)
                } catch let error as PlanError where plan.hosts != nil {
                    // Said once: a plan already held for it stays paused until its hosts can be reached.
                    return plan.state == .paused ? [] : try fail(&plan, error.message)
                }
                let keys = endpoints(of: plan, model: model).map(\.id)
                ramped.formUnion(keys)
                return try step(&plan, model: model, verdicts: verdicts)
            }
        }
        progress = progress.filter { ids.contains($0.key) }
        events += try guardrails(verdicts: verdicts, skipping: ramped)
        for e in events { notifier?.notify(e) }
        return events
    }

    /// Advances one plan as far as the verdicts allow.
    func step(_ plan: inout RampPlan, model: RolloutModel, verdicts: [EndpointID: Verdict]) throws -> [AutopilotEvent] {
        let now = clock.now()
        var events: [AutopilotEvent] = []
        if plan.state == .pending {
            return try start(&plan, model: model)
        }
        let members = endpoints(of: plan, model: model)
        let judged = members.map { ($0, verdicts[$0.id] ?? .unknown) }
        // A bad verdict during any step (paused or not) aborts and rolls back, with the evidence.
        if let (endpoint, verdict) = judged.first(where: { $0.1.state == .bad }), current(verdict, plan) {
            let evidence = Self.evidence(verdict, endpoint: endpoint.name)
            return abort(&plan, note: "verdict bad for \(endpoint.name) at \(plan.percent?.nginxText ?? "?"): \(verdict.reasons.first ?? "")",
                         evidence: evidence, verdict: verdict, automatic: true)
        }
        if plan.state == .paused {
            progress[plan.id] = PlanProgress(plan: plan.id, gate: gateText(judged), waiting: "paused: \(plan.note ?? "")")
            return []
        }
        // An operator's change to these endpoints since the step began: never fight it, pause.
        if let started = plan.stepStarted, let change = try manualChange(of: members, group: plan.group, after: started) {
            pause(&plan, now: now, note: "the operator changed \(change.change.endpoints.joined(separator: ", ")) by hand (journal \(change.id.prefix(8))); `cutover plan resume \(plan.id)` continues from the config as it is")
            try record("paused", plan, evidence: [change.summary])
            events.append(event(.planPaused, plan, message: plan.note ?? "paused"))
            return events
        }
        let since = plan.stepStarted.map { Int64($0.timeIntervalSince1970.rounded(.down)) } ?? .max
        let requests = judged.reduce(0) { $0 + (($1.1.since ?? .min) >= since ? $1.1.newRequests : 0) }
        let bakeLeft = plan.bakeLeft(at: now)
        let gateHolds = !judged.isEmpty && judged.allSatisfy { current($0.1, plan) && plan.gate.holds($0.1.state) }
        var waits: [String] = []
        if bakeLeft > 0 { waits.append("bake \(DurationText.format(bakeLeft)) left") }
        if requests < plan.minRequests { waits.append("\(plan.minRequests - requests) more new-service requests (\(requests)/\(plan.minRequests))") }
        if !gateHolds { waits.append("gate \(plan.gate.rawValue): verdict \(gateText(judged))") }
        progress[plan.id] = PlanProgress(plan: plan.id, gate: gateText(judged), waiting: waits.isEmpty ? "advancing" : waits.joined(separator: "; "))
        let promoted = plan.promote
        guard promoted || waits.isEmpty else { return [] }
        plan.promote = false
        let evidence = judged.flatMap { Self.evidence($0.1, endpoint: $0.0.name) }
            + (promoted ? ["promoted by the operator: bake and gate skipped once"] : [])
        let next = (plan.step ?? -1) + 1
        if next >= plan.steps.count {
            plan.state = .completed
            plan.note = "completed at \(plan.percent?.nginxText ?? "?")"
            try record("completed", plan, evidence: evidence)
            events.append(event(.planCompleted, plan, evidence: evidence, message: "every step done; \(plan.target) stays at \(plan.percent?.nginxText ?? "?")"))
            progress[plan.id] = nil
            return events
        }
        events += try apply(step: next, of: &plan, model: model, evidence: evidence)
        return events
    }

    /// Starts a pending plan: isolates the endpoint into its own group when it shares one, then applies the
    /// first step above its current percent.
    func start(_ plan: inout RampPlan, model: RolloutModel) throws -> [AutopilotEvent] {
        var events: [AutopilotEvent] = []
        var model = model
        var percent: Percent
        switch plan.target {
        case .group(let name):
            guard let group = model.group(named: name) else { return try fail(&plan, "group \(name) is no longer in the config") }
            plan.group = group.name
            percent = group.percent
        case .endpoint(let key):
            guard let endpoint = model.endpoints.first(where: { $0.id == key }) else {
                return try fail(&plan, "endpoint \(key) is no longer in the config")
            }
            percent = endpoint.percent
            let sharing = endpoint.group.map { g in model.endpoints.filter { $0.group == g }.count > 1 } ?? true
            if sharing {
                let (report, group) = isolate(endpoint, plan: plan)
                if report?.outcome == .interrupted { return [] }
                guard let report, report.outcome == .applied, let group else {
                    return try fail(&plan, "could not move \(endpoint.name) into its own group: \(report?.message ?? "the edit was refused")",
                                    report: report)
                }
                plan.group = group
                try record("isolated", plan, evidence: ["\(endpoint.name) moved from \(endpoint.groupName ?? endpoint.assignment ?? "-") into its own group \(group) at \(percent.nginxText)"],
                           journal: report.record?.id)
                events.append(event(.planIsolated, plan, percentBefore: percent.value, percentAfter: percent.value, outcome: report.outcome.rawValue,
                                    journal: report.record?.id, message: "\(endpoint.name) now has its own group \(group) at \(percent.nginxText), so ramping it moves no other endpoint"))
                model = try loadModel(for: plan)
            } else {
                plan.group = endpoint.groupName
            }
        }
        guard let first = plan.steps.firstIndex(where: { $0 > percent }) else {
            plan.state = .completed
            plan.step = plan.steps.count - 1
            plan.note = "already at \(percent.nginxText), at or above every step"
            try record("completed", plan)
            events.append(event(.planCompleted, plan, message: plan.note ?? ""))
            return events
        }
        plan.state = .running
        events += try apply(step: first, of: &plan, model: model, evidence: [])
        return events
    }

    /// Applies step `index` (its group to the step's percent) through the pipeline.
    func apply(step index: Int, of plan: inout RampPlan, model: RolloutModel, evidence: [String]) throws -> [AutopilotEvent] {
        guard let group = plan.group else { return try fail(&plan, "the plan has no group to set") }
        let before = model.group(named: group)?.percent ?? .zero
        let percent = plan.steps[index]
        let reason = Self.marker + "plan \(plan.id) step \(index + 1)/\(plan.steps.count): \(before.nginxText) → \(percent.nginxText)"
            + (plan.reason.map { " — \($0)" } ?? "")
        let (report, error) = apply(.setGroupPercent(group: group, percent: percent, create: false), reason: reason,
                                    via: try? applier(for: plan))
        // A signal arrived before the reload: the step was put back and the process is stopping; the plan
        // stays as it was and the next executor applies the step again.
        if report?.outcome == .interrupted { return [] }
        guard let report, report.outcome == .applied, let record = report.record else {
            return try fail(&plan, "step \(index + 1) (\(percent.nginxText)) was not applied: \(report?.message ?? error ?? "")", report: report)
        }
        let wasRunning = plan.step != nil
        plan.state = .running
        plan.step = index
        plan.stepStarted = record.time
        plan.bakedBeforePause = 0
        plan.bakeResumed = nil
        plan.pausedAt = nil
        plan.note = nil
        try self.record("step", plan, evidence: evidence, journal: record.id)
        let members = endpoints(of: plan, model: (try? loadModel(for: plan)) ?? model)
        notifyApplied(members.map { ($0.id, percent.value) }, record: record, rollback: false)
        return [event(.planStep, plan, percentBefore: before.value, percentAfter: percent.value, evidence: evidence, outcome: report.outcome.rawValue,
                      journal: record.id, message: "step \(index + 1)/\(plan.steps.count): \(group) \(before.nginxText) → \(percent.nginxText)"
                        + (wasRunning ? "" : " (first step)"))]
    }

    /// Aborts a plan: rolls its endpoints back (when a step was applied), records the evidence.
    func abort(_ plan: inout RampPlan, note: String, evidence: [String], verdict: Verdict?, automatic: Bool) -> [AutopilotEvent] {
        var events: [AutopilotEvent] = []
        let model = (try? loadModel(for: plan))
        let members = model.map { endpoints(of: plan, model: $0) } ?? []
        var journal: String?
        var outcome: String?
        let live = members.filter { $0.percent.hundredths > 0 }
        if plan.step != nil || plan.state == .running, !live.isEmpty {
            let reason = (automatic ? Self.marker : "") + "plan \(plan.id) aborted: \(note)"
                + (automatic ? " — evidence: " + evidence.joined(separator: "; ") : "")
            let (report, error) = apply(.rollback(endpoints: live.map(\.id.description)), reason: reason, emergency: true,
                                        via: try? applier(for: plan))
            outcome = report?.outcome.rawValue ?? "not-applied"
            journal = report?.record?.id
            if let report, report.outcome == .applied, let record = report.record {
                notifyApplied(live.map { ($0.id, 0) }, record: record, rollback: true)
            } else {
                events.append(event(.applyFailed, plan, verdict: verdict?.state, evidence: evidence, outcome: outcome, journal: journal,
                                    message: "the rollback of plan \(plan.id) was not applied: \(report?.message ?? error ?? ""); roll back by hand (`cutover rollback \(live.map(\.name).joined(separator: " "))`)"))
            }
        }
        plan.state = .aborted
        plan.note = note
        plan.pausedAt = nil
        try? record("aborted", plan, evidence: evidence, journal: journal)
        progress[plan.id] = nil
        events.insert(event(.planAborted, plan, percentBefore: plan.percent?.value, percentAfter: journal == nil ? nil : 0, verdict: verdict?.state,
                            evidence: evidence, outcome: outcome, journal: journal,
                            message: note + (journal == nil ? "" : "; rolled back \(live.map(\.name).joined(separator: ", "))")), at: 0)
        return events
    }

    /// Pauses a plan after something it cannot get past by itself.
    func fail(_ plan: inout RampPlan, _ message: String, report: ApplyReport? = nil) throws -> [AutopilotEvent] {
        pause(&plan, now: clock.now(), note: message + "; fix it, then `cutover plan resume \(plan.id)`")
        try record("paused", plan, evidence: [message], journal: report?.record?.id)
        return [event(.applyFailed, plan, outcome: report?.outcome.rawValue, journal: report?.record?.id, message: plan.note ?? message)]
    }

    func pause(_ plan: inout RampPlan, now: Date, note: String) {
        plan.state = .paused
        plan.pausedAt = now
        plan.note = note
    }

    func resume(_ plan: inout RampPlan, now: Date) {
        plan.bakedBeforePause = plan.baked(at: now)
        plan.bakeResumed = plan.stepStarted == nil ? nil : now
        plan.pausedAt = nil
        plan.note = nil
        plan.state = plan.step == nil ? .pending : .running
    }

    // MARK: - Guardrails

    /// Rolls back, once per breach, each guarded endpoint whose verdict is `bad`; holds it for the cooldown
    /// after an automatic rollback; lets an operator's change since the breach cancel the automatic one.
    func guardrails(verdicts: [EndpointID: Verdict], skipping ramped: Set<EndpointID>) throws -> [AutopilotEvent] {
        let now = clock.now()
        var events: [AutopilotEvent] = []
        let bad = verdicts.filter { $0.value.state == .bad && !ramped.contains($0.key) }
        breaches = breaches.filter { bad[$0.key] != nil }
        guard !bad.isEmpty else { return [] }
        let model = try loadModel()
        var history: [JournalRecord]?
        func journal() throws -> [JournalRecord] {
            if let history { return history }
            let records = try applier.pipeline.history()
            history = records
            return records
        }
        for (id, verdict) in bad.sorted(by: { $0.key < $1.key }) {
            guard let endpoint = model.endpoints.first(where: { $0.id == id }), guardSettings.guards(endpoint) else { continue }
            let key = endpoint.id.description
            var breach = breaches[id].flatMap { $0.since == verdict.since ? $0 : nil } ?? Breach(start: Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)), since: verdict.since)
            defer { breaches[id] = breach }
            guard !breach.handled, endpoint.percent.hundredths > 0 else { continue }
            let evidence = Self.evidence(verdict, endpoint: endpoint.name)
            guard guardSettings.autoRollback else {
                breach.handled = true
                events.append(AutopilotEvent(.breach, time: now, endpoint: key, percentBefore: endpoint.percent.value, verdict: .bad, evidence: evidence,
                                             message: "\(endpoint.name) is bad; auto_rollback is off, nothing done"))
                continue
            }
            if let change = try Self.manualChange(in: journal(), of: [endpoint], group: nil, after: breach.start) {
                breach.handled = true
                events.append(AutopilotEvent(.guardCancelled, time: now, endpoint: key, verdict: .bad, evidence: evidence, journal: change.id,
                                             message: "\(endpoint.name) was changed by hand since the breach (journal \(change.id.prefix(8))); the automatic rollback is cancelled"))
                continue
            }
            // A verdict still counting requests from before the endpoint's last change (a snapshot published
            // before the engine heard of it) judges a routing that is gone.
            if let last = try Self.lastChange(in: journal(), of: endpoint), (verdict.since ?? .min) < Int64(last.timeIntervalSince1970.rounded(.down)) {
                continue
            }
            if let last = try Self.lastAutomaticRollback(in: journal(), of: endpoint), now.timeIntervalSince(last) < guardSettings.cooldownSeconds {
                if !breach.heldReported {
                    breach.heldReported = true
                    let left = guardSettings.cooldownSeconds - now.timeIntervalSince(last)
                    events.append(AutopilotEvent(.guardHeld, time: now, endpoint: key, verdict: .bad, evidence: evidence,
                                                 message: "\(endpoint.name) is bad again within the cooldown; held \(DurationText.format(left)) more (rolled back automatically at \(ISO8601DateFormatter().string(from: last)))"))
                }
                continue
            }
            breach.handled = true
            let reason = Self.marker + "automatic rollback of \(endpoint.name), verdict bad (\(verdict.newRequests) new-service and \(verdict.currentRequests) current-service requests): "
                + verdict.reasons.joined(separator: "; ")
            let (report, error) = apply(.rollback(endpoints: [key]), reason: reason, emergency: true)
            if let report, report.outcome == .applied, let record = report.record {
                notifyApplied([(id, 0)], record: record, rollback: true)
                events.append(AutopilotEvent(.automaticRollback, time: now, endpoint: key, percentBefore: endpoint.percent.value, percentAfter: 0,
                                             verdict: .bad, evidence: evidence, outcome: report.outcome.rawValue, journal: record.id,
                                             message: "\(endpoint.name) rolled back by itself (\(endpoint.percent.nginxText) → 0%); held for \(DurationText.format(guardSettings.cooldownSeconds))"))
            } else {
                events.append(AutopilotEvent(.applyFailed, time: now, endpoint: key, verdict: .bad, evidence: evidence, outcome: report?.outcome.rawValue,
                                             journal: report?.record?.id,
                                             message: "the automatic rollback of \(endpoint.name) was not applied: \(report?.message ?? error ?? ""); roll back by hand (`cutover rollback \(endpoint.name)`)"))
            }
        }
        return events
    }

    /// The newest applied automatic rollback of `endpoint` in the journal.
    static func lastAutomaticRollback(in records: [JournalRecord], of endpoint: Endpoint) -> Date? {
        records.last { r in
            r.outcome == .applied && r.change.touches(endpoint) && (r.change.reason ?? "").hasPrefix(marker)
                && (r.change.action == "rollback")
        }?.time
    }

    /// The newest applied change of `endpoint` in the journal.
    static func lastChange(in records: [JournalRecord], of endpoint: Endpoint) -> Date? {
        records.last { $0.outcome == .applied && $0.change.touches(endpoint) }?.time
    }

    /// The first applied change by anyone but the autopilot of `endpoints` (or `group`) after `time`.
    static func manualChange(in records: [JournalRecord], of endpoints: [Endpoint], group: String?, after time: Date) -> JournalRecord? {
        return records.first { r in
            // Whole seconds, as the journal keeps them: a change in the breach's own second counts as the operator's.
            r.outcome == .applied && r.time >= time && !(r.change.reason ?? "").hasPrefix(marker)
                && (endpoints.contains(where: r.change.touches) || (group.map(r.change.groups.contains) ?? false))
        }
    }

    func manualChange(of endpoints: [Endpoint], group: String?, after time: Date) throws -> JournalRecord? {
        Self.manualChange(in: try applier.pipeline.history(), of: endpoints, group: group, after: time)
    }

    // MARK: - Helpers

    /// The verdict's reasons and numbers, as evidence.
    static func evidence(_ verdict: Verdict, endpoint: String) -> [String] {
        ["\(endpoint): verdict \(verdict.state.rawValue) over \(verdict.newRequests) new-service and \(verdict.currentRequests) current-service requests (baseline \(verdict.baseline.rawValue))"]
            + verdict.reasons.map { "\(endpoint): \($0)" }
    }

    /// Whether `verdict` judges the live step's requests (it counts from the step's change or later).
    func current(_ verdict: Verdict, _ plan: RampPlan) -> Bool {
        guard let started = plan.stepStarted else { return false }
        return (verdict.since ?? .min) >= Int64(started.timeIntervalSince1970.rounded(.down))
    }

    func gateText(_ judged: [(Endpoint, Verdict)]) -> String {
        if judged.isEmpty { return "no endpoints" }
        if judged.count == 1 { return judged[0].1.state.rawValue }
        return judged.map { "\($0.0.name) \($0.1.state.rawValue)" }.joined(separator: ", ")
    }

    /// The endpoints a plan moves, as the config has them now.
    public func endpoints(of plan: RampPlan, model: RolloutModel) -> [Endpoint] {
        switch plan.target {
        case .endpoint(let key): return model.endpoints.filter { $0.id == key }
        case .group(let name): return model.endpoints.filter { $0.groupName == name }
        }
    }

    func overlaps(_ plan: RampPlan, _ target: PlanTarget, model: RolloutModel) -> Bool {
        if plan.target == target { return true }
        let theirs = Set(endpoints(of: plan, model: model).map(\.id))
        let probe = RampPlan(target: target, steps: [], bakeSeconds: 0, created: plan.created, createdBy: "")
        return !theirs.isDisjoint(with: endpoints(of: probe, model: model).map(\.id))
    }

    func loadModel(via chosen: EditApplier? = nil) throws -> RolloutModel {
        Discovery.discover(try loadConfig(via: chosen), names: applier.names)
    }

    /// The routing `plan`'s changes go to: the hosts it is limited to, else the whole fleet.
    func loadModel(for plan: RampPlan) throws -> RolloutModel {
        try loadModel(via: applier(for: plan))
    }

    /// The pipeline of `plan`'s changes: to the hosts it is limited to (`cutover ramp --hosts`), else `applier`.
    func applier(for plan: RampPlan) throws -> EditApplier {
        try applier(hosts: plan.hosts, for: "plan \(plan.id)")
    }

    /// The pipeline to `hosts` (nil: `applier`, every host); `what` names the plan in the errors.
    func applier(hosts: [String]?, for what: String) throws -> EditApplier {
        guard let hosts else { return applier }
        guard let hostApplier else {
            throw PlanError("\(what) is limited to the hosts \(hosts.joined(separator: ", ")), but this executor has no `hosts:` to reach them; run the guard with the settings that list them")
        }
        do {
            return try hostApplier(hosts)
        } catch {
            throw PlanError("\(what) cannot reach its hosts \(hosts.joined(separator: ", ")): \(error)")
        }
    }

    func loadConfig(via chosen: EditApplier? = nil) throws -> ConfigSet {
        let applier = chosen ?? applier
        do {
            return try applier.loadConfig()
        } catch {
            throw PlanError("cannot read the config \(applier.configPath): \(error)")
        }
    }

    /// Computes `edit` on the files as they are and applies it (through `chosen`, else `applier`); the report,
    /// or why nothing was applied.
    func apply(_ edit: RolloutEdit, reason: String, emergency: Bool = false, via chosen: EditApplier? = nil) -> (ApplyReport?, String?) {
        let applier = chosen ?? applier
        do {
            let config = try loadConfig(via: applier)
            let editor = RolloutEditor(config: config, model: Discovery.discover(config, names: applier.names))
            let preview = try editor.apply(edit)
            guard !preview.changes.isEmpty else { return (nil, "nothing to change: the config already says that") }
            let report = try applier.apply(edit, preview: preview, previewModel: editor.model, reason: reason)
            if let signal = report.signal { interruptedBy = interruptedBy ?? signal }
            return (report, nil)
        } catch {
            return (nil, "\(error)")
        }
    }

    /// Moves `endpoint` into a new group of its own at its current percent, in one journaled change.
    func isolate(_ endpoint: Endpoint, plan: RampPlan) -> (ApplyReport?, String?) {
        let base = "ramp_" + String(endpoint.name.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }).prefix(40)
        let description = ChangeDescription(action: "isolate", endpoints: [endpoint.name], groups: [],
                                            reason: Self.marker + "plan \(plan.id): \(endpoint.name) into its own group before ramping",
                                            endpointIDs: [endpoint.id])
        var chosen: String?
        do {
            let applier = try self.applier(for: plan)
            let report = try applier.apply(description: description) { description in
                let config = try applier.loadConfig()
                let model = Discovery.discover(config, names: applier.names)
                guard let current = model.endpoints.first(where: { $0.id == endpoint.id }) else {
                    throw ApplyError.editRefused("\(endpoint.name) is no longer in the config")
                }
                var name = base + "_routing"
                var n = 2
                while model.variableExists(name) || model.group(named: name) != nil {
                    name = base + "_\(n)_routing"
                    n += 1
                }
                do {
                    let created = try RolloutEditor(config: config, model: model)
                        .apply(.setGroupPercent(group: name, percent: current.percent, create: true))
                    let moved = try RolloutEditor(config: created.config, model: created.model).apply(.assign(endpoint: current.id.description, group: name))
                    chosen = name
                    let from = current.groupName ?? current.assignment ?? "-"
                    description.groups = [from, name]
                    description.percentsAfter = [name: current.percent.value]
                    description.endpointPercentsBefore = [current.id: current.percent.value]
                    description.endpointPercentsAfter = [current.id: current.percent.value]
                    return Self.merge(created.changes, then: moved.changes)
                } catch let error as EditError {
                    throw ApplyError.editRefused(error.message)
                }
            }
            if let signal = report.signal { interruptedBy = interruptedBy ?? signal }
            return (report, chosen)
        } catch {
            return (nil, "\(error)")
        }
    }

    /// Two successive edits of the same files as one change from the first's before to the second's after.
    static func merge(_ first: [FileChange], then second: [FileChange]) -> [FileChange] {
        var out = first
        for change in second {
            if let i = out.firstIndex(where: { $0.path == change.path }) {
                out[i].after = change.after
            } else {
                out.append(change)
            }
        }
        return out.filter { !$0.isNoOp }
    }

    func notifyApplied(_ endpoints: [(EndpointID, Double)], record: JournalRecord, rollback: Bool) {
        onApplied?(AppliedChange(endpoints: endpoints.map { (id: $0.0, percent: $0.1) }, time: Int64(record.time.timeIntervalSince1970.rounded(.down)), rollback: rollback))
    }

    func record(_ event: String, _ plan: RampPlan, evidence: [String] = [], journal: String? = nil) throws {
        try store.append(PlanRecord(time: clock.now(), event: event, plan: plan, evidence: evidence, journal: journal, by: who))
    }

    func event(_ kind: AutopilotEvent.Kind, _ plan: RampPlan, percentBefore: Double? = nil, percentAfter: Double? = nil, verdict: VerdictState? = nil,
               evidence: [String] = [], outcome: String? = nil, journal: String? = nil, message: String) -> AutopilotEvent {
        var endpoint: String?, group = plan.group
        switch plan.target {
        case .endpoint(let key): endpoint = key.description
        case .group(let name): group = name
        }
        return AutopilotEvent(kind, time: clock.now(), plan: plan.id, endpoint: endpoint, group: group, percentBefore: percentBefore,
                              percentAfter: percentAfter, verdict: verdict, evidence: evidence, outcome: outcome, journal: journal, message: message)
    }
}
