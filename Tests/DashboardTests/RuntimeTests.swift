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

    private(set) var cancellations: [String] = []

    func cancelInFlight(reason: String) {
        lock.withLock { cancellations.append(reason) }
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

/// Steps the app on a test backend (its effects run inline) until `done` holds, at most `turns` turns; each turn
/// advances the app's time by 100 ms. Returns whether `done` held. Nothing waits on the wall clock.
@discardableResult
func stepApp(_ app: App, backend: TestBackend, turns: Int = 50, until done: () -> Bool) -> Bool {
    app.keyTimeout = .zero
    app.attach(backend)
    defer { app.detach() }
    for turn in 0..<turns {
        app.step(now: .milliseconds(100 * (turn + 1)))
        if done() { return true }
        if app.state.quitting { return false }
    }
    return false
}

/// A runner whose effects run on the calling thread, for stepped tests.
func inlineRunner(_ applier: ChangeApplying, journal: [JournalRecord] = [], loaded: LoadedConfig) -> EffectRunner {
    EffectRunner(applier: applier, journal: FixedJournal(list: journal), config: FixedConfig(loaded: loaded), traffic: nil,
                 themes: { _ in (.default, []) }, inline: true)
}

@Suite struct RuntimeTests {
    @Test func keysGoThroughTheRunnerAndTheScreenShowsTheOutcome() throws {
        let state = try Fixtures.state()
        let applier = RecordingApplier()
        let app = App(state: state, runner: inlineRunner(applier, loaded: try Fixtures.loaded()), traffic: nil)
        let backend = TestBackend(width: 120, height: 40)
        backend.enqueue(.char("j"), .char("j"), .char("+"), .char("y"))
        let finished = stepApp(app, backend: backend) {
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
        let app = App(state: state, runner: inlineRunner(applier, loaded: try Fixtures.loaded()), traffic: nil)
        let backend = TestBackend(width: 80, height: 24)
        backend.enqueue(.char("R"), .char("y"), .char("+"), .char("y"), .char("q"))
        let done = stepApp(app, backend: backend) { false }
        #expect(!done)  // ended by q, not by the condition or the turn limit
        #expect(app.state.quitting)
        #expect(applier.edits.isEmpty)
        #expect(backend.lines()[0].contains("READ-ONLY"))
    }

    @Test func resizeRedrawsAtTheNewSize() throws {
        let app = App(state: try Fixtures.state(), runner: inlineRunner(RecordingApplier(), loaded: try Fixtures.loaded()), traffic: nil)
        let backend = TestBackend(width: 120, height: 40)
        app.keyTimeout = .zero
        app.attach(backend)
        app.step(now: .milliseconds(100))
        #expect(backend.lines().count == 40)
        backend.resize(width: 60, height: 15)
        app.step(now: .milliseconds(200))
        #expect(backend.lines().count == 15)
        #expect(backend.lines()[0].contains("cutover"))
        #expect(backend.lines().last?.contains("? help") == true)
        #expect(app.state.screenWidth == 60 && app.state.screenHeight == 15)
        app.detach()
    }

    @Test func refreshAndConfigReadFollowTheSteppedTime() throws {
        final class CountingConfig: ConfigReading, @unchecked Sendable {
            let loaded: LoadedConfig
            var reads = 0
            init(_ loaded: LoadedConfig) { self.loaded = loaded }
            func load() throws -> LoadedConfig { reads += 1; return loaded }
        }
        let config = CountingConfig(try Fixtures.loaded())
        let runner = EffectRunner(applier: RecordingApplier(), journal: FixedJournal(list: []), config: config, traffic: nil,
                                  themes: { _ in (.default, []) }, inline: true)
        let app = App(state: try Fixtures.state(), runner: runner, traffic: nil, clock: ApplyClock(now: { Fixtures.now }, monotonic: { .zero }, sleep: { _ in }))
        app.keyTimeout = .zero
        app.attach(TestBackend(width: 80, height: 24))
        app.step(now: .seconds(1))
        #expect(config.reads == 0, "the config is re-read every 5 s, not every turn")
        app.step(now: .seconds(5))
        #expect(config.reads == 1)
        app.step(now: .milliseconds(5500))
        #expect(config.reads == 1)
        app.step(now: .seconds(10))
        #expect(config.reads == 2)
        app.detach()
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

    /// A dashboard session on `dir`'s routing config whose nginx commands are `runner`'s script.
    private func cancelSession(_ dir: TempDir, runner: ScriptedRunner) throws -> (DashboardSession, String) {
        let config = try dir.write("conf.d/routing.conf", DemoScenario.standard.configText(directory: dir.path + "/logs"))
        try dir.write("logs/main.log", "")
        var settings = Settings()
        settings.nginx = "nginx-test"
        settings.validateCommand = ["nginx-test", "-t"]
        settings.reloadCommand = ["nginx-test", "-s", "reload"]
        settings.journal = dir.path + "/journal.jsonl"
        var options = WatchOptions(config: config, window: "15m")
        options.themeDirectories = []
        let session = try DashboardSession.watch(settings: settings, options: options, runner: runner)
        session.app.keyTimeout = .milliseconds(2)
        return (session, config)
    }

    /// Runs the session: `+ y` starts a change; once the pipeline reports `blockedStage`, `R y` asks for the
    /// emergency rollback; once it is queued, `gate` lets the blocked command finish. Returns the status lines seen.
    private func runChangeThenRollback(_ session: DashboardSession, blockedStage: String, gate: DispatchSemaphore) -> [String] {
        let backend = TestBackend(width: 120, height: 30)
        backend.enqueue(.char("j"), .char("j"), .char("+"), .char("y"))
        var askedForRollback = false, released = false
        var statuses: [String] = []
        let deadline = Date().addingTimeInterval(20)
        session.run(backend: backend) {
            let state = session.app.state
            if let text = state.status?.text, statuses.last != text { statuses.append(text) }
            if !askedForRollback, state.applyingStage == blockedStage {
                askedForRollback = true
                backend.enqueue(.char("R"), .char("y"))
            }
            if !released, state.queuedRollback != nil {
                released = true
                gate.signal()
            }
            let done = state.lastApply?.action == "rollback-all" && state.applying == nil
            return done || Date() > deadline
        }
        if !released { gate.signal() }
        return statuses
    }

    @Test func emergencyRollbackCancelsAChangeNginxHasNotTakenUp() throws {
        let dir = try TempDir(prefix: "cutover-dashboard-cancel")
        let gate = DispatchSemaphore(value: 0)
        let runner = ScriptedRunner([
            .init(["nginx-test", "-V"], exitCode: 1),
            // The change's validation blocks until the rollback is queued (the test releases it then).
            .init(["nginx-test", "-t"]) {
                _ = gate.wait(timeout: .now() + 20)
                return CommandResult(argv: ["nginx-test", "-t"], exitCode: 0, stderr: "nginx: configuration file test is successful")
            },
            // The rollback: validated and reloaded. The cancelled change never reaches a reload.
            .init(["nginx-test", "-t"], stderr: "nginx: configuration file test is successful"),
            .init(["nginx-test", "-s", "reload"]),
        ])
        let (session, config) = try cancelSession(dir, runner: runner)
        let before = try String(contentsOfFile: config, encoding: .utf8)
        let statuses = runChangeThenRollback(session, blockedStage: "validating (nginx -t)", gate: gate)
        let state = session.app.state
        #expect(state.lastApply?.succeeded == true, "\(state.lastApply?.message ?? "no apply"); \(statuses)")
        runner.verifyAllRan()
        #expect(statuses.contains { $0.contains("rollback queued: cancelling") }, "\(statuses)")
        #expect(statuses.contains { $0.contains("before nginx took it up (nothing changed); now running the rollback") }, "\(statuses)")
        let records = try Journal(path: dir.path + "/journal.jsonl").records()
        #expect(records.map(\.outcome) == [.cancelled, .applied], "\(records.map(\.message))")
        #expect(records.first?.message.contains("the previous files were put back before any reload") == true)
        #expect(records.last?.change.action == "rollback-all")
        // On disk: the rollback of the config as it was before the cancelled change (which left nothing).
        let model = try LocalConfigReader(path: config).load().model
        #expect(model.endpoints.allSatisfy { $0.percent == .zero })
        #expect(try String(contentsOfFile: config, encoding: .utf8) != before)
    }

    @Test func emergencyRollbackRunsRightAfterAChangeAlreadyReloaded() throws {
        let dir = try TempDir(prefix: "cutover-dashboard-nocancel")
        let gate = DispatchSemaphore(value: 0)
        let runner = ScriptedRunner([
            .init(["nginx-test", "-V"], exitCode: 1),
            .init(["nginx-test", "-t"], stderr: "nginx: configuration file test is successful"),
            // The change's reload blocks: past the last cancellation point, so it completes.
            .init(["nginx-test", "-s", "reload"]) {
                _ = gate.wait(timeout: .now() + 20)
                return CommandResult(argv: ["nginx-test", "-s", "reload"], exitCode: 0)
            },
            .init(["nginx-test", "-t"], stderr: "nginx: configuration file test is successful"),
            .init(["nginx-test", "-s", "reload"]),
        ])
        let (session, config) = try cancelSession(dir, runner: runner)
        let statuses = runChangeThenRollback(session, blockedStage: "reloading nginx", gate: gate)
        let state = session.app.state
        #expect(state.lastApply?.succeeded == true, "\(state.lastApply?.message ?? "no apply"); \(statuses)")
        runner.verifyAllRan()
        #expect(statuses.contains { $0.contains("had already reached nginx, so it completed") && $0.contains("now running the rollback") },
                "\(statuses)")
        let records = try Journal(path: dir.path + "/journal.jsonl").records()
        #expect(records.map(\.outcome) == [.applied, .applied], "\(records.map(\.message))")
        #expect(records.map(\.change.action) == ["group", "rollback-all"])
        #expect(try LocalConfigReader(path: config).load().model.endpoints.allSatisfy { $0.percent == .zero })
    }

    @Test func relativeLogPathsResolveAgainstNginxsPrefix() throws {
        let dir = try TempDir(prefix: "cutover-dashboard-prefix")
        // `access_log logs/main.log …;` as nginx.conf files often say it: nginx opens it under its prefix.
        let config = try dir.write("conf.d/routing.conf", DemoScenario.standard.configText(directory: "logs"))
        try dir.write("nginx-prefix/logs/main.log", "")
        var settings = Settings()
        settings.nginx = "nginx-test"
        settings.journal = dir.path + "/journal.jsonl"
        let version = "nginx version: nginx/1.22.1\nconfigure arguments: --prefix=\(dir.path)/nginx-prefix --conf-path=/etc/nginx/nginx.conf"
        let runner = ScriptedRunner((0..<3).map { _ in .init(["nginx-test", "-V"], stderr: version) })
        var options = WatchOptions(config: config, window: "15m")
        options.themeDirectories = []
        let session = try DashboardSession.watch(settings: settings, options: options, runner: runner)
        #expect(session.app.state.model?.mainLog?.path == dir.path + "/nginx-prefix/logs/main.log", "\(runner.commands)")
        #expect(session.app.state.model?.migrationLog?.path == dir.path + "/nginx-prefix/logs/migration.log")
        #expect(!session.app.state.notices.contains { $0.contains("main.log") }, "\(session.app.state.notices)")
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
        // The directory's themes and the ones built into the binary.
        #expect(session.app.state.themeNames == ["broken", "colorblind", "default", "high-contrast", "light"])
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
