import Apply
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `cutover guard --metrics`: the real guard over a real nginx on 127.0.0.1, its `/metrics` checked by
/// Prometheus's own `promtool check metrics` and scraped by a real Prometheus.
@Suite(.serialized) struct MetricsIntegrationTests {
    typealias GuardProcess = AutopilotIntegrationTests.GuardProcess
    static let book = AutopilotIntegrationTests.book

    /// One GET with curl: the status and the body ("" and 0 when nothing answered).
    static func get(_ url: String) -> (status: Int, body: String) {
        guard let result = try? ProcessRunner().run(["/usr/bin/curl", "-sS", "--max-time", "3", "-w", "\n%{http_code}", url], timeout: .seconds(5)) else {
            return (0, "")
        }
        let text = result.stdout
        guard let cut = text.lastIndex(of: "\n") else { return (0, text) }
        return (Int(text[text.index(after: cut)...]) ?? 0, String(text[..<cut]))
    }

    /// A guard with `--metrics` on a free port, a plan it starts (so a step gauge exists), and traffic until
    /// the book endpoint's counters show it; the metrics' base URL.
    func guardWithMetrics(_ setup: CLIReferenceNginx) throws -> (GuardProcess, String) {
        let created = try setup.cutover(["ramp", "book.get_book_info", "--steps", "40,60", "--bake", "1h", "--config", setup.routingPath])
        try #require(created.exitCode == 0, "\(created)")
        let port = try FreePort.one()
        let guardProcess = try GuardProcess(setup, extra: ["--metrics", "127.0.0.1:\(port)"])
        return (guardProcess, "http://127.0.0.1:\(port)")
    }

    @Test func metricsPassPromtoolAndCountTheRequests() throws {
        let setup = try CLIReferenceNginx(percents: [30, 50, 100])
        defer { setup.nginx.stop() }
        let (guardProcess, base) = try guardWithMetrics(setup)
        defer { _ = guardProcess.terminate() }
        let client = HTTPTestClient(port: setup.frontPort)
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        var rounds = 0
        while Date() < deadline && rounds < 600 {
            rounds += 1
            for _ in 0..<20 { _ = try client.get(Self.book) }
            usleep(100_000)
            let answer = Self.get(base + "/metrics")
            guard answer.status == 200 else { continue }
            text = answer.body
            let counted = text.split(separator: "\n").contains {
                $0.hasPrefix(#"cutover_requests_total{endpoint="~^/v2/content_api/book.get_book_info",service="current",status_class="2xx"}"#)
                    && !$0.hasSuffix(" 0")
            }
            if counted && text.contains("cutover_plan_step{") { break }
        }
        let err = (try? String(contentsOfFile: setup.nginx.directory.file("guard.out.err"), encoding: .utf8)) ?? ""
        try #require(text.contains("cutover_plan_step{"), "\(text)\n\(guardProcess.lines)\n\(err)")
        #expect(guardProcess.lines.contains { $0.hasPrefix("guard: metrics on http://127.0.0.1:") })
        // Every metric the issue names, with its type.
        for (name, type) in [("cutover_requests_total", "counter"), ("cutover_request_duration_seconds", "histogram"),
                             ("cutover_configured_percent", "gauge"), ("cutover_observed_percent", "gauge"), ("cutover_verdict", "gauge"),
                             ("cutover_plan_step", "gauge"), ("cutover_automatic_rollbacks_total", "counter"), ("cutover_log_lag_seconds", "gauge")] {
            #expect(text.contains("# TYPE \(name) \(type)\n"), "\(name)")
        }
        #expect(text.contains(#"cutover_configured_percent{endpoint="~^/v2/content_api/book.get_book_info"} 40"#), "the plan's first step")
        #expect(text.contains(#"cutover_request_duration_seconds_bucket{endpoint="~^/v2/content_api/book.get_book_info",service="new",le="+Inf"}"#))
        // Prometheus's own checker (its linter included: names, units, help texts).
        let file = setup.nginx.directory.file("metrics.txt")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let check = try ProcessRunner().run(["/bin/sh", "-c", "/usr/bin/promtool check metrics < '\(file)'"], timeout: .seconds(30))
        #expect(check.exitCode == 0, "promtool: \(check.stdout)\(check.stderr)")
        // Liveness, and nothing else served.
        let health = Self.get(base + "/healthz")
        #expect(health.status == 200 && health.body.hasPrefix("ok: executing the plans"), "\(health)")
        #expect(Self.get(base + "/nothing").status == 404)
        #expect(guardProcess.terminate() == 0)
    }

    @Test func aRealPrometheusScrapesTheGuard() throws {
        let setup = try CLIReferenceNginx(percents: [30, 50, 100])
        defer { setup.nginx.stop() }
        let (guardProcess, base) = try guardWithMetrics(setup)
        defer { _ = guardProcess.terminate() }
        let target = String(base.dropFirst("http://".count))
        let promPort = try FreePort.one()
        let dir = setup.nginx.directory
        let config = dir.file("prometheus.yml")
        try """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: cutover
                static_configs:
                  - targets: ["\(target)"]

            """.write(toFile: config, atomically: true, encoding: .utf8)
        let prometheus = Process()
        prometheus.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        prometheus.arguments = ["--config.file=\(config)", "--storage.tsdb.path=\(dir.file("tsdb"))",
                                "--web.listen-address=127.0.0.1:\(promPort)", "--log.level=warn"]
        let log = dir.file("prometheus.log")
        FileManager.default.createFile(atPath: log, contents: nil)
        prometheus.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        prometheus.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try prometheus.run()
        defer {
            if prometheus.isRunning {
                kill(prometheus.processIdentifier, SIGTERM)
                let deadline = ContinuousClock.now + .seconds(10)
                while prometheus.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
                if prometheus.isRunning { kill(prometheus.processIdentifier, SIGKILL) }
                prometheus.waitUntilExit()
            }
        }
        let client = HTTPTestClient(port: setup.frontPort)
        let api = "http://127.0.0.1:\(promPort)/api/v1/query?query="
        var found: [String: Bool] = [:]
        let wanted = ["cutover_requests_total", "cutover_configured_percent", "cutover_verdict", "cutover_plan_step", "up"]
        let deadline = Date().addingTimeInterval(90)
        var rounds = 0
        while Date() < deadline && rounds < 400 && !wanted.allSatisfy({ found[$0] == true }) {
            rounds += 1
            for _ in 0..<10 { _ = try client.get(Self.book) }
            usleep(200_000)
            for name in wanted where found[name] != true {
                let query = name == "up" ? "up%7Bjob%3D%22cutover%22%7D%3D%3D1" : name
                let answer = Self.get(api + query)
                guard answer.status == 200,
                      let document = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any],
                      let data = document["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else { continue }
                found[name] = !result.isEmpty
            }
        }
        let promLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(wanted.allSatisfy { found[$0] == true }, "found \(found)\nprometheus: \(promLog)\nguard: \(guardProcess.lines)")
        // The scraped counter carries the labels the issue names.
        let answer = Self.get(api + "cutover_requests_total%7Bservice%3D%22current%22%2Cstatus_class%3D%222xx%22%7D")
        #expect(answer.body.contains(#""endpoint":"~^/v2/content_api/book.get_book_info""#), "\(answer.body)")
        #expect(guardProcess.terminate() == 0)
    }
}
