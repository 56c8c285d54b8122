import Dashboard
import Foundation
import Rollout
import TrafficStats

/// Traffic figures for the screen tests written out as plain values, so a change in the statistics code does
/// not re-record the UI snapshots (the simulator and the aggregator have tests of their own).
enum PlainFixtures {
    /// One service's figures in a line: requests, req/s, 5xx count, latencies.
    struct Side {
        var requests: Int
        var rps: Double
        var errors: Int
        var p50: Double, p90: Double, p95: Double, p99: Double, max: Double

        var figures: BackendFigures {
            let s5xx = errors, s4xx = requests / 40
            return BackendFigures(requests: requests, rps: rps, status: StatusCounts(s2xx: requests - s5xx - s4xx, s4xx: s4xx, s5xx: s5xx),
                                  errorRate: requests > 0 ? Double(errors) / Double(requests) : nil,
                                  p50Ms: requests > 0 ? p50 : nil, p90Ms: requests > 0 ? p90 : nil, p95Ms: requests > 0 ? p95 : nil,
                                  p99Ms: requests > 0 ? p99 : nil, maxMs: requests > 0 ? max : nil)
        }
    }

    /// One endpoint: its figures and how its new-service share moved over the window.
    struct Entry {
        var name: String
        var current: Side
        var new: Side
        /// The share (percent) before and after `changeAt` (a fraction of the window), for the timeline.
        var shareBefore: Double
        var shareAfter: Double
        var changeAt: Double = 0
        var errorPValue: Double = 0.5
        var splitMismatch = false
        /// The core's verdict, written out (the verdict's own tests prove how it is reached).
        var verdict = Verdict(state: .healthy, reasons: ["no worse than the current service"], baseline: .concurrent)
    }

    /// When search.query was ramped to 50% (two minutes before `Fixtures.epoch`).
    static let changeTime: Int64 = 1_795_831_200 - 120

    /// The demo's ten endpoints: search.query bad (5xx and p99 up since its ramp to 50%), user.get_profile
    /// worth watching (slower at p95), user.get_bookmarks with too few new requests to judge, the rest fine.
    static let entries: [Entry] = [
        Entry(name: "book.get_chapter_details", current: Side(requests: 0, rps: 0, errors: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0),
              new: Side(requests: 6000, rps: 20, errors: 5, p50: 18, p90: 31, p95: 39, p99: 52, max: 210), shareBefore: 100, shareAfter: 100),
        Entry(name: "book.chapters_by_status", current: Side(requests: 3300, rps: 11, errors: 12, p50: 61, p90: 120, p95: 155, p99: 305, max: 900),
              new: Side(requests: 1050, rps: 3.5, errors: 5, p50: 24, p90: 44, p95: 54, p99: 67, max: 240), shareBefore: 25, shareAfter: 25),
        Entry(name: "book.get_book_info", current: Side(requests: 4200, rps: 14, errors: 18, p50: 40, p90: 70, p95: 85, p99: 208, max: 700),
              new: Side(requests: 1350, rps: 4.5, errors: 2, p50: 15, p90: 27, p95: 32, p99: 47, max: 160), shareBefore: 25, shareAfter: 25),
        Entry(name: "user.get_bookmarks", current: Side(requests: 3600, rps: 12, errors: 15, p50: 45, p90: 80, p95: 93, p99: 198, max: 620),
              new: Side(requests: 12, rps: 0.04, errors: 0, p50: 20, p90: 35, p95: 43, p99: 43, max: 43), shareBefore: 1, shareAfter: 1,
              verdict: Verdict(state: .notEnoughData, reasons: ["needs about 400 more new-service requests"], neededRequests: 400)),
        Entry(name: "user.get_profile", current: Side(requests: 1920, rps: 6.4, errors: 12, p50: 30, p90: 60, p95: 76, p99: 136, max: 400),
              new: Side(requests: 1920, rps: 6.4, errors: 3, p50: 38, p90: 95, p95: 118, p99: 160, max: 450), shareBefore: 50, shareAfter: 50,
              verdict: Verdict(state: .watch, reasons: ["p95 is 42 ms slower on the new service"], baseline: .concurrent)),
        Entry(name: "search.query", current: Side(requests: 2220, rps: 7.4, errors: 2, p50: 89, p90: 175, p95: 227, p99: 437, max: 1171),
              new: Side(requests: 2160, rps: 7.2, errors: 128, p50: 106, p90: 263, p95: 591, p99: 1543, max: 4645),
              shareBefore: 25, shareAfter: 50, changeAt: 0.57, errorPValue: 1e-12,
              verdict: Verdict(state: .bad, reasons: ["5xx 5.9% on the new service vs 0.1% on the current one"],
                               since: PlainFixtures.changeTime, baseline: .concurrent)),
        Entry(name: "book.list_reviews", current: Side(requests: 1920, rps: 6.4, errors: 7, p50: 50, p90: 110, p95: 144, p99: 285, max: 800),
              new: Side(requests: 720, rps: 2.4, errors: 0, p50: 20, p90: 40, p95: 51, p99: 72, max: 180), shareBefore: 25, shareAfter: 25),
        Entry(name: "catalog.get_categories", current: Side(requests: 0, rps: 0, errors: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0),
              new: Side(requests: 2070, rps: 6.9, errors: 2, p50: 9, p90: 14, p95: 16, p99: 22, max: 90), shareBefore: 100, shareAfter: 100),
        Entry(name: "user.get_history", current: Side(requests: 2610, rps: 8.7, errors: 8, p50: 60, p90: 140, p95: 174, p99: 293, max: 820),
              new: Side(requests: 120, rps: 0.4, errors: 0, p50: 30, p90: 60, p95: 78, p99: 94, max: 130), shareBefore: 5, shareAfter: 5),
        Entry(name: "book.get_recommendations", current: Side(requests: 2940, rps: 9.8, errors: 10, p50: 100, p90: 250, p95: 317, p99: 851, max: 2400),
              new: Side(requests: 180, rps: 0.6, errors: 0, p50: 40, p90: 90, p95: 119, p99: 153, max: 300), shareBefore: 5, shareAfter: 5),
    ]

    /// The stats of one entry over `window`, with the comparisons the aggregator would fill in.
    static func stats(_ e: Entry, window: TrafficWindow) -> EndpointStats {
        let current = e.current.figures, new = e.new.figures
        var s = EndpointStats(window: window, current: current, new: new)
        let total = current.requests + new.requests
        if total > 0 {
            let p = Double(new.requests) / Double(total)
            s.observedPercent = 100 * p
            let half = 196 * (p * (1 - p) / Double(total)).squareRoot()
            s.observedPercentCI = [max(0, 100 * p - half), min(100, 100 * p + half)]
        }
        if let a = new.errorRate, let b = current.errorRate {
            s.errorRateDelta = a - b
            s.errorRateDeltaPValue = e.errorPValue
        }
        if let a = new.p50Ms, let b = current.p50Ms { s.p50DeltaMs = a - b }
        if let a = new.p95Ms, let b = current.p95Ms { s.p95DeltaMs = a - b }
        if let a = new.p99Ms, let b = current.p99Ms { s.p99DeltaMs = a - b }
        s.splitMismatch = e.splitMismatch
        s.configuredPercent = e.shareAfter
        return s
    }

    /// A timeline of 30 ten-second buckets ending at `end`: the share steps at `changeAt`, small regular wiggles
    /// (no randomness), and for a bad endpoint 5xx and p99 rising after the change.
    static func timeline(_ e: Entry, end: Int64) -> EndpointTimeline {
        let count = 30, slices = 5
        let start = end - 10 * Int64(count - 1)
        var current: [Int] = [], new: [Int] = [], currentErrors: [Int] = [], newErrors: [Int] = []
        let perBucket = Double(e.current.requests + e.new.requests) / Double(count)
        for i in 0..<count {
            let after = Double(i) / Double(count) >= e.changeAt
            let share = (after ? e.shareAfter : e.shareBefore) / 100
            let wiggle = 1 + 0.08 * sin(Double(i) * 1.7)
            let n = Int((perBucket * share * wiggle).rounded()), c = Int((perBucket * (1 - share) / wiggle).rounded())
            current.append(c)
            new.append(n)
            currentErrors.append(c > 0 && i % 9 == 4 ? 1 : 0)
            let newRate = e.new.requests > 0 ? Double(e.new.errors) / Double(e.new.requests) : 0
            newErrors.append(Int((Double(n) * newRate * (after && e.changeAt > 0 ? 1.6 : (e.changeAt > 0 ? 0.1 : 1)) ).rounded()))
        }
        let sliceStart = end / 60 * 60 - 60 * Int64(slices - 1)
        let currentP99: [Double?] = (0..<slices).map { e.current.requests > 0 ? e.current.p99 * (1 + 0.05 * Double($0 % 2)) : nil }
        let newP99: [Double?] = (0..<slices).map { i in
            guard e.new.requests > 0 else { return nil }
            let after = Double(i) / Double(slices) >= e.changeAt
            return e.new.p99 * (e.changeAt > 0 && !after ? 0.3 : 1) * (1 + 0.04 * Double(i % 3))
        }
        return EndpointTimeline(start: start, bucketSeconds: 10, currentRequests: current, newRequests: new, currentErrors: currentErrors,
                                newErrors: newErrors, latencyStart: sliceStart, latencySliceSeconds: 60,
                                currentP99: currentP99, newP99: newP99)
    }

    /// The demo config's endpoint identities by short name (the entries are written by name).
    static let ids: [String: EndpointID] = {
        let model = (try? Fixtures.loaded().model)?.endpoints ?? []
        return Dictionary(model.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
    }()

    /// The snapshot of every entry for a five-minute window ending at `logTime`.
    static func snapshot(logTime: Int64, window: TrafficWindow = .fiveMinutes) -> TrafficSnapshot {
        let endpoints = entries.map { e in
            // The last minute's per-second new share: the share the endpoint is at now.
            EndpointTraffic(id: ids[e.name] ?? EndpointID(raw: e.name), name: e.name, stats: stats(e, window: window),
                            newShareSeries: Array(repeating: e.shareAfter / 100, count: 60), verdict: e.verdict,
                            timeline: timeline(e, end: logTime))
        }
        let lines = entries.reduce(0) { $0 + $1.current.requests + $1.new.requests }
        return TrafficSnapshot(window: window, logTime: logTime, endpoints: endpoints,
                               notMigrated: [PathCount(path: "/v2/content_api/legacy.export", requests: 1200),
                                             PathCount(path: "/v2/content_api/admin.stats", requests: 310)],
                               malformed: [:], lines: lines, unclassified: 0)
    }
}
