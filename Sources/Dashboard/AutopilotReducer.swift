import Apply
import Autopilot
import Foundation
import Rollout
import TrafficStats

// The reducer's autopilot part: the plan keys, the plan made from the dashboard, the executor's rounds. Pure,
// like `reduce`: the effects do the work (`EffectRunner` with its `PlanExecuting`).

/// The round of the autopilot the clock makes due: one at a time, every `interval` seconds.
func autopilotTickDue(_ state: inout AppState) -> [Effect] {
    guard state.autopilot.enabled, !state.autopilot.ticking, state.loaded != nil else { return [] }
    if let last = state.autopilot.lastTick, state.now.timeIntervalSince(last) < state.autopilot.interval { return [] }
    state.autopilot.ticking = true
    return [.autopilotTick(verdicts: state.verdictsByEndpoint)]
}

/// Why the plan keys cannot act now, set as the status; nil when they can.
private func refusePlanKey(_ state: inout AppState) -> Bool {
    guard state.autopilot.enabled else {
        state.status = StatusMessage("no plans here: this dashboard has no plan log")
        return true
    }
    if state.readOnly {
        state.status = StatusMessage("read-only: changes are disabled (started with --read-only)")
        return true
    }
    return false
}

/// The plan a plan key acts on: the selected one in Plans, the selected endpoint's live plan in Endpoints.
private func targetPlan(_ state: inout AppState) -> RampPlan? {
    switch state.view {
    case .plans:
        guard let plan = state.selectedPlan else {
            state.status = StatusMessage("no plan selected: N on an endpoint in Endpoints (1) creates one")
            return nil
        }
        return plan
    case .endpoints:
        guard let row = state.selectedRow else { return nil }
        guard let plan = state.autopilot.activePlan(for: row.endpoint) else {
            state.status = StatusMessage("\(row.endpoint.name) has no live plan; N creates one")
            return nil
        }
        return plan
    default:
        state.status = StatusMessage("p, c, P and X act on the plan selected in Plans (6) or on the selected endpoint's plan in Endpoints (1)")
        return nil
    }
}

/// pause and resume go at once; promote and abort ask first.
func planCommand(_ state: inout AppState, _ command: Autopilot.Command) -> [Effect] {
    guard !refusePlanKey(&state), let plan = targetPlan(&state) else { return [] }
    guard plan.state.isActive else {
        state.status = StatusMessage("plan \(plan.id) is \(plan.state.rawValue): only pending, running or paused plans take \(command.rawValue)")
        return []
    }
    switch command {
    case .pause, .resume:
        if command == .pause, plan.state == .paused {
            state.status = StatusMessage("plan \(plan.id) is already paused; c resumes it")
            return []
        }
        if command == .resume, plan.state != .paused {
            state.status = StatusMessage("plan \(plan.id) is not paused (\(plan.state.rawValue))")
            return []
        }
        state.status = StatusMessage("plan \(plan.id): \(command.rawValue)…")
        return [.planCommand(command, plan: plan.id)]
    case .promote:
        let summary = "promote plan \(plan.id) (\(PlanText.target(plan, model: state.model)), step \(PlanText.step(plan))): the next check skips the rest of the bake "
            + "and the gate once and applies the next step"
        state.overlay = .confirm(PendingChange(operation: .plan(.promote, plan.id), summary: summary, isRollback: false,
                                               warnings: promoteWarnings(state, plan)))
        return []
    case .abort:
        let live = plan.step != nil || plan.state == .running
        let summary = "abort plan \(plan.id) (\(PlanText.target(plan, model: state.model)), step \(PlanText.step(plan))"
            + (plan.percent.map { " at \($0.nginxText)" } ?? "") + ")"
            + (live ? ": its endpoints go back to the current service through the apply pipeline" : ": no step is live, nothing to roll back")
        state.overlay = .confirm(PendingChange(operation: .plan(.abort, plan.id), summary: summary, isRollback: live))
        return []
    }
}

/// The troubled endpoints a promotion would move on.
private func promoteWarnings(_ state: AppState, _ plan: RampPlan) -> [String] {
    guard let model = state.model else { return [] }
    let members = model.endpoints.filter { endpoint in
        switch plan.target {
        case .endpoint(let key): return endpoint.id == key
        case .group(let name): return endpoint.groupName == name
        }
    }
    return warnings(state, ids: members.map(\.id), groups: [])
}

/// N: a plan for the selected endpoint with the settings' ladder, after a confirmation naming what it will do.
func proposePlan(_ state: inout AppState) -> [Effect] {
    guard !refusePlanKey(&state) else { return [] }
    guard state.view == .endpoints else {
        state.status = StatusMessage("N creates a plan for the endpoint selected in Endpoints (1)")
        return []
    }
    guard let row = state.selectedRow, let model = state.model else { return [] }
    if let plan = state.autopilot.activePlan(for: row.endpoint) {
        state.status = StatusMessage("plan \(plan.id) already ramps \(row.endpoint.name) (\(plan.state.rawValue)); X aborts it first", isError: true)
        return []
    }
    let steps = state.ladder.filter { $0 > row.endpoint.percent }
    guard !steps.isEmpty else {
        state.status = StatusMessage("\(row.endpoint.name) is at \(row.endpoint.percent.nginxText), at or above every step of the ladder")
        return []
    }
    let d = state.autopilot.defaults
    let shares = row.endpoint.group.map { g in model.endpoints.filter { $0.group == g }.count > 1 } ?? true
    var summary = "ramp \(row.endpoint.name) from \(row.endpoint.percent.nginxText): " + steps.map(\.nginxText).joined(separator: " → ")
        + ", bake \(DurationText.format(d.bakeSeconds)) each, gate \(d.gate.rawValue), \(d.minRequests) new-service requests per step"
    if shares { summary += "; it first moves into a group of its own (at its current percent), so no other endpoint moves" }
    switch state.autopilot.snapshot.executor {
    case .thisDashboard: summary += "; this dashboard executes it"
    case .other(let holder): summary += "; executed by " + (holder.map { "cutover \($0.role) pid \($0.pid)" } ?? "another process")
    case .nobody, .unknown: summary += "; nobody executes plans now: start `cutover guard`"
    }
    state.overlay = .confirm(PendingChange(operation: .createPlan(endpoint: row.endpoint.id.description, steps: steps), summary: summary, isRollback: false,
                                           warnings: warnings(state, ids: [row.endpoint.id], groups: [])))
    return []
}

/// An autopilot effect came back: keep what it read, say what it did, re-read what it changed.
func autopilotReported(_ state: inout AppState, _ report: AutopilotReport) -> [Effect] {
    // Another executor moved a plan (a guard's step or abort): its change is in the config and the journal.
    let movedElsewhere = report.snapshot.map { new in
        new.plans.contains { plan in state.autopilot.snapshot.plans.first { $0.id == plan.id }.map { $0.step != plan.step || $0.state != plan.state } ?? false }
    } ?? false
    if let snapshot = report.snapshot {
        state.autopilot.snapshot = snapshot
        state.autopilot.ticking = false
        state.autopilot.lastTick = state.now
    }
    if let message = report.message { state.status = StatusMessage(message, isError: report.isError) }
    let actions = report.events.filter(AutopilotPane.isAction)
    if let last = actions.last {
        state.autopilot.lastAction = last
        let troubled: Set<AutopilotEvent.Kind> = [.planAborted, .automaticRollback, .applyFailed, .rollbackNotConfirmed, .breach, .guardHeld]
        if report.message == nil {
            state.status = StatusMessage("autopilot: " + last.line, isError: troubled.contains(last.kind))
        }
    }
    // A rollback the autopilot made here is the last change: the status line confirms it from the traffic, as
    // it does an operator's `r` (`RollbackConfirmation`).
    if let rollback = report.events.last(where: { [.automaticRollback, .planAborted].contains($0.kind) && $0.journal != nil && $0.outcome == "applied" }) {
        state.lastApply = ApplyStatus(action: "rollback", summary: "autopilot: " + rollback.message, outcome: .applied,
                                      message: rollback.message, finishedAt: rollback.time)
    }
    // A change the autopilot made: the config and the journal as they are now.
    return report.events.contains { $0.journal != nil } || movedElsewhere ? [.reloadConfig, .loadJournal] : []
}
