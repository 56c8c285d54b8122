import AccessLog
import Apply
import ArgumentParser
import Foundation
import NginxConfig
import Rollout
import TrafficStats

/// `--confirm-traffic SECONDS` (rollback, set, group): after the change, watch the logs and confirm from
/// the traffic itself that every endpoint whose share it lowered gets the share the config now gives it.
struct ConfirmTrafficOptions: ParsableArguments {
    @Option(name: .customLong("confirm-traffic"),
            help: ArgumentHelp("After the reload, wait for the old workers to exit, then watch the logs this long; exit 7 "
                               + "when the traffic contradicts the change: new-service requests for an endpoint now at 0%, "
                               + "or a new-service share clearly above an endpoint's lowered percent.", valueName: "SECONDS"))
    var seconds: Double?
    @OptionGroup var logs: LogOptions

    func validate() throws {
        if let seconds, !(seconds > 0 && seconds <= 3600) {
            throw ValidationError("--confirm-traffic must be a number of seconds between 0 (exclusive) and 3600")
        }
    }
}

extension TrafficConfirmation {
    /// The live workers of the master named in `pidFile` (empty when unknown), for the guard's rollbacks.
    static func workers(pidFile: String?) -> Set<Int32> {
        WorkerDrain.workers(ofMasterIn: pidFile)?.pids ?? []
    }

    /// The guard's confirmation of a rollback: `endpoints` are at 0% now; `oldWorkers` served before the reload.
    static func watch(context: Context, logs: LogOptions, endpoints: [(name: String, id: EndpointID)], seconds: Double,
                      oldWorkers: Set<Int32>, reloadedAt: Date) throws -> TrafficConfirmation {
        try watch(context: context, logs: logs,
                  lowered: endpoints.map { LoweredEndpoint(id: $0.id, name: $0.name, percentBefore: nil, percentAfter: 0) },
                  seconds: seconds, drain: oldWorkers.isEmpty ? nil : WorkerDrain(pids: oldWorkers), reloadedAt: reloadedAt)
    }

    /// Waits (at most `seconds`) for the old workers of `drain` to exit, then watches the logs of `context` (re-read
    /// after the change) for `seconds`, and judges the requests for the `lowered` endpoints (see the core's
    /// `TrafficConfirmation`). Time comes from the pipeline's clock, the one the executable made.
    static func watch(context: Context, logs: LogOptions, lowered: [LoweredEndpoint], seconds: Double, drain: WorkerDrain?,
                      reloadedAt: Date) throws -> TrafficConfirmation {
        let clock = context.applier.pipeline.clock
        let span = Duration.milliseconds(Int64(seconds * 1000))
        let drainedAt = drain?.wait(timeout: span, clock: clock)
        let prefix = context.settings.prefix ?? (context.configPath as NSString).deletingLastPathComponent
        let plan = LogPlan.plan(model: context.model, mainLogs: logs.mainLogs(context.settings),
                                migrationLogs: logs.migrationLogs(context.settings), prefix: prefix,
                                hosts: context.settings.effectiveHosts.map(\.name))
        let engine: TrafficEngine
        do {
            engine = try TrafficEngine(sources: plan.sources, start: .end(lookBackSeconds: nil),
                                       configuration: LogPlan.configuration(rules: LogPlan.rules(for: context.model),
                                                                            latency: context.settings.latency,
                                                                            newServiceUpstreams: context.settings.newServiceUpstreams),
                                       clock: clock.monotonicSeconds, wallClock: clock.unixSeconds)
        } catch {
            throw CLIError(message: "cannot read the logs to confirm the traffic: \(error)", code: CLIError.general)
        }
        let start = clock.monotonic()
        var rounds = 0
        while clock.monotonic() - start < span && rounds < 100_000 {
            engine.poll()
            clock.sleep(.milliseconds(50))
            rounds += 1
        }
        engine.poll()
        let snapshot = engine.snapshot(.all)
        if let unreadable = snapshot.unreadable.first {
            throw CLIError(message: "cannot confirm the traffic: \(unreadable.value)", code: ExitStatus.trafficNotConfirmed.rawValue)
        }
        var counts: [EndpointID: (current: Int, new: Int)] = [:]
        for entry in snapshot.endpoints {
            let known = counts[entry.id] ?? (0, 0)
            counts[entry.id] = (known.current + entry.stats.current.requests, known.new + entry.stats.new.requests)
        }
        return TrafficConfirmation.judge(lowered, counts: { counts[$0.id] ?? (0, 0) }, reloadedAt: reloadedAt,
                                         drainedAt: drainedAt, drainWatched: drain != nil,
                                         watchedSeconds: (clock.monotonic() - start).millisecondsDouble / 1000)
    }
}

extension TrafficConfirmation {
    /// The endpoints the journaled rollback `id` sent back to the current service (those at 0% in the config
    /// now), with the context re-read after it and the record's time; nil when there is nothing to confirm.
    static func rolledBack(journal id: String, context: Context) -> (context: Context, endpoints: [(name: String, id: EndpointID)], reloadedAt: Date)? {
        guard let record = try? context.applier.pipeline.history().last(where: { $0.id == id }),
              let config = try? ConfigSet.load(path: context.configPath, prefix: context.applier.prefix) else { return nil }
        let model = Discovery.discover(config, names: context.settings.names)
        let touched = Set(record.change.endpointIDs(in: model))
        let endpoints = model.endpoints.filter { touched.contains($0.id) && $0.percent == .zero }.map { (name: $0.name, id: $0.id) }
        guard !endpoints.isEmpty else { return nil }
        var fresh = context
        fresh.config = config
        fresh.model = model
        return (fresh, endpoints, record.time)
    }

    /// Whether `context` has access logs to confirm from (without them no request would be counted, which
    /// would read as a confirmation).
    static func hasLogs(context: Context, logs: LogOptions) -> Bool {
        let prefix = context.settings.prefix ?? (context.configPath as NSString).deletingLastPathComponent
        return !LogPlan.plan(model: context.model, mainLogs: logs.mainLogs(context.settings),
                             migrationLogs: logs.migrationLogs(context.settings), prefix: prefix).sources.isEmpty
    }
}
