import Rollout
import AccessLog
import Foundation
import Testing
import TestSupport
@testable import TrafficStats

/// Builds an engine over two (possibly absent) files and feeds it lines directly.
struct Harness {
    static let format: LogFormat = {
        (try? LogFormat(name: "t", template: "$msec \"$request\" $status $request_time $upstream_addr")) ?? .combined
    }()
    let dir: LogTempDirectory
    let engine: TrafficEngine

    init(_ label: String, rules: [EndpointRule] = Harness.rules, configuration: ((inout TrafficConfiguration) -> Void)? = nil) throws {
        dir = try LogTempDirectory(label)
        var config = TrafficConfiguration(rules: rules)
        configuration?(&config)
        engine = try TrafficEngine(sources: [LogSource(path: dir.file("access.log"), role: .main, format: Self.format),
                                             LogSource(path: dir.file("migration.log"), role: .migration, format: Self.format)],
                                   start: .beginning, configuration: config, wallClock: { 5 })
    }

    static let rules = [EndpointRule(endpoint: "book", key: "~^/v2/book"), EndpointRule(endpoint: "user", key: "/v2/user")]

    static func line(_ time: Int64, _ path: String, status: Int = 200, ms: Int? = 10, upstream: String = "-") -> String {
        let rt = ms.map { String(format: "%d.%03d", $0 / 1000, $0 % 1000) } ?? "-"
        return "\(time).123 \"GET \(path) HTTP/1.1\" \(status) \(rt) \(upstream)"
    }

    func feed(_ time: Int64, _ path: String, new: Bool = false, status: Int = 200, ms: Int? = 10, upstream: String = "-") {
        let bytes = Array(Self.line(time, path, status: status, ms: ms, upstream: upstream).utf8)
        bytes.withUnsafeBytes { engine.ingest($0, source: new ? 1 : 0) }
    }
}

@Suite struct AggregatorTests {
    @Test func countsSplitErrorsAndLatencies() throws {
        let h = try Harness("agg-basic")
        defer { h.dir.remove() }
        let t: Int64 = 1_800_000_000
        for i in 0..<100 { h.feed(t, "/v2/book/\(i)?x=\(i)", status: i < 5 ? 502 : 200, ms: 10 + i % 10) }
        for i in 0..<100 { h.feed(t, "/v2/book/\(i)", new: true, status: i < 10 ? 500 : (i < 20 ? 404 : 200), ms: 20 + i % 10) }
        h.feed(t, "/v3/other")
        let s = try #require(h.engine.snapshot(.oneMinute).endpoint(named: "book")).stats
        #expect(s.current.requests == 100)
        #expect(s.new.requests == 100)
        #expect(s.current.status == StatusCounts(s2xx: 95, s3xx: 0, s4xx: 0, s5xx: 5))
        #expect(s.new.status == StatusCounts(s2xx: 80, s3xx: 0, s4xx: 10, s5xx: 10))
        #expect(s.current.errorRate == 0.05)
        #expect(s.new.errorRate == 0.10)
        #expect(s.new.clientErrorRate == 0.10)
        #expect(abs((s.errorRateDelta ?? 0) - 0.05) < 1e-12)
        #expect(s.errorRateDeltaPValue.map { $0 > 0.05 } == true)
        #expect(s.observedPercent == 50)
        #expect(s.current.p50Ms == 14)
        #expect(s.new.p50Ms == 24)
        #expect(s.current.maxMs == 19)
        #expect(s.p50DeltaMs == 10)
        #expect(s.current.rps == 100)  // all in one second of log time
        #expect(s.splitMismatch == nil)  // no configured percent yet
        let user = try #require(h.engine.snapshot(.oneMinute).endpoint(named: "user")).stats
        #expect(user.current.requests == 0)
        #expect(user.current.errorRate == nil)
        #expect(user.observedPercent == nil)
        #expect(user.p95DeltaMs == nil)
        #expect(h.engine.snapshot(.all).notMigrated == [PathCount(path: "/v3/other", requests: 1)])
    }

    @Test func windowsSlideWithLogTime() throws {
        let h = try Harness("agg-windows")
        defer { h.dir.remove() }
        let t: Int64 = 1_800_000_000
        h.feed(t, "/v2/book", ms: 500)
        h.feed(t + 30, "/v2/book", ms: 10)
        func requests(_ w: TrafficWindow) -> Int { h.engine.snapshot(w).endpoint(named: "book")?.stats.current.requests ?? -1 }
        #expect(requests(.oneMinute) == 2)
        h.feed(t + 70, "/v2/book", ms: 10)
        #expect(requests(.oneMinute) == 2)  // t fell out of the last minute
        #expect(requests(.fiveMinutes) == 3)
        #expect(h.engine.snapshot(.oneMinute).endpoint(named: "book")?.stats.current.maxMs == 10)
        #expect(h.engine.snapshot(.fiveMinutes).endpoint(named: "book")?.stats.current.maxMs == 500)
        h.feed(t + 400, "/v2/book")
        #expect(requests(.oneMinute) == 1)
        #expect(requests(.fiveMinutes) == 1)
        #expect(requests(.fifteenMinutes) == 4)
        h.feed(t + 2000, "/v2/book")
        #expect(requests(.fifteenMinutes) == 1)
        // Ending the window later (the wall clock while the log is quiet) empties it.
        #expect(h.engine.snapshot(.oneMinute, end: t + 2100).endpoint(named: "book")?.stats.current.requests == 0)
        #expect(requests(.all) == 5)
        // A line slightly out of order still lands in its second.
        h.feed(t + 1998, "/v2/book")
        #expect(requests(.oneMinute) == 2)
        let snapshot = h.engine.snapshot(.oneMinute)
        #expect(snapshot.logTime == t + 2000)
        let series = try #require(snapshot.endpoint(named: "book")).newShareSeries
        #expect(series.count == 60)
        #expect(series.last == .some(0.0))
        #expect(series[57] == .some(0.0))
        #expect(series[58] == nil)
    }

    @Test func sampleRatioMismatchCountsSinceTheLastChange() throws {
        let h = try Harness("agg-srm")
        defer { h.dir.remove() }
        let t: Int64 = 1_800_000_000
        // Before the change: 50/50.
        for i in 0..<400 { h.feed(t + Int64(i % 50), "/v2/book", new: i % 2 == 0) }
        h.engine.setConfiguredPercent(50, endpoint: EndpointID(raw: "~^/v2/book"), at: t)
        var s = try #require(h.engine.snapshot(.all).endpoint(named: "book")).stats
        #expect(s.configuredPercent == 50)
        #expect(s.splitMismatch == false)
        // Configured to 10% at t+100: old lines no longer count; a 10% split matches, 50% would not.
        h.engine.setConfiguredPercent(10, endpoint: EndpointID(raw: "~^/v2/book"), at: t + 100)
        // (The second a change lands in counts on neither side: these lines start after it.)
        for i in 0..<1000 { h.feed(t + 101 + Int64(i % 49), "/v2/book", new: i % 10 == 0) }
        s = try #require(h.engine.snapshot(.all).endpoint(named: "book")).stats
        #expect(s.splitMismatch == false)
        // The observed split counts only the requests since the change (100 of 1,000), not the window's mix.
        #expect(s.since == t + 100)
        #expect(abs((s.observedPercent ?? 0) - 10) < 1e-9)
        #expect(s.new.requests == 300 && s.current.requests == 1100)  // the plain window totals stay
        let ci = try #require(s.observedPercentCI)
        #expect(ci[0] < s.observedPercent ?? 0 && (s.observedPercent ?? 0) < ci[1])
        for i in 0..<1000 { h.feed(t + 150 + Int64(i % 20), "/v2/book", new: i % 2 == 0) }
        s = try #require(h.engine.snapshot(.all).endpoint(named: "book")).stats
        #expect(s.splitMismatch == true)
        #expect((s.splitPValue ?? 1) < 0.001)
        #expect(h.engine.snapshot(.fiveMinutes).endpoint(named: "book")?.stats.splitMismatch == true)
        h.engine.setConfiguredPercent(nil, endpoint: EndpointID(raw: "~^/v2/book"), at: t + 200)
        #expect(h.engine.snapshot(.all).endpoint(named: "book")?.stats.splitMismatch == nil)
    }

    @Test func backendFromUpstreamAddressInOneLog() throws {
        let h = try Harness("agg-upstream") { $0.newServiceUpstreams = ["127.0.0.1:9000"] }
        defer { h.dir.remove() }
        h.feed(1_800_000_000, "/v2/user", upstream: "127.0.0.1:9000")
        h.feed(1_800_000_000, "/v2/user", upstream: "10.0.0.1:80, 127.0.0.1:9000")
        h.feed(1_800_000_000, "/v2/user", upstream: "127.0.0.1:8000")
        let s = try #require(h.engine.snapshot(.all).endpoint(named: "user")).stats
        #expect(s.new.requests == 2)
        #expect(s.current.requests == 1)
    }

    @Test func upstreamLatencyAndUnknownTimes() throws {
        let format = try LogFormat(template: "[$time_local] \"$request\" $status $upstream_response_time")
        let dir = try LogTempDirectory("agg-upstream-time")
        defer { dir.remove() }
        let engine = try TrafficEngine(sources: [LogSource(path: dir.file("a.log"), role: .main, format: format)], start: .beginning,
                                       configuration: TrafficConfiguration(rules: Harness.rules, latency: .upstream))
        for line in ["[28/Nov/2026:01:55:24 +0000] \"GET /v2/user HTTP/1.1\" 200 0.010, 0.020",
                     "[28/Nov/2026:01:55:24 +0000] \"GET /v2/user HTTP/1.1\" 502 -"] {
            Array(line.utf8).withUnsafeBytes { engine.ingest($0, source: 0) }
        }
        let s = try #require(engine.snapshot(.all).endpoint(named: "user")).stats
        #expect(s.current.requests == 2)
        #expect(s.current.p50Ms == 30)
        #expect(s.current.maxMs == 30)
        // Without $request_time, request-time latency is unknown, never zero.
        let plain = try TrafficEngine(sources: [LogSource(path: dir.file("a.log"), role: .main, format: format)], start: .beginning,
                                      configuration: TrafficConfiguration(rules: Harness.rules))
        Array("[28/Nov/2026:01:55:24 +0000] \"GET /v2/user HTTP/1.1\" 200 0.010".utf8).withUnsafeBytes { plain.ingest($0, source: 0) }
        let p = try #require(plain.snapshot(.all).endpoint(named: "user")).stats
        #expect(p.current.requests == 1)
        #expect(p.current.p50Ms == nil)
        #expect(p.current.maxMs == nil)
    }

    @Test func countsMalformedLinesPerFileFromRealFiles() throws {
        let h = try Harness("agg-malformed")
        defer { h.dir.remove() }
        var bytes = Array((Harness.line(1_800_000_000, "/v2/book") + "\n").utf8)
        bytes += [0x00, 0xFF, 0xFE, 0x80, 0x0A]
        bytes += Array("not a log line\n".utf8)
        bytes += Array((Harness.line(1_800_000_001, "/v2/book%2Fx") + "\n").utf8)
        try h.dir.append("access.log", bytes)
        try h.dir.append("migration.log", Harness.line(1_800_000_001, "/v2/user") + "\n" + "garbage\n")
        h.engine.poll()
        let snapshot = h.engine.snapshot(.all)
        #expect(snapshot.malformedCounts == [h.dir.file("access.log"): 2, h.dir.file("migration.log"): 1])
        #expect(snapshot.malformed[h.dir.file("access.log")]?.samples.last == "not a log line")
        #expect(snapshot.lines == 3)
        #expect(snapshot.endpoint(named: "book")?.stats.current.requests == 2)
        #expect(snapshot.endpoint(named: "user")?.stats.new.requests == 1)
    }

    @Test func encodesTheStatusJSONShape() throws {
        let h = try Harness("agg-json")
        defer { h.dir.remove() }
        h.feed(1_800_000_000, "/v2/book", status: 200, ms: 12)
        let stats = try #require(h.engine.snapshot(.fiveMinutes).endpoint(named: "book")).stats
        let data = try JSONEncoder().encode(stats)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["window", "current", "new", "observed_percent", "observed_percent_ci", "split_mismatch",
                                     "error_rate_delta", "p50_delta_ms", "p95_delta_ms", "p99_delta_ms", "since", "since_current", "since_new"])
        #expect(object["since"] is NSNull)
        #expect(object["window"] as? String == "5m")
        #expect(object["split_mismatch"] is NSNull)
        #expect(object["p50_delta_ms"] is NSNull)
        let new = try #require(object["new"] as? [String: Any])
        #expect(Set(new.keys) == ["requests", "rps", "status", "error_rate", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"])
        #expect(new["error_rate"] is NSNull)
        let status = try #require((object["current"] as? [String: Any])?["status"] as? [String: Int])
        #expect(status == ["2xx": 1, "3xx": 0, "4xx": 0, "5xx": 0])
        let decoded = try JSONDecoder().decode(EndpointStats.self, from: data)
        #expect(decoded.current == stats.current)
        #expect(decoded.observedPercent == stats.observedPercent)
    }

    @Test func memoryStaysBoundedWithManyPathsAndLongTimeSpans() throws {
        let h = try Harness("agg-bounded") {
            $0.pathCacheEntries = 256
            $0.notMigratedCapacity = 32
        }
        defer { h.dir.remove() }
        let t: Int64 = 1_800_000_000
        for i in 0..<3000 {
            h.feed(t + Int64(i), "/v2/book/\(i)", ms: i % 700)
            h.feed(t + Int64(i), "/v9/unique/\(i)")
        }
        let footprintAfterOneHour = h.engine.aggregator.statisticsFootprint
        for i in 3000..<6000 {
            h.feed(t + Int64(i), "/v2/book/\(i)", ms: i % 700)
            h.feed(t + Int64(i), "/v9/unique/\(i)")
        }
        #expect(h.engine.aggregator.statisticsFootprint == footprintAfterOneHour)
        #expect(h.engine.aggregator.classifier.cachedPaths <= 256)
        #expect(h.engine.aggregator.trackedNotMigratedPaths <= 32)
        #expect(h.engine.snapshot(.all).notMigrated.count <= 20)
        #expect(h.engine.snapshot(.fifteenMinutes).endpoint(named: "book")?.stats.current.requests ?? 0 <= 910)
    }
}

@Suite struct LiveTrafficTests {
    @Test func publishesSnapshotsFromABackgroundTask() async throws {
        let dir = try LogTempDirectory("live")
        defer { dir.remove() }
        try dir.write("access.log", Harness.line(1_800_000_000, "/v2/book") + "\n")
        let live = try LiveTraffic(sources: [LogSource(path: dir.file("access.log"), role: .main, format: Harness.format)],
                                   start: .beginning, configuration: TrafficConfiguration(rules: Harness.rules),
                                   sleep: { _ in usleep(1_000) })
        #expect(live.snapshot(.all) == nil)
        live.run(pollInterval: 0.001, publishInterval: 0)
        defer { live.stop() }
        var seen = 0
        for _ in 0..<2000 {
            seen = live.snapshot(.all)?.endpoint(named: "book")?.stats.current.requests ?? 0
            if seen == 1 { break }
            try await Task.sleep(nanoseconds: 2_000_000)
        }
        #expect(seen == 1)
        // A configuration change from the UI side is applied by the background task.
        live.setConfiguredPercent(100, endpoint: EndpointID(raw: "~^/v2/book"), at: 1_799_999_000)
        var mismatch: Bool?
        for _ in 0..<2000 {
            mismatch = live.snapshot(.all)?.endpoint(named: "book")?.stats.splitMismatch
            if mismatch != nil { break }
            try await Task.sleep(nanoseconds: 2_000_000)
        }
        #expect(mismatch == true)  // one request to the current service while 100% should go to the new one
        #expect(live.error == nil)
        #expect(throws: ClassifierError.self) {
            try LiveTraffic(sources: [], start: .beginning, configuration: TrafficConfiguration(rules: [EndpointRule(endpoint: "x", key: "~(")]))
        }
    }
}

@Suite struct RealNginxFileTests {
    @Test func classifiesAndCountsLinesNginxWrote() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/nginx-timed.log").path
        let format = try LogFormat(name: "timed", template: LogFormat.combinedTemplate
            + " $request_time $upstream_response_time $upstream_addr $request_id")
        let rules = [EndpointRule(endpoint: "details", key: "~^/v2/content_api/book.get_chapter_details"),
                     EndpointRule(endpoint: "cafe", key: "/café/a/c"),
                     EndpointRule(endpoint: "up", key: "~^/up/")]
        let engine = try TrafficEngine(sources: [LogSource(path: fixture, role: .main, format: format)], start: .beginning,
                                       configuration: TrafficConfiguration(rules: rules, latency: .upstream))
        engine.poll()
        let snapshot = engine.snapshot(.all)
        #expect(snapshot.lines == 5)
        #expect(snapshot.unclassified == 1)  // the TLS handshake has no request path
        #expect(snapshot.endpoint(named: "details")?.stats.current.requests == 1)
        #expect(snapshot.endpoint(named: "details")?.stats.current.p50Ms == nil)  // no upstream: unknown, not zero
        #expect(snapshot.endpoint(named: "cafe")?.stats.current.requests == 1)
        #expect(snapshot.endpoint(named: "up")?.stats.current.errorRate == 1)
        #expect(snapshot.endpoint(named: "up")?.stats.current.p50Ms == 0)
        #expect(snapshot.notMigrated.map(\.path) == ["/ré\u{FFFD}\"q\\"])
        #expect(snapshot.malformedCounts == [fixture: 0])
    }
}
