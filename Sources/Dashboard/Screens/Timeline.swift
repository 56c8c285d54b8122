import Apply
import Foundation
import Rollout
import TerminalUI
import TrafficStats

/// The selected endpoint's window as pictures over time: the new service's share against the configured
/// percent, the 5xx rate of both services, and the p99 of both, with a marker at every change in the journal.
enum Timeline {
    /// One chart: its title, its value range and its lines.
    struct Chart {
        var title: [Span]
        var maximum: Double
        var series: [ChartSeries]
    }

    /// The configured percent of `row` at the end of each bucket of `timeline`, from the journal: after the
    /// newest applied change it is what the config says now; before a change, what that change started from
    /// (the endpoint's own percent the record keeps by identity; for an old record, its group's).
    static func configuredPercents(_ row: EndpointRow, journal: [JournalRecord], model: RolloutModel? = nil, timeline: EndpointTimeline) -> [Double?] {
        let group = row.endpoint.groupName
        let id = row.endpoint.id
        let changes: [(time: Double, before: Double?)] = journal.filter { $0.outcome == .applied }.compactMap { record in
            let c = record.change
            let named = c.touches(row.endpoint)
            let inGroup = group.map { c.groups.contains($0) } ?? false
            guard named || inGroup || c.action == "rollback-all" else { return nil }
            if let own = (model.map { c.endpointPercents(in: $0).before } ?? c.endpointPercentsBefore)[id] {
                return (record.time.timeIntervalSince1970, own)
            }
            // Moved in from another group: the percent before is that group's.
            let other = c.groups.first { $0 != group }
            let before = named ? (other.flatMap { c.percentsBefore[$0] } ?? group.flatMap { c.percentsBefore[$0] })
                : group.flatMap { c.percentsBefore[$0] }
            // Unknown (the record does not name the group's percent): a gap in the line, not a guess.
            return (record.time.timeIntervalSince1970, before)
        }.sorted { $0.time < $1.time }
        let now = row.endpoint.percent.value
        return (0..<timeline.currentRequests.count).map { i in
            let t = Double(timeline.start + timeline.bucketSeconds * Int64(i + 1))
            if let next = changes.first(where: { $0.time > t }) { return next.before }
            return now
        }
    }

    /// The positions (0...1 of the window) of every applied change in the journal inside the window.
    static func markers(journal: [JournalRecord], timeline: EndpointTimeline) -> [Double] {
        let start = Double(timeline.start), span = Double(timeline.end - timeline.start)
        guard span > 0 else { return [] }
        return journal.filter { $0.outcome == .applied }.map { ($0.time.timeIntervalSince1970 - start) / span }
            .filter { $0 >= 0 && $0 <= 1 }
    }

    static func charts(_ row: EndpointRow, state: AppState, theme: Theme, timeline t: EndpointTimeline) -> [Chart] {
        let count = t.currentRequests.count
        let share: [Double?] = (0..<count).map { i in
            let total = t.currentRequests[i] + t.newRequests[i]
            return total > 0 ? 100 * Double(t.newRequests[i]) / Double(total) : nil
        }
        func rate(_ errors: [Int], _ requests: [Int]) -> [Double?] {
            (0..<count).map { requests[$0] > 0 ? 100 * Double(errors[$0]) / Double(requests[$0]) : nil }
        }
        let currentRate = rate(t.currentErrors, t.currentRequests), newRate = rate(t.newErrors, t.newRequests)
        let configured = configuredPercents(row, journal: state.journal, model: state.model, timeline: t)
        let rateTop = niceCeiling(max(1, (currentRate + newRate).compactMap { $0 }.max() ?? 1))
        let p99Top = niceCeiling(max(10, (t.currentP99 + t.newP99).compactMap { $0 }.max() ?? 10))
        let dot = state.unicode ? "⣀" : "*"
        return [
            Chart(title: [Span("share % ", style: theme[.title]), Span(dot + "new ", style: theme[.newService]),
                          Span(dot + "configured", style: theme[.text]), Span(" 0–100", style: theme[.muted])],
                  maximum: 100, series: [ChartSeries(configured, style: theme[.text]), ChartSeries(share, style: theme[.newService])]),
            Chart(title: [Span("5xx % ", style: theme[.title]), Span(dot + "current ", style: theme[.currentService]),
                          Span(dot + "new", style: theme[.newService]), Span(" 0–\(formatAxis(rateTop))", style: theme[.muted])],
                  maximum: rateTop, series: [ChartSeries(currentRate, style: theme[.currentService]), ChartSeries(newRate, style: theme[.newService])]),
            Chart(title: [Span("p99 ms ", style: theme[.title]), Span(dot + "current ", style: theme[.currentService]),
                          Span(dot + "new", style: theme[.newService]), Span(" 0–\(formatAxis(p99Top))", style: theme[.muted])],
                  maximum: p99Top, series: [ChartSeries(t.currentP99, style: theme[.currentService]), ChartSeries(t.newP99, style: theme[.newService])]),
        ]
    }

    static func render(_ row: EndpointRow, state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        guard let t = row.traffic?.timeline, !t.currentRequests.isEmpty else {
            Paragraph(Text("over time: no log lines read yet for the \(state.window.rawValue) window", style: theme[.noData]), wrap: .word)
                .render(in: area, buffer: &buffer)
            return
        }
        let charts = charts(row, state: state, theme: theme, timeline: t)
        let marks = markers(journal: state.journal, timeline: t)
        // Each chart: a title row and its plot; the last row is the time axis.
        let plotRows = max(1, (area.height - 1) / charts.count - 1)
        var y = area.y
        for chart in charts {
            guard y + 1 < area.bottom else { break }
            Line(chart.title).render(in: Rect(x: area.x, y: y, width: area.width, height: 1), buffer: &buffer)
            let rows = min(plotRows, area.bottom - 1 - (y + 1))
            guard rows > 0 else { break }
            LineChart(series: chart.series, maximum: chart.maximum, markers: marks, markerStyle: theme[.watch], unicode: state.unicode)
                .render(in: Rect(x: area.x, y: y + 1, width: area.width, height: rows), buffer: &buffer)
            y += 1 + rows
        }
        if y < area.bottom {
            let span = t.end - t.start
            let left = "-" + formatSpan(span), right = "now"
            let middle = marks.isEmpty ? "" : "\(state.unicode ? "│" : "|") change from the journal"
            let line = Line([Span(left, style: theme[.muted]), Span(String(repeating: " ", count: max(1, (area.width - DisplayWidth.of(left) - DisplayWidth.of(middle) - 3) / 2))),
                             Span(middle, style: theme[.watch])])
            line.render(in: Rect(x: area.x, y: area.bottom - 1, width: area.width - 3, height: 1), buffer: &buffer)
            Line([Span(right, style: theme[.muted])], alignment: .right)
                .render(in: Rect(x: area.right - 3, y: area.bottom - 1, width: 3, height: 1), buffer: &buffer)
        }
    }

    /// The smallest of 1, 2, 5 × 10ⁿ at or above `value`: a round top for a chart's axis.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        for step in [1.0, 2, 5, 10] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }

    static func formatAxis(_ value: Double) -> String {
        value >= 1 ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }

    /// A span of seconds as `60s`, `5m`, `15m`.
    static func formatSpan(_ seconds: Int64) -> String {
        seconds < 120 ? "\(seconds)s" : "\(seconds / 60)m"
    }
}
