import Foundation
import Rollout
import TrafficStats

/// How an endpoint's new service compares with the current one, from its figures.
public enum Health: Int, Sendable, Hashable, Comparable, CaseIterable {
    /// Too few requests on the new service to judge.
    case noData = 0
    /// No worse than the current service.
    case healthy = 1
    /// Somewhat worse, or the observed split does not match the config.
    case watch = 2
    /// Clearly worse: more errors or much slower.
    case bad = 3

    public static func < (a: Health, b: Health) -> Bool { a.rawValue < b.rawValue }

    /// The short label in the table's state column.
    public var label: String {
        switch self {
        case .noData: return "n/a"
        case .healthy: return "ok"
        case .watch: return "watch"
        case .bad: return "BAD"
        }
    }

    /// The theme role that colours it.
    public var role: ThemeRole {
        switch self {
        case .noData: return .noData
        case .healthy: return .ok
        case .watch: return .watch
        case .bad: return .bad
        }
    }
}

/// The thresholds that turn an endpoint's figures into a `Health`.
public struct HealthRules: Sendable, Equatable {
    /// New-service requests needed before judging.
    public var minimumRequests = 30
    /// A 5xx-rate increase (absolute share) that is bad when significant.
    public var badErrorDelta = 0.02
    /// A 5xx-rate increase that is worth watching when significant.
    public var watchErrorDelta = 0.005
    /// The p-value below which an error difference counts.
    public var significance = 0.01
    /// A new-service 5xx share that is bad on its own (when there is no current traffic to compare).
    public var badErrorRate = 0.05
    /// A p99 increase, as a fraction of the current p99, that is bad (and at least `minimumLatencyDeltaMs`).
    public var badLatencyRatio = 0.5
    /// A p95 increase, as a fraction of the current p95, that is worth watching.
    public var watchLatencyRatio = 0.2
    /// Latency increases smaller than this never count.
    public var minimumLatencyDeltaMs = 5.0

    /// The default thresholds.
    public init() {}

    /// Judges one endpoint's figures.
    public func health(of stats: EndpointStats?) -> Health {
        guard let stats, stats.new.requests >= minimumRequests else { return .noData }
        let compared = stats.current.requests >= minimumRequests
        let significant = (stats.errorRateDeltaPValue ?? 1) < significance
        if let delta = stats.errorRateDelta, compared, significant, delta >= badErrorDelta { return .bad }
        if !compared, let rate = stats.new.errorRate, rate >= badErrorRate { return .bad }
        if compared, let delta = stats.p99DeltaMs, let base = stats.current.p99Ms,
           delta >= max(minimumLatencyDeltaMs, base * badLatencyRatio) {
            return .bad
        }
        if let delta = stats.errorRateDelta, compared, significant, delta >= watchErrorDelta { return .watch }
        if compared, let delta = stats.p95DeltaMs, let base = stats.current.p95Ms,
           delta >= max(minimumLatencyDeltaMs, base * watchLatencyRatio) {
            return .watch
        }
        if stats.splitMismatch == true { return .watch }
        return .healthy
    }
}

/// One row of the endpoint table: the endpoint as configured, its traffic, and its health.
public struct EndpointRow: Sendable, Equatable {
    /// The endpoint from the config.
    public var endpoint: Endpoint
    /// Its position in the config's rule order.
    public var order: Int
    /// Its figures over the window, when the logs have any.
    public var traffic: EndpointTraffic?
    /// The judgement of its figures.
    public var health: Health

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
    /// The health thresholds in use.
    public static let healthRules = HealthRules()

    /// The endpoint table's rows: filtered by `filter`, sorted by `sort`.
    public var rows: [EndpointRow] {
        guard let model else { return [] }
        var traffic: [String: EndpointTraffic] = [:]
        for entry in snapshot?.endpoints ?? [] { traffic[entry.endpoint] = entry }
        let names = EndpointNaming.names(for: model.endpoints)
        var rows: [EndpointRow] = []
        for (index, endpoint) in model.endpoints.enumerated() {
            let t = traffic[names[index]]
            rows.append(EndpointRow(endpoint: endpoint, order: index, traffic: t,
                                    health: AppState.healthRules.health(of: t?.stats)))
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
            // Worst first reads best for "state", so the natural order is descending health.
            ascending = rows.sorted { ($1.health.rawValue, $0.order) < ($0.health.rawValue, $1.order) }
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

    /// The index of the selected endpoint in `rows` (0 when it is filtered out or unset).
    public var selectedIndex: Int {
        let rows = rows
        return rows.firstIndex { $0.endpoint.pattern == selectedPattern } ?? 0
    }

    /// The selected endpoint's row, if any row is shown.
    public var selectedRow: EndpointRow? {
        let rows = rows
        guard !rows.isEmpty else { return nil }
        return rows.first { $0.endpoint.pattern == selectedPattern } ?? rows[0]
    }

    /// The groups in the order `]`, `[` and the picker use: by percent, then name.
    public var pickableGroups: [Group] {
        (model?.groups ?? []).sorted { ($0.percent, $0.name) < ($1.percent, $1.name) }
    }
}

/// The names the traffic figures use for endpoints: the short name, or the key when names collide.
public enum EndpointNaming {
    /// One unique name per endpoint, in order.
    public static func names(for endpoints: [Endpoint]) -> [String] {
        var counts: [String: Int] = [:]
        for e in endpoints { counts[e.name, default: 0] += 1 }
        return endpoints.map { counts[$0.name, default: 0] > 1 ? $0.pattern : $0.name }
    }

    /// The traffic-statistics rules for a model's endpoints (name and map key, in map order).
    public static func rules(for model: RolloutModel) -> [EndpointRule] {
        zip(model.endpoints, names(for: model.endpoints)).map { EndpointRule(endpoint: $1, key: $0.pattern) }
    }
}
