import AccessLog
import Apply
import ArgumentParser
import Foundation
import Rollout
import Settings
import TrafficStats

/// `cutover status`: the routes with their live statistics from the access logs.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Print every endpoint's observed split, error rates and latency, from the access logs.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var logs: LogOptions
    @Option(name: .long, help: "The statistics window: 1m, 5m, 15m or all.") var window: String?
    @Flag(name: .long, help: "Read whole files instead of the last stretch of log time.") var fromStart = false
    @Option(name: .long, help: ArgumentHelp("Look back this far by the time in the lines (e.g. 90s, 15m, 2h; default: the window).", valueName: "DURATION"))
    var since: String?
    @Flag(name: .long, help: "Print the stable JSON document (see README).") var json = false
    @Option(name: .long, help: ArgumentHelp("Listen on logs.syslog (and follow the files) this long, then print (e.g. 30s, 2m).", valueName: "DURATION"))
    var collect: String?

    func validate() throws {
        if let collect, (try? LogStart.lookBackSeconds(collect)) == nil { throw ValidationError("--collect \(collect) is not a duration like 30s or 2m") }
        if let window, TrafficWindow(label: window) == nil { throw ValidationError("--window must be 1m, 5m, 15m or all") }
        if let since, (try? LogStart.lookBackSeconds(since)) == nil { throw ValidationError("--since \(since) is not a duration like 90s, 15m, 2h or 1d") }
    }

    func run() throws {
        try runReportingErrors {
            let context = try Context.load(global)
            let window = TrafficWindow(label: window ?? context.settings.window) ?? .fiveMinutes
            let prefix = global.prefix ?? context.settings.prefix ?? (context.configPath as NSString).deletingLastPathComponent
            let mainLogs = logs.mainLogs(context.settings), migrationLogs = logs.migrationLogs(context.settings)
            let hosts = context.settings.figureHosts(mainLogs: mainLogs, migrationLogs: migrationLogs)
            let plan = LogPlan.plan(model: context.model, mainLogs: mainLogs, migrationLogs: migrationLogs, prefix: prefix, hosts: hosts)
            let collectSeconds = collect.flatMap { try? LogStart.lookBackSeconds($0) }
            if collectSeconds != nil, context.settings.syslog == nil, plan.sources.isEmpty {
                throw CLIError(message: "cutover: --collect listens on logs.syslog, and there is neither logs.syslog nor a log file; set logs.syslog: ADDR:PORT in cutover.yaml", code: CLIError.general)
            }
            // The listener runs only while collecting: a status without --collect reads what the files hold.
            let syslog = collectSeconds == nil ? nil : try SyslogWiring.start(settings: context.settings, model: context.model)
            defer { syslog?.listener.stop() }
            let start: LogStart
            if fromStart {
                start = .beginning
            } else if let since {
                start = .end(lookBackSeconds: try? LogStart.lookBackSeconds(since))
            } else if let seconds = window.seconds {
                start = .end(lookBackSeconds: seconds)
            } else {
                start = .beginning
            }
            let engine: TrafficEngine
            var configuration = LogPlan.configuration(rules: LogPlan.rules(for: context.model), latency: context.settings.latency,
                                                      newServiceUpstreams: context.settings.newServiceUpstreams)
            configuration.verdict = context.settings.verdict
            configuration.hosts = hosts
            do {
                engine = try TrafficEngine(sources: plan.sources, start: start, configuration: configuration,
                                           clock: context.clock.monotonicSeconds, wallClock: context.clock.unixSeconds,
                                           syslog: syslog?.sources)
            } catch {
                throw CLIError(message: "cannot set up the log reader: \(error)", code: CLIError.general)
            }
            // The journal's changes split every endpoint's requests into before and since its last change.
            let records = (try? Journal(path: context.settings.journalPath(config: context.configPath)).records()) ?? []
            let changes = Settings.routingChanges(journal: records, model: context.model)
            var lastChange: [EndpointID: Int64] = [:]
            for change in changes {
                engine.noteRoutingChange(change)
                lastChange[change.endpoint] = change.time
            }
            for e in context.model.endpoints {
                engine.setConfiguredPercent(e.target == nil ? nil : e.percent.value, endpoint: e.id, at: lastChange[e.id] ?? Int64.min)
            }
            // Read what is written on every core, then to the current end of every file (bounded: each poll
            // consumes what is there).
            engine.backfill()
            var rounds = 0
            while engine.poll() > 0 && rounds < 1_000_000 { rounds += 1 }
            if let collectSeconds {
                // Listen (and follow) for the duration, then take what arrived up to its end.
                let deadline = Date().addingTimeInterval(Double(collectSeconds))
                while Date() < deadline {
                    if engine.poll() == 0 { Thread.sleep(forTimeInterval: min(0.05, max(0, deadline.timeIntervalSinceNow))) }
                }
                syslog?.listener.refreshCounters()
                syslog?.listener.stop()
                rounds = 0
                while engine.poll() > 0 && rounds < 1_000_000 { rounds += 1 }
            }
            let snapshot = engine.snapshot(window)
            var model = context.model
            model.problems += plan.problems + (syslog?.problems ?? [])
            // A log that cannot be read (permissions, a directory, a FIFO) is a problem, never silent.
            model.problems += snapshot.unreadable.sorted { $0.key < $1.key }.map { Problem(.error, $0.value, at: SourceLocation(file: $0.key, line: 0)) }
            // The fleet's drift report when there is a fleet; else the routing loaded here stands for the host.
            let hostConfig: HostConfigReporting = context.drift.map { DriftHostConfig(report: $0) } ?? LocalHostConfig(config: context.config)
            if json {
                print(StatusReport.json(model, snapshot: snapshot, configPath: context.configPath, hostConfig: hostConfig,
                                        syslogListen: syslog == nil ? nil : context.settings.syslog).serialized())
            } else {
                print(StatusReport.text(model, snapshot: snapshot, configPath: context.configPath, settings: context.settings.verdict,
                                        hostConfig: hostConfig, syslogListen: syslog == nil ? nil : context.settings.syslog), terminator: "")
            }
        }
    }

}

/// Renders `status` as JSON (the routes document plus statistics) or as a table.
enum StatusReport {
    static func backend(_ f: BackendFigures) -> JSON {
        .object([
            ("requests", .int(f.requests)), ("rps", .number(f.rps)),
            ("status", .object([("2xx", .int(f.status.s2xx)), ("3xx", .int(f.status.s3xx)), ("4xx", .int(f.status.s4xx)), ("5xx", .int(f.status.s5xx))])),
            ("error_rate", .number(f.errorRate, places: 6)), ("p50_ms", .number(f.p50Ms)), ("p90_ms", .number(f.p90Ms)),
            ("p95_ms", .number(f.p95Ms)), ("p99_ms", .number(f.p99Ms)), ("max_ms", .number(f.maxMs)),
        ])
    }

    static func stats(_ s: EndpointStats) -> JSON {
        .object([
            ("window", .string(s.window.rawValue)), ("current", backend(s.current)), ("new", backend(s.new)),
            ("observed_percent", .number(s.observedPercent)),
            ("observed_percent_ci", s.observedPercentCI.map { .array($0.map { JSON.number($0) }) } ?? .null),
            ("split_mismatch", .optional(s.splitMismatch, JSON.bool)),
            ("error_rate_delta", .number(s.errorRateDelta, places: 6)),
            ("p50_delta_ms", .number(s.p50DeltaMs)), ("p95_delta_ms", .number(s.p95DeltaMs)), ("p99_delta_ms", .number(s.p99DeltaMs)),
            ("since", .optional(s.since) { .int(Int($0)) }),
            ("since_change", s.since == nil ? .null : .object([("current", backend(s.comparedCurrent)), ("new", backend(s.comparedNew))])),
        ])
    }

    /// The `"verdict"` object: `state`, `reasons`, `needed_requests`, `since` (the contract), then the baseline,
    /// the rollback and the verdict before it.
    static func verdict(_ v: Verdict) -> JSON {
        .object([
            ("state", .string(v.state.rawValue)),
            ("reasons", .array(v.reasons.map { JSON.string($0) })),
            ("needed_requests", .optional(v.neededRequests, JSON.int)),
            ("since", .optional(v.since) { .int(Int($0)) }),
            ("baseline", .string(v.baseline.rawValue)),
            ("new_requests", .int(v.newRequests)), ("current_requests", .int(v.currentRequests)),
            ("rolled_back_at", .optional(v.rolledBackAt) { .int(Int($0)) }),
            ("previous", .optional(v.previous) { p in .object([("state", .string(p.state.rawValue)), ("reasons", .array(p.reasons.map { JSON.string($0) }))]) }),
        ])
    }

    /// The VERDICT cell: the state, marked when the endpoint was rolled back or judged against history.
    static func verdictCell(_ v: Verdict) -> String {
        if v.rolledBackAt != nil { return "\(v.state.rawValue) (rolled back)" }
        if v.baseline == .historical { return "\(v.state.rawValue) (historical)" }
        return v.state.rawValue
    }

    static func json(_ model: RolloutModel, snapshot: TrafficSnapshot, configPath: String,
                     hostConfig: HostConfigReporting? = nil, syslogListen: String? = nil) -> JSON {
        let byID = Dictionary(snapshot.endpoints.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        guard case .object(var fields) = RoutesReport.json(model, configPath: configPath, endpointExtras: { e in
            [("stats", byID[e.id].map { stats($0.stats) } ?? stats(EndpointStats(window: snapshot.window))),
             ("verdict", verdict(byID[e.id]?.verdict ?? .unknown)),
             ("by_host", byHost(byID[e.id], hosts: snapshot.hosts)),
             ("lingering_hosts", .array((byID[e.id]?.lingeringHosts ?? []).map { .object([("name", .string($0.name)), ("requests", .int($0.requests))]) }))]
        }) else { return .null }
        fields.append(("not_migrated", .array(snapshot.notMigrated.map { .object([("path", .string($0.path)), ("requests", .int($0.requests))]) })))
        fields.append(("malformed", .object(snapshot.malformedCounts.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })))
        fields.append(("hosts", .array(snapshot.hosts.map { h in
            let config = hostConfig?.config(of: h.name)
            return .object([("name", .string(h.name)), ("requests", .int(h.requests)),
                            ("lag_seconds", .optional(h.lagSeconds) { .int(Int($0)) }),
                            ("config_sha256", .optional(config?.sha256, JSON.string)),
                            ("drift", .bool(config?.drift ?? false)),
                            ("current", .int(h.current)), ("new", .int(h.new)), ("5xx", .int(h.s5xx)),
                            ("rps", .number(h.rps)), ("observed_percent", .number(h.observedPercent))])
        })))
        fields.append(("syslog", snapshot.syslog.map { syslog($0, listen: syslogListen) } ?? .null))
        return .object(fields)
    }

    /// An endpoint's `"by_host": {NAME: {"current": N, "new": M}}`, in host order.
    static func byHost(_ entry: EndpointTraffic?, hosts: [HostTraffic]) -> JSON {
        let split = entry?.byHost ?? []
        return .object(hosts.indices.map { i in
            let s = i < split.count ? split[i] : HostSplit()
            return (hosts[i].name, .object([("current", .int(s.current)), ("new", .int(s.new))]))
        })
    }

    /// The `"syslog"` object: what the listener received, and what it could not use.
    static func syslog(_ c: SyslogCounters, listen: String?) -> JSON {
        func table(_ t: [String: Int]) -> JSON { .object(t.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) }) }
        return .object([
            ("listen", .optional(listen, JSON.string)), ("received", .int(c.received)), ("udp", .int(c.udp)), ("tcp", .int(c.tcp)),
            ("malformed", .int(c.malformed)), ("unknown_hosts", table(c.unknownHosts)), ("unknown_tags", table(c.unknownTags)),
            ("udp_kernel_drops", .int(c.kernelDrops)), ("udp_overflow", .int(c.overflow)),
            ("recommendation", c.udpLost > 0 ? .string(syslogAdvice(c)) : .null),
        ])
    }

    /// What to do when UDP lost messages.
    static func syslogAdvice(_ c: SyslogCounters) -> String {
        "\(c.udpLost) syslog datagram(s) were lost over UDP (\(c.kernelDrops) dropped by the kernel, \(c.overflow) by a full inbox): send the logs over TCP through a relay (rsyslog/syslog-ng with octet-counted framing to this port) or raise net.core.rmem_max"
    }

    static func text(_ model: RolloutModel, snapshot: TrafficSnapshot, configPath: String, settings: VerdictSettings = VerdictSettings(),
                     hostConfig: HostConfigReporting? = nil, syslogListen: String? = nil) -> String {
        func pct(_ v: Double?) -> String { v.map { String(format: "%.1f", $0) } ?? "-" }
        func ms(_ v: Double?) -> String { v.map { String(format: "%.0f", $0) } ?? "-" }
        func rate(_ v: Double?) -> String { v.map { String(format: "%.2f", $0 * 100) } ?? "-" }
        func signed(_ v: Double?, _ f: (Double?) -> String) -> String { v.map { ($0 >= 0 ? "+" : "") + f($0) } ?? "-" }
        let byID = Dictionary(snapshot.endpoints.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var out = "config: \(configPath)   window: \(snapshot.window.rawValue)   lines: \(snapshot.lines)\n\n"
        // Comparisons (and their per-service columns) cover the requests since the last change inside the window.
        out += RoutesReport.table(
            ["ENDPOINT", "GROUP", "CONF%", "OBS% [95% CI]", "REQ cur|new", "5XX% cur|new", "Δ5XX", "P50 cur|new", "P95 cur|new", "P99 cur|new", "ΔP99", "SPLIT", "SINCE", "VERDICT"],
            model.endpoints.map { e in
                let s = byID[e.id]?.stats ?? EndpointStats(window: snapshot.window)
                let v = byID[e.id]?.verdict ?? .unknown
                let c = s.comparedCurrent, n = s.comparedNew
                let ci = s.observedPercentCI.map { "[\(pct($0.first)), \(pct($0.last))]" } ?? ""
                return [e.name, e.groupName ?? e.assignment ?? "-", e.percent.plain, "\(pct(s.observedPercent)) \(ci)",
                        "\(c.requests)|\(n.requests)", "\(rate(c.errorRate))|\(rate(n.errorRate))",
                        signed(s.errorRateDelta.map { $0 * 100 }, pct), "\(ms(c.p50Ms))|\(ms(n.p50Ms))",
                        "\(ms(c.p95Ms))|\(ms(n.p95Ms))", "\(ms(c.p99Ms))|\(ms(n.p99Ms))",
                        signed(s.p99DeltaMs, ms), s.splitMismatch == true ? "MISMATCH" : (s.splitMismatch == false ? "ok" : "-"),
                        s.since.map { settings.clock($0) } ?? "-", verdictCell(v)]
            })
        let judged = model.endpoints.compactMap { e in byID[e.id].map { (e.name, $0.verdict) } }
        if !judged.isEmpty {
            out += "\nverdicts (each claim at \(String(format: "%g", settings.confidence * 100))% confidence, valid however often you look):\n"
            for (name, v) in judged {
                out += "  \(name): \(verdictCell(v))\n"
                for reason in v.reasons { out += "      \(reason)\n" }
            }
        }
        if !snapshot.hosts.isEmpty {
            out += "\nhosts:\n"
            out += RoutesReport.table(["HOST", "REQUESTS", "CUR|NEW", "5XX", "LAG", "CONFIG", "DRIFT"], snapshot.hosts.map { h in
                let config = hostConfig?.config(of: h.name)
                return [h.name, String(h.requests), "\(h.current)|\(h.new)", String(h.s5xx), h.lagSeconds.map { "\($0)s" } ?? "-",
                        config?.sha256.map { String($0.prefix(12)) } ?? "-", config?.drift == true ? "DRIFT" : "-"]
            })
            let lingering = model.endpoints.compactMap { e -> String? in
                guard let hosts = byID[e.id]?.lingeringHosts, !hosts.isEmpty else { return nil }
                return "  \(e.name): rolled back, but \(hosts.map { "\($0.name) (\($0.requests) new-service requests since)" }.joined(separator: ", ")) still sends to the new service: check that host's reload"
            }
            if !lingering.isEmpty { out += "\nhosts still on the new service after a rollback:\n" + lingering.joined(separator: "\n") + "\n" }
        }
        if let c = snapshot.syslog {
            out += "\nsyslog\(syslogListen.map { " on \($0)" } ?? ""): \(c.received) messages (\(c.udp) udp, \(c.tcp) tcp), \(c.malformed) malformed, udp lost \(c.udpLost)\n"
            for (name, n) in c.unknownHosts.sorted(by: { $0.key < $1.key }) { out += "  unknown host \(name): \(n) messages (add it to hosts: or set its syslog_name)\n" }
            for (tag, n) in c.unknownTags.sorted(by: { $0.key < $1.key }) { out += "  unknown tag \(tag): \(n) messages (no access_log syslog: of the config names tag=\(tag))\n" }
            if c.udpLost > 0 { out += "  " + syslogAdvice(c) + "\n" }
        }
        if !snapshot.notMigrated.isEmpty {
            out += "\nnot migrated (top paths on the current service):\n"
            out += RoutesReport.table(["PATH", "REQUESTS"], snapshot.notMigrated.map { [$0.path, String($0.requests)] })
        }
        let malformed = snapshot.malformedCounts.filter { $0.value > 0 }
        if !malformed.isEmpty {
            out += "\nmalformed lines (counted and skipped):\n"
            for (path, count) in malformed.sorted(by: { $0.key < $1.key }) { out += "  \(path): \(count)\n" }
        }
        if !model.problems.isEmpty {
            out += "\nproblems:\n"
            for p in model.problems { out += "  \(p.severity.rawValue): \(p.location): \(p.message)\n" }
        }
        return out
    }
}
