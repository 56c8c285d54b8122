import Foundation
import TerminalUI
import TrafficStats

/// The whole dashboard frame: header, the current view, status line, footer, and any overlay.
public enum Screen {
    /// Renders the frame for `state` into `area` of `buffer`; only writes cells.
    public static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        buffer.fill(area, with: Cell(" ", style: theme[.text]))
        let headerHeight = area.height >= 8 ? 3 : min(1, area.height)
        let parts = area.rows([.length(headerHeight), .fill(1), .length(1), .length(1)])
        HeaderScreen.render(state, theme: theme, area: parts[0], buffer: &buffer)
        switch state.view {
        case .endpoints: EndpointsScreen.render(state, theme: theme, area: parts[1], buffer: &buffer)
        case .groups: GroupsScreen.render(state, theme: theme, area: parts[1], buffer: &buffer)
        case .notMigrated: NotMigratedScreen.render(state, theme: theme, area: parts[1], buffer: &buffer)
        case .history: HistoryScreen.render(state, theme: theme, area: parts[1], buffer: &buffer)
        case .problems: ProblemsScreen.render(state, theme: theme, area: parts[1], buffer: &buffer)
        }
        renderStatus(state, theme: theme, area: parts[2], buffer: &buffer)
        renderFooter(state, theme: theme, area: parts[3], buffer: &buffer)
        switch state.overlay {
        case .none, .filter: break
        case .help: Overlays.help(state, theme: theme, area: parts[1], buffer: &buffer)
        case .confirm(let pending): Overlays.confirm(pending, state: state, theme: theme, area: area, buffer: &buffer)
        case .groupPicker(let selected): Overlays.groupPicker(state, selected: selected, theme: theme, area: area, buffer: &buffer)
        }
        if !state.unicode { asciiOnly(area, buffer: &buffer) }
    }

    /// ASCII stand-ins for the few non-ASCII symbols the screens write besides box drawing and bars.
    static let asciiStandIns: [String: String] = [
        "·": ".", "→": ">", "±": "~", "Δ": "d", "…": "~", "▲": "^", "▼": "v", "▶": ">", "⟳": "*", "▏": "|",
        "↑": "^", "↓": "v", "←": "<", "█": "#", "─": "-", "│": "|",
    ]

    /// Replaces every non-ASCII symbol in `area` (a terminal without UTF-8 would show garbage).
    static func asciiOnly(_ area: Rect, buffer: inout Buffer) {
        let r = area.intersection(buffer.area)
        for y in r.top..<r.bottom {
            for x in r.left..<r.right {
                guard let cell = buffer[x, y], !cell.isContinuation, !cell.symbol.allSatisfy(\.isASCII) else { continue }
                let replacement = asciiStandIns[cell.symbol] ?? "?"
                let wide = cell.width == 2
                buffer.set(cell: Cell(replacement, style: cell.style), x: x, y: y)
                if wide { buffer.set(cell: Cell(" ", style: cell.style), x: x + 1, y: y) }
            }
        }
    }

    /// The status line: the filter being typed, the change in flight, or the last message.
    static func renderStatus(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        buffer.fill(area, with: Cell(" ", style: theme[.status]))
        let line: Line
        if case .filter(let text) = state.overlay {
            line = Line([Span(" filter: ", style: theme[.key]), Span(text + "▏", style: theme[.status]),
                         Span("  Enter keeps, Esc clears", style: theme[.muted])])
        } else if let applying = state.applying {
            var spans = [Span(" * applying: ", style: theme[.watch]), Span(applying, style: theme[.status])]
            if let since = state.applyingSince {
                spans.append(Span(String(format: " (%.1f s)", max(0, state.now.timeIntervalSince(since))), style: theme[.muted]))
            }
            if state.queuedRollback != nil { spans.append(Span("  rollback queued next", style: theme[.error])) }
            line = Line(spans)
        } else if let status = state.status {
            var spans = [Span(" " + status.text, style: status.isError ? theme[.error] : theme[.status])]
            if let confirmation = RollbackConfirmation.of(state) {
                spans.append(Span(" · " + confirmation.text, style: confirmation.confirmed == false ? theme[.error]
                                  : (confirmation.confirmed == true ? theme[.ok] : theme[.muted])))
            }
            line = Line(spans)
        } else if !state.filter.isEmpty {
            line = Line([Span(" filter: ", style: theme[.key]), Span(state.filter, style: theme[.status]),
                         Span("  (Esc clears)", style: theme[.muted])])
        } else {
            line = Line([Span(" ready", style: theme[.muted])])
        }
        line.render(in: area, buffer: &buffer)
    }

    /// The footer: the key table's hints.
    static func renderFooter(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        buffer.fill(area, with: Cell(" ", style: theme[.footer]))
        var spans: [Span] = []
        for binding in KeyTable.bindings(readOnly: state.readOnly) {
            guard let hint = binding.hint, let key = binding.keys.first else { continue }
            spans.append(Span(" " + KeyBinding.label(key), style: theme[.footer].patched(with: theme[.key])))
            spans.append(Span(" " + hint + " ", style: theme[.footer]))
        }
        Line(spans, style: theme[.footer]).render(in: area, buffer: &buffer)
    }
}

/// The three header rows: where, when, how much, and the last change.
enum HeaderScreen {
    static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        let header = theme[.header]
        let rows = area.rows([.length(1), .length(1), .length(1)])
        buffer.fill(rows[0], with: Cell(" ", style: header))
        var first: [Span] = [Span(" cutover ", style: header.bold)]
        if let badge = state.badge { first.append(Span("[\(badge)] ", style: header)) }
        if state.readOnly { first.append(Span("[READ-ONLY: changes disabled] ", style: header.bold)) }
        first.append(Span(state.configPath, style: header))
        let lag: String
        if let logTime = state.snapshot?.logTime {
            let seconds = max(0, Int64(state.now.timeIntervalSince1970) - logTime)
            lag = "\(seconds)s"
        } else {
            lag = "-"
        }
        let malformed = state.snapshot.map { $0.malformed.values.reduce(0) { $0 + $1.count } } ?? 0
        var rightSpans: [Span] = []
        if let findings = state.preflight {
            let serious = findings.filter { $0.severity != .info }.count
            rightSpans.append(Span("check \(serious) ", style: serious > 0 ? header.patched(with: theme[.watch]) : header))
            rightSpans.append(Span("· ", style: header))
        }
        rightSpans.append(Span("window \(state.window.rawValue) · lag \(lag) · malformed \(malformed) ", style: header))
        let right = Line(rightSpans, style: header)
        let rightWidth = min(right.width, max(0, rows[0].width - 10))
        Line(first, style: header).render(in: Rect(x: rows[0].x, y: rows[0].y, width: rows[0].width - rightWidth - 1,
                                                    height: 1), buffer: &buffer)
        right.render(in: Rect(x: rows[0].right - rightWidth, y: rows[0].y, width: rightWidth, height: 1), buffer: &buffer)
        guard rows[1].height > 0 else { return }

        // Row 2: traffic per backend and the view tabs.
        let endpoints = state.snapshot?.endpoints ?? []
        let currentRps = endpoints.reduce(0) { $0 + $1.stats.current.rps }
        let newRps = endpoints.reduce(0) { $0 + $1.stats.new.rps }
        var second: [Span] = [Span(" req/s ", style: theme[.muted]),
                              Span("current \(formatRate(currentRps))", style: theme[.currentService]),
                              Span(" · ", style: theme[.muted]),
                              Span("new \(formatRate(newRps))", style: theme[.newService])]
        if let lines = state.snapshot?.lines { second.append(Span(" · \(formatCount(lines)) lines", style: theme[.muted])) }
        second += verdictSummary(state, theme: theme)
        if state.trafficError != nil { second.append(Span(" · log reader stopped (see 5)", style: theme[.error])) }
        let secondLine = Line(second)
        var tabs: [Span] = []
        for (i, view) in DashboardView.allCases.enumerated() {
            let style = view == state.view ? theme[.selection] : theme[.muted]
            tabs.append(Span(" \(i + 1) \(view.title) ", style: style))
        }
        let tabLine = Line(tabs)
        let roomForTabs = rows[1].width - secondLine.width - 2 >= tabLine.width
        secondLine.render(in: Rect(x: rows[1].x, y: rows[1].y, width: roomForTabs ? rows[1].width - tabLine.width : rows[1].width, height: 1),
                          buffer: &buffer)
        if roomForTabs {
            tabLine.render(in: Rect(x: rows[1].right - tabLine.width, y: rows[1].y, width: tabLine.width, height: 1), buffer: &buffer)
        }

        // Row 3: the last change and how it ended.
        var third: [Span] = [Span(" last change: ", style: theme[.muted])]
        if let last = state.lastApply {
            let role: ThemeRole = last.succeeded ? .ok : .error
            if let at = last.finishedAt { third.append(Span(formatTime(at, zone: state.timeZone) + " ", style: theme[.muted])) }
            third.append(Span(last.outcomeText, style: theme[role]))
            if let elapsed = last.elapsed { third.append(Span(" (key to reload \(formatDuration(elapsed)))", style: theme[.muted])) }
            if !last.succeeded {
                let said = last.message.split(separator: "\n").last.map(String.init) ?? last.message
                third.append(Span(": " + said, style: theme[.error]))
            }
            third.append(Span(" · " + last.summary, style: theme[.text]))
        } else if let record = state.journal.last {
            third.append(Span(formatDateTime(record.time, zone: state.timeZone) + " " + record.change.action + " "
                              + describeChange(record.change), style: theme[.text]))
            third.append(Span(" — \(record.outcome.rawValue)", style: theme[record.outcome == .applied ? .ok : .error]))
        } else {
            third.append(Span("none yet", style: theme[.muted]))
        }
        Line(third).render(in: rows[2], buffer: &buffer)
    }

    /// The verdicts counted (`1 bad · 2 watch · 5 healthy`) and the worst endpoint named.
    static func verdictSummary(_ state: AppState, theme: Theme) -> [Span] {
        let summary = state.verdictSummary
        guard !summary.counts.isEmpty else { return [] }
        var spans: [Span] = []
        for (verdictState, count) in summary.counts {
            spans.append(Span(" · ", style: theme[.muted]))
            spans.append(Span("\(count) \(verdictState.label)", style: theme[verdictState.role]))
        }
        if let worst = summary.worst {
            spans.append(Span(" · worst: ", style: theme[.muted]))
            spans.append(Span(worst.endpoint.name, style: theme[worst.health.role].bold))
        }
        return spans
    }
}
