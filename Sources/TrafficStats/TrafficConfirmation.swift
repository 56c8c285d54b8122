import Foundation
import Rollout

/// An endpoint whose new-service share a change lowered, as the traffic confirmation watches it.
public struct LoweredEndpoint: Sendable, Hashable {
    /// The endpoint's identity (its map key), which the log figures are keyed by.
    public var id: EndpointID
    /// The short name shown to the operator (display only).
    public var name: String
    /// The share before the change, in percent (nil when unknown).
    public var percentBefore: Double?
    /// The share the config gives it now, in percent (0 after a rollback).
    public var percentAfter: Double

    /// Creates a watched endpoint.
    public init(id: EndpointID, name: String, percentBefore: Double?, percentAfter: Double) {
        self.id = id
        self.name = name
        self.percentBefore = percentBefore
        self.percentAfter = percentAfter
    }
}

/// What the traffic since the old workers drained says about one lowered endpoint.
public struct EndpointConfirmation: Sendable, Hashable {
    /// The judgement.
    public enum Finding: Sendable, Hashable {
        /// At 0%: no new-service request arrived.
        case stopped
        /// At 0%: new-service requests still arrived (nginx does not route as the config says).
        case stillReaching
        /// Above 0%: the observed share is consistent with the new percent (the one-sided test's p-value).
        case consistent(pValue: Double)
        /// Above 0%: the observed share is clearly above the new percent (p-value below the threshold).
        case clearlyAbove(pValue: Double)
        /// Above 0%: no request at all, nothing to judge yet.
        case noTraffic
    }

    /// The endpoint.
    public var endpoint: LoweredEndpoint
    /// Requests each side answered since the drain.
    public var newRequests: Int
    public var currentRequests: Int
    /// The judgement of those counts.
    public var finding: Finding

    /// Creates a judged endpoint.
    public init(endpoint: LoweredEndpoint, newRequests: Int, currentRequests: Int, finding: Finding) {
        self.endpoint = endpoint
        self.newRequests = newRequests
        self.currentRequests = currentRequests
        self.finding = finding
    }

    /// Whether the traffic contradicts the config for this endpoint.
    public var contradicts: Bool {
        switch finding {
        case .stillReaching, .clearlyAbove: return true
        case .stopped, .consistent, .noTraffic: return false
        }
    }

    /// The observed new-service share in percent, nil without requests.
    public var observedPercent: Double? {
        let n = newRequests + currentRequests
        return n > 0 ? 100 * Double(newRequests) / Double(n) : nil
    }
}

/// The confirmation, from the traffic itself, that a change lowering shares (a rollback above all) routes as
/// the config says: every endpoint now at 0% gets no new-service request once the old workers have drained,
/// and every endpoint lowered to a share above 0% gets a new-service share consistent with it.
///
/// The share test is one-sided: under the new share `p`, the number of new-service requests among `n` is
/// binomial(n, p); the change is contradicted when P(X ≥ observed) is below `threshold` (0.001, divided
/// among the endpoints tested, Bonferroni), so a share that merely fluctuates above `p` is not an alarm while
/// one still at the old share is (proved by `Tests/TrafficStatsTests/ConfirmationSimulationTests`).
public struct TrafficConfirmation: Sendable, Hashable {
    /// The false-alarm probability of the share test, shared among the endpoints tested.
    public static let threshold = 0.001

    /// Each watched endpoint with its counts and judgement.
    public var endpoints: [EndpointConfirmation]
    /// When the reload finished.
    public var reloadedAt: Date
    /// When the old workers were seen gone (nil: still running at the end of the wait, or not watched).
    public var drainedAt: Date?
    /// Whether the old workers were watched at all (false when nginx's master is unknown).
    public var drainWatched: Bool
    /// How long the traffic was counted, in seconds.
    public var watchedSeconds: Double

    /// Creates a confirmation from judged endpoints.
    public init(endpoints: [EndpointConfirmation], reloadedAt: Date, drainedAt: Date?, drainWatched: Bool, watchedSeconds: Double) {
        self.endpoints = endpoints
        self.reloadedAt = reloadedAt
        self.drainedAt = drainedAt
        self.drainWatched = drainWatched
        self.watchedSeconds = watchedSeconds
    }

    /// Judges `lowered` from the requests each side answered since the drain (`counts` by endpoint).
    public static func judge(_ lowered: [LoweredEndpoint], counts: (LoweredEndpoint) -> (current: Int, new: Int),
                             reloadedAt: Date, drainedAt: Date?, drainWatched: Bool, watchedSeconds: Double) -> TrafficConfirmation {
        let tested = max(1, lowered.filter { $0.percentAfter > 0 }.count)
        let judged = lowered.map { endpoint -> EndpointConfirmation in
            let (current, new) = counts(endpoint)
            return EndpointConfirmation(endpoint: endpoint, newRequests: new, currentRequests: current,
                                        finding: finding(percentAfter: endpoint.percentAfter, new: new, current: current,
                                                         threshold: threshold / Double(tested)))
        }
        return TrafficConfirmation(endpoints: judged, reloadedAt: reloadedAt, drainedAt: drainedAt, drainWatched: drainWatched,
                                   watchedSeconds: watchedSeconds)
    }

    /// The judgement of `new` new-service and `current` current-service requests under a share of `percentAfter`.
    public static func finding(percentAfter: Double, new: Int, current: Int, threshold: Double = threshold) -> EndpointConfirmation.Finding {
        if percentAfter <= 0 { return new == 0 ? .stopped : .stillReaching }
        let n = new + current
        guard n > 0 else { return .noTraffic }
        let p = Proportions.binomialUpperTailPValue(successes: new, trials: n, p: min(1, percentAfter / 100))
        return p < threshold ? .clearlyAbove(pValue: p) : .consistent(pValue: p)
    }

    /// The endpoints a change lowered (share after below the share before), from its shifts and the model after it.
    public static func lowered(_ shifts: [EndpointShift], model: RolloutModel) -> [LoweredEndpoint] {
        shifts.filter { $0.percentAfter < $0.percentBefore }.compactMap { shift in
            guard let endpoint = model.endpoints.first(where: { $0.id == shift.id }) else { return nil }
            return LoweredEndpoint(id: endpoint.id, name: endpoint.name, percentBefore: shift.percentBefore.value,
                                   percentAfter: shift.percentAfter.value)
        }
    }

    /// Whether the traffic agrees with the config for every watched endpoint.
    public var confirmed: Bool { !endpoints.contains(where: \.contradicts) }

    /// Whether every watched endpoint is now at 0% (a rollback).
    public var isRollback: Bool { endpoints.allSatisfy { $0.endpoint.percentAfter <= 0 } }

    /// `HH:MM:SS.mmm`, the reload's time.
    public static func millisecondClock(_ date: Date, zone: TimeZone = .current) -> String {
        clock(date, zone: zone, format: "HH:mm:ss.SSS")
    }

    /// `HH:MM:SS.m`, the drain's time.
    public static func tenthClock(_ date: Date, zone: TimeZone = .current) -> String {
        clock(date, zone: zone, format: "HH:mm:ss.S")
    }

    private static func clock(_ date: Date, zone: TimeZone, format: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = format
        return formatter.string(from: date)
    }

    /// "(old workers drained at 14:05:04.1)", or why not.
    public func drainText(zone: TimeZone = .current) -> String {
        if let drainedAt { return "old workers drained at \(Self.tenthClock(drainedAt, zone: zone))" }
        return drainWatched ? "old workers still running at the end of the wait" : "old workers not watched: nginx's master is unknown"
    }

    /// The operator's sentence in the local time zone.
    public var message: String { message(zone: .current) }

    /// The operator's sentence: the confirmation, or loudly the opposite.
    public func message(zone: TimeZone) -> String {
        let since = "since the reload at \(Self.millisecondClock(reloadedAt, zone: zone)) (\(drainText(zone: zone)))"
        let zeroed = endpoints.filter { $0.endpoint.percentAfter <= 0 }
        let shared = endpoints.filter { $0.endpoint.percentAfter > 0 }
        func names(_ list: [EndpointConfirmation]) -> String {
            let shown = list.prefix(4).map(\.endpoint.name).joined(separator: ", ")
            return list.count > 4 ? shown + " and \(list.count - 4) more" : shown
        }
        func share(_ e: EndpointConfirmation) -> String {
            let observed = e.observedPercent.map { String(format: "%.1f%%", $0) } ?? "-"
            return "\(e.endpoint.name) \(observed) new-service (\(e.newRequests) of \(e.newRequests + e.currentRequests))"
        }
        let watched = String(format: "%.1f s", watchedSeconds)
        if confirmed {
            var parts: [String] = []
            if !zeroed.isEmpty {
                let current = zeroed.reduce(0) { $0 + $1.currentRequests }
                parts.append("0 new-service requests for \(names(zeroed)) \(since); \(current) answered by the current service in \(watched)")
            }
            for e in shared {
                switch e.finding {
                case .noTraffic:
                    parts.append("\(e.endpoint.name): no requests yet to judge its new \(Self.percent(e.endpoint.percentAfter))")
                default:
                    parts.append("\(share(e)), consistent with its new \(Self.percent(e.endpoint.percentAfter))"
                                 + (zeroed.isEmpty ? " \(since)" : ""))
                }
            }
            return "traffic confirms the \(isRollback ? "rollback" : "change"): " + parts.joined(separator: "; ")
        }
        var parts: [String] = []
        let reaching = zeroed.filter(\.contradicts)
        if !reaching.isEmpty {
            let total = reaching.reduce(0) { $0 + $1.newRequests }
            parts.append("\(total) requests for \(names(reaching)) still reached the new service \(watched) after the reload at "
                         + "\(Self.millisecondClock(reloadedAt, zone: zone)) (\(drainText(zone: zone))), at 0%")
        }
        for e in shared where e.contradicts {
            guard case .clearlyAbove(let p) = e.finding else { continue }
            parts.append("\(share(e)) \(since), clearly above its new \(Self.percent(e.endpoint.percentAfter)) "
                         + "(one-sided binomial test, p = \(String(format: "%.1e", p)))")
        }
        return "TRAFFIC DOES NOT CONFIRM THE \(isRollback ? "ROLLBACK" : "CHANGE"): " + parts.joined(separator: "; ")
            + "; nginx accepted the change but does not route the way the config says: check which config nginx loads "
            + "and the routing maps"
    }

    private static func percent(_ value: Double) -> String {
        value == value.rounded() ? String(format: "%.0f%%", value) : String(format: "%.2f%%", value)
    }
}
