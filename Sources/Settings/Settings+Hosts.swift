import Foundation
import Yams

/// One nginx host of the fleet, as the `hosts:` list of `cutover.yaml` names it.
public struct HostSettings: Sendable, Equatable {
    /// The host's name: how Cutover shows it, what `--hosts` and `sync --from` take, and (unless
    /// `syslogName` says otherwise) the hostname its syslog messages carry.
    public var name: String
    /// The argv prefix for every command on that host (`[ssh, -o, BatchMode=yes, deploy@edge1]`,
    /// `[kubectl, exec, -n, edge, pod/nginx-0, --]`); empty means this machine.
    public var run: [String] = []
    /// The routing config's path on that host; nil means the top-level `config`.
    public var config: String?
    /// The nginx.conf nginx loads on that host; nil means the top-level `main_config` (or discovery).
    public var mainConfig: String?
    /// The host's own overrides of the `nginx:` commands; nil fields fall back to the top-level ones.
    public var nginx = HostNginxSettings()
    /// The hostname field this host's nginx writes into syslog messages, when it is not `name`.
    public var syslogName: String?

    public init(name: String, run: [String] = [], config: String? = nil, mainConfig: String? = nil,
                nginx: HostNginxSettings = HostNginxSettings(), syslogName: String? = nil) {
        self.name = name
        self.run = run
        self.config = config
        self.mainConfig = mainConfig
        self.nginx = nginx
        self.syslogName = syslogName
    }

    /// Whether commands for this host run on this machine (no argv prefix).
    public var isLocal: Bool { run.isEmpty }
}

/// A host's overrides of the top-level `nginx:` commands; nil keeps the top-level value.
public struct HostNginxSettings: Sendable, Equatable {
    public var binary: String?
    public var validate: [String]?
    public var reload: [String]?
    public var verify: [String]?

    public init(binary: String? = nil, validate: [String]? = nil, reload: [String]? = nil, verify: [String]? = nil) {
        self.binary = binary
        self.validate = validate
        self.reload = reload
        self.verify = verify
    }
}

extension Settings {
    /// The keys of one `hosts:` entry, in the order the README lists them.
    static let hostKeys = "name, run, config, main_config, nginx, syslog_name"

    /// The hosts to operate on: the `hosts:` list, or one local host named after this machine when there is none.
    public var effectiveHosts: [HostSettings] {
        if !hosts.isEmpty { return hosts }
        return [HostSettings(name: ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost")]
    }

    /// Whether `hosts:` names a fleet (as opposed to the single local nginx of a settings file without it).
    public var hasFleet: Bool { !hosts.isEmpty }

    /// Reads the `hosts:` list; every entry needs a unique `name`, lists must be argv lists, paths absolute.
    static func parseHosts(_ value: Node, file: String, at: Int) throws(SettingsError) -> [HostSettings] {
        guard let seq = value.sequence else {
            throw SettingsError(file: file, line: at, message: "hosts must be a list of hosts, e.g. hosts: [{name: edge1, run: [ssh, -o, BatchMode=yes, deploy@edge1]}]")
        }
        var hosts: [HostSettings] = []
        var seen: [String: Int] = [:]
        for item in seq {
            let itemLine = line(item)
            guard let m = item.mapping else {
                throw SettingsError(file: file, line: itemLine, message: "each hosts entry must be a mapping (\(hostKeys))")
            }
            var name: String?
            var host = HostSettings(name: "")
            for (k, v) in m {
                let key = k.string ?? "?"
                let kl = line(k)
                func str() throws(SettingsError) -> String {
                    guard let s = v.scalar?.string, !s.isEmpty else { throw SettingsError(file: file, line: kl, message: "hosts[].\(key) must be a non-empty string") }
                    return s
                }
                func argv(_ what: String) throws(SettingsError) -> [String] {
                    guard let seq = v.sequence else {
                        throw SettingsError(file: file, line: kl, message: "\(what) must be an argv list, e.g. [ssh, -o, BatchMode=yes, deploy@edge1] ([] for this machine)")
                    }
                    var out: [String] = []
                    for a in seq {
                        guard let s = a.scalar?.string else { throw SettingsError(file: file, line: line(a), message: "\(what) must be a list of strings") }
                        out.append(s)
                    }
                    return out
                }
                switch key {
                case "name":
                    let n = try str()
                    guard n.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), n.unicodeScalars.allSatisfy(\.isASCII) else {
                        throw SettingsError(file: file, line: kl, message: "hosts[].name \"\(n)\" may hold only ASCII letters, digits, '-', '_' and '.' (it is used in --hosts lists and log paths)")
                    }
                    name = n
                case "run": host.run = try argv("hosts[].run")
                case "config":
                    let p = try str()
                    guard p.hasPrefix("/") else { throw SettingsError(file: file, line: kl, message: "hosts[].config must be an absolute path on that host (found \(p))") }
                    host.config = p
                case "main_config":
                    let p = try str()
                    guard p.hasPrefix("/") else { throw SettingsError(file: file, line: kl, message: "hosts[].main_config must be an absolute path on that host (found \(p))") }
                    host.mainConfig = p
                case "syslog_name": host.syslogName = try str()
                case "nginx":
                    guard let nm = v.mapping else {
                        throw SettingsError(file: file, line: kl, message: "hosts[].nginx must be a mapping (binary, validate, reload, verify)")
                    }
                    for (nk, nv) in nm {
                        let sub = nk.string ?? "?"
                        func subArgv() throws(SettingsError) -> [String] {
                            guard let seq = nv.sequence, !seq.isEmpty else {
                                throw SettingsError(file: file, line: line(nk), message: "hosts[].nginx.\(sub) must be a non-empty argv list, e.g. [systemctl, reload, nginx]")
                            }
                            return seq.compactMap { $0.scalar?.string }
                        }
                        switch sub {
                        case "binary":
                            guard let b = nv.scalar?.string, !b.isEmpty else { throw SettingsError(file: file, line: line(nk), message: "hosts[].nginx.binary must be a path") }
                            host.nginx.binary = b
                        case "validate": host.nginx.validate = try subArgv()
                        case "reload": host.nginx.reload = try subArgv()
                        case "verify": host.nginx.verify = try subArgv()
                        default:
                            throw SettingsError(file: file, line: line(nk), message: "unknown key hosts[].nginx.\(sub); expected binary, validate, reload or verify")
                        }
                    }
                default:
                    throw SettingsError(file: file, line: kl, message: "unknown key hosts[].\(key); expected \(hostKeys)")
                }
            }
            guard let name else { throw SettingsError(file: file, line: itemLine, message: "a hosts entry has no name; give each host a name: edge1") }
            if let first = seen[name] {
                throw SettingsError(file: file, line: itemLine, message: "host \"\(name)\" is listed twice (first at line \(first)); host names must be unique")
            }
            seen[name] = itemLine
            host.name = name
            hosts.append(host)
        }
        return hosts
    }
}
