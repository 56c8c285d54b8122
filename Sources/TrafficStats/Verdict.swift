import Foundation
import Histogram

/// What the judgement of an endpoint says about its new service.
public enum VerdictState: String, Sendable, Hashable, CaseIterable, Codable {
    /// With confidence, no worse than the current service beyond the margins on every guarded metric.
    case healthy
    /// With confidence, worse than the current service beyond a margin on some guarded metric.
    case bad
    /// Neither yet, but an estimate is worse than a margin while the new service is confidently worse than the
    /// current one, or something else needs a look (4xx, split).
    case watch
    /// Neither yet: more requests are needed.
    case notEnoughData = "not_enough_data"
    /// Nothing to compare: the endpoint is at 0% or 100%, or one side has no traffic.
    case noBaseline = "no_baseline"

    /// How urgently the operator should look: bad first, then watch, then not enough data, no baseline, healthy.
    public var severity: Int {
        switch self {
        case .bad: return 4
        case .watch: return 3
        case .notEnoughData: return 2
        case .noBaseline: return 1
        case .healthy: return 0
        }
    }
}

/// The margins and confidence levels the verdict judges with (the `verdict:` key of `cutover.yaml`).
public struct VerdictSettings: Sendable, Hashable {
    /// The confidence of every claim, per metric (0.99: each `healthy` or `bad` claim is wrong at most 1% of the
    /// time, however often it is looked at).
    public var confidence: Double
    /// How much higher the new service's 5xx share may be, as a share (0.005 is 0.5 percentage points).
    public var errorMargin: Double
    /// How much slower the new service's p95 and p99 may be, as a fraction (0.2 is 20%).
    public var latencyMargin: Double
    /// The smallest latency increase that counts, in milliseconds (with `latencyMargin`, whichever is larger).
    public var latencyMarginMinMs: Double
    /// Whether a confident 4xx-share increase on the new service is a `watch` reason.
    public var watchClientErrors: Bool
    /// The confidence of the sample-ratio-mismatch test (0.999, as the experimentation platforms flag at p < 0.001).
    public var splitConfidence: Double
    /// The time zone the reasons write clock times in.
    public var timeZone: TimeZone

    /// Creates settings; the defaults are the documented ones.
    public init(confidence: Double = 0.99, errorMargin: Double = 0.005, latencyMargin: Double = 0.2, latencyMarginMinMs: Double = 5,
                watchClientErrors: Bool = true, splitConfidence: Double = 0.999, timeZone: TimeZone = .current) {
        self.confidence = confidence
        self.errorMargin = errorMargin
        self.latencyMargin = latencyMargin
        self.latencyMarginMinMs = latencyMarginMinMs
        self.watchClientErrors = watchClientErrors
        self.splitConfidence = splitConfidence
        self.timeZone = timeZone
    }

    /// The error level of each claim (`1 - confidence`).
    public var alpha: Double { min(0.5, max(1e-12, 1 - confidence)) }

    /// `HH:MM:SS` of a Unix time in `timeZone`.
    public func clock(_ time: Int64) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(time)))
        return String(format: "%02d:%02d:%02d", c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }
}

/// What the current-service side of a comparison is.
public enum VerdictBaseline: String, Sendable, Hashable, Codable {
    /// The current service over the same stretch of time (the split runs both at once).
    case concurrent
    /// The current service before the endpoint's last change (the endpoint is at 100% now).
    case historical
    /// Nothing to compare with.
    case none
}

/// The verdict an endpoint had before it was rolled back.
public struct PreviousVerdict: Sendable, Hashable {
    /// The state then.
    public var state: VerdictState
    /// Its reasons then.
    public var reasons: [String]
    /// When the rollback was (Unix seconds).
    public var rolledBackAt: Int64

    /// Creates a record.
    public init(state: VerdictState, reasons: [String], rolledBackAt: Int64) {
        self.state = state
        self.reasons = reasons
        self.rolledBackAt = rolledBackAt
    }
}

/// The judgement of one endpoint's new service against its current one: a state, its reasons in the operator's
/// words, and how many more requests a decision needs.
///
/// Computed with every snapshot by the core (`TrafficAggregator`) and carried on it; the dashboard, `status` and
/// everything after them read this value and decide nothing themselves.
public struct Verdict: Sendable, Hashable {
    /// The state.
    public var state: VerdictState
    /// Why, most important first, in words an operator acts on.
    public var reasons: [String]
    /// About how many more new-service requests a decision needs (for `not_enough_data`), nil otherwise.
    public var neededRequests: Int?
    /// The start of the requests judged (the endpoint's last routing change, Unix seconds); nil when no change is
    /// known and every request read counts.
    public var since: Int64?
    /// What the new service is compared with.
    public var baseline: VerdictBaseline
    /// When the endpoint was rolled back, if its last change was a rollback.
    public var rolledBackAt: Int64?
    /// The verdict before the rollback, when the requests before it are known.
    public var previous: PreviousVerdict?
    /// New-service requests judged.
    public var newRequests: Int
    /// Current-service requests judged (the historical ones for a historical baseline).
    public var currentRequests: Int

    /// Creates a verdict.
    public init(state: VerdictState, reasons: [String] = [], neededRequests: Int? = nil, since: Int64? = nil,
                baseline: VerdictBaseline = .none, rolledBackAt: Int64? = nil, previous: PreviousVerdict? = nil,
                newRequests: Int = 0, currentRequests: Int = 0) {
        self.state = state
        self.reasons = reasons
        self.neededRequests = neededRequests
        self.since = since
        self.baseline = baseline
        self.rolledBackAt = rolledBackAt
        self.previous = previous
        self.newRequests = newRequests
        self.currentRequests = currentRequests
    }

    /// The verdict before any line is read.
    public static let unknown = Verdict(state: .notEnoughData, reasons: ["no requests read yet"])
}

/// What one service did for one endpoint over the requests judged: counts by status class, the 5xx made by nginx
/// itself, and the latency distribution.
public struct SideEvidence: Sendable {
    /// Requests.
    public var requests: Int = 0
    /// Requests by status class.
    public var status = StatusCounts()
    /// 5xx responses nginx made itself (no upstream answered, or nginx's 502/504 for a failed or timed-out upstream).
    public var nginx5xx = 0
    /// 5xx responses for which the log says whether an upstream answered (the format has `$upstream_status` or
    /// `$upstream_addr`).
    public var attributed5xx = 0
    /// Latencies in milliseconds, nil when the log has none.
    public var latency: Histogram<UInt32>?
    /// Requests per second lately, for the "how long until a decision" estimate.
    public var rate: Double = 0

    /// Creates empty evidence.
    public init() {}

    /// Counts one request.
    public mutating func record(status code: Int, latencyMs: Int?, nginxMade: Bool?) {
        requests += 1
        switch code {
        case 200..<300: status.s2xx += 1
        case 300..<400: status.s3xx += 1
        case 400..<500: status.s4xx += 1
        case 500..<600:
            status.s5xx += 1
            if let nginxMade {
                attributed5xx += 1
                if nginxMade { nginx5xx += 1 }
            }
        default: break
        }
        if let latencyMs {
            if case .none = latency { latency = WindowedStats.latencyHistogram() }
            LatencyHistograms.record(UInt64(max(0, latencyMs)), in: &latency)
        }
    }

    /// Adds the requests counted in `other` (the same as recording them here; `rate` is left as it is).
    public mutating func add(_ other: SideEvidence) {
        requests += other.requests
        status.s2xx += other.status.s2xx
        status.s3xx += other.status.s3xx
        status.s4xx += other.status.s4xx
        status.s5xx += other.status.s5xx
        nginx5xx += other.nginx5xx
        attributed5xx += other.attributed5xx
        if let histogram = other.latency {
            if latency == nil { latency = histogram } else { LatencyHistograms.add(histogram, into: &latency) }
        }
    }

    /// The figures these counts make (the per-backend columns of a since-change comparison).
    public func figures(seconds: Int64) -> BackendFigures {
        var f = BackendFigures(requests: requests, rps: seconds > 0 ? Double(requests) / Double(seconds) : 0, status: status)
        if requests > 0 { f.errorRate = Double(status.s5xx) / Double(requests) }
        if let h = latency, h.totalCount > 0 {
            f.p50Ms = Double(h.valueAtPercentile(50))
            f.p90Ms = Double(h.valueAtPercentile(90))
            f.p95Ms = Double(h.valueAtPercentile(95))
            f.p99Ms = Double(h.valueAtPercentile(99))
            f.maxMs = Double(h.max)
        }
        return f
    }
}

extension Verdict {
    /// The outcome of one guarded metric.
    enum Outcome {
        case healthy, bad, undecided
    }

    /// One guarded metric's judgement, with its reason and how to tell when more data decides it.
    struct Check {
        var name: String
        var outcome: Outcome
        /// The estimate is worse than the margin and the new service is worse than the current one with
        /// confidence (a `watch` reason while undecided: a handful of requests alone never makes one).
        var worseThanMargin: Bool
        var reason: String
        /// Whether `scale` times the data (the same estimates) would decide it; nil when it cannot tell.
        var decidedAt: ((Double) -> Bool)?
    }

    /// Judges an endpoint from what each side did since its last change.
    ///
    /// - Parameters:
    ///   - current: the current service over the same requests, or before the last change for a historical baseline.
    ///   - new: the new service since the last change.
    ///   - configuredPercent: the new-service percent the config routes, nil when unknown.
    ///   - historical: whether `current` is from before the last change (the endpoint is at 100%).
    ///   - since: the last change (Unix seconds), nil when none is known.
    public static func judge(current: SideEvidence, new: SideEvidence, configuredPercent: Double?, historical: Bool = false,
                             since: Int64?, settings: VerdictSettings) -> Verdict {
        let baseline: VerdictBaseline = historical ? .historical : .concurrent
        var verdict = Verdict(state: .notEnoughData, since: since, baseline: baseline, newRequests: new.requests,
                              currentRequests: current.requests)
        let sinceText = since.map { " since \(settings.clock($0))" } ?? ""
        if let percent = configuredPercent, percent <= 0 {
            verdict.state = .noBaseline
            verdict.baseline = .none
            verdict.reasons = ["at 0%: the new service gets no traffic to judge"]
            return verdict
        }
        if new.requests == 0 || current.requests == 0 {
            verdict.state = .noBaseline
            verdict.baseline = .none
            if new.requests == 0 {
                verdict.reasons = ["no new-service requests\(sinceText)"]
            } else if let percent = configuredPercent, percent >= 100 {
                verdict.reasons = ["at 100%: no current-service traffic to compare with, and none from before the last change in the window"]
            } else {
                verdict.reasons = ["no current-service requests\(sinceText) to compare with"]
            }
            return verdict
        }
        let alpha = settings.alpha
        var checks: [Check] = [errorCheck(current: current, new: new, settings: settings)]
        for q in [0.95, 0.99] {
            if let check = latencyCheck(q: q, current: current, new: new, settings: settings) { checks.append(check) }
        }
        var watchReasons: [String] = []
        if settings.watchClientErrors, let d = Sequential.difference(new.status.s4xx, of: new.requests, minus: current.status.s4xx, of: current.requests, alpha: alpha),
           d.lower > 0 {
            watchReasons.append("4xx \(pct(share(new.status.s4xx, new.requests))) vs \(pct(share(current.status.s4xx, current.requests))) (+\(points(d.estimate)) pp): the new service refuses requests the current one accepts (a rewrite that drops an id or a parameter?)")
        }
        if !historical, let percent = configuredPercent, percent < 100 {
            let total = new.requests + current.requests
            if Sequential.splitMismatch(newCount: new.requests, total: total, configured: percent / 100, alpha: 1 - settings.splitConfidence) {
                let observed = 100 * Double(new.requests) / Double(total)
                watchReasons.append("split \(String(format: "%.1f", observed))% observed vs \(plain(percent))% configured\(sinceText): routing is not doing what the config says (a shadowed map key, retries, caching?)")
            }
        }
        let bad = checks.filter { $0.outcome == .bad }
        let undecided = checks.filter { $0.outcome == .undecided }
        let leaning = undecided.filter(\.worseThanMargin)
        if !bad.isEmpty {
            verdict.state = .bad
            verdict.reasons = bad.map(\.reason) + leaning.map(\.reason) + watchReasons
                + undecided.filter { !$0.worseThanMargin }.map(\.reason)
        } else if !leaning.isEmpty || !watchReasons.isEmpty {
            verdict.state = .watch
            verdict.reasons = leaning.map(\.reason) + watchReasons + undecided.filter { !$0.worseThanMargin }.map(\.reason)
        } else if undecided.isEmpty {
            verdict.state = .healthy
            verdict.reasons = checks.map(\.reason)
        } else {
            verdict.state = .notEnoughData
            verdict.reasons = undecided.map(\.reason)
            verdict.neededRequests = neededRequests(undecided, newRequests: new.requests)
            if let needed = verdict.neededRequests {
                var text = "needs about \(grouped(needed)) more new-service requests"
                if new.rate > 0 { text += ", ~\(duration(Double(needed) / new.rate)) at the current rate" }
                verdict.reasons.append(text)
            } else {
                verdict.reasons.append("the estimates sit on the margins: more requests may not decide it soon")
            }
        }
        if historical { verdict.reasons.append("baseline: the current service before the last change\(sinceText) (historical, not concurrent)") }
        // Where the new service's errors come from matters when they are the trouble.
        if let errors = checks.first, errors.outcome == .bad || errors.worseThanMargin {
            verdict.reasons += errorOrigins(new: new, current: current)
        }
        return verdict
    }

    /// The 5xx comparison: healthy when the whole interval for (new - current) lies below the margin, bad when it
    /// lies wholly above it.
    static func errorCheck(current: SideEvidence, new: SideEvidence, settings: VerdictSettings) -> Check {
        let margin = settings.errorMargin, alpha = settings.alpha
        let x1 = new.status.s5xx, n1 = new.requests, x2 = current.status.s5xx, n2 = current.requests
        let bounds = Sequential.difference(x1, of: n1, minus: x2, of: n2, alpha: alpha)
        let estimate = bounds?.estimate ?? 0
        var outcome = Outcome.undecided
        if let bounds, bounds.lower > margin { outcome = .bad } else if let bounds, bounds.upper < margin { outcome = .healthy }
        let sign = estimate >= 0 ? "+" : "−"
        let reason = "5xx \(pct(share(x1, n1))) vs \(pct(share(x2, n2))) (\(sign)\(points(abs(estimate))) pp, margin \(points(margin)) pp)"
        let worse = estimate > margin && (bounds?.lower ?? 0) > 0
        return Check(name: "5xx", outcome: outcome, worseThanMargin: worse, reason: reason, decidedAt: { k in
            let a = Int((Double(x1) * k).rounded()), b = Int((Double(x2) * k).rounded())
            guard let s = Sequential.difference(a, of: Int(Double(n1) * k), minus: b, of: Int(Double(n2) * k), alpha: alpha) else { return false }
            return s.lower > margin || s.upper < margin
        })
    }

    /// A latency quantile comparison, valid sequentially: with `c` the current service's q-quantile, the share of
    /// new-service requests slower than `max(c·(1+margin), c+min)` is a proportion that is at most `1 - q` when
    /// the new service's q-quantile is within the margin. `c` is itself estimated (from the current service's
    /// sample, usually the larger one): for `bad` the quantile's upper confidence bound is used, for `healthy` its
    /// lower one, half of the error level going to that bound and half to the proportion.
    static func latencyCheck(q: Double, current: SideEvidence, new: SideEvidence, settings: VerdictSettings) -> Check? {
        guard let ch = current.latency, let nh = new.latency, ch.totalCount > 0, nh.totalCount > 0 else { return nil }
        let alpha = settings.alpha / 2
        let label = q == 0.99 ? "p99" : "p95"
        let tail = 1 - q
        let nc = Int(ch.totalCount), nn = Int(nh.totalCount)
        func threshold(_ c: Double) -> Double { max(c * (1 + settings.latencyMargin), c + settings.latencyMarginMinMs) }
        // The new requests in the buckets above t's (the tail: a short walk).
        func above(_ t: Double) -> Int {
            let from = nh.nextNonEquivalentForValue(UInt64(max(0, t.rounded(.down))))
            return from > nh.maxRecorded ? 0 : Int(nh.count(within: from...nh.maxRecorded))
        }
        func quantileBounds(scale k: Double) -> (low: Double, high: Double?) {
            let n = Double(nc) * k
            let half = (q * (1 - q) / n).squareRoot() * Sequential.multiplier(n: n, alpha: alpha)
            let low = Double(ch.valueAtPercentile(max(0, q - half) * 100))
            let high: Double? = q + half < 1 ? Double(ch.valueAtPercentile((q + half) * 100)) : nil
            return (low, high)
        }
        func decide(scale k: Double) -> Outcome {
            let (low, high) = quantileBounds(scale: k)
            let n = Int(Double(nn) * k)
            if let high, let s = Sequential.proportion(Int((Double(above(threshold(high))) * k).rounded()), of: n, alpha: alpha), s.lower > tail {
                return .bad
            }
            if let s = Sequential.proportion(Int((Double(above(threshold(low))) * k).rounded()), of: n, alpha: alpha), s.upper < tail {
                return .healthy
            }
            return .undecided
        }
        let c = Double(ch.valueAtPercentile(q * 100)), m = Double(nh.valueAtPercentile(q * 100))
        let change = c > 0 ? (m - c) / c : 0
        let sign = change >= 0 ? "+" : "−"
        let marginText = settings.latencyMarginMinMs > 0
            ? "margin \(plain(settings.latencyMargin * 100))%, at least \(plain(settings.latencyMarginMinMs)) ms"
            : "margin \(plain(settings.latencyMargin * 100))%"
        let reason = "\(label) \(Int(m)) ms vs \(Int(c)) ms (\(sign)\(Int((abs(change) * 100).rounded()))%, \(marginText))"
        // Worse with confidence, margin aside: more than 1 - q of the new requests above the current q-quantile's
        // upper bound.
        var worse = false
        if m > threshold(c), let high = quantileBounds(scale: 1).high, let s = Sequential.proportion(above(high), of: nn, alpha: alpha) {
            worse = s.lower > tail
        }
        return Check(name: label, outcome: decide(scale: 1), worseThanMargin: worse, reason: reason,
                     decidedAt: { decide(scale: $0) != .undecided })
    }

    /// How many more new-service requests would decide every undecided check if the estimates held: the smallest
    /// growth factor that decides them all (searched on a doubling grid, then bisected), nil beyond 1,000 times.
    static func neededRequests(_ checks: [Check], newRequests: Int) -> Int? {
        func decidesAll(_ k: Double) -> Bool { checks.allSatisfy { $0.decidedAt?(k) ?? false } }
        var high = 1.25
        while !decidesAll(high) {
            high *= 2
            if high > 1000 { return nil }
        }
        var low = high / 2
        // Six halvings: within 2% of the factor, finer than the two significant figures reported.
        for _ in 0..<6 {
            let mid = (low + high) / 2
            if decidesAll(mid) { high = mid } else { low = mid }
        }
        let more = Double(max(1, newRequests)) * (high - 1)
        // Two significant figures: this is an estimate.
        let magnitude = pow(10, max(0, floor(log10(max(1, more))) - 1))
        return max(1, Int((more / magnitude).rounded(.up) * magnitude))
    }

    /// Which 5xx nginx made itself and which the services answered, when the log tells.
    static func errorOrigins(new: SideEvidence, current: SideEvidence) -> [String] {
        guard new.attributed5xx > 0 else { return [] }
        let made = new.nginx5xx, app = new.attributed5xx - made
        if made == 0 { return ["new-service 5xx: all \(grouped(app)) from the application (the upstream answered them)"] }
        var text = "new-service 5xx: \(grouped(made)) made by nginx (502/504, no upstream answer: the new service is down, refusing connections or timing out)"
        if app > 0 { text += ", \(grouped(app)) from the application" }
        if current.attributed5xx > 0 { text += "; current service: \(grouped(current.nginx5xx)) by nginx, \(grouped(current.attributed5xx - current.nginx5xx)) from the application" }
        return [text]
    }

    static func share(_ x: Int, _ n: Int) -> Double { n > 0 ? Double(x) / Double(n) : 0 }
    static func pct(_ v: Double) -> String { String(format: "%.1f%%", v * 100) }
    static func points(_ v: Double) -> String { String(format: "%.1f", v * 100) }
    static func plain(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(format: "%.2g", v) }

    /// A count with thousands separators (2,400).
    static func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return n < 0 ? "-" + out : out
    }

    /// A rough duration (45 s, 3 min, 2 h, 3 d).
    static func duration(_ seconds: Double) -> String {
        if seconds < 90 { return "\(max(1, Int(seconds.rounded()))) s" }
        if seconds < 5400 { return "\(Int((seconds / 60).rounded())) min" }
        if seconds < 172_800 { return "\(Int((seconds / 3600).rounded())) h" }
        return "\(Int((seconds / 86400).rounded())) d"
    }

    /// A one-line summary: the state and its first reason ("bad: 5xx 4.1% vs 1.0% …").
    public var summary: String { reasons.first.map { "\(state.rawValue): \($0)" } ?? state.rawValue }
}
