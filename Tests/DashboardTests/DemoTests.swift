import AccessLog
import Apply
import Dashboard
import Foundation
import NginxConfig
import Rollout
import TestSupport
import Testing

@Suite struct DemoTests {
    @Test func sandboxConfigFollowsThePattern() throws {
        let dir = try TempDir(prefix: "cutover-demo-test")
        let sandbox = try DemoSandbox.create(in: dir.path)
        let model = Discovery.discover(try ConfigSet.load(path: sandbox.configPath))
        #expect(model.endpoints.count == 10)
        #expect(model.groups.count == 5)
        #expect(model.problems.filter { $0.severity == .error }.isEmpty, "\(model.problems)")
        #expect(model.mainLog?.path == sandbox.mainLog)
        #expect(model.migrationLog?.path == sandbox.migrationLog)
        #expect(model.mainLog?.format == "cutover_demo")
        let definition = try #require(model.logFormat(named: "cutover_demo"))
        #expect(throws: Never.self) { try LogFormat(name: definition.name, template: definition.template) }
        #expect(DemoCommandRunner.validate(path: sandbox.configPath, names: RolloutNames()).0)
    }

    @Test func simulatedLinesParseWithTheConfigsFormat() throws {
        let dir = try TempDir(prefix: "cutover-demo-test")
        let sandbox = try DemoSandbox.create(in: dir.path)
        let simulator = try TrafficSimulator(configPath: sandbox.configPath, mainLog: sandbox.mainLog,
                                             migrationLog: sandbox.migrationLog, seed: 7)
        let model = Discovery.discover(try ConfigSet.load(path: sandbox.configPath))
        let definition = try #require(model.logFormat(named: "cutover_demo"))
        let parser = LogLineParser(format: try LogFormat(name: definition.name, template: definition.template))
        let (main, migration) = simulator.lines(count: 500, at: Date(timeIntervalSince1970: 1_795_831_200))
        #expect(main.count + migration.count == 500)
        for line in main + migration {
            #expect(Array(line.utf8).withUnsafeBytes { parser.parse($0) }, "unparsed: \(line)")
        }
        #expect(main.first?.contains("[28/Nov/2026:02:00:00 +0000]") == true)
    }

    @Test func splitFollowsTheConfigOnDiskAfterReload() throws {
        let dir = try TempDir(prefix: "cutover-demo-test")
        let sandbox = try DemoSandbox.create(in: dir.path)
        let simulator = try TrafficSimulator(configPath: sandbox.configPath, mainLog: sandbox.mainLog,
                                             migrationLog: sandbox.migrationLog, seed: 3)
        let key = "~^/v2/content_api/book\\.get_chapter_details$"
        #expect(simulator.percent(forKey: key) == 100)
        let (_, migration) = simulator.lines(count: 2000, at: Date())
        let toNew = migration.filter { $0.contains("book.get_chapter_details") }.count
        #expect(toNew > 100)
        // Roll everything back on disk: the simulator keeps the old split until its "reload".
        var editor = RolloutEditor(config: try ConfigSet.load(path: sandbox.configPath))
        let result = try editor.apply(.rollbackAll)
        editor = RolloutEditor(config: result.config, model: result.model)
        for change in result.changes { try Data(change.after.utf8).write(to: URL(fileURLWithPath: change.path)) }
        #expect(simulator.percent(forKey: key) == 100)
        let runner = DemoCommandRunner(simulator: simulator)
        let reload = try runner.run(DemoCommandRunner.reloadArgv, timeout: .seconds(5))
        #expect(reload.succeeded)
        #expect(simulator.percent(forKey: key) == 0)
        let (_, after) = simulator.lines(count: 2000, at: Date())
        #expect(after.isEmpty)
    }

    @Test func validateRefusesLikeNginx() throws {
        let dir = try TempDir(prefix: "cutover-demo-test")
        let sandbox = try DemoSandbox.create(in: dir.path)
        let text = try String(contentsOfFile: sandbox.configPath, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "25% \"new_service\";", with: "0% \"new_service\";").utf8)
            .write(to: URL(fileURLWithPath: sandbox.configPath))
        let simulator = try TrafficSimulator(configPath: sandbox.configPath, mainLog: sandbox.mainLog,
                                             migrationLog: sandbox.migrationLog, seed: 1)
        let runner = DemoCommandRunner(simulator: simulator)
        let result = try runner.run(DemoCommandRunner.validateArgv(sandbox.configPath), timeout: .seconds(5))
        #expect(!result.succeeded)
        #expect(result.stderr.contains("nginx: [emerg]"))
        #expect(result.stderr.contains("cutover-demo.conf:"))
        #expect(result.stderr.contains("test failed"))
        try Data("server { listen 80 ".utf8).write(to: URL(fileURLWithPath: sandbox.configPath))
        #expect(try !runner.run(DemoCommandRunner.validateArgv(sandbox.configPath), timeout: .seconds(5)).succeeded)
        #expect(throws: CommandLaunchError.self) { try runner.run(["nginx", "-t"], timeout: .seconds(1)) }
    }

    @Test func writerThreadAppendsAtItsRate() throws {
        let dir = try TempDir(prefix: "cutover-demo-test")
        let sandbox = try DemoSandbox.create(in: dir.path)
        let simulator = try TrafficSimulator(configPath: sandbox.configPath, mainLog: sandbox.mainLog,
                                             migrationLog: sandbox.migrationLog, rate: 1000, seed: 9)
        simulator.start()
        defer { simulator.stop() }
        let deadline = Date().addingTimeInterval(5)
        while simulator.requestsWritten < 200 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        simulator.stop()
        #expect(simulator.requestsWritten >= 200)
        #expect(simulator.error == nil)
        let written = try String(contentsOfFile: sandbox.mainLog, encoding: .utf8) + String(contentsOfFile: sandbox.migrationLog, encoding: .utf8)
        #expect(written.split(separator: "\n").count >= 200)
    }
}
