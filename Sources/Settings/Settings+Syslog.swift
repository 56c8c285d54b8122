import AccessLog
import Foundation
import Rollout
import TrafficStats

extension Settings {
    /// The hosts whose figures are kept apart: the fleet's (or this machine's) when lines can carry their host
    /// (a syslog listener, or a `{host}` log path); empty otherwise (no per-host figures).
    public func figureHosts(mainLogs: [String], migrationLogs: [String]) -> [String] {
        let placeholder = (mainLogs + migrationLogs).contains { $0.contains(LogPlan.hostPlaceholder) }
        guard syslog != nil || placeholder || hasFleet else { return [] }
        return effectiveHosts.map(\.name)
    }

    /// The router of the syslog listener: hostnames to the hosts of `hosts:` (by `name` or `syslog_name`), tags
    /// to log roles as the config's `access_log syslog:` directives name them. Without `hosts:`, every hostname
    /// counts for the one local host.
    public func syslogRouter(plan: SyslogPlan) -> SyslogRouter {
        let hosts = effectiveHosts.map { (name: $0.name, aliases: $0.syslogName.map { [$0] } ?? []) }
        return SyslogRouter(hosts: hosts, tags: plan.tags, acceptsAnyHostname: !hasFleet)
    }
}
