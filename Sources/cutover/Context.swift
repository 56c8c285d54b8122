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

    static let general: Int32 = 1
    static let refused: Int32 = 3
    static let reverted: Int32 = 4
    static let conflict: Int32 = 5
}

/// Everything a command needs after reading settings and the config.
struct Context {
    var settings: Settings
    var configPath: String
    var config: ConfigSet
    var model: RolloutModel

    /// Loads settings, then the config they or the flags name, then discovers the model.
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
        var config: ConfigSet
        do {
            config = try ConfigSet.load(path: path, prefix: options.prefix ?? settings.prefix)
        } catch {
            throw CLIError(message: "\(error)", code: CLIError.general)
        }
        var model = Discovery.discover(config, names: settings.names)
        // Relative access_log paths resolve against nginx's prefix: the master's `-p`, else `nginx -V`'s --prefix.
        if [model.mainLog, model.migrationLog].contains(where: { $0?.isRelative == true }) {
            let runner = ProcessRunner()
            var prefix = settings.mainConfig(for: config.mainPath, config: config, runner: runner).prefix
            if prefix == nil, let result = try? runner.run([settings.nginx, "-V"], timeout: .seconds(5)), result.succeeded {
                prefix = NginxDiscovery.parseVersionOutput(result.stderr + "\n" + result.stdout).prefix
            }
            if let prefix {
                config.nginxPrefix = prefix
                model = Discovery.discover(config, names: settings.names)
            }
        }
        return Context(settings: settings, configPath: config.mainPath, config: config, model: model)
    }
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
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
