import Apply
import Dashboard
import Foundation
import NginxConfig
import Settings
import Rollout
import TerminalUI
import TestSupport
import Testing
import TrafficStats

/// A change applier that records the edits it is given and answers with a fixed outcome.
final class RecordingApplier: ChangeApplying, @unchecked Sendable {
    private let lock = NSLock()
    private var applied: [RolloutEdit] = []
    private var undos = 0
    let outcome: ApplyOutcome

    init(outcome: ApplyOutcome = .applied) { self.outcome = outcome }

    var edits: [RolloutEdit] {
        lock.lock()
        defer { lock.unlock() }
        return applied
    }

    func apply(_ edit: RolloutEdit, basis: LoadedConfig?) -> ChangeOutcome {
        lock.lock()
        applied.append(edit)
        lock.unlock()
        return ChangeOutcome(outcome: outcome, message: outcome == .applied ? "applied" : "nginx: [emerg] test refusal")
    }

    func undo() -> ChangeOutcome {
        lock.lock()
        undos += 1
        lock.unlock()
        return ChangeOutcome(outcome: outcome, message: "undone")
    }
}

struct FixedJournal: JournalReading {
    var list: [JournalRecord]
    func records() throws -> [JournalRecord] { list }
}

struct FixedConfig: ConfigReading {
    var loaded: LoadedConfig
    func load() throws -> LoadedConfig { loaded }
}

/// Runs the app on a test backend until `done` holds or 5 s pass; returns whether `done` held.
func runApp(_ app: App, backend: TestBackend, until done: @escaping () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(5)
    var finished = false
    app.run(backend: backend) {
        if done() { finished = true }
        return finished || Date() > deadline
    }
    return finished
}

@Suite struct RuntimeTests {
    @Test func keysGoThroughTheRunnerAndTheScreenShowsTheOutcome() throws {
        let state = try Fixtures.state()
        let applier = RecordingApplier()
        let loaded = try Fixtures.loaded()
        let runner = EffectRunner(applier: applier, journal: FixedJournal(list: []), config: FixedConfig(loaded: loaded),
                                  traffic: nil, themes: { _ in (.default, []) })
        let app = App(state: state, runner: runner, traffic: nil)
        app.keyTimeout = .milliseconds(1)
        let backend = TestBackend(width: 120, height: 40)
        backend.enqueue(.char("j"), .char("j"), .char("+"), .char("y"))
        let finished = runApp(app, backend: backend) {
            app.state.lastApply != nil && backend.lines()[2].contains("validated, reloaded")
        }
        #expect(finished)
        #expect(applier.edits == [.setGroupPercent(group: "group3_routing", percent: Percent(hundredths: 5000), create: false)])
        #expect(backend.lines().contains { $0.contains("key to reload") })
        #expect(backend.cursorVisible, "the cursor is shown again when the loop ends")
    }

    @Test func quitEndsTheLoopAndReadOnlyChangesNothing() throws {
        let state = try Fixtures.state(readOnly: true)
        let applier = RecordingApplier()
        let runner = EffectRunner(applier: applier, journal: FixedJournal(list: []), config: FixedConfig(loaded: try Fixtures.loaded()),
                                  traffic: nil, themes: { _ in (.default, []) })
        let app = App(state: state, runner: runner, traffic: nil)
        app.keyTimeout = .milliseconds(1)
        let backend = TestBackend(width: 80, height: 24)
        backend.enqueue(.char("R"), .char("y"), .char("+"), .char("y"), .char("q"))
        let quit = runApp(app, backend: backend) { false }
        #expect(!quit)  // ended by q, not by the condition or the deadline
        #expect(app.state.quitting)
        #expect(applier.edits.isEmpty)
        #expect(backend.lines()[0].contains("READ-ONLY"))
    }

    @Test func resizeRedrawsAtTheNewSize() throws {
        let runner = EffectRunner(applier: RecordingApplier(), journal: FixedJournal(list: []),
                                  config: FixedConfig(loaded: try Fixtures.loaded()), traffic: nil, themes: { _ in (.default, []) })
        let app = App(state: try Fixtures.state(), runner: runner, traffic: nil)
        app.keyTimeout = .milliseconds(1)
        let backend = TestBackend(width: 120, height: 40)
        var resized = false
        _ = runApp(app, backend: backend) {
            if !resized && app.framesDrawn > 0 {
                backend.resize(width: 60, height: 15)
                resized = true
                return false
            }
            return resized && backend.lines().count == 15 && backend.lines().last?.contains("select") == true
        }
        #expect(backend.lines().count == 15)
        #expect(backend.lines()[0].contains("cutover"))
    }

    @Test func pipelineApplierChangesTheFileJournalsAndUndoes() throws {
        let dir = try TempDir(prefix: "cutover-dashboard-apply")
        let sandbox = try DemoSandbox.create(in: dir.path + "/demo")
        let simulator = try TrafficSimulator(configPath: sandbox.configPath, mainLog: sandbox.mainLog,
                                             migrationLog: sandbox.migrationLog, seed: 5)
        let journal = Journal(path: dir.path + "/state/journal.jsonl")
        let control = NginxControl(validateArgv: DemoCommandRunner.validateArgv(sandbox.configPath),
                                   reloadArgv: DemoCommandRunner.reloadArgv)
        let pipeline = ApplyPipeline(configuration: ApplyConfiguration(nginx: control, mainConfig: sandbox.configPath, journal: journal),
                                     runner: DemoCommandRunner(simulator: simulator))
        let reader = LocalConfigReader(path: sandbox.configPath)
        let applier = PipelineChangeApplier(applier: EditApplier(pipeline: pipeline, configPath: sandbox.configPath, prefix: nil,
                                                                 names: RolloutNames()), reader: reader)

        let outcome = applier.apply(.setGroupPercent(group: "group3_routing", percent: Percent(hundredths: 5000), create: false), basis: nil)
        #expect(outcome.outcome == .applied, "\(outcome.message)")
        #expect(try reader.load().model.group(named: "group3_routing")?.percent == Percent(hundredths: 5000))
        #expect(simulator.percent(forKey: "~^/v2/content_api/book\\.get_book_info$") == 50)
        let records = try journal.records()
        #expect(records.count == 1)
        #expect(records.first?.change.groups == ["group3_routing"])
        #expect(records.first?.change.percentsBefore["group3_routing"] == 25)
        #expect(records.first?.change.percentsAfter["group3_routing"] == 50)
        #expect(records.first?.change.endpoints.contains("book.get_book_info") == true)
        #expect(outcome.shifts.count == 3)

        let undone = applier.undo()
        #expect(undone.outcome == .applied, "\(undone.message)")
        #expect(try reader.load().model.group(named: "group3_routing")?.percent == Percent(hundredths: 2500))
        #expect(simulator.percent(forKey: "~^/v2/content_api/book\\.get_book_info$") == 25)

        let refused = applier.apply(.assign(endpoint: "no.such.endpoint", group: "group3_routing"), basis: nil)
        #expect(refused.outcome == nil)
        #expect(refused.message.contains("no endpoint matches"))
    }

    @Test func demoSessionRunsOnATestBackend() throws {
        let dir = try TempDir(prefix: "cutover-dashboard-session")
        let environment = ["XDG_STATE_HOME": dir.path + "/state", "HOME": dir.path]
        let session = try DashboardSession.demo(directory: dir.path + "/demo", rate: 500, environment: environment)
        session.app.keyTimeout = .milliseconds(5)
        let backend = TestBackend(width: 120, height: 40)
        backend.enqueue(.char("R"), .char("y"))
        var finished = false
        let deadline = Date().addingTimeInterval(30)  // generous: the whole suite runs in parallel on 2 cores
        session.run(backend: backend) {
            finished = session.app.state.lastApply != nil && (session.app.state.snapshot?.lines ?? 0) > 0
                && session.app.state.model?.endpoints.allSatisfy { $0.percent == .zero } == true
            return finished || Date() > deadline
        }
        let seen = "lastApply: \(String(describing: session.app.state.lastApply)); lines: \(session.app.state.snapshot?.lines ?? -1); "
            + "percents: \(session.app.state.model?.endpoints.map(\.percent.plain) ?? []); status: \(session.app.state.status?.text ?? "")"
        #expect(finished, "\(seen)")
        #expect(session.app.state.lastApply?.succeeded == true, "\(session.app.state.lastApply?.message ?? "")")
        let onDisk = try LocalConfigReader(path: try #require(session.sandbox).configPath).load().model
        #expect(onDisk.endpoints.allSatisfy { $0.percent == .zero })
        #expect(try Journal(path: dir.path + "/demo/journal.jsonl").records().last?.change.action == "rollback-all")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/state/cutover/journal.jsonl"))
    }
}

@Suite struct WatchSessionTests {
    @Test func watchAppliesThroughTheSettingsCommandsAndReportsMissingLogs() throws {
        let dir = try TempDir(prefix: "cutover-dashboard-watch")
        let config = try dir.write("conf.d/routing.conf", DemoScenario.standard.configText(directory: dir.path + "/logs"))
        try dir.write("logs/main.log", "")
        var settings = Settings()
        settings.nginx = "nginx-test"
        settings.validateCommand = ["nginx-test", "-t"]
        settings.reloadCommand = ["nginx-test", "-s", "reload"]
        settings.journal = dir.path + "/journal.jsonl"
        let runner = ScriptedRunner([
            .init(["nginx-test", "-V"], exitCode: 1),
            .init(["nginx-test", "-t"], stderr: "nginx: configuration file test is successful"),
            .init(["nginx-test", "-s", "reload"]),
        ])
        var options = WatchOptions(config: config, window: "15m")
        options.themeDirectories = []
        let session = try DashboardSession.watch(settings: settings, options: options, runner: runner)
        #expect(session.app.state.window == .fifteenMinutes)
        #expect(session.app.state.notices.contains { $0.contains("the migration log") && $0.contains("logs/migration.log does not exist (yet)") })
        session.app.keyTimeout = .milliseconds(2)
        let backend = TestBackend(width: 100, height: 30)
        backend.enqueue(.char("j"), .char("j"), .char("+"), .char("y"))
        let deadline = Date().addingTimeInterval(5)
        session.run(backend: backend) { session.app.state.lastApply != nil || Date() > deadline }
        #expect(session.app.state.lastApply?.succeeded == true, "\(session.app.state.lastApply?.message ?? "no apply")")
        runner.verifyAllRan()
        let text = try String(contentsOfFile: config, encoding: .utf8)
        #expect(text.contains("50% \"new_service\";\n    * \"current_service\";\n}\n\nsplit_clients \"${request_id}\" $group4_routing"))
        #expect(try Journal(path: dir.path + "/journal.jsonl").records().count == 1)
    }

    @Test func watchNeedsAConfig() {
        #expect(throws: DashboardError.self) { try DashboardSession.watch(settings: Settings(), options: WatchOptions()) }
        #expect(throws: DashboardError.self) {
            try DashboardSession.watch(settings: Settings(), options: WatchOptions(config: "/nonexistent/cutover/nginx.conf"))
        }
    }
}

@Suite struct ThemeSessionTests {
    @Test func brokenThemeFileShowsFileAndLineInTheProblemsView() throws {
        let dir = try TempDir(prefix: "cutover-dashboard-theme")
        let themes = dir.path + "/themes"
        try dir.write("themes/broken.yaml", "name: broken\nroles:\n  ok: green\n  bad: { fg: purpel }\n")
        try dir.write("themes/light.yaml", "roles:\n  text: black\n")
        let config = try dir.write("routing.conf", DemoScenario.standard.configText(directory: dir.path + "/logs"))
        var settings = Settings()
        settings.nginx = "nginx-test"
        settings.journal = dir.path + "/journal.jsonl"
        var options = WatchOptions(config: config, theme: "broken", readOnly: true)
        options.themeDirectories = [URL(fileURLWithPath: themes)]
        let session = try DashboardSession.watch(settings: settings, options: options,
                                                 runner: ScriptedRunner([.init(["nginx-test", "-V"], exitCode: 1)]))
        #expect(session.app.state.themeNames == ["broken", "default", "light"])
        session.app.keyTimeout = .milliseconds(2)
        let backend = TestBackend(width: 120, height: 30)
        backend.enqueue(.char("5"))
        let deadline = Date().addingTimeInterval(5)
        session.run(backend: backend) {
            (!session.app.state.themeProblems.isEmpty && backend.lines().contains { $0.contains("broken.yaml:4") }) || Date() > deadline
        }
        #expect(backend.lines().contains { $0.contains(themes + "/broken.yaml:4") }, "\(backend.lines().joined(separator: "\n"))")
        #expect(session.app.state.theme == .default)
    }
}
