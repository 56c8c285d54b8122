import Foundation
import TerminalUI
import TrafficStats

/// The hosts view: per host of the fleet its request rate, the observed split, the 5xx share, how far its logs
/// lag and whether its routing drifted; above, what the syslog listener received and lost.
enum HostsScreen {
    static func render(_ state: AppState, theme: Theme, area: Rect, buffer: inout Buffer) {
        let hosts = state.snapshot?.hosts ?? []
        let inner = viewBlock(title(state), state: state, theme: theme, area: area, buffer: &buffer)
        guard !hosts.isEmpty else {
            Paragraph(Text("No per-host figures: set logs.syslog (nginx's access_log syslog:) or {host} in the log paths, with hosts: in cutover.yaml.",
                           style: theme[.muted]), wrap: .word).render(in: inner, buffer: &buffer)
            return
        }
        let narrow = inner.width < 70
        let header = Row((narrow ? ["Host", "req/s", "new%", "5xx%", "lag", "drift"] : ["Host", "req/s", "observed new %", "5xx %", "lag", "drift", "requests"])
            .map { Line([Span($0, style: theme[.title])]) })
        let rows = hosts.map { h -> Row in
            let lagging = (h.lagSeconds ?? 0) > 30
            let drift = state.driftOf(h.name)
            var cells = [
                Line([Span(h.name + (state.hostFilter == h.name ? " *" : ""), style: theme[.text])]),
                Line([Span(formatRate(h.rps), style: theme[.text])]),
                Line([Span(h.observedPercent.map { formatPercent($0) } ?? "-", style: theme[.newService])]),
                Line([Span(h.errorRate.map { String(format: "%.2f", $0 * 100) } ?? "-", style: theme[(h.errorRate ?? 0) > 0.01 ? .error : .text])]),
                Line([Span(h.lagSeconds.map { "\($0)s" } ?? "-", style: theme[lagging ? .watch : .text])]),
                Line([Span(drift.map { $0 ? "DRIFT" : "no" } ?? "-", style: theme[drift == true ? .error : .muted])]),
            ]
            if !narrow { cells.append(Line([Span(formatCount(h.requests), style: theme[.muted])])) }
            return Row(cells)
        }
        let columns: [Column] = narrow
            ? [Column(.fill(1)), Column(.length(7), alignment: .right), Column(.length(6), alignment: .right),
               Column(.length(6), alignment: .right), Column(.length(6), alignment: .right), Column(.length(6))]
            : [Column(.fill(1)), Column(.length(9), alignment: .right), Column(.length(15), alignment: .right),
               Column(.length(7), alignment: .right), Column(.length(7), alignment: .right), Column(.length(6)),
               Column(.length(10), alignment: .right)]
        let table = Table(columns: columns, header: header, rows: rows, highlightStyle: theme[.selection])
        renderList(table, state: state, area: inner, buffer: &buffer)
    }

    /// The view's title: the hosts, and what syslog received, could not place, and lost over UDP.
    static func title(_ state: AppState) -> String {
        var title = "Hosts (\(state.snapshot?.hosts.count ?? 0))"
        if let c = state.snapshot?.syslog {
            title += " · syslog \(formatCount(c.received)) msgs"
            if c.unknownHostMessages > 0 { title += " · \(formatCount(c.unknownHostMessages)) from unknown hosts" }
            if c.malformed > 0 { title += " · \(formatCount(c.malformed)) malformed" }
            if c.udpLost > 0 { title += " · UDP lost \(formatCount(c.udpLost)): use TCP" }
        }
        return title
    }

    /// The detail view of one host: its figures, and its requests per endpoint.
    static func detail(_ name: String, state: AppState) -> [(String, String)] {
        guard let hosts = state.snapshot?.hosts, let index = hosts.firstIndex(where: { $0.name == name }) else {
            return [("host", "\(name) is no longer in the figures")]
        }
        let h = hosts[index]
        var out: [(String, String)] = [
            ("host", h.name),
            ("requests", "\(h.requests) read (\(h.current) current, \(h.new) new service of migrated endpoints; \(h.s5xx) 5xx)"),
            ("last minute", "\(formatRate(h.rps)) req/s · new \(h.observedPercent.map { formatPercent($0) } ?? "-") · 5xx \(h.errorRate.map { String(format: "%.2f%%", $0 * 100) } ?? "-")"),
            ("lag", h.lagSeconds.map { "\($0) s behind (now minus its newest line)" } ?? "no line yet"),
            ("drift", state.driftOf(h.name).map { $0 ? "its routing differs from the other hosts'" : "same routing as the others" } ?? "unknown"),
        ]
        let names = Dictionary((state.model?.endpoints ?? []).map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        for e in state.snapshot?.endpoints ?? [] where index < e.byHost.count {
            let s = e.byHost[index]
            guard s.current + s.new > 0 else { continue }
            var text = "\(s.current) current · \(s.new) new"
            if let lingering = e.lingeringHosts.first(where: { $0.name == name }) {
                text += " · \(lingering.requests) new-service requests after the rollback: this host did not take it"
            }
            out.append((names[e.id] ?? e.endpoint, text))
        }
        if let c = state.snapshot?.syslog {
            for (other, n) in c.unknownHosts.sorted(by: { $0.key < $1.key }) {
                out.append(("unknown host", "\(other): \(n) messages (add it to hosts: or give a host syslog_name: \(other))"))
            }
            if c.udpLost > 0 {
                out.append(("UDP lost", "\(c.udpLost) datagrams (\(c.kernelDrops) dropped by the kernel): send the logs over TCP (a relay with octet-counted framing) or raise net.core.rmem_max"))
            }
        }
        return out
    }

    /// The detail pane's host lines of an endpoint: its requests per host, and the hosts still on the new service
    /// after its rollback (by name).
    static func paneLines(_ row: EndpointRow, state: AppState, theme: Theme) -> [Line] {
        guard let traffic = row.traffic, !traffic.byHost.isEmpty, let hosts = state.snapshot?.hosts, hosts.count == traffic.byHost.count else { return [] }
        var spans: [Span] = [Span("hosts ", style: theme[.title])]
        for (i, s) in traffic.byHost.enumerated() {
            if i > 0 { spans.append(Span(" · ", style: theme[.muted])) }
            spans.append(Span(hosts[i].name + " ", style: theme[.text]))
            spans.append(Span("\(formatCount(s.current))", style: theme[.currentService]))
            spans.append(Span("|", style: theme[.muted]))
            spans.append(Span("\(formatCount(s.new))", style: theme[.newService]))
        }
        var lines = [Line(spans)]
        if !traffic.lingeringHosts.isEmpty {
            let names = traffic.lingeringHosts.map { "\($0.name) (\($0.requests))" }.joined(separator: ", ")
            lines.append(Line([Span("⚠ still on the new service after the rollback: \(names); check that host's reload", style: theme[.error])]))
        }
        return lines
    }
}
