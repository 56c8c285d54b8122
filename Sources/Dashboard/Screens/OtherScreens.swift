import Apply
import Autopilot
import Foundation
import Preflight
import Rollout
import TerminalUI
import TrafficStats

/// A bordered block titled for a view; returns its inside.
func viewBlock(_ title: String, state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) -> Rect {
    let block = Block(title: Line(" \(title) "), borderSet: BorderSet.choose(.plain, unicode: state.unicode),
                      borderStyle: theme[.border], titleStyle: theme[.title])
    block.render(in: area, buffer: &buffer)
    return block.inner(area)
}

/// Renders a table whose selection follows `state.listSelection` (clamped).
func renderList(_ table: Table, state: AppState, area: Rect, buffer: inout Buffer) {
    var scroll = ScrollState(selected: table.rows.isEmpty ? nil : min(state.listSelection, table.rows.count - 1))
    table.render(in: area, buffer: &buffer, state: &scroll)
}

/// Each group's percent and members.
enum GroupsScreen {
    static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard let model = state.model else {
            _ = viewBlock("Groups", state: state, theme: theme, area: area, buffer: &buffer)
            return
        }
        let inner = viewBlock("Groups (\(model.groups.count))", state: state, theme: theme, area: area, buffer: &buffer)
        let groups = state.pickableGroups
        let rows = groups.map { group -> Row in
            let members = model.members(of: group)
            var state = ""
            if let from = group.rolledBackFrom { state = "rolled back from \(from.nginxText)" }
            return Row([Line([Span(group.name, style: theme[.text])]),
                        Line([Span(group.percent.nginxText, style: theme[.accent])]),
                        Line([Span("\(members.count)", style: theme[.text])]),
                        Line([Span(state, style: theme[.watch])]),
                        Line([Span(members.map(\.name).joined(separator: ", "), style: theme[.muted])])])
        }
        let unassigned = model.endpoints.filter { $0.group == nil }
        var all = rows
        if !unassigned.isEmpty {
            all.append(Row([Line([Span("(no group)", style: theme[.muted])]), Line([Span("0%", style: theme[.accent])]),
                            Line([Span("\(unassigned.count)", style: theme[.text])]), Line([Span("current service", style: theme[.muted])]),
                            Line([Span(unassigned.map(\.name).joined(separator: ", "), style: theme[.muted])])]))
        }
        let header = Row(["Group", "Percent", "Members", "State", "Endpoints"].map { Line([Span($0, style: theme[.title])]) })
        let narrow = inner.width < 100
        let table = Table(columns: [Column(.length(narrow ? 15 : 18)), Column(.length(narrow ? 7 : 8), alignment: .right),
                                    Column(.length(narrow ? 7 : 8), alignment: .right), Column(.length(narrow ? 12 : 22)), Column(.fill(1))],
                          header: header, rows: all, highlightStyle: theme[.selection])
        renderList(table, state: state, area: inner, buffer: &buffer)
    }
}

/// The busiest paths that no whitelist key matches.
enum NotMigratedScreen {
    static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let paths = state.snapshot?.notMigrated ?? []
        let inner = viewBlock("Not migrated: top legacy-only paths (all time, approximate)", state: state, theme: theme,
                              area: area, buffer: &buffer)
        guard !paths.isEmpty else {
            Line([Span("No legacy-only traffic seen yet.", style: theme[.muted])]).render(in: inner, buffer: &buffer)
            return
        }
        let total = max(1, paths.reduce(0) { $0 + $1.requests })
        let header = Row(["Path", "Requests", "Share"].map { Line([Span($0, style: theme[.title])]) })
        let rows = paths.map { p in
            Row([Line([Span(p.path, style: theme[.text])]), Line([Span(formatCount(p.requests), style: theme[.currentService])]),
                 Line([Span(String(format: "%.1f%%", Double(p.requests) * 100 / Double(total)), style: theme[.muted])])])
        }
        let table = Table(columns: [Column(.fill(1)), Column(.length(10), alignment: .right), Column(.length(7), alignment: .right)],
                          header: header, rows: rows, highlightStyle: theme[.selection])
        renderList(table, state: state, area: inner, buffer: &buffer)
    }
}

/// The journal, newest first, with the selected record's message below.
enum HistoryScreen {
    static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let records = Array(state.journal.reversed())
        let inner = viewBlock("History: the journal (\(records.count) records)", state: state, theme: theme, area: area, buffer: &buffer)
        if let error = state.journalError {
            Paragraph(Text("The journal could not be read: \(error)", style: theme[.error]), wrap: .word).render(in: inner, buffer: &buffer)
            return
        }
        guard !records.isEmpty else {
            Line([Span("No changes recorded yet.", style: theme[.muted])]).render(in: inner, buffer: &buffer)
            return
        }
        let parts = inner.height >= 8 ? inner.rows([.fill(1), .length(3)]) : [inner]
        let header = Row(["Time", "User", "Action", "Change", "Outcome"].map { Line([Span($0, style: theme[.title])]) })
        let narrow = inner.width < 100
        let rows = records.map { r in
            let time = formatDateTime(r.time, zone: state.timeZone)
            let automatic = (r.change.reason ?? "").hasPrefix(Autopilot.marker)
            return Row([Line([Span(narrow ? String(time.dropFirst(5)) : time, style: theme[.muted])]),
                 Line([Span(automatic ? "autopilot" : r.user, style: automatic ? theme[.accent] : theme[.text])]),
                 Line([Span(r.change.action, style: theme[.accent])]),
                 Line([Span(describeChange(r.change), style: theme[.text])]),
                 Line([Span(r.outcome.rawValue, style: theme[r.outcome == .applied ? .ok : .error])])])
        }
        let table = Table(columns: [Column(.length(narrow ? 14 : 19)), Column(.length(narrow ? 8 : 10)), Column(.length(narrow ? 8 : 12)),
                                    Column(.fill(1)), Column(.length(narrow ? 18 : 22))],
                          header: header, rows: rows, highlightStyle: theme[.selection])
        renderList(table, state: state, area: parts[0], buffer: &buffer)
        if parts.count > 1 {
            let selected = records[min(state.listSelection, records.count - 1)]
            var text = selected.message
            if let undoes = selected.undoes { text = "undoes \(undoes): " + text }
            // An automatic action says why, with its evidence (the verdict's reasons and numbers).
            if let reason = selected.change.reason, reason.hasPrefix(Autopilot.marker) { text = reason + " · " + text }
            Paragraph(Text(text, style: theme[.muted]), wrap: .word).render(in: parts[1], buffer: &buffer)
        }
    }
}

/// One kind of problem: what it is, how to fix it, and every place it occurs.
struct ProblemGroup: Equatable {
    /// How serious (error, watch, muted for information).
    var role: ThemeRole
    /// Where it comes from and which check: `config`, `log`, `theme`, `check unanchored-key`.
    var kind: String
    /// What is wrong, in one sentence.
    var title: String
    /// What to do about it, when known.
    var fix: String?
    /// Each occurrence (file:line: message), in order.
    var places: [String]
}

/// What the routing engine, the log reader, the journal and the theme loader reported, one row per kind.
enum ProblemsScreen {
    /// The problems grouped by kind, most serious sources first; a finding repeated at many places is one row.
    static func groups(_ state: AppState) -> [ProblemGroup] {
        var out: [ProblemGroup] = []
        func add(_ role: ThemeRole, _ kind: String, _ title: String, fix: String? = nil, place: String? = nil) {
            if let i = out.firstIndex(where: { $0.kind == kind && $0.title == title && $0.role == role }) {
                if let place { out[i].places.append(place) }
                return
            }
            out.append(ProblemGroup(role: role, kind: kind, title: title, fix: fix, places: place.map { [$0] } ?? []))
        }
        if let error = state.loadError { add(.error, "config", error, fix: "fix the file, then the dashboard reads it again within 5 s") }
        for p in state.model?.problems ?? [] {
            let role: ThemeRole = p.severity == .error ? .error : p.severity == .warning ? .watch : .muted
            add(role, "config \(p.severity.rawValue)", p.message, place: "\(p.location)")
        }
        if let error = state.trafficError { add(.error, "log reader", error) }
        for notice in state.notices { add(.watch, "logs", notice) }
        for (path, m) in (state.snapshot?.malformed ?? [:]).sorted(by: { $0.key < $1.key }) where m.count > 0 {
            out.append(ProblemGroup(role: .watch, kind: "log", title: "\(path): \(m.count) malformed line(s)",
                                    fix: "check the log_format the file is written with matches the one in the config",
                                    places: m.samples))
        }
        if let unclassified = state.snapshot?.unclassified, unclassified > 0 {
            add(.watch, "log", "\(unclassified) line(s) without a usable request path",
                fix: "log $request or $uri in the access log's format")
        }
        if let error = state.journalError { add(.error, "journal", error) }
        if !state.themeProblems.isEmpty {
            let more = state.themeProblems.count > 1 ? " (and \(state.themeProblems.count - 1) more)" : ""
            out.append(ProblemGroup(role: .error, kind: "theme", title: state.themeProblems[0] + more + "; the built-in theme is used",
                                    fix: "fix the file at the place shown, then press t", places: state.themeProblems))
        }
        var byID: [String: Int] = [:]
        for finding in state.preflight ?? [] {
            let role: ThemeRole = finding.severity == .error ? .error : finding.severity == .warning ? .watch : .muted
            let place = PreflightReport.line(finding)
            if let i = byID[finding.id] {
                out[i].places.append(place)
                out[i].title = "\(out[i].places.count) × " + finding.id.replacingOccurrences(of: "-", with: " ")
                continue
            }
            byID[finding.id] = out.count
            out.append(ProblemGroup(role: role, kind: "check \(finding.id)", title: finding.message, fix: finding.fix, places: [place]))
        }
        return out
    }

    static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let all = groups(state)
        let count = all.reduce(0) { $0 + max(1, $1.places.count) }
        let inner = viewBlock("Problems (\(count) in \(all.count) kinds) · Enter: every place and the fix", state: state, theme: theme,
                              area: area, buffer: &buffer)
        guard !all.isEmpty else {
            Line([Span("Nothing to report: the config follows the pattern and the logs parse.", style: theme[.ok])])
                .render(in: inner, buffer: &buffer)
            return
        }
        let rows = all.map { group -> Row in
            var spans = [Span("[\(group.kind)] ", style: theme[group.role]), Span(group.title, style: theme[group.role == .muted ? .muted : .text])]
            if group.places.count > 1 { spans.append(Span(" ×\(group.places.count)", style: theme[.accent])) }
            if let fix = group.fix { spans.append(Span(" — fix: " + fix, style: theme[.muted])) }
            return Row([Line(spans)])
        }
        let table = Table(columns: [Column(.fill(1))], rows: rows, highlightStyle: theme[.selection])
        renderList(table, state: state, area: inner, buffer: &buffer)
    }
}

/// The help overlay, the confirmation dialog, the group picker and the detail view.
enum Overlays {
    /// The help's lines at `width`: every key with its description (wrapped), then the mouse.
    static func helpLines(_ state: AppState, theme: Theme, width: Int) -> [Line] {
        let bindings = KeyTable.bindings(readOnly: state.readOnly)
        let keyWidth = min(12, bindings.map { DisplayWidth.of($0.keyLabel) }.max() ?? 4)
        let keyStyle = theme[.dialog].patched(with: theme[.key])
        var entries = bindings.map { ($0.keyLabel, $0.description) }
        entries += KeyTable.mouseHelp
        var lines: [Line] = []
        let textWidth = max(10, width - keyWidth - 2)
        for (key, description) in entries {
            let wrapped = Paragraph.wrap(Line([Span(description, style: theme[.dialog])]), width: textWidth)
            for (i, part) in wrapped.enumerated() {
                let label = i == 0 ? key.padding(toLength: keyWidth, withPad: " ", startingAt: 0) : String(repeating: " ", count: keyWidth)
                lines.append(Line([Span(label, style: keyStyle), Span("  ", style: theme[.dialog])] + part.spans))
            }
        }
        return lines
    }

    /// The width of the help's text and the rows a page has, in the view area of the current terminal.
    static func helpGeometry(_ state: AppState, area: Rect) -> (width: Int, rows: Int) {
        (max(10, min(area.width - 6, 90)), max(1, area.height - 2 - 2))
    }

    /// How many pages the help takes on the current terminal.
    static func helpPageCount(_ state: AppState) -> Int {
        let g = helpGeometry(state, area: Screen.layout(state).body)
        let count = helpLines(state, theme: state.theme, width: g.width).count
        return max(1, (count + g.rows - 1) / g.rows)
    }

    static func help(_ state: AppState, page: Int, theme: Theme, area: Rect, buffer: inout Buffer) {
        let g = helpGeometry(state, area: area)
        let all = helpLines(state, theme: theme, width: g.width)
        let pages = max(1, (all.count + g.rows - 1) / g.rows)
        let current = min(max(0, page), pages - 1)
        var lines = Array(all.dropFirst(current * g.rows).prefix(g.rows))
        var footer = pages > 1 ? "page \(current + 1) of \(pages) · Space/↓ next · ↑ back · any other key closes" : "any key closes this help"
        if state.readOnly { footer = "read-only: the keys that change the config are off · " + footer }
        lines.append(Line(""))
        lines += Paragraph.wrap(Line([Span(footer, style: theme[.dialog].bold)]), width: g.width)
        let popup = Popup(title: Line(" Keys "), text: Text(lines), style: theme[.dialog], borderStyle: theme[.dialogBorder],
                          borderSet: BorderSet.choose(.rounded, unicode: state.unicode))
        popup.render(in: area, buffer: &buffer)
    }

    static func confirm(_ pending: PendingChange, state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let width = max(20, min(area.width - 6, 76))
        var lines = Paragraph.wrap(Line([Span(pending.summary, style: theme[.dialog])]), width: width)
        if !pending.warnings.isEmpty {
            // In the dialog's own colours (bold, marked), so it reads on any theme's dialog background.
            lines.append(Line(""))
            let mark = state.unicode ? "⚠ " : "! "
            for warning in pending.warnings {
                lines += Paragraph.wrap(Line([Span(mark + "this moves a troubled endpoint: " + warning, style: theme[.dialog].bold.underlined)]),
                                        width: width)
            }
        }
        lines.append(Line(""))
        var prompt = pending.isRollback ? "y: roll back now · n or Esc: cancel" : "y: apply · n or Esc: cancel"
        var title = pending.isRollback ? " Roll back? " : " Apply this change? "
        switch pending.operation {
        case .plan(.abort, _): (title, prompt) = (" Abort the plan? ", "y: abort and roll back · n or Esc: cancel")
        case .plan(let command, _): (title, prompt) = (" \(command.rawValue.capitalized) the plan? ", "y: \(command.rawValue) · n or Esc: cancel")
        case .createPlan: (title, prompt) = (" Create a ramp plan? ", "y: create the plan · n or Esc: cancel")
        case .edit, .undo: break
        }
        lines.append(Line([Span(prompt, style: theme[.dialog].patched(with: theme[.key]))]))
        Popup(title: Line(title), text: Text(lines), style: theme[.dialog], borderStyle: theme[.dialogBorder],
              borderSet: BorderSet.choose(.rounded, unicode: state.unicode)).render(in: area, buffer: &buffer)
    }

    static func groupPicker(_ state: AppState, selected: Int, theme: Theme, area: Rect, buffer: inout Buffer) {
        let groups = state.pickableGroups
        let current = state.selectedRow?.endpoint.group
        var lines: [Line] = []
        for (i, group) in groups.enumerated() {
            let members = state.model?.members(of: group).count ?? 0
            let mark = group.variable == current ? " (current)" : ""
            let text = "\(group.name.padding(toLength: 18, withPad: " ", startingAt: 0)) \(group.percent.nginxText.padding(toLength: 7, withPad: " ", startingAt: 0)) \(members) endpoint(s)\(mark)"
            lines.append(Line([Span(text, style: i == selected ? theme[.selection] : theme[.dialog])]))
        }
        lines.append(Line(""))
        lines.append(Line([Span("↑/↓ choose · Enter picks (then y applies) · Esc cancel", style: theme[.dialog].patched(with: theme[.key]))]))
        let name = state.selectedRow?.endpoint.name ?? ""
        Popup(title: Line(" Move \(name) to group "), text: Text(lines), style: theme[.dialog], borderStyle: theme[.dialogBorder],
              borderSet: BorderSet.choose(.rounded, unicode: state.unicode)).render(in: area, buffer: &buffer)
    }

    /// The detail view's text width on the current terminal.
    static func detailWidth(_ state: AppState) -> Int { max(10, min(state.screenWidth - 6, 110)) }

    static func detail(_ subject: DetailSubject, scroll: Int, state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let box = area.inset(horizontal: max(0, (area.width - detailWidth(state) - 4) / 2))
        guard !box.isEmpty else { return }
        let lines = detailLines(subject, state: state, theme: theme, width: box.width - 4)
        Clear(style: theme[.dialog]).render(in: box, buffer: &buffer)
        let visible = max(0, box.height - 3)
        let first = min(scroll, max(0, lines.count - visible))
        let position = lines.count > visible ? " lines \(first + 1)–\(min(lines.count, first + visible)) of \(lines.count) · j/k scroll" : ""
        let block = Block(title: Line(" \(detailTitle(subject, state: state)) "), borderSet: BorderSet.choose(.rounded, unicode: state.unicode),
                          borderStyle: theme[.dialogBorder], titleStyle: .plain, style: theme[.dialog])
        block.render(in: box, buffer: &buffer)
        let inner = block.inner(box).inset(horizontal: 1)
        for (i, line) in lines.dropFirst(first).prefix(visible).enumerated() {
            var shown = line
            shown.style = theme[.dialog].patched(with: line.style)
            shown.render(in: Rect(x: inner.x, y: inner.y + i, width: inner.width, height: 1), buffer: &buffer)
        }
        Line([Span("Esc closes" + position, style: theme[.dialog].patched(with: theme[.key]))])
            .render(in: Rect(x: inner.x, y: inner.bottom - 1, width: inner.width, height: 1), buffer: &buffer)
    }

    static func detailTitle(_ subject: DetailSubject, state: AppState) -> String {
        switch subject {
        case .endpoint(let id): return state.rows.first { $0.endpoint.id == id }?.endpoint.name ?? id.description
        case .journal(let id): return "journal record \(id.prefix(12))"
        case .problem: return "problem"
        case .group(let name): return "group \(name)"
        case .path: return "legacy-only path"
        case .plan(let id): return "ramp plan \(id)"
        case .host(let name): return "host \(name)"
        }
    }

    /// The full text of the subject, wrapped to `width`.
    static func detailLines(_ subject: DetailSubject, state: AppState, theme: Theme, width: Int) -> [Line] {
        var out: [Line] = []
        func add(_ spans: [Span]) { out += Paragraph.wrap(Line(spans), width: max(4, width)) }
        func field(_ name: String, _ value: String, _ role: ThemeRole = .text) {
            add([Span(name + ": ", style: theme[.dialog].bold), Span(value, style: theme[.dialog])])
        }
        switch subject {
        case .endpoint(let id):
            var all = state
            all.filter = ""
            guard let row = all.rows.first(where: { $0.endpoint.id == id }) else {
                add([Span("The endpoint is no longer in the config.")])
                break
            }
            field("endpoint", row.endpoint.name)
            field("map key", row.endpoint.pattern)
            if let target = row.endpoint.target { field("new-service path", target) }
            field("group", "\(row.endpoint.groupName ?? row.endpoint.assignment ?? "none") at \(row.endpoint.percent.nginxText)")
            field("state", row.health.label + healthReason(row))
            if let live = state.autopilot.activePlan(for: row.endpoint) {
                field("ramp plan", PlanText.summary(live, state.autopilot.snapshot.progress[live.id], executor: state.autopilot.snapshot.executor, now: state.now))
            }
            if let confirmation = RollbackConfirmation.detail(state, endpoint: id) {
                field("traffic since the change", confirmation.text, confirmation.confirmed == false ? .error : .text)
            }
            guard let s = row.traffic?.stats else {
                add([Span("No traffic in the \(state.window.rawValue) window yet.")])
                break
            }
            field("window", state.window.rawValue)
            if let observed = s.observedPercent {
                var text = String(format: "%.2f%%", observed)
                if let ci = s.observedPercentCI, ci.count == 2 { text += String(format: " (95%% CI %.2f–%.2f)", ci[0], ci[1]) }
                if let p = s.splitPValue { text += String(format: ", split test p = %.4f", p) }
                if s.splitMismatch == true { text += ": differs from the configured percent" }
                field("observed share", text)
            }
            for (label, f) in [("current service", s.current), ("new service", s.new)] {
                out.append(Line(""))
                add([Span(label, style: theme[.dialog].bold.underlined)])
                field("requests", "\(f.requests) (\(formatRate(f.rps)) req/s)")
                field("status", "2xx \(f.status.s2xx) · 3xx \(f.status.s3xx) · 4xx \(f.status.s4xx) · 5xx \(f.status.s5xx)")
                field("5xx rate", f.errorRate.map { String(format: "%.3f%%", $0 * 100) } ?? "-")
                field("latency ms", "p50 \(formatMs(f.p50Ms)) · p90 \(formatMs(f.p90Ms)) · p95 \(formatMs(f.p95Ms)) · p99 \(formatMs(f.p99Ms)) · max \(formatMs(f.maxMs))")
            }
            out.append(Line(""))
            var delta = "5xx \(formatErrorDelta(s.errorRateDelta)) points"
            if let p = s.errorRateDeltaPValue { delta += String(format: " (p = %.4f)", p) }
            delta += " · p50 \(formatDeltaMs(s.p50DeltaMs)) ms · p95 \(formatDeltaMs(s.p95DeltaMs)) ms · p99 \(formatDeltaMs(s.p99DeltaMs)) ms"
            field("new minus current", delta)
            let changes = DetailPane.recentChanges(for: row, in: state.journal)
            if !changes.isEmpty {
                out.append(Line(""))
                add([Span("changes in the journal, newest first", style: theme[.dialog].bold.underlined)])
                for r in changes.prefix(20) {
                    add([Span(formatDateTime(r.time, zone: state.timeZone) + "  ", style: theme[.dialog]),
                         Span(r.change.action + " " + describeChange(r.change) + " — " + r.outcome.rawValue, style: theme[.dialog])])
                }
            }
        case .journal(let id):
            guard let r = state.journal.first(where: { $0.id == id }) else {
                add([Span("The record is no longer in the journal.")])
                break
            }
            field("time", formatDateTime(r.time, zone: state.timeZone))
            field("by", "\(r.user)@\(r.host)")
            field("change", r.change.action + " " + describeChange(r.change))
            if !r.change.endpoints.isEmpty { field("endpoints", r.change.endpoints.joined(separator: ", ")) }
            if let reason = r.change.reason { field("reason", reason) }
            field("outcome", r.outcome.rawValue)
            if let undoes = r.undoes { field("undoes", undoes) }
            field("message", r.message)
            for (name, step) in [("validate", r.validate), ("reload", r.reload), ("verify", r.verify)] {
                guard let step else { continue }
                field(name, step.command.joined(separator: " ") + String(format: " — %@ in %.0f ms", step.succeeded ? "ok" : "failed", step.durationMs)
                      + (step.message.isEmpty ? "" : ": " + step.message))
            }
            out.append(Line(""))
            if r.diff.isEmpty {
                add([Span("(no diff recorded: nothing was written)")])
            } else {
                add([Span("diff", style: theme[.dialog].bold.underlined)])
                for line in r.diff.split(separator: "\n", omittingEmptySubsequences: false) {
                    let text = String(line)
                    let style: Style = text.hasPrefix("+") ? theme[.dialog].bold : text.hasPrefix("-") ? theme[.dialog].dimmed
                        : text.hasPrefix("@@") ? theme[.dialog].underlined : theme[.dialog]
                    add([Span(text, style: style)])
                }
            }
        case .problem(let index):
            let all = ProblemsScreen.groups(state)
            guard !all.isEmpty else { break }
            let group = all[min(index, all.count - 1)]
            field("kind", group.kind)
            field("what", group.title)
            if let fix = group.fix { field("fix", fix) }
            if !group.places.isEmpty {
                out.append(Line(""))
                add([Span("where (\(group.places.count))", style: theme[.dialog].bold.underlined)])
                for place in group.places { add([Span(place)]) }
            }
        case .group(let name):
            guard let model = state.model, let group = model.groups.first(where: { $0.name == name }) else {
                add([Span("The group is no longer in the config.")])
                break
            }
            field("group", group.name)
            field("percent", group.percent.nginxText)
            if let from = group.rolledBackFrom { field("rolled back from", from.nginxText) }
            out.append(Line(""))
            let members = model.members(of: group)
            add([Span("members (\(members.count))", style: theme[.dialog].bold.underlined)])
            var all = state
            all.filter = ""
            let rows = all.rows
            for member in members {
                let health = rows.first { $0.endpoint.id == member.id }?.health
                add([Span(member.name + "  ", style: theme[.dialog]), Span(health?.label ?? "", style: theme[.dialog].bold),
                     Span("  " + member.pattern, style: theme[.dialog])])
            }
        case .path(let index):
            let paths = state.snapshot?.notMigrated ?? []
            guard !paths.isEmpty else { break }
            let path = paths[min(index, paths.count - 1)]
            field("path", path.path)
            field("requests", "\(path.requests) (approximate, all time)")
            add([Span("No whitelist key matches it: it goes to the current service. Add a key with `cutover add` to migrate it.")])
        case .plan(let id):
            PlansScreen.detailLines(id, state: state, field: { field($0, $1) }, add: add)
        case .host(let name):
            for (label, value) in HostsScreen.detail(name, state: state) { field(label, value) }
        }
        return out
    }
}
