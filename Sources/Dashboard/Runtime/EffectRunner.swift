import Apply
import Foundation
import Rollout
import TrafficStats

/// Performs effects off the UI loop and hands back their results as actions.
///
/// Applies, undos and file reads run one at a time on a background queue, in order; their results wait in
/// an inbox the event loop drains. Nothing here touches the screen.
public final class EffectRunner: @unchecked Sendable {
    private let applier: ChangeApplying
    private let journal: JournalReading
    private let config: ConfigReading
    private let traffic: TrafficSource?
    private let themes: @Sendable (String) -> (Theme, [String])
    private let clock: ApplyClock
    private let queue = DispatchQueue(label: "cutover.dashboard.effects")
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var inbox: [Action] = []
    private let onResult: (@Sendable () -> Void)?
    private let inline: Bool
    private let planner: PlanExecuting?

    /// Creates a runner.
    ///
    /// - Parameters:
    ///   - themes: loads a theme by name, returning it and its problems (file:line: message).
    ///   - onResult: called (on the background queue) whenever an action is waiting, to wake the loop early.
    ///   - inline: runs every effect on the calling thread before `perform` returns (tests that step the loop).
    ///   - planner: the ramp plans and their executor, when the session has a plan log.
    public init(applier: ChangeApplying, journal: JournalReading, config: ConfigReading, traffic: TrafficSource?,
                themes: @escaping @Sendable (String) -> (Theme, [String]), clock: ApplyClock = .system,
                onResult: (@Sendable () -> Void)? = nil, inline: Bool = false, planner: PlanExecuting? = nil) {
        self.inline = inline
        self.planner = planner
        self.applier = applier
        self.journal = journal
        self.config = config
        self.traffic = traffic
        self.themes = themes
        self.clock = clock
        self.onResult = onResult
    }

    /// Starts an effect; returns at once. `basis` is the config the state showed (the preview's base for edits).
    public func perform(_ effect: Effect, basis: LoadedConfig? = nil) {
        switch effect {
        case .refreshTraffic(let window):
            // A lock and a copy: cheap enough for the UI thread, and it makes a window switch show at once.
            post(.traffic(traffic?.snapshot(window), error: traffic?.error))
        case .apply(let edit, let summary):
            let started = clock.monotonic()
            background { [self] in
                let outcome = applier.apply(edit, basis: basis)
                let elapsed = clock.monotonic() - started
                if outcome.outcome == .applied { noteConfiguredPercents(outcome.shifts) }
                let lowers = outcome.outcome == .applied && outcome.shifts.contains { $0.percentAfter < $0.percentBefore }
                let drain = lowers ? outcome.drain : nil
                post(.applyFinished(ApplyStatus(action: edit.action, summary: summary, outcome: outcome.outcome,
                                                message: outcome.message, elapsed: elapsed, finishedAt: clock.now(),
                                                hosts: outcome.hosts, shifts: outcome.shifts, drainWatched: drain != nil)))
                if let drain { watchDrain(drain) }
            }
        case .undo(let summary):
            let started = clock.monotonic()
            background { [self] in
                let outcome = applier.undo()
                let elapsed = clock.monotonic() - started
                post(.applyFinished(ApplyStatus(action: "undo", summary: summary, outcome: outcome.outcome,
                                                message: outcome.message, elapsed: elapsed, finishedAt: clock.now(),
                                                hosts: outcome.hosts)))
                if outcome.outcome == .applied, let loaded = try? config.load() { noteConfiguredPercents(of: loaded.model) }
            }
        case .reloadConfig:
            background { [self] in
                do {
                    post(.configLoaded(try config.load()))
                } catch {
                    post(.configFailed("\(error)"))
                }
            }
        case .loadJournal:
            background { [self] in
                do {
                    post(.journalLoaded(try journal.records()))
                } catch {
                    post(.journalFailed("\(error)"))
                }
            }
        case .cancelInFlight(let reason):
            // Straight from the UI thread: the change in flight holds the background queue.
            applier.cancelInFlight(reason: reason)
        case .loadTheme(let name):
            background { [self] in
                let (theme, problems) = themes(name)
                post(.themeLoaded(theme, name: name, problems: problems))
            }
        // The autopilot's work goes on the same queue as the operator's changes: one change at a time, in order.
        case .autopilotTick(let verdicts):
            guard let planner else { return }
            background { [self] in post(.autopilotReported(planner.tick(verdicts: verdicts))) }
        case .planCommand(let command, let plan):
            guard let planner else { return }
            background { [self] in post(.autopilotReported(planner.perform(command, plan: plan))) }
        case .createPlan(let endpoint, let steps, let defaults):
            guard let planner else { return }
            background { [self] in post(.autopilotReported(planner.create(endpoint: endpoint, steps: steps, defaults: defaults))) }
        }
    }

    /// Takes the actions waiting in the inbox, oldest first.
    public func drain() -> [Action] {
        lock.lock()
        defer { lock.unlock() }
        let taken = inbox
        inbox.removeAll()
        return taken
    }

    /// Waits until every started effect has finished, at most `timeout`; returns whether they all did.
    @discardableResult
    public func waitUntilIdle(timeout: Duration) -> Bool {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        return group.wait(timeout: .now() + seconds) == .success
    }

    /// Tells the traffic figures every endpoint's configured percent (at start and after undo).
    public func noteConfiguredPercents(of model: RolloutModel) {
        guard let traffic else { return }
        let time = Int64(clock.now().timeIntervalSince1970)
        for endpoint in model.endpoints {
            traffic.setConfiguredPercent(endpoint.percent.value, endpoint: endpoint.id, at: time)
        }
    }

    private func noteConfiguredPercents(_ shifts: [EndpointShift]) {
        guard let traffic else { return }
        let time = Int64(clock.now().timeIntervalSince1970)
        for shift in shifts { traffic.setConfiguredPercent(shift.percentAfter.value, endpoint: shift.id, at: time) }
    }

    /// Waits (off the effect queue, so a queued rollback is not held up) for the old workers to exit, then
    /// posts `.workersDrained`.
    private func watchDrain(_ drain: WorkerDrain) {
        let clock = clock
        let work: @Sendable () -> Void = { [self] in
            post(.workersDrained(drain.wait(timeout: ConfirmationWatch.drainTimeout, clock: clock)))
        }
        // Not part of `waitUntilIdle`: quitting never waits for nginx's workers.
        if inline { work() } else { Thread.detachNewThread(work) }
    }

    private func background(_ work: @escaping @Sendable () -> Void) {
        if inline {
            work()
            return
        }
        group.enter()
        queue.async { [group] in
            work()
            group.leave()
        }
    }

    /// Hands an action to the loop from any thread (the pipeline's stage reports use it).
    public func notify(_ action: Action) { post(action) }

    private func post(_ action: Action) {
        lock.lock()
        inbox.append(action)
        lock.unlock()
        onResult?()
    }
}
