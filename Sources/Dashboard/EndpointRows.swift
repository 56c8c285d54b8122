import Foundation
import Rollout
import TrafficStats

/// How the dashboard shows a verdict's state; the judgement itself is the core's (`Verdict`, computed with the
/// snapshot): nothing here decides health.
extension VerdictState {
    /// The short label in the table's state column.
    public var label: String {
        switch self {
        case .bad: return "BAD"
        case .watch: return "watch"
        case .healthy: return "healthy"
        case .notEnoughData: return "need data"
        case .noBaseline: return "no baseline"
        }
    }

    /// The theme role that colours it.
    public var role: ThemeRole {
        switch self {
        case .bad: return .bad
        case .watch: return .watch
        case .healthy: return .ok
        case .notEnoughData, .noBaseline: return .noData
        }
    }
}

extension Verdict {
    /// The State cell: `rolled back` after a rollback, else the state's label.
    public var label: String { rolledBackAt != nil ? "rolled back" : state.label }
}

/// One row of the endpoint table: the endpoint as configured, its traffic, and its verdict.
public struct EndpointRow: Sendable, Equatable {
    /// The endpoint from the config.
    public var endpoint: Endpoint
    /// Its position in the config's rule order.
    public var order: Int
    /// Its figures over the window, when the logs have any.
    public var traffic: EndpointTraffic?

    /// The core's verdict on the endpoint (carried on the snapshot).
    public var verdict: Verdict { traffic?.verdict ?? .unknown }
    /// The verdict's state.
    public var health: VerdictState { verdict.state }
    /// Requests per second on both services over the window (the tie-break of the worst-first order).
    public var requestRate: Double { traffic.map { $0.stats.current.rps + $0.stats.new.rps } ?? 0 }

    /// The group's short name (`group3` for `$group3_routing`), `-` without one.
    public var groupLabel: String { EndpointRow.shortGroupName(endpoint.groupName ?? endpoint.assignment) }

    /// A group name without its `$` and `_routing` suffix, `-` for nil.
    public static func shortGroupName(_ name: String?) -> String {
        guard var n = name else { return "-" }
        if n.hasPrefix("$") { n.removeFirst() }
        if n.hasSuffix("_routing"), n.count > "_routing".count { n.removeLast("_routing".count) }
        return n
    }
}

extension AppState {
    /// The endpoint table's rows: filtered by `filter`, sorted by `sort`.
    public var rows: [EndpointRow] {
        guard let model else { return [] }
        var traffic: [EndpointID: EndpointTraffic] = [:]
        for entry in snapshot?.endpoints ?? [] { traffic[entry.id] = entry }
        var rows: [EndpointRow] = []
        for (index, endpoint) in model.endpoints.enumerated() {
            let t = traffic[endpoint.id]
            rows.append(EndpointRow(endpoint: endpoint, order: index, traffic: t))
        }
        let needle = filter.lowercased()
        if !needle.isEmpty {
            rows = rows.filter { row in
                row.endpoint.name.lowercased().contains(needle) || row.endpoint.pattern.lowercased().contains(needle)
                    || (row.endpoint.groupName ?? "").lowercased().contains(needle)
            }
        }
        return sorted(rows)
    }

    private func sorted(_ rows: [EndpointRow]) -> [EndpointRow] {
        func key(_ row: EndpointRow) -> Double? {
            let s = row.traffic?.stats
            switch sort {
            case .config, .endpoint, .group, .state: return nil
            case .configured: return row.endpoint.percent.value
            case .observed: return s?.observedPercent
            case .rps: return s.map { $0.current.rps + $0.new.rps }
            case .errors: return s?.errorRateDelta
            case .p50: return s?.p50DeltaMs
            case .p95: return s?.p95DeltaMs
            case .p99: return s?.p99DeltaMs
            }
        }
        let ascending: [EndpointRow]
        switch sort {
        case .config:
            ascending = rows.sorted { $0.order < $1.order }
        case .endpoint:
            ascending = rows.sorted { ($0.endpoint.name, $0.order) < ($1.endpoint.name, $1.order) }
        case .group:
            ascending = rows.sorted { ($0.groupLabel, $0.order) < ($1.groupLabel, $1.order) }
        case .state:
            // Worst first: bad, then watch, then the busiest endpoints.
            func rank(_ row: EndpointRow) -> Int { row.health == .bad ? 2 : row.health == .watch ? 1 : 0 }
            ascending = rows.sorted { a, b in
                if rank(a) != rank(b) { return rank(a) > rank(b) }
                if a.requestRate != b.requestRate { return a.requestRate > b.requestRate }
                return a.order < b.order
            }
        default:
            // Unknown values sort last whatever the direction.
            ascending = rows.sorted { a, b in
                switch (key(a), key(b)) {
                case let (x?, y?): return x != y ? x < y : a.order < b.order
                case (_?, nil): return true
                case (nil, _?): return false
                default: return a.order < b.order
                }
            }
        }
        guard sortDescending else { return ascending }
        if sort == .config || sort == .endpoint || sort == .group || sort == .state { return ascending.reversed() }
        let known = ascending.filter { key($0) != nil }, unknown = ascending.filter { key($0) == nil }
        return known.reversed() + unknown
    }

    /// Every endpoint's verdict counted by state (worst state first, zero counts left out), and the worst
    /// endpoint when one is bad or watch (bad before watch, then the busiest).
    public var verdictSummary: (counts: [(VerdictState, Int)], worst: EndpointRow?) {
        guard let model, snapshot != nil else { return ([], nil) }
        var traffic: [EndpointID: EndpointTraffic] = [:]
        for entry in snapshot?.endpoints ?? [] { traffic[entry.id] = entry }
        let all = model.endpoints.enumerated().map { EndpointRow(endpoint: $1, order: $0, traffic: traffic[$1.id]) }
        var counts: [VerdictState: Int] = [:]
        for row in all { counts[row.health, default: 0] += 1 }
        let order: [VerdictState] = [.bad, .watch, .healthy, .notEnoughData, .noBaseline]
        let worst = all.filter { $0.health == .bad || $0.health == .watch }.min { a, b in
            if a.health != b.health { return a.health == .bad }
            return a.requestRate > b.requestRate
        }
        return (order.compactMap { s in counts[s].map { (s, $0) } }, worst)
    }

    /// The index of the selected endpoint in `rows` (0 when it is filtered out or unset).
    public var selectedIndex: Int {
        let rows = rows
        return rows.firstIndex { $0.endpoint.id == selectedEndpoint } ?? 0
    }

    /// The selected endpoint's row, if any row is shown.
    public var selectedRow: EndpointRow? {
        let rows = rows
        guard !rows.isEmpty else { return nil }
        return rows.first { $0.endpoint.id == selectedEndpoint } ?? rows[0]
    }

    /// The groups in the order `]`, `[` and the picker use: by percent, then name.
    public var pickableGroups: [Group] {
        (model?.groups ?? []).sorted { ($0.percent, $0.name) < ($1.percent, $1.name) }
    }
}

/// The names the traffic figures show for endpoints (display only: the figures are keyed by `EndpointID`).
public enum EndpointNaming {
    /// One name per endpoint, in order: the short name, or the key when short names collide.
    public static func names(for endpoints: [Endpoint]) -> [String] {
        var counts: [String: Int] = [:]
        for e in endpoints { counts[e.name, default: 0] += 1 }
        return endpoints.map { counts[$0.name, default: 0] > 1 ? $0.id.description : $0.name }
    }

    /// The traffic-statistics rules for a model's endpoints (identity and display name, in map order).
    public static func rules(for model: RolloutModel) -> [EndpointRule] {
        zip(model.endpoints, names(for: model.endpoints)).map { EndpointRule(id: $0.id, name: $1) }
    }
}
