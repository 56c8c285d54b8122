import Apply
import ArgumentParser
import Dashboard
import Foundation
import Preflight
import Settings
import TerminalCurses

/// `cutover watch` (also plain `cutover`): the dashboard on the nginx config and logs from settings or flags.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch the rollout live and steer it with keystrokes (the default command).",
        discussion: "Every change goes through the same apply pipeline as the CLI; press ? in the dashboard for the keys.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var logs: LogOptions
    @Option(name: .long, help: ArgumentHelp("The theme (a name from themes/ or ~/.config/cutover/themes).", valueName: "NAME"))
    var theme: String?
    @Option(name: .long, help: ArgumentHelp("The statistics window: 1m, 5m, 15m or all.", valueName: "WINDOW"))
    var window: String?
    @Flag(name: .long, help: "Disable every key that changes the config.")
    var readOnly = false
    @Flag(name: .customLong("no-preflight"), help: "Skip the config and log checks of `cutover check` (their findings count shows in the header and they are listed in the problems view).")
    var noPreflight = false

    func run() throws {
        // The one clock of the dashboard, its preflight, its ingest and its pipeline runs.
        let clock = ApplyClock.system
        try runReportingErrors {
            let settings: Settings
            do {
                settings = try Settings.load(explicit: global.settings)
            } catch {
                throw CLIError(message: "settings: \(error)", code: CLIError.general)
            }
            // A FIFO or directory as the config would hang or fail the dashboard's first read: say so first.
            if let path = global.config ?? settings.config { try Context.checkConfigFile(path) }
            var options = WatchOptions(config: global.config, prefix: global.prefix, mainLogs: logs.main,
                                       migrationLogs: logs.migration, theme: theme, window: window, readOnly: readOnly)
            if !noPreflight {
                let context = try Context.load(global)
                let inputs = PreflightInputs(mainLogs: logs.mainLogs(settings),
                                             migrationLogs: logs.migrationLogs(settings),
                                             nginxBinary: settings.nginx, journal: settings.journalPath(config: context.configPath), checkEnvironment: false,
                                             syslog: settings.syslog)
                options.preflight = Preflight.run(config: context.config, model: context.model, inputs: inputs,
                                                  probe: SystemProbe(clock: clock))
                    + (context.drift.map(Preflight.fleetFindings) ?? [])
            }
            // The syslog listener runs on its own event loop for as long as the dashboard does.
            var syslog: SyslogWiring?
            if settings.syslog != nil {
                let context = try Context.load(global)
                syslog = try SyslogWiring.start(settings: settings, model: context.model)
                options.syslog = syslog?.sources
            }
            defer { syslog?.listener.stop() }
            let session: DashboardSession
            do {
                // The one clock of the dashboard, its ingest and its pipeline runs.
                session = try DashboardSession.watch(settings: settings, options: options, clock: clock)
            } catch {
                throw CLIError(message: "\(error)", code: CLIError.general)
            }
            try runOnTerminal(session)
        }
    }
}

/// Runs a prepared session on the process's terminal and puts the terminal back on every way out.
func runOnTerminal(_ session: DashboardSession) throws {
    let backend: CursesBackend
    do {
        backend = try CursesBackend()
    } catch {
        throw CLIError(message: "\(error)", code: CLIError.general)
    }
    defer { backend.restore() }
    session.run(backend: backend)
}
