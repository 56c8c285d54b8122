import Apply
import Foundation
import NginxConfig

/// Why a `--hosts` list cannot be used.
public struct HostSelectionError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

extension Settings {
    /// The hosts `--hosts NAME,...` names (all of them when `list` is nil), in the order `hosts:` lists them;
    /// an unknown name is an error that lists the known ones.
    public func selectHosts(_ list: String?, from targets: [NginxTarget]) throws(HostSelectionError) -> [NginxTarget] {
        guard let list else { return targets }
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw HostSelectionError(message: "--hosts is empty; give host names separated by commas, e.g. --hosts edge1,edge2") }
        let known = targets.map(\.name)
        for name in names where !known.contains(name) {
            throw HostSelectionError(message: "--hosts names \"\(name)\", which is not a host of cutover.yaml's hosts: (\(known.joined(separator: ", ")))")
        }
        return targets.filter { names.contains($0.name) }
    }

    /// One resolved `NginxTarget` per host of `effectiveHosts`: its config path (the host's `config`, else
    /// `configPath`), its transport, and its validate/reload/verify commands (the host's `nginx:` overrides, else
    /// the top-level ones, addressing that host's nginx as found there). Built once in the executable.
    public func nginxTargets(configPath: String, config: ConfigSet?, runner: CommandRunner = ProcessRunner()) -> [NginxTarget] {
        let settings = self
        // Each host is found through its own prefix, all at once.
        return effectiveHosts.concurrentMap { host in
            let prefix = settings.prefix, configPath = configPath, runner = runner
            let path = host.config ?? configPath
            let transport = HostTransport(prefix: host.run)
            let includePrefix = path == configPath ? prefix : nil
            var own = settings
            own.mainConfig = host.mainConfig ?? settings.mainConfig
            own.nginx = host.nginx.binary ?? settings.nginx
            if let validate = host.nginx.validate { own.validateCommand = validate }
            if let reload = host.nginx.reload { own.reloadCommand = reload }
            if let verify = host.nginx.verify { own.verifyCommand = verify }
            if !transport.isLocal { own.reloadBySignal = false }
            var target = NginxTarget(name: host.name, transport: transport, configPath: path, includePrefix: includePrefix,
                                     control: NginxControl(validateArgv: [], reloadArgv: []), runner: runner,
                                     fileTimeout: .milliseconds(Int64(settings.commandTimeout * 1000)))
            let location: NginxLocation
            if transport.isLocal {
                let local = (path == config?.mainPath ? config : nil) ?? (try? ConfigSet.load(path: path, prefix: includePrefix))
                location = own.mainConfig(for: path, config: local, runner: runner)
            } else {
                location = own.remoteLocation(of: target)
            }
            target.control = own.nginxControl(location: location)
            return target
        }
    }

    /// Where a remote host's nginx lives, found through its prefix: the build defaults of `nginx -V` there, the
    /// main config (the routing config itself when it is a full nginx.conf, else `main_config`, else the running
    /// master's `-c`), the master's `-p`, and the main config's `pid` and `error_log`.
    func remoteLocation(of target: NginxTarget) -> NginxLocation {
        var location = NginxLocation(binary: nginx)
        let version = target.run([nginx, "-V"], timeout: .seconds(10))
        let defaults = version.succeeded ? NginxDiscovery.parseVersionOutput(version.stderr + "\n" + version.stdout)
            : NginxDiscovery.parseVersionOutput("")
        location.buildPrefix = defaults.prefix
        let routing = try? ConfigParser.parse(target.read(target.configPath), path: target.configPath)
        let top = routing?.children.map(\.name.value) ?? []
        location.mainConfig = top.contains("events") || top.contains("http") ? target.configPath : mainConfig
        let masters = Self.remoteMasters(target)
        let master = masters.first { $0.config != nil && $0.config == location.mainConfig }
            ?? (location.mainConfig == nil && masters.count == 1 ? masters.first : nil)
        location.prefix = master?.prefix
        if location.mainConfig == nil { location.mainConfig = master?.config ?? defaults.confPath.map(location.resolve) }
        var mainFile: ConfigFile?
        if let main = location.mainConfig {
            mainFile = main == target.configPath ? routing : (try? ConfigParser.parse(target.read(main), path: main))
        }
        if let pid = Self.topLevelValue("pid", in: mainFile) {
            location.pidFile = location.resolve(pid)
        } else {
            location.pidFile = defaults.pidPath.map(location.resolve)
        }
        if let log = Self.topLevelValue("error_log", in: mainFile), log != "stderr", !log.hasPrefix("syslog:"), !log.hasPrefix("memory:") {
            location.errorLog = location.resolve(log)
        } else {
            location.errorLog = defaults.errorLogPath.map(location.resolve)
        }
        return location
    }

    /// The nginx masters running on a remote host: pid, `-p` and `-c` from their process titles.
    static func remoteMasters(_ target: NginxTarget) -> [(pid: Int32, prefix: String?, config: String?)] {
        let script = "for d in /proc/[0-9]*; do c=$(tr '\\000' ' ' < \"$d/cmdline\" 2>/dev/null) || continue; "
            + "case \"$c\" in 'nginx: master process'*) printf '%s %s\\n' \"${d#/proc/}\" \"$c\";; esac; done; exit 0"
        let result = target.run(["sh", "-c", script])
        var out: [(pid: Int32, prefix: String?, config: String?)] = []
        for line in result.stdout.split(separator: "\n") {
            guard let space = line.firstIndex(of: " "), let pid = Int32(line[..<space]) else { continue }
            var (prefix, config) = NginxDiscovery.parseMasterCommandLine(Array(line[line.index(after: space)...].utf8))
            if let c = config, !c.hasPrefix("/"), let p = prefix { config = (p as NSString).appendingPathComponent(c) }
            out.append((pid, prefix, config))
        }
        return out.sorted { $0.pid < $1.pid }
    }

    /// The two-phase pipeline of a fleet: changes to `targets`, journaled on this machine (`journalPath`, the
    /// lock and the intent beside it); also what recovers a fleet change a dead process left half-way.
    public func fleetPipeline(configPath: String, targets: [NginxTarget], reference: NginxTarget) -> FleetPipeline {
        let journal = Journal(path: journalPath(config: configPath))
        let configuration = ApplyConfiguration(nginx: reference.control, mainConfig: journal.path,
                                               lockFile: ApplyConfiguration.lockFile(besideConfig: journal.path),
                                               journal: journal, configPath: configPath)
        return FleetPipeline(targets: targets, reference: reference, configuration: configuration)
    }

    /// The applier of a fleet: every change goes to `targets` (all or none), computed on `reference`'s files,
    /// journaled on this machine (`journalPath`, the lock beside it). Without `hosts:` it is `editApplier`.
    public func editApplier(configPath: String, config: ConfigSet, targets: [NginxTarget], reference: NginxTarget,
                            runner: CommandRunner = ProcessRunner()) -> EditApplier {
        guard hasFleet else { return editApplier(configPath: configPath, config: config, runner: runner) }
        let fleet = fleetPipeline(configPath: configPath, targets: targets, reference: reference)
        let configuration = fleet.configuration
        return EditApplier(pipeline: ApplyPipeline(configuration: configuration, runner: runner),
                           configPath: reference.configPath, prefix: reference.includePrefix, names: names, fleet: fleet)
    }
}
