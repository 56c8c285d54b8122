import AccessLog
import Apply
import Foundation
import NginxConfig
import Rollout
import Settings
import SyslogListener
import TrafficStats

/// The syslog listener of `logs.syslog` wired to the traffic ingest: the listener, the streams the engine reads,
/// and what the config's syslog directives lack.
struct SyslogWiring {
    let listener: SyslogListener
    let sources: SyslogSources
    let problems: [Problem]

    /// Starts listening on `logs.syslog`; nil when it is not set.
    static func start(settings: Settings, model: RolloutModel) throws -> SyslogWiring? {
        guard let address = settings.syslog else { return nil }
        let plan = LogPlan.syslogRoles(model: model, listen: address)
        let inbox = SyslogInbox(router: settings.syslogRouter(plan: plan))
        let listener: SyslogListener
        do {
            listener = try SyslogListener(address: address, inbox: inbox)
            try listener.start()
        } catch {
            throw CLIError(message: "cutover: \(error)", code: CLIError.general)
        }
        let sources = SyslogSources(inbox: inbox, mainFormat: plan.formats[.main] ?? .combined,
                                    migrationFormat: plan.formats[.migration] ?? .combined)
        return SyslogWiring(listener: listener, sources: sources, problems: plan.problems)
    }
}

/// What `status` says of each host's routing config: its hash and whether it differs from the others.
///
/// The seam for the fleet's drift report; until every host's files are read, the local config stands for each.
protocol HostConfigReporting {
    /// The SHA-256 of the host's routing files and whether they drifted from the majority; nil when unknown.
    func config(of host: String) -> (sha256: String?, drift: Bool)
}

/// The routing files loaded on this machine, hashed (their names and bytes, in load order), for every host.
struct LocalHostConfig: HostConfigReporting {
    let sha256: String

    init(config: ConfigSet) {
        var bytes: [UInt8] = []
        for path in config.order {
            bytes += Array(path.utf8) + [0]
            bytes += Array((config.text(of: path) ?? "").utf8) + [0]
        }
        sha256 = SHA256.hex(bytes: bytes)
    }

    func config(of host: String) -> (sha256: String?, drift: Bool) { (sha256, false) }
}

/// The fleet's drift report (every host's routing files read and hashed) as `status` shows it per host.
struct DriftHostConfig: HostConfigReporting {
    let report: DriftReport

    func config(of host: String) -> (sha256: String?, drift: Bool) {
        guard let entry = report.hosts.first(where: { $0.name == host }) else { return (nil, false) }
        return (entry.configSHA256, entry.drift)
    }
}
