import Apply
import ArgumentParser
import Foundation
import Preflight
import Settings
import TrafficStats

/// `cutover check`: what would make a rollout lie or fail, found before it starts.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Preflight: find what would make a rollout lie or fail. Exit 0 none, 1 warnings only, 2 errors.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var logs: LogOptions
    @Flag(name: .long, help: "Print {\"findings\": [...]} (ids documented in the README).") var json = false
    @Flag(name: .long, help: "Check only the config and the logs, not the nginx binary, privileges and files.") var configOnly = false

    func run() throws {
        try runReportingErrors {
            let context = try Context.load(global)
            let settings = context.settings
            let runner = ProcessRunner()
            var control: NginxControl
            var pidFile: String?
            var local = true
            if let reference = context.applier.fleet?.reference {
                // A fleet: the environment checks look at the host the config was read from, when it is this machine.
                control = reference.control
                pidFile = reference.control.masterPidFile
                local = reference.isLocal
            } else {
                let location = settings.mainConfig(for: context.configPath, config: context.config, runner: runner)
                control = settings.nginxControl(location: location)
                pidFile = location.pidFile
            }
            let inputs = PreflightInputs(
                mainLogs: Self.expandingHosts(logs.mainLogs(settings), settings: settings),
                migrationLogs: Self.expandingHosts(logs.migrationLogs(settings), settings: settings),
                nginxBinary: settings.nginx, validateCommand: control.validateArgv, reloadCommand: control.reloadArgv,
                pidFile: pidFile, journal: settings.journalPath(config: context.configPath),
                commandTimeout: .milliseconds(Int64(settings.commandTimeout * 1000)), checkEnvironment: !configOnly && local,
                syslog: settings.syslog)
            var findings = Preflight.run(config: context.config, model: context.model, inputs: inputs, probe: SystemProbe(runner: runner, clock: context.clock))
            if let drift = context.drift { findings += Preflight.fleetFindings(drift) }
            if json {
                print(PreflightReport.json(findings))
            } else {
                print(PreflightReport.text(findings), terminator: "")
            }
            let code = PreflightReport.exitCode(findings)
            if code != 0 { throw ExitCode(code) }
        }
    }

    /// The paths with `{host}` made one per host of `hosts:` (each host's file is checked).
    static func expandingHosts(_ paths: [String], settings: Settings) -> [String] {
        paths.flatMap { path in
            path.contains(LogPlan.hostPlaceholder)
                ? settings.effectiveHosts.map { path.replacingOccurrences(of: LogPlan.hostPlaceholder, with: $0.name) } : [path]
        }
    }
}
