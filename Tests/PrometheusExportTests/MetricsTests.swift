import AccessLog
import Autopilot
import Foundation
import NginxConfig
@testable import PrometheusExport
import Rollout
import Testing
import TestSupport
import TrafficStats

private let routing = threeEndpointRouting

/// The metrics over an engine fed lines directly, with the config's model.
private struct Fixture {
    static let format: LogFormat = {
        (try? LogFormat(name: "t", template: "$msec \"$request\" $status $request_time")) ?? .combined
    }()
    let dir: TempDir
    let model: RolloutModel
    let metrics: GuardMetrics
    let engine: TrafficEngine

    init() throws {
        dir = try TempDir(prefix: "cutover-metrics")
        _ = try dir.write("routing.conf", routing)
        model = Discovery.discover(try ConfigSet.load(path: dir.file("routing.conf")), names: RolloutNames())
        let rules = LogPlan.rules(for: model)
        metrics = GuardMetrics(endpoints: rules.map(\.id))
        engine = try TrafficEngine(sources: [LogSource(path: dir.file("access.log"), role: .main, format: Self.format),
                                             LogSource(path: dir.file("migration.log"), role: .migration, format: Self.format)],
                                   start: .beginning, configuration: TrafficConfiguration(rules: rules), wallClock: { 5 },
                                   observer: metrics)
    }

    func feed(_ time: Int64, _ path: String, new: Bool = false, status: Int = 200, ms: Int? = 10) {
        let rt = ms.map { String(format: "%d.%03d", $0 / 1000, $0 % 1000) } ?? "-"
        let bytes = Array("\(time).123 \"GET \(path) HTTP/1.1\" \(status) \(rt)".utf8)
        bytes.withUnsafeBytes { engine.ingest($0, source: new ? 1 : 0) }
    }

    /// The samples of the exposition text, by series (`name{labels}`).
    func samples() -> [String: Double] {
        var out: [String: Double] = [:]
        for line in String(decoding: metrics.render(), as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            out[String(line[..<space])] = Double(line[line.index(after: space)...])
        }
        return out
    }
}

@Suite struct MetricsTests {
    @Test func requestCountersAndHistogramsCountEveryClassifiedLine() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let t: Int64 = 1_800_000_000
        for i in 0..<20 { f.feed(t, "/v2/a", status: i < 2 ? 503 : 200, ms: 4) }
        for i in 0..<5 { f.feed(t, "/v2/a", new: true, status: i == 0 ? 404 : 200, ms: 300) }
        f.feed(t, "/v2/c", new: true, status: 302, ms: nil)
        f.feed(t, "/not/in/the/config")
        let s = f.samples()
        #expect(s[#"cutover_requests_total{endpoint="~^/v2/a$",service="current",status_class="2xx"}"#] == 18)
        #expect(s[#"cutover_requests_total{endpoint="~^/v2/a$",service="current",status_class="5xx"}"#] == 2)
        #expect(s[#"cutover_requests_total{endpoint="~^/v2/a$",service="new",status_class="4xx"}"#] == 1)
        #expect(s[#"cutover_requests_total{endpoint="~^/v2/a$",service="new",status_class="2xx"}"#] == 4)
        #expect(s[#"cutover_requests_total{endpoint="~^/v2/c$",service="new",status_class="3xx"}"#] == 1)
        // Every series exists from the start, at zero: endpoints come from the config, never from paths.
        #expect(s[#"cutover_requests_total{endpoint="~^/v2/b$",service="new",status_class="unknown"}"#] == 0)
        #expect(!s.keys.contains { $0.contains("/not/in/the/config") })
        #expect(s.keys.filter { $0.hasPrefix("cutover_requests_total{") }.count == 3 * 2 * 6)
        // The histogram in seconds: 4 ms falls in the 5 ms bucket, 300 ms in 0.5 s; a line without a time counts no latency.
        #expect(s[#"cutover_request_duration_seconds_bucket{endpoint="~^/v2/a$",service="current",le="0.005"}"#] == 20)
        #expect(s[#"cutover_request_duration_seconds_bucket{endpoint="~^/v2/a$",service="new",le="0.25"}"#] == 0)
        #expect(s[#"cutover_request_duration_seconds_bucket{endpoint="~^/v2/a$",service="new",le="0.5"}"#] == 5)
        #expect(s[#"cutover_request_duration_seconds_count{endpoint="~^/v2/a$",service="new"}"#] == 5)
        #expect(abs((s[#"cutover_request_duration_seconds_sum{endpoint="~^/v2/a$",service="new"}"#] ?? 0) - 1.5) < 1e-9)
        #expect(s[#"cutover_request_duration_seconds_count{endpoint="~^/v2/c$",service="new"}"#] == 0)
    }

    @Test func statusClassesAreBounded() {
        #expect(GuardMetrics.statusClassIndex(100) == 0)
        #expect(GuardMetrics.statusClassIndex(204) == 1)
        #expect(GuardMetrics.statusClassIndex(499) == 3)
        #expect(GuardMetrics.statusClassIndex(599) == 4)
        #expect(GuardMetrics.statusClassIndex(0) == 5)
        #expect(GuardMetrics.statusClassIndex(600) == 5)
        #expect(GuardMetrics.statusClassIndex(-1) == 5)
    }

    /// The regex `~^/v2/a$` and the exact key `\~^/v2/a$` read alike once unescaped: their series stay apart,
    /// labelled with the key as written.
    @Test func lookAlikeKeysHaveSeriesOfTheirOwn() throws {
        let regex = EndpointID(raw: "~^/v2/a$"), exact = EndpointID(raw: "\\~^/v2/a$")
        let metrics = GuardMetrics(endpoints: [regex, exact])
        metrics.observe(endpoint: 0, newService: false, status: 200, latencyMilliseconds: 5)
        metrics.observe(endpoint: 0, newService: false, status: 200, latencyMilliseconds: 5)
        metrics.observe(endpoint: 1, newService: true, status: 500, latencyMilliseconds: 5)
        let text = String(decoding: metrics.render(), as: UTF8.self)
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("cutover_requests_total{") && !$0.hasSuffix(" 0") }
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.contains { $0.contains(#"endpoint="~^/v2/a$",service="current",status_class="2xx"} 2"#) }, "\(lines)")
        #expect(lines.contains { $0.contains(#"service="new",status_class="5xx"} 1"#) && !$0.contains(#"endpoint="~^/v2/a$""#) }, "\(lines)")
    }

    @Test func gaugesFollowTheSnapshotTheConfigAndThePlans() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let t: Int64 = 1_800_000_000
        for _ in 0..<30 { f.feed(t, "/v2/a") }
        for _ in 0..<10 { f.feed(t, "/v2/a", new: true) }
        let snapshot = f.engine.snapshot(.oneMinute)
        var running = RampPlan(id: PlanID(raw: "p-00000001"), target: .endpoint(EndpointID(raw: "~^/v2/c$")), steps: [Percent(hundredths: 500), Percent(hundredths: 2500)],
                               bakeSeconds: 60, created: Date(), createdBy: "test")
        running.state = .running
        running.step = 1
        var group = RampPlan(id: PlanID(raw: "p-00000002"), target: .group("group1_routing"), steps: [Percent(hundredths: 5000)], bakeSeconds: 60,
                             created: Date(), createdBy: "test")
        group.state = .pending
        f.metrics.update(snapshot: snapshot, model: f.model, plans: [running, group], now: Date(timeIntervalSince1970: Double(t) + 7))
        var s = f.samples()
        #expect(s[#"cutover_configured_percent{endpoint="~^/v2/a$"}"#] == 10)
        #expect(s[#"cutover_configured_percent{endpoint="~^/v2/c$"}"#] == 5)
        #expect(s[#"cutover_observed_percent{endpoint="~^/v2/a$"}"#] == 25)
        #expect(s[#"cutover_observed_percent{endpoint="~^/v2/b$"}"#]?.isNaN == true)
        let state = try #require(snapshot.endpoint(EndpointID(raw: "~^/v2/a$"))).verdict.state
        for candidate in VerdictState.allCases {
            #expect(s[#"cutover_verdict{endpoint="~^/v2/a$",state="\#(candidate.rawValue)"}"#] == (candidate == state ? 1 : 0))
        }
        #expect(VerdictState.allCases.reduce(0.0) { $0 + (s[#"cutover_verdict{endpoint="~^/v2/b$",state="\#($1.rawValue)"}"#] ?? -9) } == 1)
        #expect(s["cutover_log_lag_seconds"] == 7)
        #expect(s[#"cutover_plan_step{plan="p-00000001",endpoint="~^/v2/c$"}"#] == 2)
        #expect(s[#"cutover_plan_step{plan="p-00000002",endpoint="~^/v2/a$"}"#] == 0)
        #expect(s[#"cutover_plan_step{plan="p-00000002",endpoint="~^/v2/b$"}"#] == 0)
        // A plan that ends leaves the metrics; the other stays.
        running.state = .completed
        f.metrics.update(snapshot: snapshot, model: f.model, plans: [running, group], now: Date(timeIntervalSince1970: Double(t) + 9))
        s = f.samples()
        #expect(s[#"cutover_plan_step{plan="p-00000001",endpoint="~^/v2/c$"}"#] == nil)
        #expect(s[#"cutover_plan_step{plan="p-00000002",endpoint="~^/v2/a$"}"#] == 0)
        #expect(s["cutover_log_lag_seconds"] == 9)
    }

    @Test func automaticRollbacksCountGuardrailsAndBadVerdictAborts() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let now = Date()
        f.metrics.note([
            AutopilotEvent(.automaticRollback, time: now, endpoint: "~^/v2/a$", verdict: .bad, journal: "j1", message: "rolled back"),
            AutopilotEvent(.planAborted, time: now, plan: PlanID(raw: "p-1"), verdict: .bad, journal: "j2", message: "verdict bad"),
            // The operator's abort, and an abort whose rollback never reached the journal, are not automatic rollbacks.
            AutopilotEvent(.planAborted, time: now, plan: PlanID(raw: "p-2"), journal: "j3", message: "aborted by me"),
            AutopilotEvent(.planAborted, time: now, plan: PlanID(raw: "p-3"), verdict: .bad, message: "verdict bad, nothing live"),
            AutopilotEvent(.breach, time: now, endpoint: "~^/v2/b$", verdict: .bad, message: "auto_rollback off"),
        ])
        #expect(f.samples()["cutover_automatic_rollbacks_total"] == 2)
    }

    @Test func theExpositionNamesEveryMetricOfTheIssueWithItsType() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        var plan = RampPlan(target: .endpoint(EndpointID(raw: "~^/v2/a$")), steps: [Percent(hundredths: 2000)], bakeSeconds: 1, created: Date(), createdBy: "t")
        plan.state = .running
        plan.step = 0
        f.metrics.update(snapshot: f.engine.snapshot(.oneMinute), model: f.model, plans: [plan], now: Date())
        let text = String(decoding: f.metrics.render(), as: UTF8.self)
        for (name, type) in [("cutover_requests_total", "counter"), ("cutover_request_duration_seconds", "histogram"),
                             ("cutover_configured_percent", "gauge"), ("cutover_observed_percent", "gauge"), ("cutover_verdict", "gauge"),
                             ("cutover_plan_step", "gauge"), ("cutover_automatic_rollbacks_total", "counter"), ("cutover_log_lag_seconds", "gauge")] {
            #expect(text.contains("# TYPE \(name) \(type)\n"), "\(name) \(type)")
        }
    }

    @Test func addressesParseOrSayWhatToWrite() throws {
        #expect(try MetricsAddress(parsing: "127.0.0.1:9464") == MetricsAddress(host: "127.0.0.1", port: 9464))
        #expect(try MetricsAddress(parsing: "[::1]:0") == MetricsAddress(host: "::1", port: 0))
        #expect(try MetricsAddress(parsing: ":9464").host == "0.0.0.0")
        for bad in ["9464", "127.0.0.1:", "127.0.0.1:70000", "::1:9464", "host:port"] {
            #expect(throws: MetricsAddressError.self, "\(bad)") { try MetricsAddress(parsing: bad) }
        }
    }

    @Test func theServerAnswersMetricsHealthAndNothingElse() throws {
        let server = try MetricsServer.start(MetricsAddress(host: "127.0.0.1", port: 0), render: { Array("cutover_x 1\n".utf8) }, health: { "ok: test" })
        defer { server.stop() }
        #expect(server.address.port > 0)
        let base = "http://127.0.0.1:\(server.address.port)"
        let metrics = try fetch(base + "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body == "cutover_x 1\n")
        #expect(metrics.contentType?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(try fetch(base + "/healthz").body == "ok: test\n")
        #expect(try fetch(base + "/metrics?x=1").status == 200)
        #expect(try fetch(base + "/other").status == 404)
        #expect(try fetch(base + "/metrics", method: "POST").status == 405)
        // Busy port: a clear error, not a crash.
        #expect(throws: MetricsAddressError.self) {
            try MetricsServer.start(MetricsAddress(host: "127.0.0.1", port: server.address.port), render: { [] })
        }
    }

    @Test func answersAreChosenByMethodAndPath() {
        let render = { Array("m".utf8) }
        #expect(MetricsHTTPHandler.answer(method: .GET, path: "/metrics", render: render, health: { "ok" }).0 == .ok)
        #expect(MetricsHTTPHandler.answer(method: .HEAD, path: "/healthz", render: render, health: { "ok" }).0 == .ok)
        #expect(MetricsHTTPHandler.answer(method: .GET, path: "/healthz", render: render, health: { nil }).0 == .serviceUnavailable)
        #expect(MetricsHTTPHandler.answer(method: .DELETE, path: "/metrics", render: render, health: { "ok" }).0 == .methodNotAllowed)
    }
}

/// One HTTP request with curl (a real client, not our own parsing); the status, content type and body.
func fetch(_ url: String, method: String = "GET") throws -> (status: Int, contentType: String?, body: String) {
    let dir = try TempDir(prefix: "cutover-fetch")
    defer { dir.remove() }
    let body = dir.file("body"), headers = dir.file("headers")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-sS", "-X", method, "-o", body, "-D", headers, "--max-time", "5", url]
    try process.run()
    process.waitUntilExit()
    let head = (try? String(contentsOfFile: headers, encoding: .utf8)) ?? ""
    let lines = head.split(separator: "\r\n")
    let status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
    let type = lines.first { $0.lowercased().hasPrefix("content-type:") }.map { String($0.dropFirst("content-type:".count)).trimmingCharacters(in: .whitespaces) }
    return (status, type, (try? String(contentsOfFile: body, encoding: .utf8)) ?? "")
}
