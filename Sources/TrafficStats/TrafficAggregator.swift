import AccessLog
import Foundation
import Rollout

/// Which duration the latency figures use.
public enum LatencySource: String, Sendable, Hashable, CaseIterable {
    /// `$request_time`: the whole request as nginx saw it.
    case request
    /// `$upstream_response_time`: the sum over upstream attempts.
    case upstream
}

/// What the traffic figures are computed from: the whitelist rules and how lines are attributed.
public struct TrafficConfiguration: Sendable, Hashable {
    /// The whitelist map's keys with their endpoints.
    public var rules: [EndpointRule]
    /// Which duration feeds the latency figures.
    public var latency: LatencySource
    /// Upstream addresses (`host:port` as `$upstream_addr` prints them) of the new service. When not empty, a line
    /// whose last upstream address is one of them counts for the new service and any other line with an upstream
    /// address for the current one, whatever log it came from (for setups where both go to one log).
    public var newServiceUpstreams: [String]
    /// Not-migrated paths tracked at most (space-saving counters).
    public var notMigratedCapacity: Int
    /// Not-migrated paths reported in a snapshot at most.
    public var notMigratedReported: Int
    /// Paths kept in the classification cache at most.
    public var pathCacheEntries: Int
    /// Malformed lines kept as samples per file.
    public var malformedSamples: Int
    /// Seconds in each endpoint's new-share series (at most 60).
    public var seriesSeconds: Int
    /// The margins and confidence of every endpoint's verdict.
    public var verdict: VerdictSettings
    /// The fleet's host names: lines carry a host index into this list (empty: no per-host figures).
    public var hosts: [String] = []

    /// Creates a configuration.
    public init(rules: [EndpointRule], latency: LatencySource = .request, newServiceUpstreams: [String] = [],
                notMigratedCapacity: Int = 1024, notMigratedReported: Int = 20, pathCacheEntries: Int = 32_768,
                malformedSamples: Int = 5, seriesSeconds: Int = 60, verdict: VerdictSettings = VerdictSettings()) {
        self.verdict = verdict
        self.rules = rules
        self.latency = latency
        self.newServiceUpstreams = newServiceUpstreams
        self.notMigratedCapacity = notMigratedCapacity
        self.notMigratedReported = notMigratedReported
        self.pathCacheEntries = pathCacheEntries
        self.malformedSamples = malformedSamples
        self.seriesSeconds = min(60, max(1, seriesSeconds))
    }
}

/// Classifies parsed lines and aggregates them per endpoint and backend over sliding windows of log time.
///
/// Memory is bounded whatever the input: per-endpoint rings and histograms, a bounded path cache and a bounded
/// set of not-migrated paths. Not thread-safe: owned by one ingest task (see `LiveTraffic` for the background form).
/// Something told of each request the aggregator counts for an endpoint: a running total kept elsewhere (the
/// guard's Prometheus counters). Called on the ingest's thread, once per classified line, so it must be cheap.
public protocol RequestObserver: AnyObject, Sendable {
    /// One request of the endpoint at `endpoint` (an index into the rules' endpoints), answered by the new
    /// service or the current one, with its status (0 when the log has none) and latency (nil when unknown).
    func observe(endpoint: Int, newService: Bool, status: Int, latencyMilliseconds: Int?)
}

public final class TrafficAggregator {
    /// The configuration in use.
    public let configuration: TrafficConfiguration
    /// The classifier (exposed for its cache counters).
    public let classifier: EndpointClassifier

    private let pairs: [WindowedStats]
    private var configuredPercent: [Double?]
    private var percentKnown: [Bool]
    // Per endpoint: what each service did since the last routing change and in the stretch before it.
    private let epochs: [EndpointEpochs]
    // The verdicts depend on the epochs, not on the window: computed once per state of the figures.
    private var verdicts: [Verdict] = []
    private var verdictsKey: (lines: Int, changes: Int, end: Int64) = (-1, -1, .min)
    private var changes = 0
    // Per endpoint: the log time of the last configuration change, and requests (current, new) counted since.
    private let changedAt: UnsafeMutablePointer<Int64>
    private let sinceChange: UnsafeMutablePointer<Int>
    private var heavyHitters: HeavyHitters
    // The new service's upstream addresses, back to back, with each one's offset and length (none: roles decide).
    private let newUpstreamBytes: UnsafeMutableRawPointer
    private let newUpstreamOffsets: UnsafeMutablePointer<Int>
    private let newUpstreamCounts: UnsafeMutablePointer<Int>
    private let newUpstreamCount: Int
    // `pairs` and `epochs` as unretained references: the per-line path reaches them without retain and release
    // (the arrays keep them alive).
    private let pairRefs: UnsafeMutablePointer<Unmanaged<WindowedStats>>
    private let epochRefs: UnsafeMutablePointer<Unmanaged<EndpointEpochs>>
    // The observer behind a pointer: reading it per line is a load, not an exclusivity check.
    private let observerSlot: UnsafeMutablePointer<(any RequestObserver)?>
    private let endpointIndex: [EndpointID: Int]
    private let hostFigures: HostFigures?

    /// Counters kept behind a pointer so the per-line path pays no exclusivity checks.
    private struct Counters {
        var now: Int64 = .min
        var first: Int64 = .max
        var lines = 0
        var unclassified = 0
        var notMigrated = 0
    }

    private let counters: UnsafeMutablePointer<Counters>

    /// The newest log second seen, nil before the first line.
    public var now: Int64? { counters.pointee.lines > 0 ? counters.pointee.now : nil }
    private var first: Int64 { counters.pointee.first }
    /// Lines aggregated.
    public var lines: Int { counters.pointee.lines }
    /// Lines without a usable request path.
    public var unclassified: Int { counters.pointee.unclassified }
    /// Lines whose path matched no map key.
    public var notMigratedLines: Int { counters.pointee.notMigrated }

    /// Told of every request counted for an endpoint (an exporter's counters), on the ingest's thread.
    public var observer: (any RequestObserver)? {
        get { observerSlot.pointee }
        set { observerSlot.pointee = newValue }
    }
    /// Not-migrated paths of a backfill range, replayed into the heavy hitters in order when it is merged.
    private let deferred: DeferredPaths?

    /// Compiles the rules; throws `ClassifierError` for an invalid regex key.
    public convenience init(configuration: TrafficConfiguration) throws {
        self.init(configuration: configuration,
                  classifier: try EndpointClassifier(rules: configuration.rules, cacheEntries: configuration.pathCacheEntries),
                  deferred: nil)
    }

    private init(configuration: TrafficConfiguration, classifier: EndpointClassifier, deferred: DeferredPaths?) {
        self.configuration = configuration
        self.classifier = classifier
        self.deferred = deferred
        let count = classifier.endpoints.count
        let stats = (0..<(count * 2)).map { _ in WindowedStats() }
        let endpointEpochs = (0..<count).map { _ in EndpointEpochs() }
        pairs = stats
        configuredPercent = Array(repeating: nil, count: count)
        percentKnown = Array(repeating: false, count: count)
        epochs = endpointEpochs
        changedAt = .allocate(capacity: max(1, count))
        changedAt.initialize(repeating: .min, count: max(1, count))
        sinceChange = .allocate(capacity: max(2, count * 2))
        sinceChange.initialize(repeating: 0, count: max(2, count * 2))
        counters = .allocate(capacity: 1)
        counters.initialize(to: Counters())
        heavyHitters = HeavyHitters(capacity: configuration.notMigratedCapacity)
        let upstreams = configuration.newServiceUpstreams.map { Array($0.utf8) }
        let upstreamBytes = UnsafeMutableRawPointer.allocate(byteCount: max(1, upstreams.reduce(0) { $0 + $1.count }), alignment: 8)
        let upstreamOffsets = UnsafeMutablePointer<Int>.allocate(capacity: max(1, upstreams.count))
        let upstreamCounts = UnsafeMutablePointer<Int>.allocate(capacity: max(1, upstreams.count))
        var offset = 0
        for (i, bytes) in upstreams.enumerated() {
            bytes.withUnsafeBytes { if let source = $0.baseAddress { (upstreamBytes + offset).copyMemory(from: source, byteCount: $0.count) } }
            upstreamOffsets[i] = offset
            upstreamCounts[i] = bytes.count
            offset += bytes.count
        }
        newUpstreamCount = upstreams.count
        newUpstreamBytes = upstreamBytes
        newUpstreamOffsets = upstreamOffsets
        newUpstreamCounts = upstreamCounts
        let pairPointers = UnsafeMutablePointer<Unmanaged<WindowedStats>>.allocate(capacity: max(1, stats.count))
        for (i, pair) in stats.enumerated() { (pairPointers + i).initialize(to: Unmanaged.passUnretained(pair)) }
        pairRefs = pairPointers
        let epochPointers = UnsafeMutablePointer<Unmanaged<EndpointEpochs>>.allocate(capacity: max(1, endpointEpochs.count))
        for (i, epoch) in endpointEpochs.enumerated() { (epochPointers + i).initialize(to: Unmanaged.passUnretained(epoch)) }
        epochRefs = epochPointers
        observerSlot = .allocate(capacity: 1)
        observerSlot.initialize(to: nil)
        var index: [EndpointID: Int] = [:]
        for (i, id) in classifier.endpoints.enumerated() { index[id] = i }
        endpointIndex = index
        hostFigures = configuration.hosts.isEmpty ? nil : HostFigures(names: configuration.hosts, endpoints: count)
    }

    deinit {
        changedAt.deallocate()
        sinceChange.deallocate()
        counters.deallocate()
        newUpstreamBytes.deallocate()
        newUpstreamOffsets.deallocate()
        newUpstreamCounts.deallocate()
        pairRefs.deallocate()
        epochRefs.deallocate()
        observerSlot.deinitialize(count: 1)
        observerSlot.deallocate()
    }

    /// The endpoints' identities, in rule order (an endpoint index points here).
    public var endpoints: [EndpointID] { classifier.endpoints }
    /// The endpoints' short names, by endpoint index (for display only).
    public var names: [String] { classifier.names }

    @inline(__always)
    private func backend(_ parser: LogLineParser, role: LogRole) -> Int {
        if newUpstreamCount > 0, let address = parser.upstreamAddress, let base = address.baseAddress {
            for i in 0..<newUpstreamCount where newUpstreamCounts[i] == address.count {
                if memcmp(newUpstreamBytes + newUpstreamOffsets[i], base, address.count) == 0 { return 1 }
            }
            return 0
        }
        return role == .migration ? 1 : 0
    }

    /// Aggregates the line the parser has just parsed successfully.
    ///
    /// - Parameters:
    ///   - role: the role of the log the line came from.
    ///   - host: the index of the line's host in `configuration.hosts`, -1 for none.
    ///   - fallbackTime: the log second to use when the format has no time variable.
    @inline(__always)
    public func add(_ parser: LogLineParser, role: LogRole, host: Int = -1, fallbackTime: @autoclosure () -> Int64) {
        let c = counters
        c.pointee.lines &+= 1
        let time = parser.time ?? fallbackTime()
        if time > c.pointee.now { c.pointee.now = time }
        if time < c.pointee.first { c.pointee.first = time }
        guard var raw = parser.rawPath() else {
            c.pointee.unclassified &+= 1
            if host >= 0 { hostFigures?.record(host: host, time: time, status: parser.status ?? 0, endpoint: -1, side: 0) }
            return
        }
        if parser.rawPathHasEscapes { raw = parser.unescape(raw) }
        let result = classifier.classify(raw)
        guard result.endpoint >= 0 else {
            c.pointee.notMigrated &+= 1
            if host >= 0 { hostFigures?.record(host: host, time: time, status: parser.status ?? 0, endpoint: -1, side: 0) }
            if let deferred {
                deferred.note(result.pathHash) { String(decoding: classifier.normalize(raw), as: UTF8.self) }
                return
            }
            if !heavyHitters.increment(result.pathHash) {
                let path = classifier.normalize(raw)
                heavyHitters.insert(result.pathHash, label: String(decoding: path, as: UTF8.self))
            }
            return
        }
        let endpoint = Int(result.endpoint)
        let side = backend(parser, role: role)
        let latency = configuration.latency == .request ? parser.requestTimeMilliseconds : parser.upstreamResponseTimeMilliseconds
        let status = parser.status ?? 0
        let now = c.pointee.now
        pairRefs[endpoint &* 2 &+ side]._withUnsafeGuaranteedRef { $0.record(time: time, now: now, status: status, latency: latency) }
        if let observer = observerSlot.pointee {
            observer.observe(endpoint: endpoint, newService: side == 1, status: status, latencyMilliseconds: latency)
        }
        if host >= 0 { hostFigures?.record(host: host, time: time, status: status, endpoint: endpoint, side: side) }
        if time >= changedAt[endpoint] { sinceChange[endpoint &* 2 &+ side] &+= 1 }
        let nginxMade = status >= 500 && status < 600 ? Self.nginxMade(parser, status: status) : nil
        epochRefs[endpoint]._withUnsafeGuaranteedRef {
            $0.record(time: time, side: side, status: status, latencyMs: latency, nginxMade: nginxMade)
        }
    }

    /// Whether nginx made a 5xx itself: no upstream answered (`$upstream_status` and `$upstream_addr` unset), or
    /// nginx's own 502/504 for an upstream it could not reach or that timed out. Nil when the format has neither
    /// variable, so the log cannot tell.
    @inline(__always)
    static func nginxMade(_ parser: LogLineParser, status: Int) -> Bool? {
        let hasStatus = parser.raw(.upstreamStatus) != nil
        guard hasStatus || parser.raw(.upstreamAddr) != nil else { return nil }
        let upstream = parser.upstreamStatus
        if upstream == nil && parser.upstreamAddress == nil { return true }
        guard hasStatus, let upstream else { return false }
        return (status == 502 || status == 504) && upstream == status
    }

    // MARK: Partial aggregates (the parallel backfill, Backfill.swift)

    /// What a partial aggregate must know of this one before it records lines: the routing changes known.
    var partialSeed: PartialSeed {
        let count = classifier.endpoints.count
        return PartialSeed(configuration: configuration, epochs: epochs.map { ($0.last, $0.previousStart) },
                           changedAt: (0..<count).map { changedAt[$0] }, rolledBackAt: hostFigures?.rollbacks ?? [])
    }

    /// An empty aggregator for the lines of one backfill range, with the routing changes of `seed`, classifying
    /// with `classifier` (one per thread); fold it into the aggregator of the lines before it with `merge`.
    convenience init(partial seed: PartialSeed, classifier: EndpointClassifier) {
        self.init(configuration: seed.configuration, classifier: classifier, deferred: DeferredPaths())
        for (index, state) in seed.epochs.enumerated() {
            epochs[index].restore(last: state.last, previousStart: state.previousStart)
        }
        for (index, time) in seed.changedAt.enumerated() { changedAt[index] = time }
        hostFigures?.restore(rollbacks: seed.rolledBackAt)
    }

    /// Folds in a partial aggregate of the lines that come right after the ones aggregated here (made with
    /// `init(partial:classifier:)` from this aggregator's seed, merged in the order of the lines): afterwards
    /// this aggregator holds exactly what it would hold had it aggregated those lines itself.
    func merge(_ later: TrafficAggregator) {
        let before = now
        for index in pairs.indices { pairs[index].merge(later.pairs[index], now: before) }
        for index in epochs.indices { epochs[index].merge(later.epochs[index]) }
        for index in 0..<(classifier.endpoints.count * 2) { sinceChange[index] += later.sinceChange[index] }
        let c = counters, l = later.counters.pointee
        c.pointee.lines += l.lines
        c.pointee.unclassified += l.unclassified
        c.pointee.notMigrated += l.notMigrated
        c.pointee.now = max(c.pointee.now, l.now)
        c.pointee.first = min(c.pointee.first, l.first)
        if let hostFigures, let other = later.hostFigures { hostFigures.merge(other) }
        if let paths = later.deferred {
            // Space-saving counters depend on the order of the keys: the range's keys are counted in their order.
            for hash in paths.hashes where !heavyHitters.increment(hash) {
                heavyHitters.insert(hash, label: paths.labels[hash] ?? "")
            }
        }
    }

    /// Whether `other` holds the same state: every bucket and slice of every endpoint, the evidence since and
    /// before each change, the counters and the not-migrated paths (for the backfill tests).
    func holdsSameState(as other: TrafficAggregator) -> Bool {
        func same(_ a: SideEvidence, _ b: SideEvidence) -> Bool {
            a.requests == b.requests && a.status == b.status && a.nginx5xx == b.nginx5xx && a.attributed5xx == b.attributed5xx
                && a.latency?.totalCount == b.latency?.totalCount && a.latency?.valueAtPercentile(99) == b.latency?.valueAtPercentile(99)
                && a.latency?.valueAtPercentile(50) == b.latency?.valueAtPercentile(50)
        }
        let c = counters.pointee, o = other.counters.pointee
        guard c.lines == o.lines, c.now == o.now, c.first == o.first, c.unclassified == o.unclassified, c.notMigrated == o.notMigrated,
              pairs.indices.allSatisfy({ pairs[$0].holdsSameFigures(as: other.pairs[$0]) }),
              (0..<(classifier.endpoints.count * 2)).allSatisfy({ sinceChange[$0] == other.sinceChange[$0] }) else { return false }
        let evidence = epochs.indices.allSatisfy { e in
            (0..<2).allSatisfy { same(epochs[e].since[$0], other.epochs[e].since[$0]) && same(epochs[e].before[$0], other.epochs[e].before[$0]) }
        }
        let top = heavyHitters.top(heavyHitters.capacity), otherTop = other.heavyHitters.top(other.heavyHitters.capacity)
        return evidence && heavyHitters.total == other.heavyHitters.total && top.count == otherTop.count
            && zip(top, otherTop).allSatisfy { $0.label == $1.label && $0.count == $1.count && $0.error == $1.error }
    }

    /// Records a routing change of an endpoint (from the journal, oldest first, before the lines are read; or
    /// applied in this session): its verdict and since-change figures count only the requests from then on.
    public func noteRoutingChange(_ change: RoutingChange) {
        guard let endpoint = endpointIndex[change.endpoint] else { return }
        epochs[endpoint].note(change)
        hostFigures?.noteChange(endpoint: endpoint, time: change.time, rollback: change.rollback)
        changes += 1
    }

    /// Records that the configured new-service percent of an endpoint changed at a log time.
    ///
    /// The split test counts only requests from then on; requests already aggregated since then (as far as the
    /// ten-second buckets reach) are counted again from the buckets. Unknown endpoints are ignored.
    public func setConfiguredPercent(_ percent: Double?, endpoint id: EndpointID, at time: Int64) {
        guard let endpoint = endpointIndex[id] else { return }
        // A different percent than the one known is a routing change; the first one known is not.
        if percentKnown[endpoint], configuredPercent[endpoint] != percent {
            let before = configuredPercent[endpoint] ?? 0
            let rollback = before > 0 && (percent ?? 0) <= 0
            epochs[endpoint].note(RoutingChange(endpoint: id, time: time, rollback: rollback))
            hostFigures?.noteChange(endpoint: endpoint, time: time, rollback: rollback)
        }
        percentKnown[endpoint] = true
        configuredPercent[endpoint] = percent
        changes += 1
        changedAt[endpoint] = time
        let (current, new) = sinceCounts(endpoint, since: time)
        sinceChange[endpoint * 2] = current
        sinceChange[endpoint * 2 + 1] = new
    }

    private func sinceCounts(_ endpoint: Int, since time: Int64, to end: Int64? = nil, changedInside: Bool = true) -> (current: Int, new: Int) {
        guard let now else { return (0, 0) }
        let to = end ?? now
        if time <= first, end == nil {
            return (pairs[endpoint * 2].counts(from: 0, to: nil).requests, pairs[endpoint * 2 + 1].counts(from: 0, to: nil).requests)
        }
        // A change inside the covered span starts at the next ten-second bucket (buckets straddling it are left out).
        let from = end != nil && time <= (end ?? 0) && !changedInside ? time : (time + 9) / 10 * 10
        guard from <= to else { return (0, 0) }
        return (pairs[endpoint * 2].counts(from: from, to: to).requests, pairs[endpoint * 2 + 1].counts(from: from, to: to).requests)
    }

    /// Which log seconds the request rate of a window is computed over: the seconds whose requests the window's
    /// counts hold, less the newest log second (still being written while following) and the first two seconds
    /// read (following starts in the middle of a second, and nginx workers flush some lines of the second before
    /// late), as long as one second is left to go by.
    struct RateSpan {
        /// Seconds the rate divides by.
        var seconds = 0
        /// Log seconds whose requests are left out of the rate (held in the per-second ring).
        var excluded: [Int64] = []
    }

    private func rateSpan(countedFrom: Int64, to: Int64) -> RateSpan {
        guard let now else { return RateSpan() }
        let coveredFrom = max(countedFrom, first)
        var span = RateSpan(seconds: Int(max(0, to - coveredFrom + 1)), excluded: [])
        var partial: [Int64] = to == now ? [now] : []
        for second in [first, first + 1] where second >= coveredFrom && second <= to && second != now { partial.append(second) }
        for second in partial where span.seconds >= 2 && WindowedStats.holdsSecond(second, now: now) {
            span.excluded.append(second)
            span.seconds -= 1
        }
        return span
    }

    private func figures(_ stats: WindowedStats, from: Int64, to: Int64?, rate: RateSpan) -> BackendFigures {
        let totals = stats.counts(from: from, to: to)
        let rated = totals.requests - rate.excluded.reduce(0) { $0 + stats.requests(atSecond: $1) }
        var figures = BackendFigures(requests: totals.requests, rps: rate.seconds > 0 ? Double(max(0, rated)) / Double(rate.seconds) : 0,
                                     status: StatusCounts(s2xx: totals.s2xx, s3xx: totals.s3xx, s4xx: totals.s4xx, s5xx: totals.s5xx))
        if totals.requests > 0 { figures.errorRate = Double(totals.s5xx) / Double(totals.requests) }
        if let histogram = stats.latency(from: from, to: to) {
            figures.p50Ms = Double(histogram.valueAtPercentile(50))
            figures.p90Ms = Double(histogram.valueAtPercentile(90))
            figures.p95Ms = Double(histogram.valueAtPercentile(95))
            figures.p99Ms = Double(histogram.valueAtPercentile(99))
        }
        if let maxMs = totals.maxMs { figures.maxMs = Double(maxMs) }
        return figures
    }

    /// The figures of every endpoint over a window ending at the newest log time (or at `end` if given).
    public func snapshot(_ window: TrafficWindow, end: Int64? = nil) -> TrafficSnapshot {
        let to = end ?? now
        var endpoints: [EndpointTraffic] = []
        endpoints.reserveCapacity(classifier.endpoints.count)
        let length = window.seconds
        let from: Int64
        var rate = RateSpan()
        if let to {
            from = length.map { to - $0 + 1 } ?? first
            rate = rateSpan(countedFrom: length == nil ? first : WindowedStats.countedFrom(from, to: to), to: to)
        } else {
            from = 0
        }
        if let to, verdictsKey != (lines, changes, to) {
            verdicts = classifier.endpoints.indices.map { verdict($0, end: to) }
            verdictsKey = (lines, changes, to)
        }
        for (index, id) in classifier.endpoints.enumerated() {
            var stats = EndpointStats(window: window)
            var verdict = Verdict.unknown
            if let to {
                let windowEnd: Int64? = length == nil ? nil : to
                stats.current = figures(pairs[index * 2], from: from, to: windowEnd, rate: rate)
                stats.new = figures(pairs[index * 2 + 1], from: from, to: windowEnd, rate: rate)
                let epoch = epochs[index]
                if let change = epoch.last, length == nil || change.time >= from {
                    stats.since = change.time
                    let seconds = max(1, to - max(change.time, first) + 1)
                    stats.sinceCurrent = epoch.since[0].figures(seconds: seconds)
                    stats.sinceNew = epoch.since[1].figures(seconds: seconds)
                }
                fillComparisons(&stats, endpoint: index, from: from, to: windowEnd)
                verdict = verdicts[index]
            }
            let counts = requestSeries(index, to: to)
            var entry = EndpointTraffic(id: id, name: classifier.names[index], stats: stats,
                                        newShareSeries: zip(counts.current, counts.new).map { c, n in c + n > 0 ? Double(n) / Double(c + n) : nil },
                                        verdict: verdict, timeline: to.map { timeline(index, window: window, to: $0) },
                                        currentRequestSeries: counts.current, newRequestSeries: counts.new)
            if let hostFigures {
                entry.byHost = hostFigures.split(endpoint: index)
                entry.lingeringHosts = hostFigures.lingeringHosts(endpoint: index).map { LingeringHost(name: $0.name, requests: $0.requests) }
            }
            endpoints.append(entry)
        }
        let top = heavyHitters.top(configuration.notMigratedReported).map { PathCount(path: $0.label, requests: Int($0.count)) }
        var snapshot = TrafficSnapshot(window: window, logTime: to, endpoints: endpoints, notMigrated: top, malformed: [:],
                                       lines: lines, unclassified: unclassified)
        snapshot.hosts = hostFigures?.hostTraffic(end: to, clock: nil) ?? []
        return snapshot
    }

    /// The verdict of an endpoint from what its services did since its last routing change: against the current
    /// service over the same requests, or (at 100%) against the current service before the change; after a
    /// rollback `no_baseline`, with the verdict of the stretch before it.
    private func verdict(_ index: Int, end: Int64) -> Verdict {
        let epoch = epochs[index]
        let settings = configuration.verdict
        let percent = percentKnown[index] ? configuredPercent[index] : nil
        let since = epoch.last?.time
        var new = epoch.since[1]
        // The new service's rate since the change (or since the first line read).
        let start = max(since.map { $0 + EndpointEpochs.settleSeconds } ?? first, first)
        new.rate = end > start ? Double(new.requests) / Double(end - start + 1) : 0
        var current = epoch.since[0]
        var historical = false
        if let percent, percent >= 100, epoch.hasBefore, epoch.before[0].requests > 0 {
            current = epoch.before[0]
            historical = true
        }
        var verdict = Verdict.judge(current: current, new: new, configuredPercent: percent, historical: historical,
                                    since: since, settings: settings)
        if let change = epoch.last, change.rollback, (percent ?? 0) <= 0 || epoch.since[1].requests == 0 {
            let start = epoch.previousStart == .min ? nil : epoch.previousStart
            let before = Verdict.judge(current: epoch.before[0], new: epoch.before[1], configuredPercent: nil, since: start, settings: settings)
            verdict.state = .noBaseline
            verdict.baseline = .none
            verdict.rolledBackAt = change.time
            var line = "rolled back at \(settings.clock(change.time))"
            if epoch.before[1].requests > 0 {
                verdict.previous = PreviousVerdict(state: before.state, reasons: before.reasons, rolledBackAt: change.time)
                line += "; was \(before.summary)"
            }
            verdict.reasons = [line] + verdict.reasons
            verdict.neededRequests = nil
        }
        return verdict
    }

    private func fillComparisons(_ stats: inout EndpointStats, endpoint: Int, from: Int64, to: Int64?) {
        let current = stats.comparedCurrent, new = stats.comparedNew
        let total = current.requests + new.requests
        if total > 0 {
            stats.observedPercent = 100 * Double(new.requests) / Double(total)
            if let ci = Proportions.wilson(successes: new.requests, trials: total) {
                stats.observedPercentCI = [100 * ci.low, 100 * ci.high]
            }
        }
        if let currentRate = current.errorRate, let newRate = new.errorRate {
            stats.errorRateDelta = newRate - currentRate
            stats.errorRateDeltaPValue = Proportions.twoProportionPValue(x1: new.status.s5xx, n1: new.requests,
                                                                         x2: current.status.s5xx, n2: current.requests)
        }
        if let a = new.p50Ms, let b = current.p50Ms { stats.p50DeltaMs = a - b }
        if let a = new.p95Ms, let b = current.p95Ms { stats.p95DeltaMs = a - b }
        if let a = new.p99Ms, let b = current.p99Ms { stats.p99DeltaMs = a - b }
        guard let percent = configuredPercent[endpoint] else { return }
        stats.configuredPercent = percent
        var counted: (current: Int, new: Int)
        if stats.since != nil {
            // The split since the last routing change, counted exactly.
            counted = (current.requests, new.requests)
        } else if let to {
            counted = sinceCounts(endpoint, since: max(from, changedAt[endpoint]), to: to, changedInside: changedAt[endpoint] > from)
        } else {
            counted = (sinceChange[endpoint * 2], sinceChange[endpoint * 2 + 1])
        }
        let n = counted.current + counted.new
        guard n > 0 else { return }
        let p = Proportions.sampleRatioPValue(newCount: counted.new, total: n, configuredFraction: min(1, max(0, percent / 100)))
        stats.splitPValue = p
        stats.splitMismatch = p < 0.001
    }

    /// Each service's requests in each of the last `seriesSeconds` seconds up to `to`, oldest first.
    private func requestSeries(_ endpoint: Int, to: Int64?) -> (current: [Int], new: [Int]) {
        guard let to else { return ([], []) }
        let from = to - Int64(configuration.seriesSeconds) + 1
        return (pairs[endpoint * 2].perSecond(from: from, to: to), pairs[endpoint * 2 + 1].perSecond(from: from, to: to))
    }

    private func timeline(_ endpoint: Int, window: TrafficWindow, to: Int64) -> EndpointTimeline {
        EndpointTimeline.make(window: window, to: to, current: pairs[endpoint * 2], new: pairs[endpoint * 2 + 1])
    }

    /// Approximate bytes held by the per-endpoint statistics.
    public var statisticsFootprint: Int { pairs.reduce(0) { $0 + $1.footprint } }

    /// Not-migrated paths tracked now (bounded by `notMigratedCapacity`).
    public var trackedNotMigratedPaths: Int { heavyHitters.count }
}

/// The routing state a partial aggregate starts from (see `TrafficAggregator.partialSeed`).
struct PartialSeed: Sendable {
    var configuration: TrafficConfiguration
    var epochs: [(last: RoutingChange?, previousStart: Int64)]
    var changedAt: [Int64]
    /// Per endpoint, the rollback whose lingering hosts are being counted (log time; `.max` for none).
    var rolledBackAt: [Int64]
}

/// The not-migrated paths of a backfill range in the order read, with the label of each (its normalised path).
final class DeferredPaths {
    private(set) var hashes: [UInt64] = []
    private(set) var labels: [UInt64: String] = [:]

    @inline(__always)
    func note(_ hash: UInt64, label: () -> String) {
        hashes.append(hash)
        if labels[hash] == nil { labels[hash] = label() }
    }
}
