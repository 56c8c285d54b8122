import AccessLog
import Foundation
import Rollout

/// The log files to read for a rollout, each with its role and compiled format, and what is wrong with them.
public struct LogPlan: Sendable {
    public var sources: [LogSource]
    /// Missing files, unusable formats, roles without a log: reported, never fatal.
    public var problems: [Problem]

    /// The placeholder a log path may hold for the host's name (`/var/log/edge/{host}/access.log`).
    public static let hostPlaceholder = "{host}"

    /// Plans the sources: the given paths per role, else the `access_log` the config binds for it, in the format
    /// the config names for that role; relative paths resolve against `prefix` (nginx's prefix). A path with
    /// `{host}` becomes one file per host of `hosts`, its lines attributed to that host.
    public static func plan(model: RolloutModel, mainLogs: [String], migrationLogs: [String], prefix: String, hosts: [String] = [],
                            fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) -> LogPlan {
        var plan = LogPlan(sources: [], problems: [])
        func format(_ binding: AccessLogBinding?) -> LogFormat {
            guard let binding else { return .combined }
            guard let definition = model.logFormat(named: binding.format) else {
                plan.problems.append(Problem(.error, "access_log uses the format \"\(binding.format)\", which no log_format defines; reading it as combined", at: binding.location))
                return .combined
            }
            do {
                return try LogFormat(name: definition.name, template: definition.template, escape: LogEscape(parameter: definition.escape))
            } catch {
                plan.problems.append(Problem(.error, "log_format \(definition.name) cannot be read: \(error); reading the log as combined", at: definition.location))
                return .combined
            }
        }
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") ? path : (prefix as NSString).appendingPathComponent(path)
        }
        let roles: [(LogRole, [String], AccessLogBinding?, String)] = [
            (.main, mainLogs, model.mainLog, "--main-log"),
            (.migration, migrationLogs, model.migrationLog, "--migration-log"),
        ]
        for (role, given, binding, flag) in roles {
            // A syslog destination is no file: the listener (logs.syslog) receives it.
            let fileBinding = binding.flatMap { $0.path.hasPrefix("syslog:") ? nil : $0 }
            if given.isEmpty, binding != nil, fileBinding == nil { continue }
            let paths = given.isEmpty ? (fileBinding.map { [$0.path] } ?? []) : given
            if paths.isEmpty {
                plan.problems.append(Problem(.warning, "no \(role.rawValue) access log found in the config; pass \(flag) PATH or set logs.\(role.rawValue) in cutover.yaml",
                                             at: SourceLocation(file: binding?.location.file ?? "", line: 0)))
                continue
            }
            let compiled = format(binding)
            var expanded: [(String, String?)] = []
            for path in paths.map(resolve) {
                guard path.contains(hostPlaceholder) else { expanded.append((path, nil)); continue }
                if hosts.isEmpty {
                    plan.problems.append(Problem(.error, "the \(role.rawValue) log \(path) holds {host}, but cutover.yaml lists no hosts: give the hosts (hosts: [{name: edge1}, ...]) or a path without {host}",
                                                 at: SourceLocation(file: path, line: 0)))
                }
                for host in hosts { expanded.append((path.replacingOccurrences(of: hostPlaceholder, with: host), host)) }
            }
            for (path, host) in expanded {
                if !fileExists(path) {
                    plan.problems.append(Problem(.warning, "the \(role.rawValue) log \(path) does not exist (yet); its figures stay empty until nginx writes it",
                                                 at: binding?.location ?? SourceLocation(file: path, line: 0)))
                }
                plan.sources.append(LogSource(path: path, role: role, format: compiled, host: host))
            }
        }
        return plan
    }

    /// The tag each log role is shipped under by syslog, with the format of its lines: read from the config's
    /// `access_log syslog:...` directives (main server, internal location); a role without one gets the tag
    /// `cutover check` recommends (`cutover_main`, `cutover_migration`) and a warning saying what to add.
    public static func syslogRoles(model: RolloutModel, listen: String?) -> SyslogPlan {
        var out = SyslogPlan()
        func format(_ binding: AccessLogBinding?, fallback: LogFormat) -> LogFormat {
            guard let binding, let definition = model.logFormat(named: binding.format) else { return fallback }
            return (try? LogFormat(name: definition.name, template: definition.template, escape: LogEscape(parameter: definition.escape))) ?? fallback
        }
        // The file logs' formats, when no syslog binding names one.
        let fileFormats = plan(model: model, mainLogs: [], migrationLogs: [], prefix: "/", fileExists: { _ in true }).sources
        for (role, bindings, recommended) in [(LogRole.main, model.mainSyslogLogs, SyslogPlan.recommendedMainTag),
                                              (LogRole.migration, model.migrationSyslogLogs, SyslogPlan.recommendedMigrationTag)] {
            let fallback = fileFormats.first { $0.role == role }?.format ?? .combined
            var found = false
            for binding in bindings {
                do {
                    guard let destination = try SyslogDestination.parse(binding.path) else { continue }
                    if destination.nohostname {
                        out.problems.append(Problem(.warning, "\(binding.path) has nohostname: its messages carry no hostname, so Cutover cannot tell which host sent them; remove nohostname", at: binding.location))
                    }
                    if let other = out.tags[destination.tag.lowercased()], other != role {
                        out.problems.append(Problem(.error, "the main and the migration log are both shipped with tag=\(destination.tag); give each access_log syslog: its own tag (tag=\(SyslogPlan.recommendedMainTag), tag=\(SyslogPlan.recommendedMigrationTag))", at: binding.location))
                        continue
                    }
                    out.tags[destination.tag.lowercased()] = role
                    out.formats[role] = format(binding, fallback: fallback)
                    found = true
                } catch {
                    out.problems.append(Problem(.error, "\(error)", at: binding.location))
                }
            }
            if !found {
                out.formats[role] = fallback
                out.tags[recommended] = out.tags[recommended] ?? role
                if listen != nil {
                    out.problems.append(Problem(.warning, "the \(role.rawValue) log is not shipped by syslog: no access_log syslog: in the config for it; add the directive `cutover check` prints (tag=\(recommended))",
                                                at: (role == .main ? model.mainLog?.location : model.migrationLog?.location) ?? SourceLocation(file: "", line: 0)))
                }
            }
        }
        return out
    }

    /// The traffic configuration for `rules`, with the latency source (`request` or `upstream`) and the new
    /// service's upstream addresses from the settings.
    public static func configuration(rules: [EndpointRule], latency: String, newServiceUpstreams: [String]) -> TrafficConfiguration {
        TrafficConfiguration(rules: rules, latency: LatencySource(rawValue: latency) ?? .request, newServiceUpstreams: newServiceUpstreams)
    }

    /// One classification rule per endpoint: its identity (the map key as parsed, `\\` escape included) and its
    /// short name for display.
    public static func rules(for model: RolloutModel) -> [EndpointRule] {
        model.endpoints.map { EndpointRule(id: $0.id, name: $0.name) }
    }
}

/// How syslog messages map to log roles: the tags the config's `access_log syslog:` directives name, and per role
/// the format of its lines.
public struct SyslogPlan: Sendable {
    /// Tag (lowercased) → role.
    public var tags: [String: LogRole] = [:]
    /// The format of each role's lines.
    public var formats: [LogRole: LogFormat] = [:]
    /// What is missing or wrong in the config's syslog directives.
    public var problems: [Problem] = []

    /// The tags `cutover check` recommends.
    public static let recommendedMainTag = "cutover_main"
    public static let recommendedMigrationTag = "cutover_migration"

    public init() {}
}
