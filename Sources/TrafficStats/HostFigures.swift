import Foundation

/// One host's traffic in a snapshot: totals read, the last minute's rates, and how far its logs lag.
public struct HostTraffic: Sendable, Hashable {
    /// The host's name (from `hosts:`).
    public var name: String
    /// Lines read from this host (every line, migrated or not).
    public var requests: Int
    /// Of them, requests of a migrated endpoint that went to the current / the new service.
    public var current: Int
    public var new: Int
    /// Of them, 5xx responses.
    public var s5xx: Int
    /// The newest log time (Unix seconds) read from this host; nil before its first line.
    public var newest: Int64?
    /// Seconds between the snapshot's clock and the newest line of this host; nil before its first line.
    public var lagSeconds: Int64?
    /// Requests per second over the last `rateSeconds` complete seconds before the snapshot's end.
    public var rps: Double
    /// The new service's share (percent) of the migrated requests over the last minute; nil without any.
    public var observedPercent: Double?
    /// The 5xx share (0...1) over the last minute; nil without requests.
    public var errorRate: Double?

    public init(name: String, requests: Int = 0, current: Int = 0, new: Int = 0, s5xx: Int = 0, newest: Int64? = nil,
                lagSeconds: Int64? = nil, rps: Double = 0, observedPercent: Double? = nil, errorRate: Double? = nil) {
        self.name = name
        self.requests = requests
        self.current = current
        self.new = new
        self.s5xx = s5xx
        self.newest = newest
        self.lagSeconds = lagSeconds
        self.rps = rps
        self.observedPercent = observedPercent
        self.errorRate = errorRate
    }
}

/// One endpoint's requests from one host, per service.
public struct HostSplit: Sendable, Hashable {
    public var current: Int
    public var new: Int

    public init(current: Int = 0, new: Int = 0) {
        self.current = current
        self.new = new
    }
}

/// Per-host counters of the aggregator: lines per host, per endpoint and host per service, a one-minute ring per
/// host for rates, and the new-service lines each host kept logging for an endpoint after it was rolled back.
///
/// Fixed memory (hosts × endpoints counters and a 64-second ring per host); not thread-safe (the aggregator's).
final class HostFigures {
    let names: [String]
    let endpoints: Int
    private let hosts: Int
    static let ring = 64
    /// Seconds after a rollback during which new-service lines are expected (old workers finishing requests).
    static let lingerGraceSeconds: Int64 = 5
    /// Seconds the rate is averaged over.
    static let rateSeconds: Int64 = 10

    // Per host: totals and newest time.
    private let requests: UnsafeMutablePointer<Int>
    private let current: UnsafeMutablePointer<Int>
    private let new: UnsafeMutablePointer<Int>
    private let s5xx: UnsafeMutablePointer<Int>
    private let newest: UnsafeMutablePointer<Int64>
    // Per host and ring slot: the second held, requests, migrated current/new, 5xx.
    private let slotSecond: UnsafeMutablePointer<Int64>
    private let slotCounts: UnsafeMutablePointer<Int>  // 4 per slot
    // Per endpoint and host: current, new.
    private let split: UnsafeMutablePointer<Int>
    // Per endpoint: the rollback in effect (log time), .max when none; per endpoint and host: new lines after it.
    private let rolledBackAt: UnsafeMutablePointer<Int64>
    private let lingering: UnsafeMutablePointer<Int>

    init(names: [String], endpoints: Int) {
        self.names = names
        self.endpoints = endpoints
        hosts = names.count
        let h = max(1, hosts), e = max(1, endpoints)
        func alloc<T>(_ n: Int, _ value: T) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: n)
            p.initialize(repeating: value, count: n)
            return p
        }
        requests = alloc(h, 0)
        current = alloc(h, 0)
        new = alloc(h, 0)
        s5xx = alloc(h, 0)
        newest = alloc(h, Int64.min)
        slotSecond = alloc(h * Self.ring, Int64.min)
        slotCounts = alloc(h * Self.ring * 4, 0)
        split = alloc(e * h * 2, 0)
        rolledBackAt = alloc(e, Int64.max)
        lingering = alloc(e * h, 0)
    }

    deinit {
        requests.deallocate(); current.deallocate(); new.deallocate(); s5xx.deallocate(); newest.deallocate()
        slotSecond.deallocate(); slotCounts.deallocate(); split.deallocate(); rolledBackAt.deallocate(); lingering.deallocate()
    }

    /// Counts one line of host `host` at log second `time`; `endpoint` is -1 for a line of no migrated endpoint.
    @inline(__always)
    func record(host: Int, time: Int64, status: Int, endpoint: Int, side: Int) {
        guard host >= 0, host < hosts else { return }
        requests[host] &+= 1
        let is5xx = status >= 500 && status < 600
        if is5xx { s5xx[host] &+= 1 }
        if time > newest[host] { newest[host] = time }
        let slot = host &* Self.ring &+ Int(UInt64(bitPattern: time) % UInt64(Self.ring))
        if slotSecond[slot] != time {
            guard time > slotSecond[slot] else { return countEndpoint(host: host, time: time, endpoint: endpoint, side: side) }
            slotSecond[slot] = time
            for k in 0..<4 { slotCounts[slot &* 4 &+ k] = 0 }
        }
        slotCounts[slot &* 4] &+= 1
        if is5xx { slotCounts[slot &* 4 &+ 3] &+= 1 }
        if endpoint >= 0 { slotCounts[slot &* 4 &+ 1 &+ side] &+= 1 }
        countEndpoint(host: host, time: time, endpoint: endpoint, side: side)
    }

    @inline(__always)
    private func countEndpoint(host: Int, time: Int64, endpoint: Int, side: Int) {
        guard endpoint >= 0, endpoint < endpoints else { return }
        if side == 0 { current[host] &+= 1 } else { new[host] &+= 1 }
        split[(endpoint &* hosts &+ host) &* 2 &+ side] &+= 1
        if side == 1, rolledBackAt[endpoint] != .max, time >= rolledBackAt[endpoint] &+ Self.lingerGraceSeconds {
            lingering[endpoint &* hosts &+ host] &+= 1
        }
    }

    /// Adds the counts of a later stretch of lines (a backfill range aggregated on another thread, started with
    /// `restore(rollbacks:)` from this one's `rollbacks`). The one-minute ring keeps the newer second of each slot.
    func merge(_ later: HostFigures) {
        guard later.hosts == hosts, later.endpoints == endpoints else { return }
        for h in 0..<hosts {
            requests[h] += later.requests[h]; current[h] += later.current[h]; new[h] += later.new[h]; s5xx[h] += later.s5xx[h]
            newest[h] = max(newest[h], later.newest[h])
            for k in 0..<Self.ring {
                let slot = h * Self.ring + k
                let theirs = later.slotSecond[slot]
                guard theirs != .min else { continue }
                if theirs == slotSecond[slot] {
                    for i in 0..<4 { slotCounts[slot * 4 + i] += later.slotCounts[slot * 4 + i] }
                } else if theirs > slotSecond[slot] {
                    slotSecond[slot] = theirs
                    for i in 0..<4 { slotCounts[slot * 4 + i] = later.slotCounts[slot * 4 + i] }
                }
            }
        }
        for i in 0..<(max(1, endpoints) * max(1, hosts) * 2) { split[i] += later.split[i] }
        for e in 0..<endpoints where rolledBackAt[e] == later.rolledBackAt[e] {
            for h in 0..<hosts { lingering[e * hosts + h] += later.lingering[e * hosts + h] }
        }
    }

    /// Per endpoint, the rollback being watched for lingering hosts (log time; `.max` for none): what a backfill
    /// range's figures start from.
    var rollbacks: [Int64] { (0..<endpoints).map { rolledBackAt[$0] } }

    /// Starts watching the same rollbacks as the figures `rollbacks` was read from.
    func restore(rollbacks: [Int64]) {
        for (e, time) in rollbacks.enumerated() where e < endpoints { rolledBackAt[e] = time }
    }

    /// Notes a routing change of an endpoint: a rollback starts watching for hosts still sending to the new
    /// service; any other change ends it.
    func noteChange(endpoint: Int, time: Int64, rollback: Bool) {
        guard endpoint >= 0, endpoint < endpoints else { return }
        rolledBackAt[endpoint] = rollback ? time : .max
        for h in 0..<hosts { lingering[endpoint * hosts + h] = 0 }
    }

    /// The hosts' figures at `end` (the snapshot's last second); lag against `clock` (wall seconds) when given.
    func hostTraffic(end: Int64?, clock: Int64?) -> [HostTraffic] {
        (0..<hosts).map { h in
            var t = HostTraffic(name: names[h], requests: requests[h], current: current[h], new: new[h], s5xx: s5xx[h])
            if newest[h] != .min {
                t.newest = newest[h]
                let reference = clock ?? end ?? newest[h]
                t.lagSeconds = max(0, reference - newest[h])
            }
            guard let end else { return t }
            var rated = 0, minute = 0, mCurrent = 0, mNew = 0, m5xx = 0
            for k in 0..<Self.ring {
                let slot = h * Self.ring + k
                let second = slotSecond[slot]
                guard second != .min, second <= end, second > end - 60 else { continue }
                let c = slotCounts + slot * 4
                if second < end, second >= end - Self.rateSeconds { rated += c[0] }
                minute += c[0]; mCurrent += c[1]; mNew += c[2]; m5xx += c[3]
            }
            t.rps = Double(rated) / Double(Self.rateSeconds)
            if mCurrent + mNew > 0 { t.observedPercent = 100 * Double(mNew) / Double(mCurrent + mNew) }
            if minute > 0 { t.errorRate = Double(m5xx) / Double(minute) }
            return t
        }
    }

    /// One endpoint's requests per host, in host order.
    func split(endpoint: Int) -> [HostSplit] {
        (0..<hosts).map { h in
            let base = (endpoint * hosts + h) * 2
            return HostSplit(current: split[base], new: split[base + 1])
        }
    }

    /// The hosts that logged new-service requests for a rolled-back endpoint after the grace period, with how many.
    func lingeringHosts(endpoint: Int) -> [(name: String, requests: Int)] {
        guard endpoint >= 0, endpoint < endpoints, rolledBackAt[endpoint] != .max else { return [] }
        return (0..<hosts).compactMap { h in
            let n = lingering[endpoint * hosts + h]
            return n > 0 ? (names[h], n) : nil
        }
    }
}
