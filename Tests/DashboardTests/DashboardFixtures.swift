import AccessLog
import Apply
import Dashboard
import Foundation
import NginxConfig
import Rollout
import TestSupport
import Testing
import TrafficStats

/// Fixed states for the dashboard tests: the demo's config and traffic made deterministic.
enum Fixtures {
    /// 2026-11-28 02:00:00 UTC.
    static let epoch: Int64 = 1_795_831_200
    static let now = Date(timeIntervalSince1970: TimeInterval(epoch))

    /// The demo config loaded from text at a fixed path (no file needed).
    static func loaded(directory: String = "/srv/demo") throws -> LoadedConfig {
        let path = directory + "/cutover-demo.conf"
        let config = try ConfigSet.fromTexts([(path: path, text: DemoScenario.standard.configText(directory: directory))])
        return LoadedConfig(config: config, model: Discovery.discover(config))
    }

    /// A state on the demo config, without traffic.
    static func state(readOnly: Bool = false) throws -> AppState {
        var state = AppState(configPath: "/srv/demo/cutover-demo.conf", loaded: try loaded(), window: .fiveMinutes,
                             readOnly: readOnly, now: now)
        state.timeZone = TimeZone(identifier: "UTC") ?? .current
        return state
    }

    /// A state with the plain-value traffic of `PlainFixtures` ending at `now`.
    static func stateWithTraffic(readOnly: Bool = false) throws -> AppState {
        var state = try state(readOnly: readOnly)
        state.snapshot = PlainFixtures.snapshot(logTime: epoch)
        state.now = Date(timeIntervalSince1970: TimeInterval(epoch + 1))
        return state
    }

    /// A state with `seconds` of simulated traffic ending at `now` (fixed seed, so always the same figures).
    static func stateWithSimulatedTraffic(seconds: Int = 120, perSecond: Int = 150) throws -> AppState {
        var state = try state()
        state.snapshot = seconds == 120 && perSecond == 150 ? try standardSnapshot.get() : try snapshot(seconds: seconds, perSecond: perSecond)
        state.now = Date(timeIntervalSince1970: TimeInterval(epoch + 1))
        return state
    }

    /// Two minutes of 150 req/s, built once for all tests.
    static let standardSnapshot: Result<TrafficSnapshot, any Error> = Result { try snapshot(seconds: 120, perSecond: 150) }

    /// A snapshot from the simulator's lines, aggregated as the ingest would.
    static func snapshot(seconds: Int, perSecond: Int, window: TrafficWindow = .fiveMinutes) throws -> TrafficSnapshot {
        let dir = try TempDir(prefix: "cutover-dashboard-fixture")
        let sandbox = try DemoSandbox.create(in: dir.path)
        let simulator = try TrafficSimulator(configPath: sandbox.configPath, mainLog: sandbox.mainLog,
                                             migrationLog: sandbox.migrationLog, seed: 42)
        let model = try loaded(directory: sandbox.directory).model
        let aggregator = try TrafficAggregator(configuration: TrafficConfiguration(rules: EndpointNaming.rules(for: model)))
        let definition = try #require(model.logFormat(named: "cutover_demo"))
        let parser = LogLineParser(format: try LogFormat(name: definition.name, template: definition.template))
        for second in 0..<seconds {
            let time = Date(timeIntervalSince1970: TimeInterval(epoch - Int64(seconds) + Int64(second) + 1))
            let (main, migration) = simulator.lines(count: perSecond, at: time)
            for (lines, role) in [(main, LogRole.main), (migration, LogRole.migration)] {
                for line in lines {
                    let ok = Array(line.utf8).withUnsafeBytes { parser.parse($0) }
                    if ok { aggregator.add(parser, role: role, fallbackTime: epoch) }
                }
            }
        }
        return aggregator.snapshot(window)
    }

    /// A journal record as the pipeline writes it.
    static func record(id: String, action: String, groups: [String], before: [String: Double], after: [String: Double],
                       outcome: ApplyOutcome = .applied, minutesAgo: Double = 5, undoes: String? = nil,
                       endpoints: [String] = []) -> JournalRecord {
        JournalRecord(id: id, time: now.addingTimeInterval(-minutesAgo * 60), user: "ops", host: "bastion",
                      change: ChangeDescription(action: action, endpoints: endpoints, groups: groups, percentsBefore: before,
                                                percentsAfter: after),
                      outcome: outcome, message: outcome == .applied ? "applied" : "nginx: [emerg] invalid percent", files: [],
                      configHashBefore: "a", configHashAfter: "b", validate: nil, reload: nil, verify: nil, undoes: undoes)
    }
}
