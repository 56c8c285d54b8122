import Apply
import Foundation
import TerminalUI
import TrafficStats

/// The endpoint table and, when there is room, the detail pane of the selected endpoint.
enum EndpointsScreen {
    /// One column of the endpoint table: title, width, the order it is dropped in on narrow screens, and its cell.
    struct ColumnSpec {
        var title: String
        var width: Int
        var alignment: Alignment
        /// Lower is kept longer.
        var priority: Int
        var sort: SortColumn?
        var cell: (EndpointRow, Theme, Bool) -> Line
    }

    static func columns(state: AppState) -> [ColumnSpec] {
        func triple(_ a: String, _ b: String, _ c: String?, theme: Theme, deltaRole: ThemeRole?) -> Line {
            var spans = [Span(a, style: theme[.currentService]), Span("|", style: theme[.muted]), Span(b, style: theme[.newService])]
            if let c {
                spans.append(Span("|", style: theme[.muted]))
                spans.append(Span(c, style: deltaRole.map { theme[$0] } ?? theme[.text]))
            }
            return Line(spans)
        }
        // A worse delta takes the verdict's colour when it is bad or watch, a better one is green: the core
        // decides, this only paints.
        func deltaRole(_ value: Double?, row: EndpointRow) -> ThemeRole? {
            guard let value, row.health != .notEnoughData, row.health != .noBaseline else { return nil }
            if value > 0 { return row.health == .bad ? .bad : (row.health == .watch ? .watch : nil) }
            if value < 0 { return .ok }
            return nil
        }
        return [
            ColumnSpec(title: "Endpoint", width: 22, alignment: .left, priority: 0, sort: .endpoint) { row, theme, _ in
                Line([Span(row.endpoint.name, style: theme[.text])])
            },
            ColumnSpec(title: "Group", width: 8, alignment: .left, priority: 4, sort: .group) { row, theme, _ in
                Line([Span(row.groupLabel, style: theme[.muted])])
            },
            ColumnSpec(title: "Cfg%", width: 5, alignment: .right, priority: 0, sort: .configured) { row, theme, _ in
                Line([Span(row.endpoint.percent.nginxText, style: theme[.accent])])
            },
            ColumnSpec(title: "Obs% ±CI", width: 10, alignment: .right, priority: 1, sort: .observed) { row, theme, _ in
                guard let s = row.traffic?.stats, let observed = s.observedPercent else { return Line([Span("-", style: theme[.noData])]) }
                var text = String(format: "%.1f", observed)
                if let ci = s.observedPercentCI, ci.count == 2 {
                    let half = (ci[1] - ci[0]) / 2
                    text += half < 10 ? String(format: "±%.1f", half) : String(format: "±%.0f", half)
                }
                return Line([Span(text, style: s.splitMismatch == true ? theme[.watch] : theme[.text])])
            },
            ColumnSpec(title: "req/s c|n", width: 10, alignment: .right, priority: 2, sort: .rps) { row, theme, _ in
                guard let s = row.traffic?.stats else { return Line([Span("-", style: theme[.noData])]) }
                return triple(formatRate(s.current.rps), formatRate(s.new.rps), nil, theme: theme, deltaRole: nil)
            },
            // The comparisons cover the requests since the endpoint's last change inside the window (see Since).
            ColumnSpec(title: "5xx% c|n|Δ", width: 15, alignment: .right, priority: 1, sort: .errors) { row, theme, _ in
                guard let s = row.traffic?.stats else { return Line([Span("-", style: theme[.noData])]) }
                return triple(formatErrorRate(s.comparedCurrent.errorRate), formatErrorRate(s.comparedNew.errorRate),
                              formatErrorDelta(s.errorRateDelta), theme: theme,
                              deltaRole: deltaRole(s.errorRateDelta, row: row))
            },
            ColumnSpec(title: "p50 c|n|Δ", width: 11, alignment: .right, priority: 5, sort: .p50) { row, theme, _ in
                guard let s = row.traffic?.stats else { return Line([Span("-", style: theme[.noData])]) }
                return triple(formatMs(s.comparedCurrent.p50Ms), formatMs(s.comparedNew.p50Ms), formatDeltaMs(s.p50DeltaMs), theme: theme,
                              deltaRole: deltaRole(s.p50DeltaMs, row: row))
            },
            ColumnSpec(title: "p95 c|n|Δ", width: 12, alignment: .right, priority: 3, sort: .p95) { row, theme, _ in
                guard let s = row.traffic?.stats else { return Line([Span("-", style: theme[.noData])]) }
                return triple(formatMs(s.comparedCurrent.p95Ms), formatMs(s.comparedNew.p95Ms), formatDeltaMs(s.p95DeltaMs), theme: theme,
                              deltaRole: deltaRole(s.p95DeltaMs, row: row))
            },
            ColumnSpec(title: "p99 c|n|Δ", width: 14, alignment: .right, priority: 1, sort: .p99) { row, theme, _ in
                guard let s = row.traffic?.stats else { return Line([Span("-", style: theme[.noData])]) }
                return triple(formatMs(s.comparedCurrent.p99Ms), formatMs(s.comparedNew.p99Ms), formatDeltaMs(s.p99DeltaMs), theme: theme,
                              deltaRole: deltaRole(s.p99DeltaMs, row: row))
            },
            ColumnSpec(title: "New share", width: 10, alignment: .left, priority: 2, sort: nil) { row, theme, unicode in
                let series = row.traffic?.newShareSeries ?? []
                let bars = unicode ? Sparkline.unicodeBars : Sparkline.asciiBars
                let spark = Sparkline(series, bars: bars)
                let text = series.suffix(10).map { value in value.map { spark.symbol(for: $0) } ?? " " }.joined()
                return Line([Span(text, style: theme[.newService])])
            },
            ColumnSpec(title: "Since", width: 8, alignment: .left, priority: 1, sort: nil) { row, theme, _ in
                guard let since = row.traffic?.stats.since else { return Line([Span("-", style: theme[.muted])]) }
                return Line([Span(formatTime(Date(timeIntervalSince1970: TimeInterval(since)), zone: state.timeZone), style: theme[.muted])])
            },
            ColumnSpec(title: "State", width: 11, alignment: .left, priority: 0, sort: .state) { row, theme, _ in
                Line([Span(row.verdict.label, style: theme[row.health.role])])
            },
        ]
    }

    /// The columns that fit in `width`, in display order, dropping the highest priorities first.
    static func fittingColumns(_ all: [ColumnSpec], width: Int) -> [ColumnSpec] {
        var kept = Array(all.indices)
        func needed(_ indices: [Int]) -> Int { indices.reduce(0) { $0 + all[$1].width } + max(0, indices.count - 1) + 2 }
        while needed(kept) > width, let drop = kept.max(by: { (all[$0].priority, $0) < (all[$1].priority, $1) }),
              all[drop].priority > 0 {
            kept.removeAll { $0 == drop }
        }
        return kept.map { all[$0] }
    }

    static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        let showDetail = area.height >= 18
        let parts = showDetail ? area.rows([.fill(1), .length(min(12, area.height / 2))]) : [area]
        renderTable(state, theme: theme, area: parts[0], buffer: &buffer)
        if showDetail, let row = state.selectedRow {
            DetailPane.render(row, state: state, theme: theme, area: parts[1], buffer: &buffer)
        }
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
        if rows.isEmpty {
            let message = state.filter.isEmpty ? "No migrating endpoints found in the config (see the problems view, 5)."
                : "No endpoint matches the filter \"\(state.filter)\" (Esc clears it)."
            Paragraph(Text(message, style: theme[.muted]), wrap: .word).render(in: inner, buffer: &buffer)
            return
        }
        let specs = fittingColumns(columns(state: state), width: inner.width)
        let header = Row(specs.map { spec in
            let marked = spec.sort == state.sort ? spec.title + sortMark : spec.title
            return Line([Span(marked, style: theme[.title])])
        })
        let tableRows = rows.map { row in Row(specs.map { $0.cell(row, theme, state.unicode) }) }
        var columns = specs.map { Column(.length($0.width), alignment: $0.alignment) }
        columns[0] = Column(.min(specs[0].width), alignment: .left)
        let table = Table(columns: columns, header: header, rows: tableRows, highlightStyle: theme[.selection],
                          highlightSymbol: state.unicode ? "▶" : ">")
        var scroll = ScrollState(selected: state.selectedIndex)
        table.render(in: inner, buffer: &buffer, state: &scroll)
        // The selected row keeps its State cell's own colours, so a bad endpoint stays red under the highlight.
        if let selected = scroll.selected, selected >= scroll.offset, selected < rows.count,
           let column = specs.lastIndex(where: { $0.sort == .state }) {
            let widths = table.columnWidths(totalWidth: inner.width)
            let x = inner.x + DisplayWidth.of(table.highlightSymbol) + widths[..<column].reduce(0, +) + column * table.columnSpacing
            let y = inner.y + 1 + selected - scroll.offset
            if y < inner.bottom, column < widths.count {
                let cell = Rect(x: x, y: y, width: widths[column], height: 1)
                buffer.fill(cell, with: .blank)
                specs[column].cell(rows[selected], theme, state.unicode).render(in: cell, buffer: &buffer)
            }
        }
    }
}

/// The selected endpoint's latency distributions, status mix and recent changes.
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
        // The verdict first: its state, since when, its reasons and the needs-N-more estimate.
        let lines = verdictLines(row, state: state, theme: theme)
        let reserved = min(lines.count, max(1, inner.height - 6))
        for (i, line) in lines.prefix(reserved).enumerated() {
            line.render(in: Rect(x: inner.x, y: inner.y + i, width: inner.width, height: 1), buffer: &buffer)
        }
        inner = Rect(x: inner.x, y: inner.y + reserved, width: inner.width, height: max(0, inner.height - reserved))
        guard !inner.isEmpty else { return }
        let wide = inner.width >= 100
        let parts = wide ? inner.columns([.percentage(45), .length(27), .fill(1)], spacing: 1)
            : inner.columns([.fill(3), .length(27)], spacing: 1)
        renderLatency(row, state: state, theme: theme, area: parts[0], buffer: &buffer)
        renderStatusMix(row, theme: theme, area: parts[1], buffer: &buffer)
        if wide { renderChanges(row, state: state, theme: theme, area: parts[2], buffer: &buffer) }
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
        return [Line(head)] + details.dropFirst().map { Line([Span("  · ", style: theme[.muted])] + $0.spans) }
    }

    /// The two latency distributions side by side: one bar per percentile for each service.
    static func renderLatency(_ row: EndpointRow, state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        guard let stats = row.traffic?.stats, stats.comparedCurrent.requests + stats.comparedNew.requests > 0 else {
            let since = row.traffic?.stats.since.map { _ in " since the last change" } ?? " in the \(state.window.rawValue) window"
            Line([Span("latency: no requests\(since) yet", style: theme[.noData])])
                .render(in: area, buffer: &buffer)
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
        let scale = percentiles.flatMap { [$0.1, $0.2] }.compactMap { $0 }.max() ?? 1
        let halves = area.columns([.fill(1), .fill(1)], spacing: 1)
        let labels: [(String, ThemeRole, KeyPath<(String, Double?, Double?), Double?>, Int)] = [
            ("current (\(formatCount(s.current.requests)) req)", .currentService, \.1, 0),
            ("new (\(formatCount(s.new.requests)) req)", .newService, \.2, 1),
        ]
        for (label, role, path, index) in labels {
            let half = halves[index]
            guard !half.isEmpty else { continue }
            Line([Span(label, style: theme[role].bold)]).render(in: half, buffer: &buffer)
            for (i, entry) in percentiles.enumerated() where i + 1 < half.height {
                let y = half.y + 1 + i
                let value = entry[keyPath: path]
                buffer.set(string: entry.0, at: half.x, y, style: theme[.muted], clipWidth: half.width)
                let number = formatMs(value)
                let barWidth = max(0, half.width - 4 - 7)
                if let value, barWidth > 0 {
                    HorizontalBar.draw(fraction: scale > 0 ? value / scale : 0, x: half.x + 4, y: y, width: barWidth,
                                       style: theme[role], unicode: state.unicode, buffer: &buffer)
                }
                let text = number + (value == nil ? "" : "ms")
                Line([Span(text, style: theme[.text])], alignment: .right)
                    .render(in: Rect(x: half.right - 7, y: y, width: 7, height: 1), buffer: &buffer)
            }
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

    /// The records that touched the endpoint (by key or name) or its group, newest first.
    static func recentChanges(for row: EndpointRow, in journal: [JournalRecord]) -> [JournalRecord] {
        let group = row.endpoint.groupName
        return journal.reversed().filter { record in
            record.change.endpoints.contains(row.endpoint.pattern) || record.change.endpoints.contains(row.endpoint.name)
                || (group.map { record.change.groups.contains($0) } ?? false)
                || record.change.action == "rollback-all"
        }
    }
}
