import AccessLog
import Foundation
import Rollout

/// The log files to read for a rollout, each with its role and compiled format, and what is wrong with them.
public struct LogPlan: Sendable {
    public var sources: [LogSource]
    /// Missing files, unusable formats, roles without a log: reported, never fatal.
    public var problems: [Problem]

    /// Plans the sources: the given paths per role, else the `access_log` the config binds for it, in the format
    /// the config names for that role; relative paths resolve against `prefix` (nginx's prefix).
    public static func plan(model: RolloutModel, mainLogs: [String], migrationLogs: [String], prefix: String,
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
            let paths = given.isEmpty ? (binding.map { [$0.path] } ?? []) : given
            if paths.isEmpty {
                plan.problems.append(Problem(.warning, "no \(role.rawValue) access log found in the config; pass \(flag) PATH or set logs.\(role.rawValue) in cutover.yaml",
                                             at: SourceLocation(file: binding?.location.file ?? "", line: 0)))
                continue
            }
            let compiled = format(binding)
            for path in paths.map(resolve) {
                if !fileExists(path) {
                    plan.problems.append(Problem(.warning, "the \(role.rawValue) log \(path) does not exist (yet); its figures stay empty until nginx writes it",
                                                 at: binding?.location ?? SourceLocation(file: path, line: 0)))
                }
                plan.sources.append(LogSource(path: path, role: role, format: compiled))
            }
        }
        return plan
    }

    /// The traffic configuration for `rules`, with the latency source (`request` or `upstream`) and the new
    /// service's upstream addresses from the settings.
    public static func configuration(rules: [EndpointRule], latency: String, newServiceUpstreams: [String]) -> TrafficConfiguration {
        TrafficConfiguration(rules: rules, latency: LatencySource(rawValue: latency) ?? .request, newServiceUpstreams: newServiceUpstreams)
    }

    /// One classification rule per endpoint, named by its map key (unique, unlike short names).
    public static func rules(for model: RolloutModel) -> [EndpointRule] {
        model.endpoints.map { EndpointRule(endpoint: $0.pattern, key: $0.pattern) }
    }
}
