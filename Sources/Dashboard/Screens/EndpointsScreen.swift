import Apply
import Foundation
import TerminalUI
import TrafficStats

/// The endpoint table and, when there is room, the detail pane of the selected endpoint.
enum EndpointsScreen {
    /// One column of the endpoint table: titles, width, the order it is dropped in on narrow screens, and its cell.
    struct ColumnSpec {
        /// The label over the column (a unit or the figure's name), on the first header row.
        var group: String
        var title: String
        var width: Int
        var alignment: Alignment
        /// Lower is kept longer.
        var priority: Int
        var sort: SortColumn?
        /// Whether the column takes the room left over (the trend chart).
        var grows = false
        /// How narrow the column may get before figures are dropped (its cells are cut with `…`); nil: fixed.
        var minWidth: Int? = nil
        var cell: (EndpointRow, Theme, Bool, Int) -> Line
    }

    /// The widest the name column gets; longer names are cut with `…` (Enter shows them in full).
    static let nameWidthCap = 28
    /// The narrowest the name column gets before other columns are dropped.
    static let nameWidthMin = 10
    /// The widths of a current / new / delta cell's three parts.
    static let tripleWidths = (4, 4, 5)

    /// Three figures right-aligned in fixed parts, so they line up down the column: current, new, delta.
    static func triple(_ a: String, _ b: String, _ c: String?, theme: Theme, deltaRole: ThemeRole?) -> Line {
        var spans = [Span(leftPad(a, tripleWidths.0), style: theme[.currentService]), Span(" "),
                     Span(leftPad(b, tripleWidths.1), style: theme[.newService])]
        if let c {
            spans.append(Span(" "))
            spans.append(Span(leftPad(c, tripleWidths.2), style: deltaRole.map { theme[$0] } ?? theme[.text]))
        }
        return Line(spans)
    }

    /// The sub-header of a triple column: `cur  new     Δ`.
    static let tripleTitle = leftPad("cur", tripleWidths.0) + " " + leftPad("new", tripleWidths.1) + " " + leftPad("Δ", tripleWidths.2)
    static let pairTitle = leftPad("cur", 5) + " " + leftPad("new", 5)

    static func columns(state: AppState) -> [ColumnSpec] {
        let hostIndex = state.hostFilterIndex
        // A worse delta takes the verdict's colour when it is bad or watch, a better one is green: the core
        // decides, this only paints.
        func deltaRole(_ value: Double?, row: EndpointRow) -> ThemeRole? {
            guard let value, row.health != .notEnoughData, row.health != .noBaseline else { return nil }
            if value > 0 { return row.health == .bad ? .bad : (row.health == .watch ? .watch : nil) }
            if value < 0 { return .ok }
            return nil
        }
        func latency(_ title: String, _ sort: SortColumn, _ priority: Int, _ pick: @escaping (BackendFigures) -> Double?,
                     _ delta: @escaping (EndpointStats) -> Double?) -> ColumnSpec {
            ColumnSpec(group: "\(title) ms", title: tripleTitle, width: 15, alignment: .right, priority: priority, sort: sort) { row, theme, _, _ in
                guard let s = row.traffic?.stats else { return Line([Span("-", style: theme[.noData])]) }
                // The comparisons cover the requests since the endpoint's last change inside the window (see Since).
                return triple(formatCellMs(pick(s.comparedCurrent)), formatCellMs(pick(s.comparedNew)), formatCellDeltaMs(delta(s)),
                              theme: theme, deltaRole: deltaRole(delta(s), row: row))
            }
        }
        return [
            ColumnSpec(group: "", title: "Endpoint", width: nameWidthMin, alignment: .left, priority: 0, sort: .endpoint) { row, theme, _, _ in
                Line([Span(row.endpoint.name, style: theme[.text])])
            },
            ColumnSpec(group: "", title: "Group", width: 8, alignment: .left, priority: 5, sort: .group) { row, theme, _, _ in
                Line([Span(row.groupLabel, style: theme[.muted])])
            },
            ColumnSpec(group: "", title: "Cfg%", width: 4, alignment: .right, priority: 0, sort: .configured) { row, theme, _, _ in
                Line([Span(row.endpoint.percent.nginxText, style: theme[.accent])])
            },
            ColumnSpec(group: state.hostFilter.map { "obs \($0)" } ?? "observed", title: hostIndex == nil ? "% ±CI" : "% (host)",
                       width: 10, alignment: .right, priority: 3, sort: .observed) { row, theme, _, _ in
                // With a host filter: that host's split of the requests read from it.
                if let hostIndex {
                    guard let split = row.traffic?.byHost, hostIndex < split.count, split[hostIndex].current + split[hostIndex].new > 0 else {
                        return Line([Span("-", style: theme[.noData])])
                    }
                    let s = split[hostIndex]
                    return Line([Span(String(format: "%.1f", 100 * Double(s.new) / Double(s.current + s.new)), style: theme[.accent])])
                }
                guard let s = row.traffic?.stats, let observed = s.observedPercent else { return Line([Span("-", style: theme[.noData])]) }
                var text = String(format: "%.1f", observed)
                if let ci = s.observedPercentCI, ci.count == 2 {
                    let half = (ci[1] - ci[0]) / 2
                    text += half < 10 ? String(format: "±%.1f", half) : String(format: "±%.0f", half)
                }
                return Line([Span(text, style: s.splitMismatch == true ? theme[.watch] : theme[.text])])
            },
            ColumnSpec(group: "req/s", title: pairTitle, width: 11, alignment: .right, priority: 4, sort: .rps) { row, theme, _, _ in
                guard let s = row.traffic?.stats else { return Line([Span("-", style: theme[.noData])]) }
                return Line([Span(leftPad(formatRate(s.current.rps), 5), style: theme[.currentService]), Span(" "),
                             Span(leftPad(formatRate(s.new.rps), 5), style: theme[.newService])])
            },
            ColumnSpec(group: "5xx %", title: tripleTitle, width: 15, alignment: .right, priority: 1, sort: .errors) { row, theme, _, _ in
                guard let s = row.traffic?.stats else { return Line([Span("-", style: theme[.noData])]) }
                return triple(formatErrorRate(s.comparedCurrent.errorRate), formatErrorRate(s.comparedNew.errorRate),
                              formatErrorDelta(s.errorRateDelta), theme: theme, deltaRole: deltaRole(s.errorRateDelta, row: row))
            },
            latency("p50", .p50, 6, { $0.p50Ms }, { $0.p50DeltaMs }),
            latency("p95", .p95, 4, { $0.p95Ms }, { $0.p95DeltaMs }),
            latency("p99", .p99, 1, { $0.p99Ms }, { $0.p99DeltaMs }),
            ColumnSpec(group: "new share", title: "over \(state.window.rawValue)", width: 10, alignment: .left, priority: 2, sort: nil,
                       grows: true) { row, theme, unicode, width in
                Trend.line(row.traffic, width: width, theme: theme, unicode: unicode)
            },
            ColumnSpec(group: "", title: "Since", width: 8, alignment: .left, priority: 3, sort: nil) { row, theme, _, _ in
                guard let since = row.traffic?.stats.since else { return Line([Span("-", style: theme[.muted])]) }
                return Line([Span(formatTime(Date(timeIntervalSince1970: TimeInterval(since)), zone: state.timeZone), style: theme[.muted])])
            },
            ColumnSpec(group: "", title: "State", width: 11, alignment: .left, priority: 0, sort: .state, minWidth: 9) { row, theme, _, _ in
                Line([Span(row.verdict.label, style: theme[row.health.role])])
            },
        ]
    }

    /// The columns that fit in `width` with their widths, in display order: the highest priorities are dropped
    /// first, the name column gets up to `nameWidthCap` (its longest name), and what is left goes to the trend.
    static func fittingColumns(_ all: [ColumnSpec], width: Int, longestName: Int = nameWidthCap) -> [ColumnSpec] {
        var kept = Array(all.indices)
        let nameIndex = all.firstIndex { $0.sort == .endpoint }
        let target = max(nameWidthMin, min(nameWidthCap, longestName))
        // The highlight symbol takes one column; the name column counts as `name` wide, and with `shrunk` the
        // columns that may shrink count at their narrowest.
        func needed(_ indices: [Int], name: Int, shrunk: Bool = false) -> Int {
            indices.reduce(0) { $0 + ($1 == nameIndex ? name : (shrunk ? all[$1].minWidth ?? all[$1].width : all[$1].width)) }
                + max(0, indices.count - 1) + 1
        }
        func dropOne(minimumPriority: Int) -> Bool {
            guard let drop = kept.filter({ all[$0].priority >= minimumPriority })
                .max(by: { (all[$0].priority, $0) < (all[$1].priority, $1) }) else { return false }
            kept.removeAll { $0 == drop }
            return true
        }
        // First the extras give way to a readable name; then, at its narrowest, the figures by priority.
        while needed(kept, name: target) > width, dropOne(minimumPriority: 3) {}
        while needed(kept, name: nameWidthMin, shrunk: true) > width, dropOne(minimumPriority: 1) {}
        var out = kept.map { all[$0] }
        // Shrunk columns get their room back first, then the name up to its target.
        var spareForNames = width - needed(kept, name: nameWidthMin, shrunk: true)
        for i in out.indices {
            guard let minimum = out[i].minWidth else { continue }
            let back = min(max(0, spareForNames), out[i].width - minimum)
            out[i].width = minimum + back
            spareForNames -= back
        }
        if let name = out.firstIndex(where: { $0.sort == .endpoint }) {
            out[name].width = max(nameWidthMin, min(target, nameWidthMin + max(0, spareForNames)))
        }
        let spare = max(0, width - (out.reduce(0) { $0 + $1.width } + max(0, out.count - 1) + 1))
        if let trend = out.firstIndex(where: \.grows) {
            out[trend].width += spare
        }
        return out
    }

    /// The table's and the detail pane's areas in the view's area.
    static func split(_ state: AppState, area: Rect) -> (table: Rect, detail: Rect?) {
        guard area.height >= 18 else { return (area, nil) }
        // The table takes what its rows need (border and two header rows), at most what leaves the pane 9 rows.
        let needed = state.rows.count + 4
        let table = min(needed, area.height - 9)
        let parts = area.rows([.length(max(6, table)), .fill(1)])
        return (parts[0], parts[1])
    }

    static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        let (table, detail) = split(state, area: area)
        renderTable(state, theme: theme, area: table, buffer: &buffer)
        if let detail, let row = state.selectedRow {
            DetailPane.render(row, state: state, theme: theme, area: detail, buffer: &buffer)
        }
    }

    /// Where the data rows are: the first row's y, how many fit, and the first row shown.
    static func rowGeometry(_ state: AppState, area: Rect) -> (top: Int, x: Int, width: Int, visible: Int, offset: Int) {
        let inner = area.inset(horizontal: 1, vertical: 1)
        let visible = max(0, inner.height - 2)
        var scroll = ScrollState(selected: state.selectedIndex)
        scroll.scrollToSelection(rowCount: state.rows.count, visibleRows: visible)
        return (inner.y + 2, inner.x, inner.width, visible, scroll.offset)
    }

    static func renderTable(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let rows = state.rows
        let border = BorderSet.choose(.plain, unicode: state.unicode)
        let sortMark = state.sortDescending ? (state.unicode ? "▼" : "v") : (state.unicode ? "▲" : "^")
        var title = " Endpoints (\(rows.count)"
        if let total = state.model?.endpoints.count, total != rows.count { title += " of \(total)" }
        title += ") · sort: \(state.sort.label) \(sortMark)"
        if !state.filter.isEmpty { title += " · filter: \(state.filter)" }
        let block = Block(title: Line(title + " "), borderSet: border, borderStyle: theme[.border], titleStyle: theme[.title])
        let inner = block.inner(area)
        block.render(in: area, buffer: &buffer)
        guard !inner.isEmpty else { return }
        if state.model == nil {
            Paragraph(Text("The config could not be read: \(state.loadError ?? "unknown error"). See the problems view (5).",
                           style: theme[.error]), wrap: .word).render(in: inner, buffer: &buffer)
            return
        }
        if state.snapshot == nil, let progress = state.lookBack, !progress.done {
            LookBackPanel.render(progress, theme: theme, unicode: state.unicode, area: inner, buffer: &buffer)
            return
        }
        if rows.isEmpty {
            let message = state.filter.isEmpty ? "No migrating endpoints found in the config (see the problems view, 5)."
                : "No endpoint matches the filter \"\(state.filter)\" (Esc clears it)."
            Paragraph(Text(message, style: theme[.muted]), wrap: .word).render(in: inner, buffer: &buffer)
            return
        }
        let longest = rows.map { DisplayWidth.of($0.endpoint.name) }.max() ?? nameWidthMin
        let specs = fittingColumns(columns(state: state), width: inner.width, longestName: longest)
        // First header row: what each column measures, with its unit.
        var x = inner.x + 1
        for spec in specs {
            if !spec.group.isEmpty {
                Line([Span(spec.group, style: theme[.muted])], alignment: spec.alignment == .right ? .right : .left)
                    .render(in: Rect(x: x, y: inner.y, width: spec.width, height: 1), buffer: &buffer)
            }
            x += spec.width + 1
        }
        let header = Row(specs.map { spec in
            let marked = spec.sort == state.sort ? spec.title + sortMark : spec.title
            return Line([Span(marked, style: theme[.title])])
        })
        let tableRows = rows.map { row in Row(specs.map { $0.cell(row, theme, state.unicode, $0.width) }) }
        let columns = specs.map { Column(.length($0.width), alignment: $0.alignment) }
        let table = Table(columns: columns, header: header, rows: tableRows, highlightStyle: theme[.selection],
                          highlightSymbol: state.unicode ? "▶" : ">")
        var scroll = ScrollState(selected: state.selectedIndex)
        let tableArea = Rect(x: inner.x, y: inner.y + 1, width: inner.width, height: max(0, inner.height - 1))
        table.render(in: tableArea, buffer: &buffer, state: &scroll)
        // The selected row keeps its State cell's own colours, so a bad endpoint stays red under the highlight.
        if let selected = scroll.selected, selected >= scroll.offset, selected < rows.count,
           let column = specs.lastIndex(where: { $0.sort == .state }) {
            let widths = table.columnWidths(totalWidth: tableArea.width)
            let x = tableArea.x + DisplayWidth.of(table.highlightSymbol) + widths[..<column].reduce(0, +) + column * table.columnSpacing
            let y = tableArea.y + 1 + selected - scroll.offset
            if y < tableArea.bottom, column < widths.count {
                let cell = Rect(x: x, y: y, width: widths[column], height: 1)
                buffer.fill(cell, with: .blank)
                specs[column].cell(rows[selected], theme, state.unicode, specs[column].width).render(in: cell, buffer: &buffer)
            }
        }
        renderScrollMarks(state, rows: rows, area: area, theme: theme, buffer: &buffer)
    }

    /// On the bottom border: which rows are shown ("8–15 of 40") and how many bad rows are out of view.
    static func renderScrollMarks(_ state: AppState, rows: [EndpointRow], area: Rect, theme: Theme, buffer: inout Buffer) {
        let g = rowGeometry(state, area: area)
        guard area.height >= 3, g.visible > 0 else { return }
        let y = area.bottom - 1
        let last = min(rows.count, g.offset + g.visible)
        if rows.count > g.visible {
            let position = " rows \(g.offset + 1)–\(last) of \(rows.count) "
            let w = DisplayWidth.of(position)
            if w + 4 < area.width {
                buffer.set(string: position, at: area.right - 2 - w, y, style: theme[.title], clipWidth: w)
            }
        }
        let above = rows[..<min(g.offset, rows.count)].filter { $0.health == .bad }.count
        let below = rows[min(last, rows.count)...].filter { $0.health == .bad }.count
        var marks: [Span] = []
        if above > 0 { marks.append(Span(" \(state.unicode ? "▲" : "^") \(above) BAD above ", style: theme[.bad])) }
        if below > 0 { marks.append(Span(" \(state.unicode ? "▼" : "v") \(below) BAD below ", style: theme[.bad])) }
        if !marks.isEmpty {
            Line(marks).render(in: Rect(x: area.x + 2, y: y, width: max(0, area.width / 2 - 2), height: 1), buffer: &buffer)
        }
    }
}

/// The per-row trend: the new service's share over the whole window, one cell per time slice.
enum Trend {
    /// The new-share values of `width` slices covering the window: each slice sums its buckets' requests (so
    /// it is smooth), and a slice without requests repeats the one before (so there are no gaps).
    static func shares(_ traffic: EndpointTraffic?, width: Int) -> [Double?] {
        guard width > 0, let timeline = traffic?.timeline, !timeline.currentRequests.isEmpty else {
            return Array((traffic?.newShareSeries ?? []).suffix(max(0, width)))
        }
        let count = timeline.currentRequests.count
        var out: [Double?] = []
        var last: Double?
        // Each of the `width` cells covers its share of the buckets (several when the window has more buckets
        // than cells, one stretched over several cells when it has fewer).
        for slice in 0..<width {
            let from = slice * count / width, to = max(from + 1, (slice + 1) * count / width)
            var current = 0, new = 0
            for i in from..<to where i < count {
                current += timeline.currentRequests[i]
                new += timeline.newRequests[i]
            }
            if current + new > 0 { last = Double(new) / Double(current + new) }
            out.append(last)
        }
        return out
    }

    static func line(_ traffic: EndpointTraffic?, width: Int, theme: Theme, unicode: Bool) -> Line {
        let values = shares(traffic, width: width)
        let spark = Sparkline(values, bars: unicode ? Sparkline.unicodeBars : Sparkline.asciiBars)
        return Line([Span(values.map { $0.map { spark.symbol(for: $0) } ?? " " }.joined(), style: theme[.newService])])
    }
}

/// The selected endpoint's charts over the window, latency distributions and status mix.
enum DetailPane {
    static func render(_ row: EndpointRow, state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let border = BorderSet.choose(.plain, unicode: state.unicode)
        var title = " \(row.endpoint.name) · \(row.endpoint.pattern)"
        if let target = row.endpoint.target { title += " → \(target)" }
        title += " · \(row.groupLabel) \(row.endpoint.percent.nginxText) "
        let block = Block(title: Line(title), borderSet: border, borderStyle: theme[.border], titleStyle: theme[.title])
        block.render(in: area, buffer: &buffer)
        var inner = block.inner(area)
        guard !inner.isEmpty else { return }
        // The verdict first: its state, since when, its reasons and the needs-N-more estimate; then the hosts.
        let hostLines = HostsScreen.paneLines(row, state: state, theme: theme)
        let lines = hostLines.isEmpty ? verdictLines(row, state: state, theme: theme)
            : Array(verdictLines(row, state: state, theme: theme).prefix(max(1, 3 - hostLines.count))) + hostLines
        let reserved = min(lines.count, max(1, inner.height - 6), hostLines.isEmpty ? 3 : 4)
        for (i, line) in lines.prefix(reserved).enumerated() {
            line.render(in: Rect(x: inner.x, y: inner.y + i, width: inner.width, height: 1), buffer: &buffer)
        }
        inner = Rect(x: inner.x, y: inner.y + reserved, width: inner.width, height: max(0, inner.height - reserved))
        guard !inner.isEmpty else { return }
        if inner.width >= 150 {
            let parts = inner.columns([.fill(1), .length(46), .length(27)], spacing: 2)
            Timeline.render(row, state: state, theme: theme, area: parts[0], buffer: &buffer)
            renderLatency(row, state: state, theme: theme, area: parts[1], buffer: &buffer)
            renderStatusMix(row, theme: theme, area: parts[2], buffer: &buffer)
        } else if inner.width >= 70 {
            let parts = inner.columns([.fill(1), .length(36)], spacing: 2)
            Timeline.render(row, state: state, theme: theme, area: parts[0], buffer: &buffer)
            renderLatency(row, state: state, theme: theme, area: parts[1], buffer: &buffer)
        } else {
            Timeline.render(row, state: state, theme: theme, area: inner, buffer: &buffer)
        }
    }

    /// The verdict's lines: `verdict: BAD since 14:02:11 (…)`, then one line per reason; after a rollback the
    /// verdict before it.
    static func verdictLines(_ row: EndpointRow, state: AppState, theme: Theme) -> [Line] {
        let v = row.verdict
        func clock(_ t: Int64) -> String { formatTime(Date(timeIntervalSince1970: TimeInterval(t)), zone: state.timeZone) }
        var head: [Span] = [Span("verdict ", style: theme[.title]), Span(v.label, style: theme[v.state.role].bold)]
        if let at = v.rolledBackAt {
            head.append(Span(" at \(clock(at)) · no baseline", style: theme[.muted]))
        } else if let since = v.since {
            head.append(Span(" since \(clock(since))", style: theme[.muted]))
        }
        if v.baseline == .historical { head.append(Span(" · baseline: historical (before the change)", style: theme[.watch])) }
        if let needed = v.neededRequests { head.append(Span(" · needs ~\(formatCount(needed)) more new-service requests", style: theme[.accent])) }
        var details: [Line] = []
        if let previous = v.previous {
            details.append(Line([Span("was ", style: theme[.muted]), Span(previous.state.label, style: theme[previous.state.role]),
                                 Span(" before the rollback: " + (previous.reasons.first ?? ""), style: theme[.text])]))
        }
        let reasons = v.rolledBackAt == nil ? v.reasons : Array(v.reasons.dropFirst())
        for reason in reasons where !reason.hasPrefix("needs about") || v.neededRequests == nil {
            details.append(Line([Span(reason, style: theme[.text])]))
        }
        // The most important detail rides on the first line, so even a short pane says why.
        if let first = details.first {
            head.append(Span(" · ", style: theme[.muted]))
            head += first.spans
        }
        var plan: [Line] = []
        if let live = state.autopilot.activePlan(for: row.endpoint) {
            plan.append(Line([Span("ramp ", style: theme[.title]),
                              Span(PlanText.summary(live, state.autopilot.snapshot.progress[live.id], executor: state.autopilot.snapshot.executor, now: state.now),
                                   style: theme[live.state == .running ? .accent : .watch])]))
        }
        var lines = [Line(head)] + plan + details.dropFirst().map { Line([Span("  · ", style: theme[.muted])] + $0.spans) }
        // After a change that lowered this endpoint's share: what the traffic since says, right under the verdict.
        if let confirmation = RollbackConfirmation.detail(state, endpoint: row.endpoint.id) {
            let style = confirmation.confirmed == false ? theme[.error].bold : (confirmation.confirmed == true ? theme[.ok] : theme[.muted])
            lines.insert(Line([Span(confirmation.text, style: style)]), at: 1)
        }
        return lines
    }

    /// The lowest latency the log axis shows: one millisecond.
    static let latencyAxisLow = 1.0

    /// The two latency distributions side by side, one bar per percentile on a logarithmic axis from 1 ms to the
    /// next power of ten above the slowest, so p50 is as readable as max.
    static func renderLatency(_ row: EndpointRow, state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        guard let stats = row.traffic?.stats, stats.comparedCurrent.requests + stats.comparedNew.requests > 0 else {
            let since = row.traffic?.stats.since.map { _ in " since the last change" } ?? " in the \(state.window.rawValue) window"
            Paragraph(Text("latency: no requests\(since) yet", style: theme[.noData]), wrap: .word).render(in: area, buffer: &buffer)
            return
        }
        // Both services since the last change inside the window (the window's figures when there is none).
        var s = stats
        s.current = stats.comparedCurrent
        s.new = stats.comparedNew
        let percentiles: [(String, Double?, Double?)] = [
            ("p50", s.current.p50Ms, s.new.p50Ms), ("p90", s.current.p90Ms, s.new.p90Ms),
            ("p95", s.current.p95Ms, s.new.p95Ms), ("p99", s.current.p99Ms, s.new.p99Ms),
            ("max", s.current.maxMs, s.new.maxMs),
        ]
        let top = percentiles.flatMap { [$0.1, $0.2] }.compactMap { $0 }.max() ?? 1
        let high = pow(10, (log10(max(10, top))).rounded(.up))
        let halves = area.columns([.fill(1), .fill(1)], spacing: 1)
        let labels: [(String, ThemeRole, KeyPath<(String, Double?, Double?), Double?>, Int)] = [
            ("current \(formatCount(s.current.requests)) req", .currentService, \.1, 0),
            ("new \(formatCount(s.new.requests)) req", .newService, \.2, 1),
        ]
        for (label, role, path, index) in labels {
            let half = halves[index]
            guard !half.isEmpty else { continue }
            Line([Span(label, style: theme[role].bold)]).render(in: half, buffer: &buffer)
            for (i, entry) in percentiles.enumerated() where i + 1 < half.height {
                let y = half.y + 1 + i
                let value = entry[keyPath: path]
                buffer.set(string: entry.0, at: half.x, y, style: theme[.muted], clipWidth: half.width)
                let barWidth = max(0, half.width - 4 - 6)
                if let value, barWidth > 0 {
                    HorizontalBar.draw(fraction: logFraction(value, low: latencyAxisLow, high: high), x: half.x + 4, y: y,
                                       width: barWidth, style: theme[role], unicode: state.unicode, buffer: &buffer)
                }
                Line([Span(formatCellMs(value), style: theme[.text])], alignment: .right)
                    .render(in: Rect(x: half.right - 5, y: y, width: 5, height: 1), buffer: &buffer)
            }
        }
        if area.height > 6 {
            let axis = "ms, log axis 1 … \(formatCellMs(high))"
            Line([Span(axis, style: theme[.muted])]).render(in: Rect(x: area.x, y: area.y + 6, width: area.width, height: 1), buffer: &buffer)
        }
    }

    /// Requests by status class for each service.
    static func renderStatusMix(_ row: EndpointRow, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        Line([Span("status", style: theme[.title]), Span("   current", style: theme[.currentService]),
              Span("      new", style: theme[.newService])]).render(in: area, buffer: &buffer)
        guard let stats = row.traffic?.stats else { return }
        var s = stats
        s.current = stats.comparedCurrent
        s.new = stats.comparedNew
        func share(_ n: Int, _ total: Int) -> String { total > 0 ? String(format: "%5.1f%%", Double(n) * 100 / Double(total)) : "    -" }
        let classes: [(String, Int, Int, ThemeRole)] = [
            ("2xx", s.current.status.s2xx, s.new.status.s2xx, .ok), ("3xx", s.current.status.s3xx, s.new.status.s3xx, .text),
            ("4xx", s.current.status.s4xx, s.new.status.s4xx, .watch), ("5xx", s.current.status.s5xx, s.new.status.s5xx, .bad),
        ]
        for (i, entry) in classes.enumerated() where i + 1 < area.height {
            Line([Span(entry.0, style: theme[entry.3]), Span("    " + share(entry.1, s.current.requests), style: theme[.text]),
                  Span("   " + share(entry.2, s.new.requests), style: theme[.text])])
                .render(in: Rect(x: area.x, y: area.y + 1 + i, width: area.width, height: 1), buffer: &buffer)
        }
        if area.height > 6 {
            Line([Span("total", style: theme[.muted]), Span(leftPad(formatCount(s.current.requests), 9), style: theme[.text]),
                  Span(leftPad(formatCount(s.new.requests), 9), style: theme[.text])])
                .render(in: Rect(x: area.x, y: area.y + 5, width: area.width, height: 1), buffer: &buffer)
        }
    }

    /// The journal records that touched this endpoint or its group, newest first.
    static func renderChanges(_ row: EndpointRow, state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        Line([Span("recent changes", style: theme[.title])]).render(in: area, buffer: &buffer)
        let records = recentChanges(for: row, in: state.journal)
        if records.isEmpty {
            Line([Span("none in the journal", style: theme[.muted])])
                .render(in: Rect(x: area.x, y: area.y + 1, width: area.width, height: 1), buffer: &buffer)
            return
        }
        for (i, record) in records.enumerated() where i + 1 < area.height {
            let role: ThemeRole = record.outcome == .applied ? .ok : .error
            Line([Span(formatDateTime(record.time, zone: state.timeZone) + " ", style: theme[.muted]),
                  Span(record.change.action + " " + describeChange(record.change), style: theme[.text]),
                  Span(record.outcome == .applied ? "" : " (\(record.outcome.rawValue))", style: theme[role])])
                .render(in: Rect(x: area.x, y: area.y + 1 + i, width: area.width, height: 1), buffer: &buffer)
        }
    }

    /// The records that touched the endpoint (by identity; an old record by key or name) or its group, newest first.
    static func recentChanges(for row: EndpointRow, in journal: [JournalRecord]) -> [JournalRecord] {
        let group = row.endpoint.groupName
        return journal.reversed().filter { record in
            record.change.touches(row.endpoint)
                || (group.map { record.change.groups.contains($0) } ?? false)
                || record.change.action == "rollback-all"
        }
    }
}
