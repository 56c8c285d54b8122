import Apply
import Foundation
import NginxConfig

extension Settings {
    /// The nginx.conf nginx itself loads for `configPath`: the file itself when it is a full config (it has
    /// `events` or `http` at top level), else `main_config:`, else the running master's `-c` or nginx's default.
    /// The main config's own `pid` and `error_log` name the pid file and the error log, relative ones resolved
    /// as nginx does (against `-p`, found from the running master, else the build's prefix).
    public func mainConfig(for configPath: String, config: ConfigSet?, runner: CommandRunner, procRoot: String = "/proc") -> NginxLocation {
        let top = config.flatMap { $0.files[$0.mainPath] }?.children.map(\.name.value) ?? []
        var known = NginxLocation(binary: nginx)
        if top.contains("events") || top.contains("http") {
            known.mainConfig = configPath
        } else if let mainConfig {
            known.mainConfig = mainConfig
        }
        var mainFile: ConfigFile?
        if let main = known.mainConfig {
            mainFile = config?.files[main] ?? (try? ConfigParser.parse(String(contentsOfFile: main, encoding: .utf8), path: main))
        }
        let pid = Self.topLevelValue("pid", in: mainFile)
        if let pid {
            if pid.hasPrefix("/") {
                known.pidFile = pid
            } else if let main = known.mainConfig,
                      let master = NginxDiscovery.runningMasters(procRoot: procRoot).first(where: { $0.config == main }) {
                // A relative pid needs the prefix first: the master running this config says it.
                known.prefix = master.prefix
            }
        }
        var location = NginxDiscovery.discover(known: known, runner: runner, procRoot: procRoot)
        if let pid, !pid.hasPrefix("/") { location.pidFile = location.resolve(pid) }
        if let log = Self.topLevelValue("error_log", in: mainFile), log != "stderr", !log.hasPrefix("syslog:"), !log.hasPrefix("memory:") {
            location.errorLog = location.resolve(log)
        }
        return location
    }

    /// The first value of the last top-level `name` directive of the file, if it has one.
    static func topLevelValue(_ name: String, in file: ConfigFile?) -> String? {
        file?.children.last(where: { $0.name.value == name })?.values.first
    }

    /// The absolute path a top-level `pid` directive names, if the file has one.
    static func pidDirective(in file: ConfigFile?) -> String? {
        guard let value = topLevelValue("pid", in: file), value.hasPrefix("/") else { return nil }
        return value
    }

    /// The validate, reload and verify commands: the configured argv where given, else nginx's own with matching -p/-c.
    public func nginxControl(location: NginxLocation) -> NginxControl {
        var control = NginxControl.standard(location)
        if !validateCommand.isEmpty { control.validateArgv = validateCommand }
        if !reloadCommand.isEmpty {
            control.reloadArgv = reloadCommand
        } else if reloadBySignal {
            control.reloadSignalPidFile = location.pidFile
        }
        if !verifyCommand.isEmpty { control.verify = [.command(verifyCommand)] }
        let timeout = Duration.milliseconds(Int64(commandTimeout * 1000))
        control.validateTimeout = timeout
        control.reloadTimeout = timeout
        return control
    }

    /// The applier every change (CLI and dashboard) goes through, wired from these settings.
    public func editApplier(configPath: String, config: ConfigSet, runner: CommandRunner = ProcessRunner()) -> EditApplier {
        let location = mainConfig(for: configPath, config: config, runner: runner)
        let configuration = ApplyConfiguration(nginx: nginxControl(location: location), mainConfig: location.mainConfig ?? configPath,
                                               journal: Journal(path: journalPath(config: configPath)), configPath: configPath)
        return EditApplier(pipeline: ApplyPipeline(configuration: configuration, runner: runner),
                           configPath: configPath, prefix: prefix, names: names)
    }
}
