import Autopilot
import Foundation
import TerminalUI

/// The ramp plans: id, endpoint or group, step, percent, state, bake left, gate status and what each waits for,
/// under a line saying who executes them.
enum PlansScreen {
    /// The rows above the table inside a view `height` rows tall: who executes the plans and the guardrails,
    /// then (when there is room) the plan keys.
    static func preamble(height: Int) -> Int { height >= 12 ? 2 : 1 }

    static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let pane = state.autopilot
        let plans = pane.orderedPlans
        let live = plans.filter { $0.state.isActive }.count
        let inner = viewBlock("Plans (\(live) active, \(plans.count - live) finished)", state: state, theme: theme, area: area, buffer: &buffer)
        guard !inner.isEmpty else { return }
        let executorRole: ThemeRole
        switch pane.snapshot.executor {
        case .thisDashboard, .other: executorRole = .ok
        case .nobody: executorRole = live > 0 ? .watch : .muted
        case .unknown: executorRole = .muted
        }
        var head: [Span] = [Span(pane.executorSentence(zone: state.timeZone), style: theme[executorRole])]
        head.append(Span(" · auto-rollback " + (pane.autoRollback ? "on" : "off")
                         + (pane.autoRollback ? (pane.guardedEndpoints.map { " for " + $0.joined(separator: ", ") } ?? " for every endpoint") : ""),
                         style: theme[pane.autoRollback ? .ok : .muted]))
        Line(head).render(in: Rect(x: inner.x, y: inner.y, width: inner.width, height: 1), buffer: &buffer)
        let preamble = preamble(height: inner.height)
        if preamble > 1 {
            let keys = state.readOnly ? "read-only: the plan keys are off" : "p pause · c resume · P promote · X abort (P and X ask first) · Enter opens a plan · N in Endpoints creates one"
            Line([Span(keys, style: theme[.muted])]).render(in: Rect(x: inner.x, y: inner.y + 1, width: inner.width, height: 1), buffer: &buffer)
        }
        let body = Rect(x: inner.x, y: inner.y + preamble, width: inner.width, height: max(0, inner.height - preamble))
        if let error = pane.snapshot.error {
            Paragraph(Text("The plan log could not be read: \(error)", style: theme[.error]), wrap: .word).render(in: body, buffer: &buffer)
            return
        }
        guard !plans.isEmpty else {
            Paragraph(Text("No ramp plans. N on an endpoint (in Endpoints, 1) creates one with the settings' ladder; "
                           + "`cutover ramp ENDPOINT` too.", style: theme[.muted]), wrap: .word).render(in: body, buffer: &buffer)
            return
        }
        let narrow = inner.width < 100
        let header = Row(["ID", "Target", "Step", "Percent", "State", "Bake left", "Gate", "Waiting for"].map { Line([Span($0, style: theme[.title])]) })
        let rows = plans.map { plan -> Row in
            let progress = pane.snapshot.progress[plan.id]
            let role: ThemeRole
            switch plan.state {
            case .running: role = .ok
            case .paused, .pending: role = .watch
            case .aborted: role = .error
            case .completed: role = .muted
            }
            return Row([Line([Span(plan.id.raw, style: theme[.text])]),
                        Line([Span(PlanText.target(plan, model: state.model), style: theme[.text])]),
                        Line([Span(PlanText.step(plan), style: theme[.text])]),
                        Line([Span(plan.percent?.nginxText ?? "-", style: theme[.accent])]),
                        Line([Span(plan.state.rawValue, style: theme[role])]),
                        Line([Span(PlanText.bakeLeft(plan, now: state.now), style: theme[.text])]),
                        Line([Span(PlanText.gate(plan, progress), style: theme[.text])]),
                        Line([Span(PlanText.waiting(plan, progress, executor: pane.snapshot.executor), style: theme[.muted])])])
        }
        let table = Table(columns: [Column(.length(10)), Column(.length(narrow ? 14 : 26)), Column(.length(5)),
                                    Column(.length(narrow ? 5 : 7), alignment: .right), Column(.length(9)), Column(.length(narrow ? 6 : 9)),
                                    Column(.length(narrow ? 12 : 16)), Column(.fill(1))],
                          header: header, rows: rows, highlightStyle: theme[.selection])
        renderList(table, state: state, area: body, buffer: &buffer)
    }

    /// The full text of a plan for the detail view.
    static func detailLines(_ id: PlanID, state: AppState, field: (String, String) -> Void, add: ([Span]) -> Void) {
        guard let plan = state.autopilot.snapshot.plans.first(where: { $0.id == id }) else {
            add([Span("The plan is no longer in the plan log.")])
            return
        }
        let progress = state.autopilot.snapshot.progress[plan.id]
        field("plan", plan.id.raw)
        field("target", PlanText.target(plan, model: state.model))
        if case .endpoint(let key) = plan.target { field("map key", key.description) }
        field("steps", plan.steps.map(\.nginxText).joined(separator: " → "))
        field("step", PlanText.step(plan) + (plan.percent.map { " at \($0.nginxText)" } ?? ""))
        field("state", plan.state.rawValue + (plan.promote ? " (promoted: the next check skips the bake and the gate once)" : ""))
        field("bake", DurationText.format(plan.bakeSeconds) + " per step" + (plan.state == .running || plan.state == .paused ? ", \(PlanText.bakeLeft(plan, now: state.now)) left" : ""))
        field("gate", PlanText.gate(plan, progress))
        field("min requests", "\(plan.minRequests) new-service requests per step")
        field("waiting for", PlanText.waiting(plan, progress, executor: state.autopilot.snapshot.executor))
        if let note = plan.note { field("note", note) }
        if let reason = plan.reason { field("reason", reason) }
        field("created", formatDateTime(plan.created, zone: state.timeZone) + " by " + plan.createdBy)
        field("executor", state.autopilot.executorSentence(zone: state.timeZone))
        add([Span("")])
        add([Span("p pauses · c resumes · P promotes · X aborts and rolls back (P and X ask first)")])
    }
}
