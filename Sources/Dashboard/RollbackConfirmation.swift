import Apply
import Foundation
import Rollout
import TrafficStats

/// The dashboard's watch of the traffic after its last change that lowered a share (a rollback above all):
/// it waits for nginx's old workers to exit, then collects each lowered endpoint's requests, second by second
/// of log time, for `watchSeconds`; the core's `TrafficConfirmation` judges them.
public struct ConfirmationWatch: Sendable, Equatable {
    /// Where the old workers are.
    public enum Drain: Sendable, Equatable {
        /// Still running (the effect runner is watching them).
        case waiting
        /// All gone at that time.
        case drained(Date)
        /// Some still ran when the wait gave up, at that time (counting starts then).
        case timedOut(Date)
        /// Not watched: nginx's master is unknown (no pid file); counting starts after the reload.
        case unknown
    }

    /// Requests each service answered in one second of log time.
    public struct Second: Sendable, Equatable {
        public var current: Int
        public var new: Int
    }

    /// How many seconds of log time after the drain the traffic is counted before the result is final.
    public static let watchSeconds: Int64 = 30
    /// How long the effect runner waits for the old workers (nginx's `worker_shutdown_timeout` may be long).
    public static let drainTimeout: Duration = .seconds(60)

    /// The endpoints the change lowered.
    public var lowered: [LoweredEndpoint]
    /// When the reload finished.
    public var reloadedAt: Date
    /// The old workers.
    public var drain: Drain
    /// Per endpoint, the counts of each second counted so far.
    public var seconds: [EndpointID: [Int64: Second]] = [:]
    /// The newest log time seen since counting started.
    public var lastLogTime: Int64?

    /// Starts a watch after a change that lowered `lowered`, reloaded at `reloadedAt`.
    public init(lowered: [LoweredEndpoint], reloadedAt: Date, drainWatched: Bool) {
        self.lowered = lowered
        self.reloadedAt = reloadedAt
        self.drain = drainWatched ? .waiting : .unknown
    }

    /// The first log second counted: the one after the drain (requests logged in the drain's own second may
    /// still come from an old worker); nil while the old workers run.
    public var countFrom: Int64? {
        switch drain {
        case .waiting: return nil
        case .drained(let at), .timedOut(let at): return Int64(at.timeIntervalSince1970.rounded(.down)) + 1
        case .unknown: return Int64(reloadedAt.timeIntervalSince1970.rounded(.down)) + 1
        }
    }

    /// Whether every second of the watch has gone by in log time.
    public var complete: Bool {
        guard let from = countFrom, let last = lastLogTime else { return false }
        return last >= from + Self.watchSeconds
    }

    /// Takes the per-second counts of `snapshot` for the watched seconds (a later snapshot's count of a second
    /// replaces an earlier one: it has the lines written since); entries are found by endpoint identity.
    public mutating func record(_ snapshot: TrafficSnapshot) {
        guard let from = countFrom, let logTime = snapshot.logTime, logTime >= from else { return }
        let to = from + Self.watchSeconds - 1
        for endpoint in lowered {
            guard let entry = snapshot.endpoint(endpoint.id) else { continue }
            let count = min(entry.currentRequestSeries.count, entry.newRequestSeries.count)
            let start = logTime - Int64(count) + 1
            var known = seconds[endpoint.id] ?? [:]
            for offset in 0..<count {
                let second = start + Int64(offset)
                guard second >= from, second <= to else { continue }
                known[second] = Second(current: entry.currentRequestSeries[offset], new: entry.newRequestSeries[offset])
            }
            seconds[endpoint.id] = known
        }
        lastLogTime = max(lastLogTime ?? logTime, logTime)
    }

    /// The core's judgement of what was counted so far; nil while the old workers run.
    public var result: TrafficConfirmation? {
        guard let from = countFrom else { return nil }
        let watched = lastLogTime.map { Double(max(0, min(Self.watchSeconds, $0 - from + 1))) } ?? 0
        var drainedAt: Date?
        if case .drained(let at) = drain { drainedAt = at }
        var watchedDrain = true
        if case .unknown = drain { watchedDrain = false }
        return TrafficConfirmation.judge(lowered, counts: { endpoint in
            let counted = Array((seconds[endpoint.id] ?? [:]).values)
            return (counted.reduce(0) { $0 + $1.current }, counted.reduce(0) { $0 + $1.new })
        }, reloadedAt: reloadedAt, drainedAt: drainedAt, drainWatched: watchedDrain, watchedSeconds: watched)
    }
}

/// What the live traffic says about the last change that lowered a share, for the status line and the detail
/// pane: confirmed, still being watched, or loudly not confirmed (nginx accepted the change but does not
/// route as the config says).
public struct RollbackConfirmation: Sendable, Equatable {
    /// The sentence shown.
    public var text: String
    /// true confirmed, false contradicted by the traffic, nil still watching.
    public var confirmed: Bool?

    /// The confirmation of the state's watch, if there is one.
    public static func of(_ state: AppState) -> RollbackConfirmation? {
        guard let watch = state.confirmation else { return nil }
        let zone = state.timeZone
        let reload = TrafficConfirmation.millisecondClock(watch.reloadedAt, zone: zone)
        guard let result = watch.result else {
            return RollbackConfirmation(text: "confirming from traffic: waiting for nginx's old workers to exit (reload at \(reload))",
                                        confirmed: nil)
        }
        // New-service traffic at 0% after the drain is final at once; a share is judged once, on the whole watch
        // (judging it every second would multiply its false alarms).
        let zeroContradicted = result.endpoints.contains { $0.endpoint.percentAfter <= 0 && $0.contradicts }
        if watch.complete || zeroContradicted {
            if zeroContradicted && !watch.complete {
                var early = result
                early.endpoints = result.endpoints.filter { $0.endpoint.percentAfter <= 0 }
                return RollbackConfirmation(text: early.message(zone: zone), confirmed: false)
            }
            return RollbackConfirmation(text: result.message(zone: zone), confirmed: result.confirmed)
        }
        let seen = Int(result.watchedSeconds)
        return RollbackConfirmation(text: "confirming from traffic (\(seen) of \(ConfirmationWatch.watchSeconds) s since "
                                    + "\(result.drainText(zone: zone)), reload at \(reload)): so far "
                                    + result.endpoints.map { "\($0.endpoint.name) \($0.newRequests) new-service of \($0.newRequests + $0.currentRequests)" }
                                        .prefix(3).joined(separator: ", "),
                                    confirmed: nil)
    }

    /// The line for one endpoint's detail pane, when the watch covers it.
    public static func detail(_ state: AppState, endpoint id: EndpointID) -> RollbackConfirmation? {
        guard let watch = state.confirmation, watch.lowered.contains(where: { $0.id == id }) else { return nil }
        var single = watch
        single.lowered = watch.lowered.filter { $0.id == id }
        var narrowed = state
        narrowed.confirmation = single
        return of(narrowed)
    }
}
