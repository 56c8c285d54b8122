import Apply
import ArgumentParser
import Foundation
import NginxConfig
import Rollout
import Settings

/// Options every subcommand takes: where the nginx config and the settings are.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The nginx config: a full nginx.conf or the file holding the routing.", valueName: "FILE"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("The settings file (default: ./cutover.yaml, $XDG_CONFIG_HOME/cutover/cutover.yaml, /etc/cutover/cutover.yaml).", valueName: "FILE"))
    var settings: String?

    @Option(name: .long, help: ArgumentHelp("The directory relative include paths resolve against (nginx's conf directory).", valueName: "DIR"))
    var prefix: String?
}

/// The log files to read, per role; empty means the settings' `logs:`, else the `access_log`s in the config.
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("main-log"), parsing: .upToNextOption, help: ArgumentHelp("Main log files (current service), oldest first.", valueName: "PATH"))
    var main: [String] = []
    @Option(name: .customLong("migration-log"), parsing: .upToNextOption, help: ArgumentHelp("Migration log files (new service), oldest first.", valueName: "PATH"))
    var migration: [String] = []

    /// The main logs: these flags, else the settings'.
    func mainLogs(_ settings: Settings) -> [String] { main.isEmpty ? settings.mainLogs : main }
    /// The migration logs: these flags, else the settings'.
    func migrationLogs(_ settings: Settings) -> [String] { migration.isEmpty ? settings.migrationLogs : migration }
}

/// A failure the CLI reports with a message and a documented exit code.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var code: Int32

    var description: String { message }

    static let general: Int32 = ExitStatus.error.rawValue
    static let refused: Int32 = ExitStatus.refused.rawValue
    static let reverted: Int32 = ExitStatus.reloadFailedReverted.rawValue
    static let conflict: Int32 = ExitStatus.conflict.rawValue
}

/// Everything a command needs after reading settings and the config.
struct Context {
    var settings: Settings
    var configPath: String
    var config: ConfigSet
    var model: RolloutModel
    /// The apply pipeline wired from the settings for this config (the CLI prints the report before
    /// ending by a signal that arrived mid-change, so the pipeline does not raise it itself).
    var applier: EditApplier
    /// Every nginx of `hosts:` (the one local nginx without it), resolved once here.
    var targets: [NginxTarget]
    /// The hosts this command acts on (`--hosts`, else all of them).
    var selected: [NginxTarget]
    /// Whether the hosts' routing agrees; nil without `hosts:`.
    var drift: DriftReport?

    /// What an editing command needs of the fleet: its hosts to agree (exit 5 otherwise), or nothing.
    enum Scope {
        case reading
        case editing
    }
    /// The one clock of this process (the pipeline's), handed to everything that reads the time.
    var clock: ApplyClock { applier.pipeline.clock }

    /// Loads settings, then the config they or the flags name, then discovers the model; then finishes
    /// a change a dead Cutover process left half-way on this config (saying so loudly). With `hosts:`, reads
    /// every host's routing, compares them (`drift`), and takes the config from a host of `hosts` (`--hosts`)
    /// whose routing agrees with the others; `.editing` refuses (exit 5) while the chosen hosts differ.
    static func load(_ options: GlobalOptions, hosts: String? = nil, scope: Scope = .reading,
                     runner: CommandRunner = ProcessRunner()) throws -> Context {
        let settings: Settings
        do {
            settings = try Settings.load(explicit: options.settings)
        } catch {
            throw CLIError(message: "settings: \(error)", code: CLIError.general)
        }
        guard let path = options.config ?? settings.config ?? settings.hosts.first?.config else {
            let looked = Settings.searchPaths().joined(separator: ", ")
            throw CLIError(message: "no nginx config given: pass --config FILE or set `config:` in cutover.yaml (looked for settings in \(looked))", code: CLIError.general)
        }
        if settings.hasFleet { return try loadFleet(options, settings: settings, path: path, hosts: hosts, scope: scope, runner: runner) }
        if hosts != nil {
            throw CLIError(message: "--hosts needs a fleet: list the hosts under `hosts:` in cutover.yaml (without it Cutover edits the one local nginx)",
                           code: ExitStatus.usage.rawValue)
        }
        try checkConfigFile(path)
        var config: ConfigSet
        do {
            config = try ConfigSet.load(path: path, prefix: options.prefix ?? settings.prefix)
        } catch {
            throw CLIError(message: "\(error)", code: CLIError.general)
        }
        // Relative access_log paths resolve against nginx's prefix (the master's `-p`, else `nginx -V`'s --prefix).
        let model = settings.discover(&config, runner: runner)
        var applier = settings.editApplier(configPath: config.mainPath, config: config, runner: runner)
        applier.updateConfiguration { $0.raisePendingSignal = false }
        let local = NginxTarget(name: settings.effectiveHosts.first?.name ?? "localhost", configPath: config.mainPath,
                                includePrefix: options.prefix ?? settings.prefix, control: applier.pipeline.configuration.nginx,
                                runner: runner)
        let context = Context(settings: settings, configPath: config.mainPath, config: config, model: model, applier: applier,
                              targets: [local], selected: [local], drift: nil)
        context.recoverInterruptedChange()
        return context
    }

    /// `load` with `hosts:`: every host read and compared, the config taken from an agreeing chosen host.
    private static func loadFleet(_ options: GlobalOptions, settings: Settings, path: String, hosts: String?, scope: Scope,
                                  runner: CommandRunner) throws -> Context {
        var settings = settings
        if let prefix = options.prefix { settings.prefix = prefix }
        let targets = settings.nginxTargets(configPath: path, config: nil, runner: runner)
        let selected: [NginxTarget]
        do {
            selected = try settings.selectHosts(hosts, from: targets)
        } catch {
            throw CLIError(message: "\(error)", code: ExitStatus.usage.rawValue)
        }
        // A fleet change a dead process left half-way is put back on every host first: until then the hosts may
        // differ only because of it.
        if let first = targets.first {
            report(recovery: { try settings.fleetPipeline(configPath: path, targets: targets, reference: first).recoverInterrupted() })
        }
        let routings = targets.concurrentMap(HostRouting.read)
        let drift = DriftReport.compare(routings)
        let chosen = DriftReport.compare(routings.filter { r in selected.contains { $0.name == r.host } })
        if scope == .editing && !chosen.agrees {
            let unreadable = chosen.unreachable
            let differing = chosen.drifted.filter { !unreadable.contains($0) }
            let agreeing = chosen.hosts.filter { !$0.drift }.map(\.name)
            var message = ""
            if !differing.isEmpty {
                message = "hosts differ: the routing on \(differing.joined(separator: ", ")) differs from "
                    + (agreeing.isEmpty ? "the others" : agreeing.joined(separator: ", ")) + "; nothing was changed.\n" + chosen.describe()
                    + "\nMake them identical with `cutover sync --from \(agreeing.first ?? "HOST")`, or limit the change to hosts that "
                    + "agree with `--hosts \(agreeing.joined(separator: ","))`."
            }
            if !unreadable.isEmpty {
                message += (message.isEmpty ? "" : "\n") + "cannot read the routing on \(unreadable.joined(separator: ", ")); nothing was changed:\n"
                    + chosen.describe() + "\nBring the host back, or leave it out with `--hosts "
                    + agreeing.joined(separator: ",") + "`."
            }
            throw CLIError(message: message, code: differing.isEmpty ? CLIError.general : CLIError.conflict)
        }
        guard let referenceName = chosen.hosts.first(where: { !$0.drift })?.name,
              let reference = selected.first(where: { $0.name == referenceName }) else {
            throw CLIError(message: "cannot read the routing on any host: \n" + drift.describe(), code: CLIError.general)
        }
        var config: ConfigSet
        do {
            config = try reference.loadConfig()
        } catch {
            throw CLIError(message: "\(error)", code: CLIError.general)
        }
        let model = settings.discover(&config, runner: runner)
        var applier = settings.editApplier(configPath: path, config: config, targets: selected, reference: reference, runner: runner)
        applier.updateConfiguration { $0.raisePendingSignal = false }
        return Context(settings: settings, configPath: path, config: config, model: model, applier: applier,
                       targets: targets, selected: selected, drift: drift)
    }

    /// The hosts' drift now (read again), for the line an edit to some hosts prints afterwards.
    func driftNow() -> DriftReport? {
        settings.hasFleet ? DriftReport.read(targets) : nil
    }

    /// Puts back a change whose Cutover process died mid-way (its intent has no journaled outcome).
    func recoverInterruptedChange() {
        Context.report(recovery: { try applier.recoverInterrupted() })
    }

    /// Runs a recovery and says what it did (loudly) or why it could not.
    static func report(recovery: () throws -> ApplyReport?) {
        do {
            guard let report = try recovery() else { return }
            printError("cutover: RECOVERED: \(report.message)")
            if let problem = report.journalProblem { printError("cutover: WARNING: \(problem)") }
        } catch {
            printError("cutover: WARNING: an interrupted change could not be recovered: \(error)")
        }
    }

    /// Refuses a config path that is no regular readable file (a FIFO would hang the read, a directory or
    /// device is no config) with what to do instead.
    static func checkConfigFile(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { return }  // missing: the loader says so
        let type = st.st_mode & S_IFMT
        let kind: String?
        switch type {
        case S_IFREG: kind = nil
        case S_IFDIR: kind = "a directory"
        case S_IFIFO: kind = "a FIFO (named pipe)"
        case S_IFCHR, S_IFBLK: kind = "a device"
        case S_IFSOCK: kind = "a socket"
        default: kind = "not a regular file"
        }
        if let kind {
            throw CLIError(message: "\(path) is \(kind), not an nginx config file; pass --config with the file nginx loads "
                           + "(e.g. /etc/nginx/nginx.conf) or the file holding the routing", code: CLIError.general)
        }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw CLIError(message: "cannot read the config \(path): \(reason); run as a user who can read it, or fix its permissions",
                           code: CLIError.general)
        }
        close(fd)
    }
}


/// Runs `body`, turning CLI errors into their message on stderr and their exit code.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as CLIError {
        printError("cutover: \(error.message)")
        throw ExitCode(error.code)
    }
}
