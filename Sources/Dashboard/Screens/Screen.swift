import Autopilot
import Foundation
import TerminalUI
import TrafficStats

/// The whole dashboard frame: header, the current view, status line, footer, and any overlay.
public enum Screen {
    /// Where the frame's parts go in an area.
    struct Layout {
        var header: Rect
        var body: Rect
        var status: Rect
        var footer: Rect
    }

    /// The parts of the frame for `state` in `area`: the status line and the footer take two rows each when
    /// their text needs it and the terminal is tall enough, so nothing is cut.
    static func layout(_ state: AppState, area: Rect) -> Layout {
        let headerHeight = area.height >= 8 ? 3 : min(1, area.height)
        let roomy = area.height >= 16
        let footerHeight = roomy ? min(2, footerLines(state, theme: state.theme, width: area.width).count) : 1
        let statusHeight = roomy ? min(3, statusLines(state, theme: state.theme, width: area.width).count) : 1
        let parts = area.rows([.length(headerHeight), .fill(1), .length(statusHeight), .length(footerHeight)])
        return Layout(header: parts[0], body: parts[1], status: parts[2], footer: parts[3])
    }

    /// The layout on the terminal size the state last saw.
    static func layout(_ state: AppState) -> Layout {
        layout(state, area: Rect(x: 0, y: 0, width: state.screenWidth, height: state.screenHeight))
    }

    /// The height of the view area on the current terminal.
    static func bodyHeight(_ state: AppState) -> Int { layout(state).body.height }

    /// The number of list rows the current view shows (a page for PgUp/PgDn).
    static func visibleListRows(_ state: AppState) -> Int {
        let body = layout(state).body
        if state.view == .endpoints { return EndpointsScreen.rowGeometry(state, area: EndpointsScreen.split(state, area: body).table).visible }
        return max(1, body.height - 3)
    }

    /// What a click at a cell lands on.
    enum Hit: Equatable {
        /// A view's tab in the header.
        case tab(DashboardView)
        /// A row of the current view's list, by index.
        case row(Int)
        /// The header's "last change" row.
        case lastChange
    }

    /// What is at cell (`x`, `y`) of the frame the state draws, if anything clickable.
    static func hit(_ state: AppState, x: Int, y: Int) -> Hit? {
        let layout = layout(state)
        for tab in HeaderScreen.tabs(state, area: layout.header) where y == tab.y && x >= tab.x && x < tab.x + tab.width {
            return .tab(tab.view)
        }
        if layout.header.height >= 3, y == layout.header.y + 2, layout.header.contains(x: x, y: y) { return .lastChange }
        guard layout.body.contains(x: x, y: y) else { return nil }
        let top: Int, visible: Int, offset: Int, count: Int
        if state.view == .endpoints {
            let g = EndpointsScreen.rowGeometry(state, area: EndpointsScreen.split(state, area: layout.body).table)
            (top, visible, offset, count) = (g.top, g.visible, g.offset, state.rows.count)
        } else {
            let g = listGeometry(state, area: layout.body)
            (top, visible, offset, count) = (g.top, g.visible, g.offset, listCount(state))
        }
        let index = offset + (y - top)
        guard y >= top, y < top + visible, index < count else { return nil }
        return .row(index)
    }

    /// Where the rows of a list view (groups, not migrated, history, problems) are drawn in `area`.
    static func listGeometry(_ state: AppState, area: Rect) -> (top: Int, visible: Int, offset: Int) {
        var inner = area.inset(horizontal: 1, vertical: 1)
        if state.view == .history, inner.height >= 8 { inner = inner.rows([.fill(1), .length(3)])[0] }
        let headerRows = state.view == .problems ? 0 : (state.view == .plans ? 1 + PlansScreen.preamble(height: inner.height) : 1)
        let visible = max(0, inner.height - headerRows)
        let count = listCount(state)
        var scroll = ScrollState(selected: count == 0 ? nil : min(state.listSelection, count - 1))
        scroll.scrollToSelection(rowCount: count, visibleRows: visible)
        return (inner.y + headerRows, visible, scroll.offset)
    }

    /// Renders the frame for `state` into `area` of `buffer`; only writes cells.
    public static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        buffer.fill(area, with: Cell(" ", style: theme[.text]))
        let layout = layout(state, area: area)
        HeaderScreen.render(state, theme: theme, area: layout.header, buffer: &buffer)
        switch state.view {
        case .endpoints: EndpointsScreen.render(state, theme: theme, area: layout.body, buffer: &buffer)
        case .groups: GroupsScreen.render(state, theme: theme, area: layout.body, buffer: &buffer)
        case .notMigrated: NotMigratedScreen.render(state, theme: theme, area: layout.body, buffer: &buffer)
        case .history: HistoryScreen.render(state, theme: theme, area: layout.body, buffer: &buffer)
        case .problems: ProblemsScreen.render(state, theme: theme, area: layout.body, buffer: &buffer)
        case .plans: PlansScreen.render(state, theme: theme, area: layout.body, buffer: &buffer)
        case .hosts: HostsScreen.render(state, theme: theme, area: layout.body, buffer: &buffer)
        }
        renderStatus(state, theme: theme, area: layout.status, buffer: &buffer)
        renderFooter(state, theme: theme, area: layout.footer, buffer: &buffer)
        switch state.overlay {
        case .none, .filter: break
        case .help(let page): Overlays.help(state, page: page, theme: theme, area: layout.body, buffer: &buffer)
        case .detail(let subject, let scroll):
            Overlays.detail(subject, scroll: scroll, state: state, theme: theme, area: layout.body, buffer: &buffer)
        case .confirm(let pending): Overlays.confirm(pending, state: state, theme: theme, area: area, buffer: &buffer)
        case .groupPicker(let selected): Overlays.groupPicker(state, selected: selected, theme: theme, area: area, buffer: &buffer)
        }
        if !state.unicode { asciiOnly(area, buffer: &buffer) }
    }

    /// ASCII stand-ins for the few non-ASCII symbols the screens write besides box drawing and bars.
    static let asciiStandIns: [String: String] = [
        "·": ".", "→": ">", "±": "~", "Δ": "d", "…": "~", "▲": "^", "▼": "v", "▶": ">", "⟳": "*", "▏": "|",
        "↑": "^", "↓": "v", "←": "<", "█": "#", "─": "-", "│": "|", "–": "-", "×": "x", "⚠": "!",
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

    /// The status line's text, wrapped to `width` (long messages take more rows instead of being cut).
    static func statusLines(_ state: AppState, theme: Theme, width: Int) -> [Line] {
        let line: Line
        if case .filter(let text) = state.overlay {
            line = Line([Span(" filter: ", style: theme[.key]), Span(text + "▏", style: theme[.status]),
                         Span("  Enter keeps, Esc clears", style: theme[.muted])])
        } else if let applying = state.applying {
            var spans = [Span(" * applying: ", style: theme[.watch]), Span(applying, style: theme[.status])]
            if let stage = state.applyingStage { spans.append(Span(" — \(stage)", style: theme[.status])) }
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
        } else if let callout = state.lingeringCallouts.first {
            line = Line([Span(" ⚠ " + callout, style: theme[.error])])
        } else if let syslog = state.snapshot?.syslog, syslog.udpLost > 0 {
            line = Line([Span(" ⚠ syslog lost \(formatCount(syslog.udpLost)) datagrams over UDP: send over TCP (see 7)", style: theme[.watch])])
        } else {
            line = Line([Span(" ready", style: theme[.muted])])
        }
        guard width > 2, line.width > width else { return [line] }
        return Paragraph.wrap(line, width: width - 1).map { wrapped in
            Line([Span(" ")] + wrapped.spans, style: wrapped.style)
        }
    }

    /// The status line: the filter being typed, the change in flight, or the last message (wrapped; the last
    /// row ends in `…` when even the rows it has are too few).
    static func renderStatus(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        buffer.fill(area, with: Cell(" ", style: theme[.status]))
        let lines = statusLines(state, theme: theme, width: area.width)
        for (i, line) in lines.prefix(area.height).enumerated() {
            var shown = line
            if i == area.height - 1, lines.count > area.height {
                shown = Line(line.spans + [Span(" …")]).truncated(toWidth: area.width)
                if shown.width < area.width - 1 { shown.spans.append(Span("…")) }
            }
            shown.render(in: Rect(x: area.x, y: area.y + i, width: area.width, height: 1), buffer: &buffer)
        }
    }

    /// The footer's key hints laid out in rows of `width`: as many rows as they need, `? help` and `q quit`
    /// always on the first (so the way to every key is never cut).
    static func footerLines(_ state: AppState, theme: Theme, width: Int) -> [Line] {
        var hints: [[Span]] = []
        var always: [[Span]] = []
        for binding in KeyTable.bindings(readOnly: state.readOnly) {
            guard let hint = binding.hint, let key = binding.keys.first else { continue }
            let spans = [Span(" " + KeyBinding.label(key), style: theme[.footer].patched(with: theme[.key])),
                         Span(" " + hint + " ", style: theme[.footer])]
            if binding.action.isHelpOrQuit { always.append(spans) } else { hints.append(spans) }
        }
        func spanWidth(_ spans: [[Span]]) -> Int { spans.reduce(0) { $0 + $1.reduce(0) { $0 + $1.width } } }
        let reserved = spanWidth(always)
        var rows: [[[Span]]] = [[]]
        for hint in hints {
            let limit = rows.count == 1 ? width - reserved : width
            if spanWidth(rows[rows.count - 1] + [hint]) > limit, !rows[rows.count - 1].isEmpty { rows.append([]) }
            rows[rows.count - 1].append(hint)
        }
        rows[0] += always
        return rows.map { Line($0.flatMap { $0 }, style: theme[.footer]) }
    }

    /// The footer: the key table's hints, on one or two rows; on one row the hints that do not fit give way
    /// to `? help`, which lists every key.
    static func renderFooter(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        buffer.fill(area, with: Cell(" ", style: theme[.footer]))
        let lines = footerLines(state, theme: theme, width: area.width)
        for (i, line) in lines.prefix(area.height).enumerated() {
            line.render(in: Rect(x: area.x, y: area.y + i, width: area.width, height: 1), buffer: &buffer)
        }
    }
}

extension Action {
    /// Whether this is the help or the quit command (always shown in the footer).
    var isHelpOrQuit: Bool {
        switch self {
        case .toggleHelp, .quit: return true
        default: return false
        }
    }
}

/// The three header rows: where, when, how much, and the last change.
enum HeaderScreen {
    /// One view tab in the header: where it is drawn and its label.
    struct Tab {
        var view: DashboardView
        var label: String
        var x: Int
        var y: Int
        var width: Int
    }

    /// The header's second row without the tabs, for a header `width` wide: req/s per backend, lines read and the
    /// verdict counts; the lines count gives way first so the counts and the tabs fit.
    static func trafficLine(_ state: AppState, theme: Theme, width: Int) -> Line {
        let full = trafficLine(state, theme: theme, lines: true)
        let numbers = state.visibleViews.count * 4 + (state.view.title.count + 1)
        return full.width + numbers + 1 <= width ? full : trafficLine(state, theme: theme, lines: false)
    }

    static func trafficLine(_ state: AppState, theme: Theme, lines showLines: Bool) -> Line {
        let endpoints = state.snapshot?.endpoints ?? []
        let currentRps = endpoints.reduce(0) { $0 + $1.stats.current.rps }
        let newRps = endpoints.reduce(0) { $0 + $1.stats.new.rps }
        var second: [Span] = [Span(" req/s ", style: theme[.muted]),
                              Span("current \(formatRate(currentRps))", style: theme[.currentService]),
                              Span(" · ", style: theme[.muted]),
                              Span("new \(formatRate(newRps))", style: theme[.newService])]
        if showLines, let lines = state.snapshot?.lines { second.append(Span(" · \(formatCount(lines)) lines", style: theme[.muted])) }
        second += verdictSummary(state, theme: theme)
        if state.trafficError != nil { second.append(Span(" · log reader stopped (see 5)", style: theme[.error])) }
        return Line(second)
    }

    /// The view tabs on the header's second row, right-aligned: full titles when they fit in half the width,
    /// else short ones (`1 End`), else numbers with the current view's title, so every tab is always there.
    static func tabs(_ state: AppState, area: Rect) -> [Tab] {
        guard area.height >= 2, area.width > 0 else { return [] }
        // The traffic line and the verdict counts come first: the tabs take the room they leave (at least the
        // numbers, so every view stays one click away).
        let left = trafficLine(state, theme: state.theme, width: area.width).width + 1
        let views = state.visibleViews
        let full = views.map { " \($0.digit) \($0.title) " }
        let short = views.map { " \($0.digit) \($0.shortTitle) " }
        let numbers = views.map { $0 == state.view ? " \($0.digit) \($0.title) " : " \($0.digit) " }
        let bare = views.enumerated().map { " \($0.element.digit)" + ($0.offset == views.count - 1 ? " " : "") }
        let room = area.width - left
        let labels = [full, short, numbers, bare].first { $0.reduce(0) { $0 + DisplayWidth.of($1) } <= room } ?? bare
        var x = area.right - labels.reduce(0) { $0 + DisplayWidth.of($1) }
        var out: [Tab] = []
        for (view, label) in zip(views, labels) {
            out.append(Tab(view: view, label: label, x: max(area.x, x), y: area.y + 1, width: DisplayWidth.of(label)))
            x += DisplayWidth.of(label)
        }
        return out
    }

    static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        let header = theme[.header]
        let rows = area.rows([.length(1), .length(1), .length(1)])
        buffer.fill(rows[0], with: Cell(" ", style: header))
        var first: [Span] = [Span(" cutover ", style: header.bold)]
        if let badge = state.badge { first.append(Span("[\(badge)] ", style: header)) }
        if state.readOnly { first.append(Span("[READ-ONLY: changes disabled] ", style: header.bold)) }
        first.append(Span(state.configPath, style: header))
        if let drift = state.loaded?.drift, !drift.agrees {
            // A fleet whose hosts differ: edits are refused until they agree, so say which hosts, loudly.
            first.append(Span(" DRIFT: " + drift.drifted.joined(separator: ",") + " ", style: theme[.error].bold))
        }
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
        if state.autopilot.enabled {
            // Who executes the plans and whether the guardrails roll back by themselves.
            let pane = state.autopilot
            let troubled: Bool
            if case .nobody = pane.snapshot.executor { troubled = pane.snapshot.plans.contains { $0.state.isActive } } else { troubled = false }
            // Compact on narrow terminals, so the config path keeps some room.
            let wide = area.width >= 110
            rightSpans.append(Span((wide ? "autopilot " : "") + (wide ? pane.executorLabel : pane.shortExecutorLabel),
                                   style: troubled ? header.patched(with: theme[.watch]) : header))
            rightSpans.append(Span(" · \(wide ? "auto-rollback" : "auto-rb") \(pane.autoRollback ? "on" : "off") · ", style: header))
        }
        rightSpans.append(Span("window \(state.window.rawValue) · lag \(lag) · malformed \(malformed) ", style: header))
        let right = Line(rightSpans, style: header)
        let rightWidth = min(right.width, max(0, rows[0].width - 10))
        Line(first, style: header).render(in: Rect(x: rows[0].x, y: rows[0].y, width: rows[0].width - rightWidth - 1,
                                                    height: 1), buffer: &buffer)
        right.render(in: Rect(x: rows[0].right - rightWidth, y: rows[0].y, width: rightWidth, height: 1), buffer: &buffer)
        guard rows[1].height > 0 else { return }

        // Row 2: traffic per backend, the verdict counts, and the view tabs.
        let secondLine = trafficLine(state, theme: theme, width: rows[1].width)
        let tabs = HeaderScreen.tabs(state, area: area)
        let tabsWidth = tabs.reduce(0) { $0 + $1.width }
        secondLine.render(in: Rect(x: rows[1].x, y: rows[1].y, width: max(0, rows[1].width - tabsWidth - 1), height: 1), buffer: &buffer)
        for tab in tabs {
            let style = tab.view == state.view ? theme[.selection] : theme[.muted]
            buffer.set(string: tab.label, at: tab.x, tab.y, style: style, clipWidth: tab.width)
        }

        // Row 3: the last change and how it ended.
        var third: [Span] = [Span(" last change: ", style: theme[.muted])]
        if let record = state.journal.last, let reason = record.change.reason, reason.hasPrefix(Autopilot.marker),
           (state.lastApply?.finishedAt ?? .distantPast) <= record.time {
            // The autopilot acted after the operator's last change here (this dashboard's rounds or a guard's).
            third.append(Span(formatTime(record.time, zone: state.timeZone) + " ", style: theme[.muted]))
            third.append(Span("autopilot: ", style: theme[.accent].bold))
            third.append(Span(String(reason.dropFirst(Autopilot.marker.count)), style: theme[.text]))
            third.append(Span(" — \(record.outcome.rawValue)", style: theme[record.outcome == .applied ? .ok : .error]))
        } else if let last = state.lastApply {
            let role: ThemeRole = last.succeeded ? .ok : .error
            if let at = last.finishedAt { third.append(Span(formatTime(at, zone: state.timeZone) + " ", style: theme[.muted])) }
            third.append(Span(last.outcomeText, style: theme[role]))
            if !last.hosts.isEmpty {
                let hands = last.hosts.contains { $0.state == .needsHands }
                third.append(Span(" [" + last.hostsText + "]", style: theme[hands ? .error : role].bold))
            }
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
