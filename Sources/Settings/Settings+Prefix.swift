import Apply
import NginxConfig
import Rollout

extension Settings {
    /// The directory nginx resolves relative paths (`access_log logs/x.log`) against for `config`: the running
    /// master's `-p`, else the build's `--prefix` from `nginx -V`; nil when neither is known.
    public func nginxPrefix(for config: ConfigSet, runner: CommandRunner) -> String? {
        if let prefix = mainConfig(for: config.mainPath, config: config, runner: runner).prefix { return prefix }
        guard let result = try? runner.run([nginx, "-V"], timeout: .seconds(5)), result.succeeded else { return nil }
        return NginxDiscovery.parseVersionOutput(result.stderr + "\n" + result.stdout).prefix
    }

    /// Discovers the rollout in `config`; when the config names its access logs by relative paths, first sets
    /// `config.nginxPrefix` as nginx would resolve them (see `nginxPrefix(for:runner:)`). nginx is asked only then.
    public func discover(_ config: inout ConfigSet, runner: CommandRunner) -> RolloutModel {
        let model = Discovery.discover(config, names: names)
        guard config.nginxPrefix == nil,
              model.namesRelativeLogs,
              let prefix = nginxPrefix(for: config, runner: runner) else { return model }
        config.nginxPrefix = prefix
        return Discovery.discover(config, names: names)
    }
}
