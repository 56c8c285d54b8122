import Foundation
import Rollout

/// A routing change of one endpoint at a moment of log time: from the journal, or applied in this session.
public struct RoutingChange: Sendable, Hashable {
    /// The endpoint's identity (its map key).
    public var endpoint: EndpointID
    /// When it took effect (Unix seconds).
    public var time: Int64
    /// Whether it sent the endpoint back to the current service (a rollback, or a percent lowered to 0).
    public var rollback: Bool

    /// Creates a change.
    public init(endpoint: EndpointID, time: Int64, rollback: Bool = false) {
        self.endpoint = endpoint
        self.time = time
        self.rollback = rollback
    }
}

/// What one endpoint's two services did since its last routing change, and between the change before it and
/// the last one: the evidence its verdict, its since-change figures and its historical baseline are made of.
///
/// A line counts in the stretch its log time falls in; lines from before the change before the last are not
/// kept (the windows still hold them). Memory: four counters and four latency histograms per endpoint.
final class EndpointEpochs {
    /// The last change, nil when none is known (then every line read counts as "since").
    private(set) var last: RoutingChange?
    /// The start of the previous stretch (the change before the last one), `.min` when unknown.
    private(set) var previousStart: Int64 = .min
    /// Current and new service since the last change.
    private(set) var since = [SideEvidence(), SideEvidence()]
    /// Current and new service between the change before and the last one.
    private(set) var before = [SideEvidence(), SideEvidence()]
    /// Whether `before` holds a stretch at all (a change is known).
    var hasBefore: Bool { last != nil }

    /// The log second a change lands in counts on neither side of it: its lines were routed partly before and
    /// partly after the reload (and the journal records a change once the reload is done).
    static let settleSeconds: Int64 = 1

    /// Counts one request of `side` (0 current, 1 new) at log second `time`.
    @inline(__always)
    func record(time: Int64, side: Int, status: Int, latencyMs: Int?, nginxMade: Bool?) {
        if let last, time < last.time &+ Self.settleSeconds {
            guard time < last.time, time >= previousStart &+ (previousStart == .min ? 0 : Self.settleSeconds) else { return }
            before[side].record(status: status, latencyMs: latencyMs, nginxMade: nginxMade)
        } else {
            since[side].record(status: status, latencyMs: latencyMs, nginxMade: nginxMade)
        }
    }

    /// Takes over the changes another endpoint's epochs know, with no evidence yet: what a backfill range
    /// records into before it is merged.
    func restore(last: RoutingChange?, previousStart: Int64) {
        self.last = last
        self.previousStart = previousStart
    }

    /// Adds the evidence `later` recorded with the same changes known (see `sameChanges`).
    func merge(_ later: EndpointEpochs) {
        precondition(later.last == last && later.previousStart == previousStart, "merged evidence recorded under other routing changes")
        for side in 0..<2 {
            since[side].add(later.since[side])
            before[side].add(later.before[side])
        }
    }

    /// Starts a new stretch at `change.time`. Changes must come oldest first; an older one than the last known
    /// is ignored (the journal and the session only move forward).
    func note(_ change: RoutingChange) {
        if let last, change.time < last.time { return }
        if let last, change.time == last.time {
            self.last = change
            return
        }
        previousStart = last?.time ?? .min
        before = since
        since = [SideEvidence(), SideEvidence()]
        last = change
    }
}
