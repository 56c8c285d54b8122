import Apply
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
        let table = Table(columns: [Column(.length(18)), Column(.length(8), alignment: .right), Column(.length(8), alignment: .right),
                                    Column(.length(22)), Column(.fill(1))],
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
        let rows = records.map { r in
            Row([Line([Span(formatDateTime(r.time, zone: state.timeZone), style: theme[.muted])]),
                 Line([Span(r.user, style: theme[.text])]),
                 Line([Span(r.change.action, style: theme[.accent])]),
                 Line([Span(describeChange(r.change), style: theme[.text])]),
                 Line([Span(r.outcome.rawValue, style: theme[r.outcome == .applied ? .ok : .error])])])
        }
        let table = Table(columns: [Column(.length(19)), Column(.length(10)), Column(.length(12)), Column(.fill(1)), Column(.length(22))],
                          header: header, rows: rows, highlightStyle: theme[.selection])
        renderList(table, state: state, area: parts[0], buffer: &buffer)
        if parts.count > 1 {
            let selected = records[min(state.listSelection, records.count - 1)]
            var text = selected.message
            if let undoes = selected.undoes { text = "undoes \(undoes): " + text }
            Paragraph(Text(text, style: theme[.muted]), wrap: .word).render(in: parts[1], buffer: &buffer)
        }
    }
}

/// What the routing engine, the log reader, the journal and the theme loader reported.
enum ProblemsScreen {
    /// The problems as (severity role, text) lines, most serious sources first.
    static func lines(_ state: AppState) -> [(ThemeRole, String)] {
        var out: [(ThemeRole, String)] = []
        if let error = state.loadError { out.append((.error, "config: \(error)")) }
        for p in state.model?.problems ?? [] {
            let role: ThemeRole = p.severity == .error ? .error : p.severity == .warning ? .watch : .muted
            out.append((role, "\(p.severity.rawValue): \(p.location): \(p.message)"))
        }
        if let error = state.trafficError { out.append((.error, "log reader: \(error)")) }
        for notice in state.notices { out.append((.watch, notice)) }
        for (path, m) in (state.snapshot?.malformed ?? [:]).sorted(by: { $0.key < $1.key }) where m.count > 0 {
            out.append((.watch, "log \(path): \(m.count) malformed line(s)"))
            for sample in m.samples.suffix(2) { out.append((.muted, "    \(sample)")) }
        }
        if let unclassified = state.snapshot?.unclassified, unclassified > 0 {
            out.append((.watch, "log: \(unclassified) line(s) without a usable request path"))
        }
        if let error = state.journalError { out.append((.error, "journal: \(error)")) }
        for p in state.themeProblems { out.append((.error, "theme: \(p)")) }
        for finding in state.preflight ?? [] {
            let role: ThemeRole = finding.severity == .error ? .error : finding.severity == .warning ? .watch : .muted
            out.append((role, "check: " + PreflightReport.line(finding)))
        }
        return out
    }

    static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let all = lines(state)
        let inner = viewBlock("Problems (\(all.count))", state: state, theme: theme, area: area, buffer: &buffer)
        guard !all.isEmpty else {
            Line([Span("Nothing to report: the config follows the pattern and the logs parse.", style: theme[.ok])])
                .render(in: inner, buffer: &buffer)
            return
        }
        let rows = all.map { Row([Line([Span($0.1, style: theme[$0.0])])]) }
        let table = Table(columns: [Column(.fill(1))], rows: rows, highlightStyle: theme[.selection])
        renderList(table, state: state, area: inner, buffer: &buffer)
    }
}

/// The help overlay, the confirmation dialog and the group picker.
enum Overlays {
    static func help(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let bindings = KeyTable.bindings(readOnly: state.readOnly)
        let keyWidth = bindings.map { DisplayWidth.of($0.keyLabel) }.max() ?? 4
        let keyStyle = theme[.dialog].patched(with: theme[.key])
        var footer: [Line] = []
        if state.readOnly { footer.append(Line([Span("read-only: the keys that change the config are off", style: theme[.dialog].bold)])) }
        footer.append(Line([Span("any key closes this help", style: theme[.dialog])]))
        // One column when it fits, else two side by side.
        let fitsOne = bindings.count + footer.count + 2 <= area.height
        let columns = fitsOne ? 1 : 2
        let perColumn = (bindings.count + columns - 1) / columns
        let columnWidth = columns == 1 ? max(10, area.width - 6) : max(10, (area.width - 8) / 2)
        let longest = bindings.map { keyWidth + 2 + DisplayWidth.of($0.description) }.max() ?? 10
        let width = min(columnWidth, longest)
        var lines: [Line] = []
        for row in 0..<perColumn {
            var spans: [Span] = []
            for column in 0..<columns {
                let index = column * perColumn + row
                guard index < bindings.count else { continue }
                let b = bindings[index]
                let key = b.keyLabel.padding(toLength: keyWidth, withPad: " ", startingAt: 0)
                let description = DisplayWidth.truncate(b.description, toWidth: max(1, width - keyWidth - 2))
                let pad = String(repeating: " ", count: max(0, width - keyWidth - 2 - DisplayWidth.of(description)))
                if column > 0 { spans.append(Span("  ", style: theme[.dialog])) }
                spans.append(Span(key, style: keyStyle))
                spans.append(Span("  " + description + (column < columns - 1 ? pad : ""), style: theme[.dialog]))
            }
            lines.append(Line(spans))
        }
        lines += footer
        let popup = Popup(title: Line(" Keys "), text: Text(lines), style: theme[.dialog], borderStyle: theme[.dialogBorder],
                          borderSet: BorderSet.choose(.rounded, unicode: state.unicode))
        popup.render(in: area, buffer: &buffer)
    }

    static func confirm(_ pending: PendingChange, state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let width = max(20, min(area.width - 6, 76))
        var lines = Paragraph.wrap(Line([Span(pending.summary, style: theme[.dialog])]), width: width)
        lines.append(Line(""))
        let prompt = pending.isRollback ? "y: roll back now · any other key cancels" : "y: apply · n or Esc: cancel"
        lines.append(Line([Span(prompt, style: theme[.dialog].patched(with: theme[.key]))]))
        let title = pending.isRollback ? " Roll back? " : " Apply this change? "
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
        lines.append(Line([Span("↑/↓ choose · Enter move · Esc cancel", style: theme[.dialog].patched(with: theme[.key]))]))
        let name = state.selectedRow?.endpoint.name ?? ""
        Popup(title: Line(" Move \(name) to group "), text: Text(lines), style: theme[.dialog], borderStyle: theme[.dialogBorder],
              borderSet: BorderSet.choose(.rounded, unicode: state.unicode)).render(in: area, buffer: &buffer)
    }
}
