import AccessLog
import Apply
import ArgumentParser
import Foundation
import Rollout
import TrafficStats

/// `--confirm-traffic SECONDS` (rollback, set, group): after the change, watch the logs and confirm from
/// the traffic itself that the endpoints sent back to the current service no longer reach the new one.
struct ConfirmTrafficOptions: ParsableArguments {
    @Option(name: .customLong("confirm-traffic"),
            help: ArgumentHelp("After the reload, watch the logs this long once the old workers drained; exit 7 when "
                               + "new-service requests for the endpoints now at 0% did not stop.", valueName: "SECONDS"))
    var seconds: Double?
    @OptionGroup var logs: LogOptions

    func validate() throws {
        if let seconds, !(seconds > 0 && seconds <= 3600) {
            throw ValidationError("--confirm-traffic must be a number of seconds between 0 (exclusive) and 3600")
        }
    }
}

/// What the traffic said after a change: how many requests each side served for the watched endpoints.
struct TrafficConfirmation {
    /// The endpoints watched (patterns, as the rules name them) and their short names.
    var endpoints: [(name: String, pattern: String)]
    /// When the reload finished, and when the old workers had all exited.
    var reloadedAt: Date
    var drainedAt: Date?
    /// Requests counted after the drain, per side.
    var newRequests: Int
    var currentRequests: Int
    /// How long the logs were watched after the drain.
    var watched: Double

    /// Confirmed when no new-service request for the watched endpoints arrived after the drain.
    var confirmed: Bool { newRequests == 0 }

    static func clock(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss.SSS"
        return formatter.string(from: date)
    }

    /// The operator's sentence: the confirmation, or loudly the opposite.
    var message: String {
        let names = endpoints.map(\.name).joined(separator: ", ")
        let drained = drainedAt.map { "old workers drained at \(Self.clock($0))" } ?? "old workers still running at the end of the watch"
        if confirmed {
            return "traffic confirms the rollback: 0 new-service requests for \(names) since the reload at "
                + "\(Self.clock(reloadedAt)) (\(drained)); \(currentRequests) answered by the current service in "
                + String(format: "%.1f s", watched)
        }
        return "TRAFFIC DOES NOT CONFIRM THE ROLLBACK: \(newRequests) requests for \(names) still reached the new service "
            + String(format: "%.1f s", watched) + " after the reload at \(Self.clock(reloadedAt)) (\(drained)); nginx accepted "
            + "the change but does not route the way the config says: check which config nginx loads and the routing maps"
    }

    /// The live workers of the master named in `pidFile` (empty when unknown).
    static func workers(pidFile: String?) -> Set<Int32> {
        guard let pidFile, let pid = ProcessTable.readPid(pidFile) else { return [] }
        return ProcessTable.children(of: pid)
    }

    /// Watches the logs of `context` (re-read after the change) for `seconds` once `oldWorkers` have exited
    /// (waiting at most `seconds` for that), counting requests for `endpoints`.
    static func watch(context: Context, logs: LogOptions, endpoints: [(name: String, pattern: String)], seconds: Double,
                      oldWorkers: Set<Int32>, reloadedAt: Date) throws -> TrafficConfirmation {
        let clock = ContinuousClock()
        let drainDeadline = clock.now + .milliseconds(Int64(seconds * 1000))
        while oldWorkers.contains(where: { ProcessTable.isAlive($0) }) && clock.now < drainDeadline { usleep(10_000) }
        let drainedAt: Date? = oldWorkers.contains(where: { ProcessTable.isAlive($0) }) ? nil : Date()
        let prefix = context.settings.prefix ?? (context.configPath as NSString).deletingLastPathComponent
        let plan = LogPlan.plan(model: context.model, mainLogs: logs.mainLogs(context.settings),
                                migrationLogs: logs.migrationLogs(context.settings), prefix: prefix,
                                hosts: context.settings.effectiveHosts.map(\.name))
        let engine: TrafficEngine
        do {
            engine = try TrafficEngine(sources: plan.sources, start: .end(lookBackSeconds: nil),
                                       configuration: LogPlan.configuration(rules: LogPlan.rules(for: context.model),
                                                                            latency: context.settings.latency,
                                                                            newServiceUpstreams: context.settings.newServiceUpstreams))
        } catch {
            throw CLIError(message: "cannot read the logs to confirm the traffic: \(error)", code: CLIError.general)
        }
        let start = clock.now
        let end = start + .milliseconds(Int64(seconds * 1000))
        var rounds = 0
        while clock.now < end && rounds < 100_000 {
            engine.poll()
            usleep(50_000)
            rounds += 1
        }
        engine.poll()
        let snapshot = engine.snapshot(.all)
        let patterns = Set(endpoints.map(\.pattern))
        var new = 0, current = 0
        for entry in snapshot.endpoints where patterns.contains(entry.endpoint) {
            new += entry.stats.new.requests
            current += entry.stats.current.requests
        }
        if let unreadable = snapshot.unreadable.first {
            throw CLIError(message: "cannot confirm the traffic: \(unreadable.value)", code: ExitStatus.trafficNotConfirmed.rawValue)
        }
        return TrafficConfirmation(endpoints: endpoints, reloadedAt: reloadedAt, drainedAt: drainedAt, newRequests: new,
                                   currentRequests: current, watched: (clock.now - start).millisecondsDouble / 1000)
    }

    /// The endpoints a change sent entirely back to the current service (share now 0%), as patterns.
    static func zeroedEndpoints(_ shifts: [EndpointShift], model: RolloutModel) -> [(name: String, pattern: String)] {
        shifts.filter { $0.percentAfter == .zero }.compactMap { shift in
            model.endpoints.first { $0.name == shift.endpoint }.map { ($0.name, $0.pattern) }
        }
    }
}
