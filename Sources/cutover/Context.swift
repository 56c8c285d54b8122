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
    /// The one clock of this process (the pipeline's), handed to everything that reads the time.
    var clock: ApplyClock { applier.pipeline.clock }

    /// Loads settings, then the config they or the flags name, then discovers the model; then finishes
    /// a change a dead Cutover process left half-way on this config (saying so loudly).
    static func load(_ options: GlobalOptions) throws -> Context {
        let settings: Settings
        do {
            settings = try Settings.load(explicit: options.settings)
        } catch {
            throw CLIError(message: "settings: \(error)", code: CLIError.general)
        }
        guard let path = options.config ?? settings.config else {
            let looked = Settings.searchPaths().joined(separator: ", ")
            throw CLIError(message: "no nginx config given: pass --config FILE or set `config:` in cutover.yaml (looked for settings in \(looked))", code: CLIError.general)
        }
        try checkConfigFile(path)
        var config: ConfigSet
        do {
            config = try ConfigSet.load(path: path, prefix: options.prefix ?? settings.prefix)
        } catch {
            throw CLIError(message: "\(error)", code: CLIError.general)
        }
        // Relative access_log paths resolve against nginx's prefix (the master's `-p`, else `nginx -V`'s --prefix).
        let model = settings.discover(&config, runner: ProcessRunner())
        var applier = settings.editApplier(configPath: config.mainPath, config: config)
        var configuration = applier.pipeline.configuration
        configuration.raisePendingSignal = false
        applier.pipeline = ApplyPipeline(configuration: configuration, runner: applier.pipeline.runner, clock: applier.pipeline.clock)
        let context = Context(settings: settings, configPath: config.mainPath, config: config, model: model, applier: applier)
        context.recoverInterruptedChange()
        return context
    }

    /// Puts back a change whose Cutover process died mid-way (its intent has no journaled outcome).
    func recoverInterruptedChange() {
        do {
            guard let report = try applier.pipeline.recoverInterrupted() else { return }
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
