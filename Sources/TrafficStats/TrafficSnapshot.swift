import Foundation
import Rollout

/// A sliding window of log time over which figures are computed.
public enum TrafficWindow: String, Sendable, Hashable, CaseIterable, Codable {
    case oneMinute = "1m"
    case fiveMinutes = "5m"
    case fifteenMinutes = "15m"
    case all

    /// The window's length in seconds, nil for `all`.
    public var seconds: Int64? {
        switch self {
        case .oneMinute: return 60
        case .fiveMinutes: return 300
        case .fifteenMinutes: return 900
        case .all: return nil
        }
    }

    /// Reads a window label (`1m`, `5m`, `15m`, `all`).
    public init?(label: String) { self.init(rawValue: label) }
}

/// The service a request went to.
public enum Backend: Int, Sendable, Hashable, CaseIterable, Codable {
    /// The current (legacy) service.
    case current = 0
    /// The new service.
    case new = 1
}

/// Request counts by status class.
public struct StatusCounts: Sendable, Hashable, Codable {
    public var s2xx: Int
    public var s3xx: Int
    public var s4xx: Int
    public var s5xx: Int

    /// Creates counts.
    public init(s2xx: Int = 0, s3xx: Int = 0, s4xx: Int = 0, s5xx: Int = 0) {
        self.s2xx = s2xx
        self.s3xx = s3xx
        self.s4xx = s4xx
        self.s5xx = s5xx
    }

    enum CodingKeys: String, CodingKey {
        case s2xx = "2xx", s3xx = "3xx", s4xx = "4xx", s5xx = "5xx"
    }
}

/// The figures of one backend of one endpoint over a window; unknown values are nil.
public struct BackendFigures: Sendable, Hashable, Codable {
    public var requests: Int
    /// Requests per second of log time over the window's covered span, leaving out the newest second (still being
    /// written) and the first two seconds read (read from their middle) when other seconds are covered.
    public var rps: Double
    public var status: StatusCounts
    /// The share of 5xx responses, nil without requests.
    public var errorRate: Double?
    public var p50Ms: Double?
    public var p90Ms: Double?
    public var p95Ms: Double?
    public var p99Ms: Double?
    public var maxMs: Double?

    /// Creates figures.
    public init(requests: Int = 0, rps: Double = 0, status: StatusCounts = StatusCounts(), errorRate: Double? = nil,
                p50Ms: Double? = nil, p90Ms: Double? = nil, p95Ms: Double? = nil, p99Ms: Double? = nil, maxMs: Double? = nil) {
        self.requests = requests
        self.rps = rps
        self.status = status
        self.errorRate = errorRate
        self.p50Ms = p50Ms
        self.p90Ms = p90Ms
        self.p95Ms = p95Ms
        self.p99Ms = p99Ms
        self.maxMs = maxMs
    }

    /// The share of 4xx responses, nil without requests.
    public var clientErrorRate: Double? { requests > 0 ? Double(status.s4xx) / Double(requests) : nil }

    enum CodingKeys: String, CodingKey {
        case requests, rps, status
        case errorRate = "error_rate"
        case p50Ms = "p50_ms", p90Ms = "p90_ms", p95Ms = "p95_ms", p99Ms = "p99_ms", maxMs = "max_ms"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(requests, forKey: .requests)
        try c.encode(rps, forKey: .rps)
        try c.encode(status, forKey: .status)
        try c.encode(errorRate, forKey: .errorRate)
        try c.encode(p50Ms, forKey: .p50Ms)
        try c.encode(p90Ms, forKey: .p90Ms)
        try c.encode(p95Ms, forKey: .p95Ms)
        try c.encode(p99Ms, forKey: .p99Ms)
        try c.encode(maxMs, forKey: .maxMs)
    }
}

/// The figures of one endpoint over one window: both backends, the observed split and the deltas.
///
/// Encodes to the `"stats"` object of `cutover status --json` (unknown values as null).
public struct EndpointStats: Sendable, Hashable, Codable {
    public var window: TrafficWindow
    public var current: BackendFigures
    public var new: BackendFigures
    /// The new service's share of requests in percent, nil without requests.
    public var observedPercent: Double?
    /// The 95% Wilson interval of the observed share, in percent.
    public var observedPercentCI: [Double]?
    /// Whether the observed split is incompatible with the configured percent (p < 0.001), counted since the
    /// last configuration change; nil when the configured percent is unknown or nothing was counted.
    public var splitMismatch: Bool?
    /// New minus current 5xx rate.
    public var errorRateDelta: Double?
    public var p50DeltaMs: Double?
    public var p95DeltaMs: Double?
    public var p99DeltaMs: Double?
    /// The two-proportion z-test p-value behind `errorRateDelta` (not part of the JSON figures).
    public var errorRateDeltaPValue: Double?
    /// The sample-ratio-mismatch p-value behind `splitMismatch` (not part of the JSON figures).
    public var splitPValue: Double?
    /// The configured percent the split was tested against (not part of the JSON figures).
    public var configuredPercent: Double?
    /// The endpoint's last routing change when it lies inside the window (Unix seconds): the comparisons, the
    /// observed split and `sinceCurrent`/`sinceNew` then cover only the requests since it; nil when they cover
    /// the whole window. `current` and `new` always hold the plain window totals.
    public var since: Int64?
    /// The current service since `since` (nil when `since` is nil).
    public var sinceCurrent: BackendFigures?
    /// The new service since `since` (nil when `since` is nil).
    public var sinceNew: BackendFigures?

    /// The current-service figures the comparisons use: since the last change inside the window, else the window's.
    public var comparedCurrent: BackendFigures { sinceCurrent ?? current }
    /// The new-service figures the comparisons use: since the last change inside the window, else the window's.
    public var comparedNew: BackendFigures { sinceNew ?? new }

    /// Creates stats.
    public init(window: TrafficWindow, current: BackendFigures = BackendFigures(), new: BackendFigures = BackendFigures(),
                observedPercent: Double? = nil, observedPercentCI: [Double]? = nil, splitMismatch: Bool? = nil,
                errorRateDelta: Double? = nil, p50DeltaMs: Double? = nil, p95DeltaMs: Double? = nil, p99DeltaMs: Double? = nil,
                errorRateDeltaPValue: Double? = nil, splitPValue: Double? = nil, configuredPercent: Double? = nil) {
        self.window = window
        self.current = current
        self.new = new
        self.observedPercent = observedPercent
        self.observedPercentCI = observedPercentCI
        self.splitMismatch = splitMismatch
        self.errorRateDelta = errorRateDelta
        self.p50DeltaMs = p50DeltaMs
        self.p95DeltaMs = p95DeltaMs
        self.p99DeltaMs = p99DeltaMs
        self.errorRateDeltaPValue = errorRateDeltaPValue
        self.splitPValue = splitPValue
        self.configuredPercent = configuredPercent
    }

    enum CodingKeys: String, CodingKey {
        case window, current, new
        case observedPercent = "observed_percent"
        case observedPercentCI = "observed_percent_ci"
        case splitMismatch = "split_mismatch"
        case errorRateDelta = "error_rate_delta"
        case p50DeltaMs = "p50_delta_ms", p95DeltaMs = "p95_delta_ms", p99DeltaMs = "p99_delta_ms"
        case since
        case sinceCurrent = "since_current", sinceNew = "since_new"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        window = try c.decode(TrafficWindow.self, forKey: .window)
        current = try c.decode(BackendFigures.self, forKey: .current)
        new = try c.decode(BackendFigures.self, forKey: .new)
        observedPercent = try c.decodeIfPresent(Double.self, forKey: .observedPercent)
        observedPercentCI = try c.decodeIfPresent([Double].self, forKey: .observedPercentCI)
        splitMismatch = try c.decodeIfPresent(Bool.self, forKey: .splitMismatch)
        errorRateDelta = try c.decodeIfPresent(Double.self, forKey: .errorRateDelta)
        p50DeltaMs = try c.decodeIfPresent(Double.self, forKey: .p50DeltaMs)
        p95DeltaMs = try c.decodeIfPresent(Double.self, forKey: .p95DeltaMs)
        p99DeltaMs = try c.decodeIfPresent(Double.self, forKey: .p99DeltaMs)
        since = try c.decodeIfPresent(Int64.self, forKey: .since)
        sinceCurrent = try c.decodeIfPresent(BackendFigures.self, forKey: .sinceCurrent)
        sinceNew = try c.decodeIfPresent(BackendFigures.self, forKey: .sinceNew)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(window, forKey: .window)
        try c.encode(current, forKey: .current)
        try c.encode(new, forKey: .new)
        try c.encode(observedPercent, forKey: .observedPercent)
        try c.encode(observedPercentCI, forKey: .observedPercentCI)
        try c.encode(splitMismatch, forKey: .splitMismatch)
        try c.encode(errorRateDelta, forKey: .errorRateDelta)
        try c.encode(p50DeltaMs, forKey: .p50DeltaMs)
        try c.encode(p95DeltaMs, forKey: .p95DeltaMs)
        try c.encode(p99DeltaMs, forKey: .p99DeltaMs)
        try c.encode(since, forKey: .since)
        try c.encode(sinceCurrent, forKey: .sinceCurrent)
        try c.encode(sinceNew, forKey: .sinceNew)
    }
}

/// One endpoint's entry in a snapshot: its identity, its figures and the recent per-second new-service share.
public struct EndpointTraffic: Sendable, Hashable {
    /// The endpoint's identity (its map key): what the entry is looked up by.
    public var id: EndpointID
    /// The endpoint's short name as given in the rules, for display only (two endpoints may share one).
    public var endpoint: String
    /// The figures over the snapshot's window.
    public var stats: EndpointStats
    /// The new service's share (0...1) for each of the last seconds of log time, oldest first; nil for a second
    /// without requests. Meant for a sparkline.
    public var newShareSeries: [Double?]
    /// The judgement of the endpoint's new service, computed with the snapshot.
    public var verdict: Verdict
    /// The window's figures over time, bucket by bucket; nil when not computed (no log time yet).
    public var timeline: EndpointTimeline?
    /// Requests each service answered in each of the seconds `newShareSeries` covers, oldest first (the last
    /// one is the snapshot's `logTime`); what the traffic confirmation after a change counts.
    public var currentRequestSeries: [Int]
    public var newRequestSeries: [Int]
    /// Requests read per host, in the snapshot's `hosts` order (empty without per-host sources).
    public var byHost: [HostSplit] = []
    /// Hosts that kept logging new-service requests for this endpoint after it was rolled back (past the grace
    /// for requests in flight at the reload): their nginx did not take the rollback.
    public var lingeringHosts: [LingeringHost] = []

    /// Creates an entry.
    public init(id: EndpointID, name: String, stats: EndpointStats, newShareSeries: [Double?] = [], verdict: Verdict = .unknown,
                timeline: EndpointTimeline? = nil, currentRequestSeries: [Int] = [], newRequestSeries: [Int] = []) {
        self.id = id
        self.endpoint = name
        self.stats = stats
        self.newShareSeries = newShareSeries
        self.verdict = verdict
        self.timeline = timeline
        self.currentRequestSeries = currentRequestSeries
        self.newRequestSeries = newRequestSeries
    }
}

/// A not-migrated path with its (approximate, heavy-hitter) request count.
public struct PathCount: Sendable, Hashable, Codable {
    public var path: String
    public var requests: Int

    /// Creates a count.
    public init(path: String, requests: Int) {
        self.path = path
        self.requests = requests
    }
}

/// Malformed lines of one file: how many, and the last few (made printable).
public struct MalformedLines: Sendable, Hashable {
    public var count: Int = 0
    public var samples: [String] = []

    /// Creates an empty record.
    public init() {}
}

/// Everything the ingest knows at one moment, for one window: a Sendable value for the CLI and the dashboard.
public struct TrafficSnapshot: Sendable, Hashable {
    /// The window the figures cover.
    public var window: TrafficWindow
    /// The newest log time seen (Unix seconds), the end of the windows; nil before any line.
    public var logTime: Int64?
    /// Per endpoint, in rule order.
    public var endpoints: [EndpointTraffic]
    /// The busiest paths that matched no map key, most requests first (all-time, approximate).
    public var notMigrated: [PathCount]
    /// Malformed lines per file path.
    public var malformed: [String: MalformedLines]
    /// Lines read and parsed.
    public var lines: Int
    /// Lines without a usable request path (for example a format without `$request`).
    public var unclassified: Int
    /// Files that exist but cannot be read, with what went wrong and what to do.
    public var unreadable: [String: String] = [:]
    /// Per host of the fleet (in `hosts:` order), when lines carry their host (syslog, `{host}` paths).
    public var hosts: [HostTraffic] = []
    /// What the syslog listener received and could not use; nil without a listener.
    public var syslog: SyslogCounters?

    /// Creates a snapshot (the aggregator makes them; tests and fixtures write them out).
    public init(window: TrafficWindow, logTime: Int64?, endpoints: [EndpointTraffic], notMigrated: [PathCount] = [],
                malformed: [String: MalformedLines] = [:], lines: Int = 0, unclassified: Int = 0, unreadable: [String: String] = [:]) {
        self.window = window
        self.logTime = logTime
        self.endpoints = endpoints
        self.notMigrated = notMigrated
        self.malformed = malformed
        self.lines = lines
        self.unclassified = unclassified
        self.unreadable = unreadable
    }

    /// The figures of an endpoint by identity.
    public func endpoint(_ id: EndpointID) -> EndpointTraffic? { endpoints.first { $0.id == id } }

    /// The figures of the first endpoint shown as `name` (tests and tools; names are for display and may repeat).
    public func endpoint(named name: String) -> EndpointTraffic? { endpoints.first { $0.endpoint == name } }

    /// Malformed line counts per file path, as `"malformed": {PATH: count}` prints them.
    public var malformedCounts: [String: Int] { malformed.mapValues(\.count) }
}

/// A host that logged new-service requests for an endpoint after its rollback, with how many.
public struct LingeringHost: Sendable, Hashable {
    public var name: String
    public var requests: Int

    public init(name: String, requests: Int) {
        self.name = name
        self.requests = requests
    }
}
