import Apply
import Foundation
import NginxConfig

extension Settings {
    /// The nginx.conf nginx itself loads for `configPath`: the file itself when it is a full config (it has
    /// `events` or `http` at top level), else `main_config:`, else the running master's `-c` or nginx's default.
    public func mainConfig(for configPath: String, config: ConfigSet, runner: CommandRunner) -> NginxLocation {
        let top = config.files[config.mainPath]?.children.map(\.name.value) ?? []
        var known = NginxLocation(binary: nginx)
        if top.contains("events") || top.contains("http") {
            known.mainConfig = configPath
        } else if let mainConfig {
            known.mainConfig = mainConfig
        }
        // The main config's own `pid` names the master's pid file; the build default is only a fallback.
        if let main = known.mainConfig {
            known.pidFile = Self.pidDirective(in: config.files[main] ?? (try? ConfigParser.parse(String(contentsOfFile: main, encoding: .utf8), path: main)))
        }
        return NginxDiscovery.discover(known: known, runner: runner)
    }

    /// The absolute path a top-level `pid` directive names, if the file has one.
    static func pidDirective(in file: ConfigFile?) -> String? {
        guard let value = file?.children.last(where: { $0.name.value == "pid" })?.values.first, value.hasPrefix("/") else { return nil }
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
                                               journal: Journal(path: journalPath()))
        return EditApplier(pipeline: ApplyPipeline(configuration: configuration, runner: runner),
                           configPath: configPath, prefix: prefix, names: names)
    }
}
