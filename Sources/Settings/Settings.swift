import Apply
import Autopilot
import Foundation
import Rollout
import TrafficStats
import Yams

/// Cutover's settings, read from `cutover.yaml`; every field is optional and flags override it.
public struct Settings: Sendable, Equatable {
    /// The nginx config to operate on: a full nginx.conf or the file holding the routing.
    public var config: String?
    /// The directory relative `include` paths resolve against (nginx's conf directory).
    public var prefix: String?
    /// The main nginx.conf used to validate and reload when `config` is a file it includes.
    public var mainConfig: String?
    /// Variable names and labels of the pattern.
    public var names = RolloutNames()
    /// Main-log files (current service); empty means the ones discovered in the config.
    public var mainLogs: [String] = []
    /// Migration-log files (new service); empty means the ones discovered in the config.
    public var migrationLogs: [String] = []
    /// Upstream addresses (`host:port` as `$upstream_addr` prints them) of the new service, for setups where
    /// both services log to one file; empty means the log a line came from tells the backend.
    public var newServiceUpstreams: [String] = []
    /// Which duration the latency figures use: `request` (`$request_time`) or `upstream` (`$upstream_response_time`).
    public var latency: String = "request"
    /// The nginx binary.
    public var nginx: String = "nginx"
    /// The argv that validates the config; empty means `nginx -t` with the matching -p/-c.
    public var validateCommand: [String] = []
    /// The argv that reloads nginx; empty means `nginx -s reload` with the matching -p/-c.
    public var reloadCommand: [String] = []
    /// An argv run after a reload to confirm it took effect; empty means Cutover's own checks.
    public var verifyCommand: [String] = []
    /// Reload by sending SIGHUP to the master named in the pid file instead of running `nginx -s reload`
    /// (which parses the whole config again); for a local nginx this process may signal.
    public var reloadBySignal = false
    /// Seconds each external command may take.
    public var commandTimeout: Double = 30
    /// The journal file; nil means one journal per config, beside it (`.<name>.cutover-journal.jsonl`).
    public var journal: String?
    /// The theme name.
    public var theme: String?
    /// The percent ladder `+` and `-` step along.
    public var ladder: [Double] = [1, 5, 10, 25, 50, 75, 100]
    /// The statistics window (`1m`, `5m`, `15m`, `all`).
    public var window: String = "5m"
    /// The margins and confidence of the per-endpoint verdict (the `verdict:` mapping).
    public var verdict = VerdictSettings()
    /// The guardrails and notifications of the autopilot (the `guard:` mapping).
    public var guardrails = GuardSettings()
    /// The nginx hosts of the fleet (the `hosts:` list); empty means the one local nginx.
    public var hosts: [HostSettings] = []
    /// The `ADDR:PORT` Cutover listens on for nginx's syslog access logs (UDP and TCP), from `logs.syslog`.
    public var syslog: String?
    /// The file these settings came from, if any.
    public var source: String?

    public init() {}
}

/// A settings file that could not be used, with file:line and what to fix.
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

extension Settings {
    /// The places `cutover.yaml` is looked for, in order.
    public static func searchPaths(environment: [String: String] = ProcessInfo.processInfo.environment, workingDirectory: String = FileManager.default.currentDirectoryPath) -> [String] {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let xdg = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
        return [workingDirectory + "/cutover.yaml", xdg + "/cutover/cutover.yaml", "/etc/cutover/cutover.yaml"]
    }

    /// Loads `explicit` (which must exist), or the first settings file found, or the defaults when there is none.
    public static func load(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                            workingDirectory: String = FileManager.default.currentDirectoryPath) throws(SettingsError) -> Settings {
        if let explicit {
            guard FileManager.default.fileExists(atPath: explicit) else {
                throw SettingsError(file: explicit, line: 0, message: "no such settings file; check the --settings path")
            }
            return try parse(file: explicit)
        }
        for path in searchPaths(environment: environment, workingDirectory: workingDirectory) where FileManager.default.fileExists(atPath: path) {
            return try parse(file: path)
        }
        return Settings()
    }

    /// Reads one settings file.
    public static func parse(file: String) throws(SettingsError) -> Settings {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw SettingsError(file: file, line: 0, message: "cannot read the settings file: \(error.localizedDescription)")
        }
        var settings = try parse(text, file: file)
        settings.source = file
        let base = (file as NSString).deletingLastPathComponent
        func resolve(_ p: String?) -> String? {
            guard let p, !p.hasPrefix("/") else { return p.map(expandTilde) }
            return expandTilde(p).hasPrefix("/") ? expandTilde(p) : base + "/" + p
        }
        settings.config = resolve(settings.config)
        settings.prefix = resolve(settings.prefix)
        settings.mainConfig = resolve(settings.mainConfig)
        settings.journal = resolve(settings.journal)
        settings.mainLogs = settings.mainLogs.compactMap(resolve)
        settings.migrationLogs = settings.migrationLogs.compactMap(resolve)
        return settings
    }

    static func expandTilde(_ p: String) -> String {
        guard p.hasPrefix("~/") else { return p }
        return NSHomeDirectory() + String(p.dropFirst())
    }

    /// Parses settings YAML; unknown keys and wrong types are errors with their line.
    public static func parse(_ text: String, file: String) throws(SettingsError) -> Settings {
        // YAML counts a lone carriage return as a line break, an editor does not: error lines would point past
        // the file's end (found by fuzzing). Refuse it, naming the line an editor shows.
        var lineNumber = 1
        var previousCR = false
        for byte in text.utf8 {
            if previousCR && byte != 0x0A {
                throw SettingsError(file: file, line: lineNumber, message: "a carriage return (\\r) not followed by a newline; "
                                    + "save the file with Unix (\\n) or Windows (\\r\\n) line endings")
            }
            previousCR = byte == 0x0D
            if byte == 0x0A { lineNumber += 1 }
        }
        if previousCR {
            throw SettingsError(file: file, line: lineNumber, message: "the file ends with a carriage return (\\r) without a newline; "
                                + "save it with Unix (\\n) or Windows (\\r\\n) line endings")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw SettingsError(file: file, line: yamlLine(error), message: "not valid YAML: \(yamlSummary(error))")
        } catch {
            throw SettingsError(file: file, line: 0, message: "not valid YAML: \(error)")
        }
        var s = Settings()
        guard let root else { return s }
        guard let mapping = root.mapping else {
            throw SettingsError(file: file, line: line(root), message: "expected a mapping of settings (key: value)")
        }
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            let at = line(keyNode)
            func str() throws(SettingsError) -> String {
                guard let v = value.scalar?.string else { throw SettingsError(file: file, line: at, message: "\(key) must be a string") }
                return v
            }
            func list() throws(SettingsError) -> [String] {
                if let one = value.scalar?.string { return [one] }
                guard let seq = value.sequence else { throw SettingsError(file: file, line: at, message: "\(key) must be a list of strings") }
                var out: [String] = []
                for item in seq {
                    guard let v = item.scalar?.string else { throw SettingsError(file: file, line: line(item), message: "\(key) must be a list of strings") }
                    out.append(v)
                }
                return out
            }
            switch key {
            case "config": s.config = try str()
            case "prefix": s.prefix = try str()
            case "main_config": s.mainConfig = try str()
            case "journal": s.journal = try str()
            case "theme": s.theme = try str()
            case "window":
                let w = try str()
                guard ["1m", "5m", "15m", "all"].contains(w) else { throw SettingsError(file: file, line: at, message: "window must be one of 1m, 5m, 15m, all (found \(w))") }
                s.window = w
            case "ladder":
                var steps: [Double] = []
                for item in value.sequence ?? [] {
                    guard let v = item.scalar.flatMap({ Double($0.string) }), v > 0, v <= 100 else {
                        throw SettingsError(file: file, line: line(item), message: "ladder steps must be numbers from 0 (exclusive) to 100")
                    }
                    steps.append(v)
                }
                guard !steps.isEmpty, steps == steps.sorted() else { throw SettingsError(file: file, line: at, message: "ladder must be a non-empty list of increasing percents, e.g. [1, 5, 10, 25, 50, 75, 100]") }
                s.ladder = steps
            case "logs":
                guard let m = value.mapping else { throw SettingsError(file: file, line: at, message: "logs must be a mapping (main, migration, new_service_upstreams, latency, syslog)") }
                for (k, v) in m {
                    let sub = Settings.listValue(v)
                    switch k.string {
                    case "main": s.mainLogs = sub
                    case "migration": s.migrationLogs = sub
                    case "new_service_upstreams": s.newServiceUpstreams = sub
                    case "syslog":
                        guard let addr = v.scalar?.string, let colon = addr.lastIndex(of: ":"), let port = Int(addr[addr.index(after: colon)...]), (1...65535).contains(port) else {
                            throw SettingsError(file: file, line: line(k), message: "logs.syslog must be ADDR:PORT, e.g. 0.0.0.0:5514 (Cutover listens there on UDP and TCP)")
                        }
                        s.syslog = addr
                    case "latency":
                        guard let l = v.scalar?.string, ["request", "upstream"].contains(l) else {
                            throw SettingsError(file: file, line: line(k), message: "logs.latency must be request or upstream")
                        }
                        s.latency = l
                    default: throw SettingsError(file: file, line: line(k), message: "unknown key logs.\(k.string ?? "?"); expected main, migration, new_service_upstreams, latency or syslog")
                    }
                }
            case "nginx":
                guard let m = value.mapping else { throw SettingsError(file: file, line: at, message: "nginx must be a mapping (binary, validate, reload, verify, timeout)") }
                for (k, v) in m {
                    switch k.string {
                    case "binary": s.nginx = v.scalar?.string ?? s.nginx
                    case "validate": s.validateCommand = Settings.listValue(v)
                    case "reload": s.reloadCommand = Settings.listValue(v)
                    case "verify": s.verifyCommand = Settings.listValue(v)
                    case "reload_by_signal":
                        guard let b = v.scalar.flatMap({ Bool($0.string) }) else { throw SettingsError(file: file, line: line(k), message: "nginx.reload_by_signal must be true or false") }
                        s.reloadBySignal = b
                    case "timeout":
                        guard let t = v.scalar.flatMap({ Double($0.string) }), t > 0 else { throw SettingsError(file: file, line: line(k), message: "nginx.timeout must be a positive number of seconds") }
                        s.commandTimeout = t
                    default: throw SettingsError(file: file, line: line(k), message: "unknown key nginx.\(k.string ?? "?"); expected binary, validate, reload, reload_by_signal, verify or timeout (commands are lists: [systemctl, reload, nginx])")
                    }
                }
            case "variables":
                guard let m = value.mapping else { throw SettingsError(file: file, line: at, message: "variables must be a mapping") }
                for (k, v) in m {
                    guard var name = v.scalar?.string else { continue }
                    if !name.hasPrefix("$") { name = "$" + name }
                    switch k.string {
                    case "target_path": s.names.targetPath = name
                    case "is_migratable": s.names.isMigratable = name
                    case "split_group": s.names.splitGroup = name
                    case "api_routing": s.names.apiRouting = name
                    default: throw SettingsError(file: file, line: line(k), message: "unknown key variables.\(k.string ?? "?"); expected target_path, is_migratable, split_group or api_routing")
                    }
                }
            case "verdict":
                s.verdict = try parseVerdict(value, file: file, at: at)
            case "guard":
                s.guardrails = try parseGuard(value, file: file, at: at)
            case "hosts":
                s.hosts = try parseHosts(value, file: file, at: at)
            case "labels":
                guard let m = value.mapping else { throw SettingsError(file: file, line: at, message: "labels must be a mapping") }
                for (k, v) in m {
                    guard let label = v.scalar?.string else { continue }
                    switch k.string {
                    case "new_service": s.names.newLabel = label
                    case "current_service": s.names.currentLabel = label
                    default: throw SettingsError(file: file, line: line(k), message: "unknown key labels.\(k.string ?? "?"); expected new_service or current_service")
                    }
                }
            default:
                throw SettingsError(file: file, line: at, message: "unknown setting \"\(key)\"; known: config, prefix, main_config, variables, labels, logs, nginx, journal, theme, ladder, window, verdict, guard, hosts")
            }
        }
        return s
    }

    static func listValue(_ node: Node) -> [String] {
        if let one = node.scalar?.string { return [one] }
        return (node.sequence ?? []).compactMap { $0.scalar?.string }
    }

    static func line(_ node: Node) -> Int { node.mark.map { $0.line } ?? 0 }

    static func yamlLine(_ error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return 0
        }
    }

    static func yamlSummary(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        default: return "\(error)"
        }
    }

    /// The journal path: the setting, else (no `hosts:`) the config's own journal beside it (so `history` and the
    /// dashboard show that config's changes, and everyone who may edit the config can read and undo them),
    /// else (no config known) `$XDG_STATE_HOME/cutover/journal.jsonl`.
    public func journalPath(config: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let journal { return journal }
        // A fleet's config paths are on its hosts: its journal stays on this machine.
        if let config, !hasFleet { return Journal.besideConfig(config) }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let state = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.local/state"
        return state + "/cutover/journal.jsonl"
    }
}
