import Apply
import Foundation
import NginxConfig
import Rollout
import Testing
import TrafficStats
@testable import Settings

@Suite struct SettingsTests {
    @Test func fullFileParses() throws {
        let yaml = """
        config: /etc/nginx/conf.d/migration.conf
        main_config: /etc/nginx/nginx.conf
        variables:
          target_path: $new_path
          split_group: split
        labels:
          new_service: go
          current_service: django
        logs:
          main: [/var/log/nginx/access.log]
          migration: /var/log/nginx/migration.log
          new_service_upstreams: [127.0.0.2:9000]
          latency: upstream
        nginx:
          validate: [docker, exec, web, nginx, -t]
          reload: [systemctl, reload, nginx]
          timeout: 5
          reload_by_signal: true
        ladder: [1, 2, 50, 100]
        window: 15m
        theme: light
        """
        let s = try Settings.parse(yaml, file: "cutover.yaml")
        #expect(s.config == "/etc/nginx/conf.d/migration.conf")
        #expect(s.names.targetPath == "$new_path")
        #expect(s.names.splitGroup == "$split")
        #expect(s.names.apiRouting == "$api_routing")
        #expect(s.names.newLabel == "go" && s.names.currentLabel == "django")
        #expect(s.mainLogs == ["/var/log/nginx/access.log"])
        #expect(s.migrationLogs == ["/var/log/nginx/migration.log"])
        #expect(s.newServiceUpstreams == ["127.0.0.2:9000"])
        #expect(s.latency == "upstream")
        #expect(s.validateCommand == ["docker", "exec", "web", "nginx", "-t"])
        #expect(s.reloadCommand == ["systemctl", "reload", "nginx"])
        #expect(s.commandTimeout == 5)
        #expect(s.reloadBySignal)
        #expect(s.ladder == [1, 2, 50, 100])
        #expect(s.window == "15m")
        #expect(s.theme == "light")
    }

    @Test(arguments: [
        ("config: [a\n", 2, "not valid YAML"),
        ("confg: x\n", 1, "unknown setting \"confg\""),
        ("window: 2h\n", 1, "window must be one of"),
        ("nginx:\n  reload: x\n  restart: y\n", 3, "unknown key nginx.restart"),
        ("ladder: [10, 5]\n", 1, "increasing"),
        ("verdict: 0.99\n", 1, "verdict must be a mapping"),
        ("verdict:\n  confidence: 99\n", 2, "verdict.confidence must be a number from 0.5 to 1"),
        ("verdict:\n  error_margin_pp: -1\n", 2, "verdict.error_margin_pp must be"),
        ("verdict:\n  watch_4xx: maybe\n", 2, "verdict.watch_4xx must be true or false"),
        ("verdict:\n  margin: 1\n", 2, "unknown key verdict.margin; expected confidence, error_margin_pp"),
    ])
    func errorsCarryTheLine(yaml: String, line: Int, fragment: String) {
        do {
            _ = try Settings.parse(yaml, file: "s.yaml")
            Issue.record("accepted \(yaml)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(fragment), "\(error)")
        }
    }

    @Test func verdictMarginsAndConfidence() throws {
        let s = try Settings.parse("""
            verdict:
              confidence: 0.995
              error_margin_pp: 1
              latency_margin_percent: 30
              latency_margin_min_ms: 10
              watch_4xx: false
              split_confidence: 0.9999
            """, file: "cutover.yaml")
        #expect(s.verdict.confidence == 0.995)
        #expect(s.verdict.errorMargin == 0.01)
        #expect(abs(s.verdict.latencyMargin - 0.3) < 1e-12)
        #expect(s.verdict.latencyMarginMinMs == 10)
        #expect(s.verdict.watchClientErrors == false)
        #expect(s.verdict.splitConfidence == 0.9999)
        let defaults = try Settings.parse("window: 5m\n", file: "cutover.yaml").verdict
        #expect(defaults.confidence == 0.99 && defaults.errorMargin == 0.005 && defaults.latencyMargin == 0.2 && defaults.latencyMarginMinMs == 5)
    }

    @Test func searchOrderAndExplicitOverride() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("xdg/cutover"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = ["HOME": dir.path, "XDG_CONFIG_HOME": dir.path + "/xdg"]
        #expect(try Settings.load(explicit: nil, environment: env, workingDirectory: dir.path) == Settings())
        try "config: from-xdg.conf\n".write(to: dir.appendingPathComponent("xdg/cutover/cutover.yaml"), atomically: true, encoding: .utf8)
        #expect(try Settings.load(explicit: nil, environment: env, workingDirectory: dir.path).config == dir.path + "/xdg/cutover/from-xdg.conf")
        try "config: /abs/here.conf\n".write(to: dir.appendingPathComponent("cutover.yaml"), atomically: true, encoding: .utf8)
        #expect(try Settings.load(explicit: nil, environment: env, workingDirectory: dir.path).config == "/abs/here.conf")
        #expect(throws: SettingsError.self) { try Settings.load(explicit: dir.path + "/missing.yaml", environment: env) }
        #expect(Settings().journalPath(environment: ["HOME": "/home/op"]) == "/home/op/.local/state/cutover/journal.jsonl")
        #expect(Settings().journalPath(environment: ["HOME": "/home/op", "XDG_STATE_HOME": "/st"]) == "/st/cutover/journal.jsonl")
    }
}

/// The journal read as routing changes for the traffic figures.
@Suite struct RoutingChangesFromTheJournalTests {
    static func record(_ action: String, endpoints: [String], at time: TimeInterval, outcome: ApplyOutcome = .applied,
                       before: [String: Double] = [:], after: [String: Double] = [:]) -> JournalRecord {
        JournalRecord(id: UUID().uuidString, time: Date(timeIntervalSince1970: time), user: "ops", host: "edge",
                      change: ChangeDescription(action: action, endpoints: endpoints, percentsBefore: before, percentsAfter: after),
                      outcome: outcome, message: "", files: [], configHashBefore: "", configHashAfter: "")
    }

    @Test func appliedChangesOldestFirstUnderTheTrafficNamesWithRollbacksMarked() throws {
        let config = try ConfigSet.fromTexts([("/etc/nginx/conf.d/api.conf", """
            map $uri $target_path {
                ~^/v2/book "/v2/b";
                /v2/user "/v2/u";
            }
            split_clients "${request_id}" $group1_routing {
                25% "new_service";
                * "current_service";
            }
            map $uri $split_group {
                ~^/v2/book "$group1_routing";
                /v2/user "$group1_routing";
            }
            """)])
        let model = Discovery.discover(config)
        let book = try #require(model.endpoints.first { $0.pattern == "~^/v2/book" })
        let records = [
            Self.record("rollback", endpoints: [book.name], at: 1_800_000_300.7),
            Self.record("group", endpoints: [book.name], at: 1_800_000_100.2, before: ["group1_routing": 10], after: ["group1_routing": 25]),
            Self.record("group", endpoints: [book.name], at: 1_800_000_200, outcome: .validationRefused),
            Self.record("group", endpoints: [book.name], at: 1_800_000_400, before: ["group1_routing": 25], after: ["group1_routing": 0]),
        ]
        let changes = Settings.routingChanges(journal: records, model: model)
        #expect(changes == [
            RoutingChange(endpoint: EndpointID(raw: "~^/v2/book"), time: 1_800_000_100, rollback: false),
            RoutingChange(endpoint: EndpointID(raw: "~^/v2/book"), time: 1_800_000_300, rollback: true),
            RoutingChange(endpoint: EndpointID(raw: "~^/v2/book"), time: 1_800_000_400, rollback: true),
        ])
    }
}
