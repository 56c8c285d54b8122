import AccessLog
import Apply
import ArgumentParser
import Autopilot
import Foundation
import NginxConfig
import PrometheusExport
import Rollout
import Settings
import Synchronization
import TrafficStats

/// `cutover guard`: the headless executor. Follows the logs, computes the verdicts, executes the ramp plans and
/// the guardrails, prints one line per event, and stops cleanly on SIGTERM or SIGINT.
struct GuardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard",
        abstract: "Run the autopilot without a terminal: execute the ramp plans and the guardrails from the live verdicts.",
        discussion: "One line per event on stdout (journald-friendly). Exactly one process executes the plans: a second guard waits on standby and takes over when the first is gone. SIGTERM or SIGINT stops it once no change is in flight.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var logs: LogOptions
    @Option(name: .long, help: ArgumentHelp("Seconds between two rounds of decisions.", valueName: "SECONDS")) var interval: Double = 1
    @Option(name: .customLong("confirm-traffic"), help: ArgumentHelp("After each rollback, watch the logs this long (once the old workers have exited) to confirm the new service gets none of those requests any more; 0 turns it off.", valueName: "SECONDS"))
    var confirmTraffic: Double = 10
    @Option(name: .long, help: ArgumentHelp("Serve /metrics (Prometheus text format) and /healthz on this address, e.g. 127.0.0.1:9464 ([::1]:9464 for IPv6, port 0 picks a free one).", valueName: "ADDR:PORT"))
    var metrics: String?

    func validate() throws {
        if let metrics {
            do { _ = try MetricsAddress(parsing: metrics) } catch { throw ValidationError(error.message) }
        }
        guard interval >= 0.05, interval <= 600 else { throw ValidationError("--interval must be between 0.05 and 600 seconds") }
        guard confirmTraffic >= 0, confirmTraffic <= 600 else { throw ValidationError("--confirm-traffic must be between 0 and 600 seconds") }
    }

    func run() throws {
        try runReportingErrors {
            GuardStop.install()
            let context = try Context.load(global)
            let autopilot = AutopilotWiring.autopilot(context, notify: true)
            let store = autopilot.store
            let g = context.settings.guardrails
            say("guard: config \(context.configPath); plans \(store.path); auto_rollback \(g.autoRollback ? "on" : "off")"
                + (g.autoRollback ? " for \(g.endpoints.map { $0.joined(separator: ", ") } ?? "every endpoint"), cooldown \(DurationText.format(g.cooldownSeconds))" : "")
                + (g.notify.isEmpty ? "" : "; notify \(g.notify.first ?? "")"))
            let figures = GuardMetrics(endpoints: LogPlan.rules(for: context.model).map(\.endpoint))
            let health = GuardHealth()
            var server: MetricsServer?
            if let metrics, let address = try? MetricsAddress(parsing: metrics) {
                do {
                    server = try MetricsServer.start(address, render: { figures.render() }, health: { health.text })
                } catch {
                    throw CLIError(message: "\(error)", code: CLIError.general)
                }
                say("guard: metrics on http://\(server?.address.description ?? metrics)/metrics (liveness: /healthz)")
            }
            defer { server?.stop() }
            guard let lease = try waitForLease(store, clock: context.clock, health: health) else {
                say("guard: stopped (\(GuardStop.name)) while on standby; nothing was done")
                return
            }
            defer { lease.release() }
            health.text = "ok: executing the plans"
            if let previous = lease.tookOverFrom {
                printEvent(AutopilotEvent(.lease, time: context.clock.now(), message: "took the executor lease over from \(previous), which is gone"))
            } else {
                printEvent(AutopilotEvent(.lease, time: context.clock.now(), message: "executing the plans (lease \(store.leasePath))"))
            }
            let traffic = try startTraffic(context, store: store, observer: figures)
            defer { traffic.live.stop() }
            var feed = traffic.feed
            var lastError: String?
            var lastTickError: String?
            while !GuardStop.requested {
                let started = context.clock.now()
                if let error = traffic.live.error, error != lastError {
                    lastError = error
                    printError("cutover guard: the log reader stopped: \(error)")
                }
                if let snapshot = traffic.live.snapshot(.oneMinute) {
                    let verdicts = Dictionary(snapshot.endpoints.map { ($0.endpoint, $0.verdict) }, uniquingKeysWith: { a, _ in a })
                    let control = context.applier.pipeline.configuration.nginx
                    let workers = TrafficConfirmation.workers(pidFile: control.masterPidFile ?? control.reloadSignalPidFile)
                    do {
                        let events = try autopilot.tick(verdicts: verdicts)
                        figures.note(events)
                        for event in events {
                            printEvent(event)
                            if [.automaticRollback, .planAborted].contains(event.kind), let id = event.journal, confirmTraffic > 0 {
                                confirmRollback(journal: id, context: context, oldWorkers: workers, notifier: autopilot.notifier)
                            }
                        }
                        try store.saveProgress(Array(autopilot.progress.values), at: context.clock.now())
                        lastTickError = nil
                    } catch {
                        // Said once, not every round, until it changes or clears.
                        let text = "\(error)"
                        if text != lastTickError { printError("cutover guard: \(text); retrying every round") }
                        lastTickError = text
                    }
                    feed.sync(context: context, live: traffic.live)
                    figures.update(snapshot: snapshot, model: feed.model, plans: (try? store.plans()) ?? [], now: Date())
                }
                if autopilot.interruptedBy != nil { break }
                while !GuardStop.requested && context.clock.now().timeIntervalSince(started) < interval { usleep(50_000) }
            }
            _ = ConfirmationJob.running.wait(timeout: .now() + .milliseconds(Int(confirmTraffic * 2000) + 2000))
            autopilot.notifier?.waitUntilIdle(limit: .milliseconds(Int64(g.notifyTimeoutSeconds * 1000) + 1000))
            let signal = autopilot.interruptedBy.map(SignalGuard.name) ?? GuardStop.name
            say("guard: stopped (\(signal)); no change in flight, every transition journaled")
        }
    }

    func say(_ line: String) {
        print(line)
        fflush(nil)
    }

    /// Confirms from the traffic, on a thread of its own (decisions go on meanwhile), that the endpoints the
    /// journaled rollback `id` sent back no longer reach the new service; prints (and notifies) the outcome.
    func confirmRollback(journal id: String, context: Context, oldWorkers: Set<Int32>, notifier: Notifier?) {
        guard let (fresh, endpoints, reloadedAt) = TrafficConfirmation.rolledBack(journal: id, context: context) else { return }
        let job = ConfirmationJob(context: fresh, logs: logs, endpoints: endpoints, seconds: confirmTraffic, oldWorkers: oldWorkers,
                                  reloadedAt: reloadedAt, journal: id, notifier: notifier)
        ConfirmationJob.running.enter()
        Thread.detachNewThread {
            job.run()
            ConfirmationJob.running.leave()
        }
    }

    /// Takes the executor lease, waiting on standby (checking every 2 s) while another process holds it; nil when
    /// stopped first.
    func waitForLease(_ store: PlanStore, clock: ApplyClock, health: GuardHealth? = nil) throws -> ExecutorLease? {
        var reported: LeaseHolder?
        var first = true
        while !GuardStop.requested {
            switch try AutopilotWiring.reporting({ try ExecutorLease.acquire(path: store.leasePath, role: "guard", clock: clock) }) {
            case .acquired(let lease):
                return lease
            case .held(let holder):
                health?.text = "ok: standby, the plans are executed by \(holder.map(\.description) ?? "another process")"
                if first || holder != reported {
                    say("guard: standby: the plans are executed by \(holder.map(\.description) ?? "another process"); taking over when it is gone")
                    reported = holder
                    first = false
                }
            }
            for _ in 0..<40 where !GuardStop.requested { usleep(50_000) }
        }
        return nil
    }

    /// The live traffic of the config's logs, told of the journal's changes.
    func startTraffic(_ context: Context, store: PlanStore, observer: (any RequestObserver)?) throws -> (live: LiveTraffic, feed: JournalFeed) {
        let prefix = global.prefix ?? context.settings.prefix ?? (context.configPath as NSString).deletingLastPathComponent
        let plan = LogPlan.plan(model: context.model, mainLogs: logs.mainLogs(context.settings),
                                migrationLogs: logs.migrationLogs(context.settings), prefix: prefix,
                                hosts: context.settings.effectiveHosts.map(\.name))
        for problem in plan.problems { printError("cutover guard: \(problem.location): \(problem.message)") }
        guard !plan.sources.isEmpty else {
            throw CLIError(message: "no access logs to read, so no verdicts: set logs: in cutover.yaml or pass --main-log and --migration-log", code: CLIError.general)
        }
        var configuration = LogPlan.configuration(rules: LogPlan.rules(for: context.model), latency: context.settings.latency,
                                                  newServiceUpstreams: context.settings.newServiceUpstreams)
        configuration.verdict = context.settings.verdict
        // Read back far enough to count every live step's requests since it began.
        let now = context.clock.now()
        let steps = ((try? store.plans()) ?? []).filter { $0.state.isActive }.compactMap(\.stepStarted)
        let lookBack = max(900, Int64(steps.map { now.timeIntervalSince($0) }.max() ?? 0) + 60)
        let live: LiveTraffic
        do {
            live = try LiveTraffic(sources: plan.sources, start: .end(lookBackSeconds: lookBack), configuration: configuration,
                                   clock: context.clock.monotonicSeconds, wallClock: context.clock.unixSeconds, observer: observer)
        } catch {
            throw CLIError(message: "cannot set up the log reader: \(error)", code: CLIError.general)
        }
        var feed = JournalFeed(journal: Journal(path: context.settings.journalPath(config: context.configPath)), model: context.model)
        feed.sync(context: context, live: live)
        live.run(pollInterval: 0.2, publishInterval: min(0.5, interval), windows: [.oneMinute], slideWithWallClock: true)
        return (live, feed)
    }
}

/// Tells the traffic engine of each journaled change once (the guard's own and everyone else's), with the
/// endpoints' configured percents as the config has them after it.
struct JournalFeed {
    var journal: Journal
    /// The rollout as the config had it after the newest journaled change.
    var model: RolloutModel
    var seen = 0

    mutating func sync(context: Context, live: LiveTraffic) {
        guard let records = try? journal.records().filter({ $0.belongs(toConfig: context.configPath) }), records.count > seen else { return }
        let fresh = Array(records[seen...])
        seen = records.count
        let config = (try? ConfigSet.load(path: context.configPath, prefix: context.applier.prefix)) ?? context.config
        let model = Discovery.discover(config, names: context.settings.names)
        self.model = model
        let changes = Settings.routingChanges(journal: fresh, model: model, names: model.endpoints.map(\.pattern))
        var last: [String: Int64] = [:]
        for change in changes {
            live.noteRoutingChange(change)
            last[change.endpoint] = change.time
        }
        for e in model.endpoints {
            live.setConfiguredPercent(e.target == nil ? nil : e.percent.value, endpoint: e.pattern, at: last[e.pattern] ?? Int64.min)
        }
    }
}

/// What `/healthz` says: the guard is alive, and whether it executes the plans or waits on standby.
final class GuardHealth: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = "ok: starting"

    var text: String {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// SIGTERM and SIGINT ask the guard to stop after the round in progress (a change in flight is finished or
/// put back by the pipeline, which holds them while it runs).
enum GuardStop {
    private static let noted = Atomic<Int32>(0)

    /// Installs the handlers.
    static func install() {
        _ = noted.load(ordering: .relaxed)
        for signal in [SIGTERM, SIGINT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in GuardStop.note(signal) }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
        // A mask inherited with them blocked (a parent that blocks them in the spawning thread) would keep them
        // pending for ever: let this thread, and the threads it starts, take them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    static func note(_ signal: Int32) {
        _ = noted.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
    }

    /// Whether a stop was asked for.
    static var requested: Bool { noted.load(ordering: .relaxed) != 0 }

    /// The signal's name.
    static var name: String {
        let s = noted.load(ordering: .relaxed)
        return s == 0 ? "done" : SignalGuard.name(s)
    }
}

/// One traffic confirmation after a rollback, run off the decision loop.
struct ConfirmationJob: @unchecked Sendable {
    /// The confirmations under way (the guard waits for them before it exits).
    static let running = DispatchGroup()

    var context: Context
    var logs: LogOptions
    var endpoints: [(name: String, pattern: String)]
    var seconds: Double
    var oldWorkers: Set<Int32>
    var reloadedAt: Date
    var journal: String
    var notifier: Notifier?

    func run() {
        let event = confirm()
        printEvent(event)
        notifier?.notify(event)
    }

    /// Watches the traffic; the `rollback-confirmed` or `rollback-not-confirmed` event.
    func confirm() -> AutopilotEvent {
        let names = endpoints.map(\.name).joined(separator: ", ")
        let event: AutopilotEvent
        do {
            let result = try TrafficConfirmation.watch(context: context, logs: logs, endpoints: endpoints, seconds: seconds,
                                                       oldWorkers: oldWorkers, reloadedAt: reloadedAt)
            event = AutopilotEvent(result.confirmed ? .rollbackConfirmed : .rollbackNotConfirmed, time: context.clock.now(), endpoint: endpoints.first?.pattern,
                                   outcome: result.confirmed ? "confirmed" : "not-confirmed", journal: journal, message: result.message)
        } catch {
            event = AutopilotEvent(.rollbackNotConfirmed, time: context.clock.now(), endpoint: endpoints.first?.pattern, outcome: "not-confirmed", journal: journal,
                                   message: "\(names): the traffic could not be confirmed: \(error)")
        }
        return event
    }
}
