import AccessLog
import Apply
import Foundation
import NginxConfig
import Rollout
import Settings
import TerminalUI
import TrafficStats

/// What `cutover watch` runs on: the config, logs, theme, window and how changes reach nginx.
public struct WatchOptions: Sendable {
    /// The routing config (a full nginx.conf or the file holding the routing).
    public var config: String
    /// The directory relative includes and log paths resolve against.
    public var prefix: String?
    /// Main-log files; empty means the one discovered in the config.
    public var mainLogs: [String] = []
    /// Migration-log files; empty means the one discovered in the config.
    public var migrationLogs: [String] = []
    /// The theme name.
    public var theme: String?
    /// The statistics window.
    public var window: TrafficWindow = .fiveMinutes
    /// Disables every key that changes the config.
    public var readOnly = false
    /// The percent ladder for `+` and `-`.
    public var ladder: [Double] = [1, 5, 10, 25, 50, 75, 100]
    /// The pattern's variable names and labels.
    public var names = RolloutNames()
    /// The journal file.
    public var journalPath: String
    /// How to validate and reload nginx.
    public var control: NginxControl
    /// The main config passed to the lock (the lock file sits beside it).
    public var mainConfig: String
    /// Where theme files are looked for, in order.
    public var themeDirectories: [URL]
    /// The number of preflight findings, when a preflight ran.
    public var preflightFindings: Int?
    /// A label for the header (e.g. `demo`).
    public var badge: String?

    /// Creates options for `config`; everything else defaults.
    public init(config: String, journalPath: String, control: NginxControl, mainConfig: String? = nil,
                themeDirectories: [URL] = WatchOptions.defaultThemeDirectories()) {
        self.config = config
        self.journalPath = journalPath
        self.control = control
        self.mainConfig = mainConfig ?? config
        self.themeDirectories = themeDirectories
    }

    /// Options from the settings file with flags on top (a nil flag keeps the setting).
    public init(settings: Settings, config: String?, mainLogs: [String] = [], migrationLogs: [String] = [],
                theme: String? = nil, window: String? = nil, readOnly: Bool = false,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let path = config ?? settings.config else {
            throw DashboardError("no nginx config given: pass --config PATH or set `config:` in cutover.yaml")
        }
        let absolute = WatchOptions.absolute(path)
        let mainConfig = settings.mainConfig.map(WatchOptions.absolute) ?? absolute
        let timeout = Duration.milliseconds(Int(settings.commandTimeout * 1000))
        var control = NginxControl.standard(NginxLocation(binary: settings.nginx, prefix: settings.prefix, mainConfig: mainConfig))
        if !settings.validateCommand.isEmpty { control.validateArgv = settings.validateCommand }
        if !settings.reloadCommand.isEmpty { control.reloadArgv = settings.reloadCommand }
        if !settings.verifyCommand.isEmpty { control.verify = [.command(settings.verifyCommand)] }
        control.validateTimeout = timeout
        control.reloadTimeout = timeout
        self.init(config: absolute, journalPath: settings.journalPath(environment: environment), control: control,
                  mainConfig: mainConfig, themeDirectories: WatchOptions.defaultThemeDirectories(environment: environment))
        prefix = settings.prefix
        self.mainLogs = mainLogs.isEmpty ? settings.mainLogs : mainLogs
        self.migrationLogs = migrationLogs.isEmpty ? settings.migrationLogs : migrationLogs
        self.theme = theme ?? settings.theme
        let label = window ?? settings.window
        guard let w = TrafficWindow(label: label) else {
            throw DashboardError("unknown window \"\(label)\"; use one of 1m, 5m, 15m, all")
        }
        self.window = w
        self.readOnly = readOnly
        ladder = settings.ladder
        names = settings.names
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

    init(app: App, runner: EffectRunner, traffic: LiveTraffic?, simulator: TrafficSimulator?, sandbox: DemoSandbox?) {
        self.app = app
        self.runner = runner
        self.traffic = traffic
        self.simulator = simulator
        self.sandbox = sandbox
    }

    /// Prepares the dashboard on a real nginx config: reads it, finds its logs, and wires the apply pipeline.
    public static func watch(_ options: WatchOptions, runner commandRunner: CommandRunner = ProcessRunner(),
                             clock: DashboardClock = .system) throws -> DashboardSession {
        try make(options, commandRunner: commandRunner, clock: clock, simulator: nil, sandbox: nil)
    }

    /// Prepares the demo: writes the sandbox into `directory` (a new temp dir when nil) and sets up the simulator.
    public static func demo(directory: String?, theme: String? = nil, readOnly: Bool = false, rate: Double = 300,
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            clock: DashboardClock = .system) throws -> DashboardSession {
        let sandbox = try DemoSandbox.create(in: directory)
        let simulator = try TrafficSimulator(configPath: sandbox.configPath, mainLog: sandbox.mainLog,
                                             migrationLog: sandbox.migrationLog, rate: rate, clock: clock.now)
        let control = NginxControl(validateArgv: DemoCommandRunner.validateArgv(sandbox.configPath),
                                   reloadArgv: DemoCommandRunner.reloadArgv, verify: [],
                                   validateTimeout: .seconds(10), reloadTimeout: .seconds(10))
        var options = WatchOptions(config: sandbox.configPath, journalPath: Journal.defaultPath(environment: environment),
                                   control: control, themeDirectories: WatchOptions.defaultThemeDirectories(environment: environment))
        options.theme = theme
        options.readOnly = readOnly
        options.window = .oneMinute
        options.badge = "demo · \(sandbox.directory)"
        return try make(options, commandRunner: DemoCommandRunner(simulator: simulator), clock: clock,
                        simulator: simulator, sandbox: sandbox)
    }

    private static func make(_ options: WatchOptions, commandRunner: CommandRunner, clock: DashboardClock,
                             simulator: TrafficSimulator?, sandbox: DemoSandbox?) throws -> DashboardSession {
        let reader = LocalConfigReader(path: options.config, prefix: options.prefix, names: options.names)
        let loaded: LoadedConfig
        do {
            loaded = try reader.load()
        } catch {
            throw DashboardError("cannot read \(options.config): \(error)")
        }
        let (sources, sourceProblem) = logSources(options, model: loaded.model)
        var traffic: LiveTraffic?
        var trafficProblem = sourceProblem
        if !sources.isEmpty {
            let lookBack = options.window.seconds ?? 900
            do {
                traffic = try LiveTraffic(sources: sources, start: .end(lookBackSeconds: lookBack),
                                          configuration: TrafficConfiguration(rules: EndpointNaming.rules(for: loaded.model)))
            } catch {
                trafficProblem = "cannot read traffic: \(error)"
            }
        }
        let pipeline = ApplyPipeline(
            configuration: ApplyConfiguration(nginx: options.control, mainConfig: options.mainConfig,
                                              journal: Journal(path: options.journalPath)),
            runner: commandRunner)
        let applier = PipelineChangeApplier(pipeline: pipeline, reader: reader)
        let directories = options.themeDirectories
        let themes: @Sendable (String) -> (Theme, [String]) = { name in
            let result = ThemeLoader.load(named: name, searchDirectories: directories)
            return (result.theme, result.diagnostics.map(\.description))
        }
        let runner = EffectRunner(applier: applier, journal: Journal(path: options.journalPath), config: reader,
                                  traffic: traffic, themes: themes, clock: clock)
        var state = AppState(configPath: options.config, loaded: loaded, window: options.window, readOnly: options.readOnly,
                             ladder: AppState.ladder(from: options.ladder), now: clock.now())
        state.badge = options.badge
        state.preflightFindings = options.preflightFindings
        state.trafficError = trafficProblem
        state.themeNames = ThemeLoader.availableThemes(in: directories)
        let app = App(state: state, runner: runner, traffic: traffic, clock: clock)
        if let theme = options.theme { runner.perform(.loadTheme(theme)) }
        runner.noteConfiguredPercents(of: loaded.model)
        return DashboardSession(app: app, runner: runner, traffic: traffic, simulator: simulator, sandbox: sandbox)
    }

    /// The logs to follow: the flags' or settings' paths, else the ones the config names, in the config's format.
    static func logSources(_ options: WatchOptions, model: RolloutModel) -> ([LogSource], String?) {
        var sources: [LogSource] = []
        var problems: [String] = []
        func format(_ binding: AccessLogBinding?) -> LogFormat {
            guard let binding, let definition = model.logFormat(named: binding.format) else { return .combined }
            do {
                return try LogFormat(name: definition.name, template: definition.template,
                                     escape: LogEscape(parameter: definition.escape))
            } catch {
                problems.append("log_format \(definition.name) at \(definition.location): \(error); reading as combined")
                return .combined
            }
        }
        func resolve(_ path: String) -> String {
            if path.hasPrefix("/") { return path }
            return (options.prefix ?? (options.config as NSString).deletingLastPathComponent) + "/" + path
        }
        let mainPaths = options.mainLogs.isEmpty ? (model.mainLog.map { [$0.path] } ?? []) : options.mainLogs
        let migrationPaths = options.migrationLogs.isEmpty ? (model.migrationLog.map { [$0.path] } ?? []) : options.migrationLogs
        for path in mainPaths { sources.append(LogSource(path: resolve(path), role: .main, format: format(model.mainLog))) }
        for path in migrationPaths { sources.append(LogSource(path: resolve(path), role: .migration, format: format(model.migrationLog))) }
        if mainPaths.isEmpty { problems.append("no main access log found in the config; pass --main-log PATH") }
        if migrationPaths.isEmpty { problems.append("no migration access log found in the config; pass --migration-log PATH") }
        return (sources, problems.isEmpty ? nil : problems.joined(separator: "; "))
    }

    /// Runs the dashboard on `backend` until the operator quits: starts the ingest (and the simulator),
    /// runs the event loop, and stops them again on every way out.
    public func run(backend: any TerminalUI.Backend, shouldStop: () -> Bool = { false }) {
        traffic?.run()
        simulator?.start()
        defer {
            simulator?.stop()
            traffic?.stop()
        }
        app.run(backend: backend, shouldStop: shouldStop)
    }
}

/// Runs `cutover watch` on `backend` (the executable passes a `CursesBackend`); the caller restores the terminal.
public func runWatch(options: WatchOptions, backend: any TerminalUI.Backend, runner: CommandRunner = ProcessRunner()) throws {
    try DashboardSession.watch(options, runner: runner).run(backend: backend)
}

/// Runs `cutover demo` on `backend`: the sandbox in `dir` (a new temp dir when nil) with the traffic simulator.
public func runDemo(dir: String?, backend: any TerminalUI.Backend, theme: String? = nil, readOnly: Bool = false) throws {
    try DashboardSession.demo(directory: dir, theme: theme, readOnly: readOnly).run(backend: backend)
}
