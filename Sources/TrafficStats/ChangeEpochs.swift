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
    /// The change state behind a pointer, so the per-line path pays no exclusivity checks.
    private struct Changes {
        var last: RoutingChange?
        /// The last change's time, `.min` while none is known.
        var lastTime: Int64 = .min
        var previousStart: Int64 = .min
        /// The log second from which a line counts as "since" (the last change's time plus `settleSeconds`),
        /// `.min` while no change is known.
        var sinceFrom: Int64 = .min
        /// The first log second counted in "before" (`previousStart` plus `settleSeconds`, or `.min`).
        var beforeFrom: Int64 = .min
    }

    private let changes: UnsafeMutablePointer<Changes>
    /// Current and new since the last change (0, 1), then current and new before it (2, 3).
    private let evidence: UnsafeMutablePointer<SideEvidence>

    /// The last change, nil when none is known (then every line read counts as "since").
    var last: RoutingChange? { changes.pointee.last }
    /// The start of the previous stretch (the change before the last one), `.min` when unknown.
    var previousStart: Int64 { changes.pointee.previousStart }
    /// Current and new service since the last change.
    var since: [SideEvidence] { [evidence[0], evidence[1]] }
    /// Current and new service between the change before and the last one.
    var before: [SideEvidence] { [evidence[2], evidence[3]] }
    /// Whether `before` holds a stretch at all (a change is known).
    var hasBefore: Bool { last != nil }

    /// The log second a change lands in counts on neither side of it: its lines were routed partly before and
    /// partly after the reload (and the journal records a change once the reload is done).
    static let settleSeconds: Int64 = 1

    init() {
        changes = .allocate(capacity: 1)
        changes.initialize(to: Changes())
        evidence = .allocate(capacity: 4)
        evidence.initialize(repeating: SideEvidence(), count: 4)
    }

    deinit {
        changes.deinitialize(count: 1)
        changes.deallocate()
        evidence.deinitialize(count: 4)
        evidence.deallocate()
    }

    /// Counts one request of `side` (0 current, 1 new) at log second `time`.
    @inline(__always)
    func record(time: Int64, side: Int, status: Int, latencyMs: Int?, nginxMade: Bool?) {
        if time >= changes.pointee.sinceFrom {
            evidence[side].record(status: status, latencyMs: latencyMs, nginxMade: nginxMade)
        } else if time < changes.pointee.lastTime, time >= changes.pointee.beforeFrom {
            evidence[2 &+ side].record(status: status, latencyMs: latencyMs, nginxMade: nginxMade)
        }
    }

    /// Takes over the changes another endpoint's epochs know, with no evidence yet: what a backfill range
    /// records into before it is merged.
    func restore(last: RoutingChange?, previousStart: Int64) {
        changes.pointee.last = last
        changes.pointee.previousStart = previousStart
        updateBounds()
    }

    /// Adds the evidence `later` recorded with the same changes known (see `sameChanges`).
    func merge(_ later: EndpointEpochs) {
        precondition(later.last == last && later.previousStart == previousStart, "merged evidence recorded under other routing changes")
        for index in 0..<4 { evidence[index].add(later.evidence[index]) }
    }

    /// Starts a new stretch at `change.time`. Changes must come oldest first; an older one than the last known
    /// is ignored (the journal and the session only move forward).
    func note(_ change: RoutingChange) {
        if let last, change.time < last.time { return }
        if let last, change.time == last.time {
            changes.pointee.last = change
            return
        }
        changes.pointee.previousStart = last?.time ?? .min
        evidence[2] = evidence[0]
        evidence[3] = evidence[1]
        evidence[0] = SideEvidence()
        evidence[1] = SideEvidence()
        changes.pointee.last = change
        updateBounds()
    }

    private func updateBounds() {
        let last = changes.pointee.last?.time, previous = changes.pointee.previousStart
        changes.pointee.lastTime = last ?? .min
        changes.pointee.sinceFrom = last.map { $0 &+ Self.settleSeconds } ?? .min
        changes.pointee.beforeFrom = previous == .min ? .min : previous &+ Self.settleSeconds
    }
}
