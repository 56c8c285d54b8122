import AccessLog
import Apply
import Autopilot
import Foundation
import Preflight
import NginxConfig
import Rollout
import Settings
import TerminalUI
import TrafficStats

/// What `cutover watch` shows: the config, logs, theme and window (how changes reach nginx comes from `Settings`).
public struct WatchOptions: Sendable {
    /// The routing config (a full nginx.conf or the file holding the routing); nil means the settings' `config`.
    public var config: String?
    /// The directory relative includes and log paths resolve against; nil means the settings' `prefix`.
    public var prefix: String?
    /// Main-log files; empty means the settings', else the one discovered in the config.
    public var mainLogs: [String] = []
    /// Migration-log files; empty means the settings', else the one discovered in the config.
    public var migrationLogs: [String] = []
    /// The theme name; nil means the settings' theme.
    public var theme: String?
    /// The statistics window label (`1m`, `5m`, `15m`, `all`); nil means the settings' window.
    public var window: String?
    /// Disables every key that changes the config.
    public var readOnly = false
    /// The preflight findings, when a preflight ran.
    public var preflight: [Finding]?
    /// Where theme files are looked for, in order.
    public var themeDirectories: [URL] = WatchOptions.defaultThemeDirectories()
    /// The syslog listener's streams (started by the executable, which stops it), read beside the files.
    public var syslog: SyslogSources?

    /// Creates options; every field defaults to the settings.
    public init(config: String? = nil, prefix: String? = nil, mainLogs: [String] = [], migrationLogs: [String] = [],
                theme: String? = nil, window: String? = nil, readOnly: Bool = false) {
        self.config = config
        self.prefix = prefix
        self.mainLogs = mainLogs
        self.migrationLogs = migrationLogs
        self.theme = theme
        self.window = window
        self.readOnly = readOnly
    }

    /// The theme directories: the user's (`$XDG_CONFIG_HOME/cutover/themes`), then `themes/` in the working
    /// directory, then `/usr/share/cutover/themes`.
    public static func defaultThemeDirectories(environment: [String: String] = ProcessInfo.processInfo.environment) -> [URL] {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let config = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
        return [URL(fileURLWithPath: config + "/cutover/themes"),
                URL(fileURLWithPath: FileManager.default.currentDirectoryPath + "/themes"),
                URL(fileURLWithPath: "/usr/share/cutover/themes")]
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

/// Everything a session is built from once the config and settings are known.
struct SessionParts {
    var reader: LocalConfigReader
    var loaded: LoadedConfig
    var applier: EditApplier
    var journalPath: String
    var mainLogs: [String]
    var migrationLogs: [String]
    var theme: String?
    var window: TrafficWindow
    var readOnly: Bool
    var ladder: [Double]
    var themeDirectories: [URL]
    var preflight: [Finding]?
    var badge: String?
    /// `request` or `upstream` (see `Settings.latency`).
    var latency = "request"
    /// The new service's upstream addresses, when both services log to one file.
    var newServiceUpstreams: [String] = []
    /// The verdict's margins and confidence (`verdict:` in cutover.yaml).
    var verdict = VerdictSettings()
    /// The guardrails (`guard:` in cutover.yaml), for the autopilot this dashboard runs when no guard does.
    var guardrails = GuardSettings()
    /// The syslog listener's streams, when logs arrive by syslog.
    var syslog: SyslogSources?
    /// The hosts whose figures are kept apart (empty: none).
    var hosts: [String] = []
}

/// A ready-to-run dashboard: the app, its background ingest and (for the demo) the simulator.
public final class DashboardSession {
    /// The event loop.
    public let app: App
    /// The background ingest, when there are logs to read.
    public let traffic: LiveTraffic?
    /// The demo's simulator, when this is the demo.
    public let simulator: TrafficSimulator?
    /// The demo's directory, when this is the demo.
    public let sandbox: DemoSandbox?
    private let runner: EffectRunner
    /// The ramp plans and their executor (the lease is given up when the session ends).
    public let planner: PlanExecuting?

    init(app: App, runner: EffectRunner, traffic: LiveTraffic?, simulator: TrafficSimulator?, sandbox: DemoSandbox?,
         planner: PlanExecuting? = nil) {
        self.app = app
        self.runner = runner
        self.planner = planner
        self.traffic = traffic
        self.simulator = simulator
        self.sandbox = sandbox
    }

    /// Prepares the dashboard on a real nginx config: reads it, finds its logs, and wires the same
    /// `EditApplier` the CLI uses (from the settings).
    public static func watch(settings: Settings, options: WatchOptions, runner: CommandRunner = ProcessRunner(),
                             clock: ApplyClock = .system) throws -> DashboardSession {
        guard let path = options.config ?? settings.config ?? settings.hosts.first?.config else {
            throw DashboardError("no nginx config given: pass --config FILE or set `config:` in cutover.yaml")
        }
        var reader = LocalConfigReader(path: WatchOptions.absolute(path), prefix: options.prefix ?? settings.prefix, names: settings.names)
        var targets: [NginxTarget] = []
        if settings.hasFleet {
            // A fleet: the config comes from the first host whose routing agrees with the majority.
            targets = settings.nginxTargets(configPath: path, config: nil, runner: runner)
            let drift = DriftReport.read(targets)
            guard let name = drift.hosts.first(where: { !$0.drift })?.name, let reference = targets.first(where: { $0.name == name }) else {
                throw DashboardError("cannot read the routing on any host:\n" + drift.describe())
            }
            reader = LocalConfigReader(path: reference.configPath, prefix: reference.includePrefix, names: settings.names,
                                       reference: reference, fleet: targets)
        }
        var loaded: LoadedConfig
        do {
            loaded = try reader.load()
        } catch {
            throw DashboardError("cannot read \(reader.path): \(error)")
        }
        // Relative access_log paths resolve as nginx resolves them (its prefix), on every later read too.
        if reader.reference == nil, loaded.model.namesRelativeLogs, let prefix = settings.nginxPrefix(for: loaded.config, runner: runner) {
            reader.nginxPrefix = prefix
            do {
                loaded = try reader.load()
            } catch {
                throw DashboardError("cannot read \(reader.path): \(error)")
            }
        }
        let label = options.window ?? settings.window
        guard let window = TrafficWindow(label: label) else {
            throw DashboardError("unknown window \"\(label)\"; use one of 1m, 5m, 15m, all")
        }
        var editSettings = settings
        editSettings.prefix = reader.prefix
        // Every change goes through the CLI's applier: to the local nginx, or to every host, all or none.
        let applier = reader.reference.map {
            editSettings.editApplier(configPath: path, config: loaded.config, targets: targets, reference: $0, runner: runner)
        } ?? editSettings.editApplier(configPath: loaded.config.mainPath, config: loaded.config, runner: runner)
        var parts = SessionParts(
            reader: reader, loaded: loaded, applier: applier,
            journalPath: settings.journalPath(config: reader.reference == nil ? loaded.config.mainPath : path),
            mainLogs: options.mainLogs.isEmpty ? settings.mainLogs : options.mainLogs,
            migrationLogs: options.migrationLogs.isEmpty ? settings.migrationLogs : options.migrationLogs,
            theme: options.theme ?? settings.theme, window: window, readOnly: options.readOnly, ladder: settings.ladder,
            themeDirectories: options.themeDirectories, preflight: options.preflight, badge: nil,
            latency: settings.latency, newServiceUpstreams: settings.newServiceUpstreams, verdict: settings.verdict,
            guardrails: settings.guardrails, syslog: options.syslog)
        parts.hosts = options.syslog?.inbox.router.hosts ?? settings.figureHosts(mainLogs: parts.mainLogs, migrationLogs: parts.migrationLogs)
        return try make(parts, clock: clock, simulator: nil, sandbox: nil)
    }

    /// Prepares the demo: writes the sandbox into `directory` (a new temp dir when nil) and sets up the simulator;
    /// its "nginx" is `DemoCommandRunner`, everything else is the real path (the journal included).
    public static func demo(directory: String?, theme: String? = nil, readOnly: Bool = false, rate: Double = 300,
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            clock: ApplyClock = .system) throws -> DashboardSession {
        let sandbox = try DemoSandbox.create(in: directory)
        let simulator = try TrafficSimulator(configPath: sandbox.configPath, mainLog: sandbox.mainLog,
                                             migrationLog: sandbox.migrationLog, rate: rate, clock: clock)
        let control = NginxControl(validateArgv: DemoCommandRunner.validateArgv(sandbox.configPath),
                                   reloadArgv: DemoCommandRunner.reloadArgv, verify: [],
                                   validateTimeout: .seconds(10), reloadTimeout: .seconds(10))
        // The demo keeps its journal in its sandbox, apart from the real one.
        let journalPath = (sandbox.directory as NSString).appendingPathComponent("journal.jsonl")
        let pipeline = ApplyPipeline(configuration: ApplyConfiguration(nginx: control, mainConfig: sandbox.configPath,
                                                                       journal: Journal(path: journalPath)),
                                     runner: DemoCommandRunner(simulator: simulator, monotonic: clock.monotonic), clock: clock)
        let reader = LocalConfigReader(path: sandbox.configPath)
        let loaded: LoadedConfig
        do {
            loaded = try reader.load()
        } catch {
            throw DashboardError("cannot read the demo config \(sandbox.configPath): \(error)")
        }
        let parts = SessionParts(
            reader: reader, loaded: loaded,
            applier: EditApplier(pipeline: pipeline, configPath: sandbox.configPath, prefix: nil, names: reader.names),
            journalPath: journalPath, mainLogs: [], migrationLogs: [], theme: theme, window: .oneMinute, readOnly: readOnly,
            ladder: AppState.defaultLadder.map(\.value), themeDirectories: WatchOptions.defaultThemeDirectories(environment: environment),
            preflight: Preflight.run(config: loaded.config, model: loaded.model,
                                     inputs: PreflightInputs(mainLogs: [sandbox.mainLog], migrationLogs: [sandbox.migrationLog],
                                                             journal: journalPath, checkEnvironment: false),
                                     probe: SystemProbe(clock: clock)),
            badge: "demo")
        return try make(parts, clock: clock, simulator: simulator, sandbox: sandbox)
    }

    private static func make(_ parts: SessionParts, clock: ApplyClock, simulator: TrafficSimulator?,
                             sandbox: DemoSandbox?) throws -> DashboardSession {
        let loaded = parts.loaded
        let plan = LogPlan.plan(model: loaded.model, mainLogs: parts.mainLogs, migrationLogs: parts.migrationLogs,
                                prefix: parts.reader.prefix ?? (parts.reader.path as NSString).deletingLastPathComponent, hosts: parts.hosts)
        let sources = plan.sources
        var traffic: LiveTraffic?
        var trafficProblem: String?
        let notices = plan.problems.map { p in p.location.line > 0 ? "\(p.location): \(p.message)" : p.message }
        if !sources.isEmpty || parts.syslog != nil {
            let lookBack = parts.window.seconds ?? 900
            var configuration = LogPlan.configuration(rules: EndpointNaming.rules(for: loaded.model), latency: parts.latency,
                                                      newServiceUpstreams: parts.newServiceUpstreams)
            configuration.verdict = parts.verdict
            configuration.hosts = parts.hosts
            do {
                traffic = try LiveTraffic(sources: sources, start: .end(lookBackSeconds: lookBack), configuration: configuration,
                                          clock: clock.monotonicSeconds, wallClock: clock.unixSeconds, syslog: parts.syslog)
            } catch {
                trafficProblem = "cannot read traffic: \(error)"
            }
            // The journal's changes split each endpoint's requests into before and since its last change.
            let records = (try? Journal(path: parts.journalPath).records()) ?? []
            for change in Settings.routingChanges(journal: records, model: loaded.model) {
                traffic?.noteRoutingChange(change)
            }
        }
        // The pipeline reports its stages to the loop (through a sink set once the runner exists).
        let stages = StageSink()
        var editApplier = parts.applier
        editApplier.updateConfiguration { $0.onStage = { stages.send($0) } }
        let applier = PipelineChangeApplier(applier: editApplier, reader: parts.reader)
        let directories = parts.themeDirectories
        let themes: @Sendable (String) -> (Theme, [String]) = { name in
            let result = ThemeLoader.load(named: name, searchDirectories: directories)
            return (result.theme, result.diagnostics.map(\.description))
        }
        let source: TrafficSource? = simulator.map { DemoTrafficSource(live: traffic, simulator: $0) } ?? traffic
        // The autopilot over the same applier as a key press; it runs on the runner's queue when this dashboard
        // holds the lease (no guard runs), and tells the figures of each change as a key press does.
        let notifyFailures = StageSink()  // a line sink like the stage reports'
        var notifier: Notifier?
        if !parts.guardrails.notify.isEmpty {
            notifier = Notifier(argv: parts.guardrails.notify, runner: ProcessRunner(),
                                timeout: .milliseconds(Int64(parts.guardrails.notifyTimeoutSeconds * 1000)), clock: clock,
                                report: { notifyFailures.send($0.message) })
        }
        let autopilot = Autopilot(applier: editApplier, store: PlanStore(journalPath: parts.journalPath), guardSettings: parts.guardrails,
                                  clock: clock, notifier: notifier)
        autopilot.onApplied = { [source] change in
            for endpoint in change.endpoints {
                source?.setConfiguredPercent(endpoint.percent, endpoint: endpoint.id, at: change.time)
            }
        }
        let planner = LeasedAutopilot(autopilot: autopilot, mayExecute: !parts.readOnly && source != nil,
                                      whyNot: parts.readOnly ? "nobody executes the plans: read-only, so this dashboard does not; start `cutover guard`"
                                          : "nobody executes the plans: this dashboard reads no access logs, so it cannot judge a step; start `cutover guard`")
        let runner = EffectRunner(applier: applier, journal: ConfigJournal(journal: Journal(path: parts.journalPath), config: parts.applier.pipeline.configuration.configPath ?? parts.loaded.config.mainPath), config: parts.reader,
                                  traffic: source, themes: themes, clock: clock, planner: planner)
        notifyFailures.target = { [weak runner] text in runner?.notify(.autopilotReported(AutopilotReport(snapshot: nil, message: "autopilot: " + text, isError: true))) }
        stages.target = { [weak runner] stage in runner?.notify(.applyStage(stage)) }
        var state = AppState(configPath: loaded.config.mainPath, loaded: loaded, window: parts.window, readOnly: parts.readOnly,
                             ladder: AppState.ladder(from: parts.ladder), now: clock.now())
        state.badge = parts.badge
        state.preflight = parts.preflight
        state.trafficError = trafficProblem
        state.notices = notices
        state.themeNames = ThemeLoader.availableThemes(in: directories)
        state.autopilot = AutopilotPane(enabled: true)
        state.autopilot.autoRollback = parts.guardrails.autoRollback
        state.autopilot.guardedEndpoints = parts.guardrails.endpoints
        let app = App(state: state, runner: runner, traffic: source, clock: clock)
        if let theme = parts.theme { runner.perform(.loadTheme(theme)) }
        runner.noteConfiguredPercents(of: loaded.model)
        return DashboardSession(app: app, runner: runner, traffic: traffic, simulator: simulator, sandbox: sandbox, planner: planner)
    }

    /// Runs the dashboard on `backend` until the operator quits: starts the ingest (and the simulator),
    /// runs the event loop, and stops them again on every way out.
    public func run(backend: any TerminalUI.Backend, shouldStop: () -> Bool = { false }) {
        traffic?.run()
        simulator?.start()
        defer {
            simulator?.stop()
            traffic?.stop()
            planner?.release()
        }
        app.run(backend: backend, shouldStop: shouldStop)
    }
}

/// Runs `cutover watch` on `backend` (the executable passes a `CursesBackend`); the caller restores the terminal.
public func runWatch(settings: Settings, options: WatchOptions, backend: any TerminalUI.Backend,
                     runner: CommandRunner = ProcessRunner()) throws {
    try DashboardSession.watch(settings: settings, options: options, runner: runner).run(backend: backend)
}

/// Runs `cutover demo` on `backend`: the sandbox in `dir` (a new temp dir when nil) with the traffic simulator.
public func runDemo(dir: String?, backend: any TerminalUI.Backend, theme: String? = nil, readOnly: Bool = false) throws {
    try DashboardSession.demo(directory: dir, theme: theme, readOnly: readOnly).run(backend: backend)
}

/// The demo's traffic source: the live ingest, with the simulator's failure reported as the reader's.
struct DemoTrafficSource: TrafficSource {
    let live: LiveTraffic?
    let simulator: TrafficSimulator

    func snapshot(_ window: TrafficWindow) -> TrafficSnapshot? { live?.snapshot(window) }

    var error: String? {
        if let error = live?.error { return error }
        return simulator.error.map { "the traffic simulator stopped: \($0)" }
    }

    func setConfiguredPercent(_ percent: Double?, endpoint: EndpointID, at time: Int64) {
        live?.setConfiguredPercent(percent, endpoint: endpoint, at: time)
    }
}

/// Where the pipeline's stage reports (and the notify command's failures) go: set once the effect runner exists.
final class StageSink: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (@Sendable (String) -> Void)?

    var target: (@Sendable (String) -> Void)? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }

    func send(_ stage: String) { target?(stage) }
}
