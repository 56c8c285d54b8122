import AccessLog
import Foundation
import NginxConfig
import Rollout
import TrafficStats

/// The check that each log is shipped to Cutover's syslog listener (`logs.syslog`), with the exact directives
/// to add when it is not: nginx's `access_log syslog:server=ADDR:PORT,tag=TAG FORMAT;` on the main server and
/// in the internal new-service location, in a format Cutover reads (the log's own, else `timed`).
enum SyslogChecks {
    static func findings(model: RolloutModel, listen: String?) -> [Finding] {
        guard let listen else { return [] }
        var out: [Finding] = []
        let plan = LogPlan.syslogRoles(model: model, listen: nil)
        for problem in plan.problems {
            out.append(Finding(.syslogNotShipped, problem.severity, problem.message, at: problem.location.line > 0 ? problem.location : nil))
        }
        let roles: [(LogRole, [AccessLogBinding], AccessLogBinding?, String, String)] = [
            (.main, model.mainSyslogLogs, model.mainLog, SyslogPlan.recommendedMainTag, "the routing server block (beside its access_log)"),
            (.migration, model.migrationSyslogLogs, model.migrationLog, SyslogPlan.recommendedMigrationTag,
             "the internal location \(model.internalLocation ?? "of the new service")"),
        ]
        for (role, bindings, fileBinding, tag, place) in roles {
            let reaching = bindings.compactMap { $0.syslog }.filter { Self.matches($0, listen: listen) }
            guard reaching.isEmpty else { continue }
            let format = fileBinding.flatMap { model.logFormat(named: $0.format) != nil ? $0.format : nil }
            let directive = recommendedDirective(listen: listen, tag: tag, format: format ?? "timed")
            var fix = "add to \(place): \(directive)"
            if format == nil { fix += " with the format " + LogChecks.timedFormat }
            let others = bindings.map(\.path)
            let message = others.isEmpty
                ? "logs.syslog is \(listen), but the \(role.rawValue) log is not shipped by syslog: Cutover's listener receives nothing for it"
                : "the \(role.rawValue) log is shipped to \(others.joined(separator: ", ")), not to logs.syslog \(listen)"
            out.append(Finding(.syslogNotShipped, .warning, message,
                               at: fileBinding?.location ?? (role == .migration ? model.internalLocationSource : model.routingLocation), fix: fix))
        }
        return out
    }

    /// `access_log syslog:server=ADDR:PORT,tag=TAG FORMAT;` for a listener on `listen` (a wildcard listen address
    /// becomes `127.0.0.1`: nginx must name an address it can reach).
    static func recommendedDirective(listen: String, tag: String, format: String) -> String {
        var server = listen
        for wildcard in ["0.0.0.0:", "[::]:", "*:"] where listen.hasPrefix(wildcard) {
            server = "127.0.0.1:" + listen.dropFirst(wildcard.count)
        }
        return "access_log syslog:server=\(server),tag=\(tag) \(format);"
    }

    /// Whether a destination reaches the listener: the same port (and the same address unless either is a wildcard
    /// or loopback, which the check cannot tell apart from here).
    static func matches(_ destination: SyslogDestination, listen: String) -> Bool {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else { return false }
        return destination.port == port
    }
}
