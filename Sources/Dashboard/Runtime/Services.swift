import AccessLog
import Apply
import Foundation
import NginxConfig
import Rollout
import TrafficStats

/// How a change from the dashboard ended, as the change applier reports it.
public struct ChangeOutcome: Sendable, Equatable {
    /// The pipeline's outcome; nil when the change never reached it (a refused edit, I/O trouble).
    public var outcome: ApplyOutcome?
    /// What happened, in the pipeline's (and nginx's) words.
    public var message: String
    /// The stage durations, when the pipeline ran.
    public var timings: ApplyTimings?
    /// The endpoints whose share changed (empty for undo and failures).
    public var shifts: [EndpointShift]

    /// Creates an outcome.
    public init(outcome: ApplyOutcome?, message: String, timings: ApplyTimings? = nil, shifts: [EndpointShift] = []) {
        self.outcome = outcome
        self.message = message
        self.timings = timings
        self.shifts = shifts
    }
}

/// Applies routing edits and undoes them: the dashboard's only way to change the config.
public protocol ChangeApplying: Sendable {
    /// Applies `edit` through the apply pipeline (lock, validate, swap, reload, verify, journal).
    func apply(_ edit: RolloutEdit) -> ChangeOutcome
    /// Reverts the last applied change through the pipeline.
    func undo() -> ChangeOutcome
}

/// Reads the journal of changes.
public protocol JournalReading: Sendable {
    /// Every record, oldest first.
    func records() throws -> [JournalRecord]
}

/// Reads the routing config from disk.
public protocol ConfigReading: Sendable {
    /// The config and its rollout model as they are on disk now.
    func load() throws -> LoadedConfig
}

/// Where the dashboard gets traffic figures: a background ingest that publishes snapshots.
public protocol TrafficSource: Sendable {
    /// The latest published snapshot of a window (a copy; never blocks on the ingest).
    func snapshot(_ window: TrafficWindow) -> TrafficSnapshot?
    /// Why the ingest stopped, if it failed.
    var error: String? { get }
    /// Records that an endpoint's configured percent changed at a log time.
    func setConfiguredPercent(_ percent: Double?, endpoint: String, at time: Int64)
}

extension LiveTraffic: TrafficSource {}

extension Journal: JournalReading {}

/// The dashboard's time source: wall time for display and a monotonic reading for durations.
public struct DashboardClock: Sendable {
    /// The current wall-clock time.
    public var now: @Sendable () -> Date
    /// A monotonic reading from an arbitrary origin.
    public var monotonic: @Sendable () -> Duration

    /// Creates a clock from its two functions.
    public init(now: @escaping @Sendable () -> Date, monotonic: @escaping @Sendable () -> Duration) {
        self.now = now
        self.monotonic = monotonic
    }

    /// The system clock.
    public static let system: DashboardClock = {
        let origin = ContinuousClock.now
        return DashboardClock(now: { Date() }, monotonic: { ContinuousClock.now - origin })
    }()
}

/// Reads a config file (with its includes) and discovers the rollout in it.
public struct LocalConfigReader: ConfigReading {
    /// The config file.
    public var path: String
    /// The directory relative includes resolve against.
    public var prefix: String?
    /// The pattern's variable names and labels.
    public var names: RolloutNames

    /// Creates a reader.
    public init(path: String, prefix: String? = nil, names: RolloutNames = RolloutNames()) {
        self.path = path
        self.prefix = prefix
        self.names = names
    }

    public func load() throws -> LoadedConfig {
        let config = try ConfigSet.load(path: path, prefix: prefix)
        return LoadedConfig(config: config, model: Discovery.discover(config, names: names))
    }
}

/// Applies rollout edits through the Apply module's pipeline: the edit is computed under the lock from the
/// files as they are then, so a concurrent writer's change is never lost.
public struct PipelineChangeApplier: ChangeApplying {
    /// The pipeline every change goes through.
    public var pipeline: ApplyPipeline
    /// Reads the config under the lock.
    public var reader: ConfigReading
    /// The reason recorded in the journal.
    public var reason: String?

    /// Creates an applier.
    public init(pipeline: ApplyPipeline, reader: ConfigReading, reason: String? = "from the dashboard") {
        self.pipeline = pipeline
        self.reader = reader
        self.reason = reason
    }

    public func apply(_ edit: RolloutEdit) -> ChangeOutcome {
        var shifts: [EndpointShift] = []
        do {
            let report = try pipeline.apply(description: ChangeDescription(action: edit.action, reason: reason)) { description in
                let loaded = try reader.load()
                let result = try RolloutEditor(config: loaded.config, model: loaded.model).apply(edit)
                description = PipelineChangeApplier.describe(result, before: loaded.model, reason: reason)
                shifts = result.shifts
                return result.changes
            }
            return ChangeOutcome(outcome: report.outcome, message: report.message, timings: report.timings,
                                 shifts: report.outcome == .applied ? shifts : [])
        } catch {
            return ChangeOutcome(outcome: nil, message: "\(error)")
        }
    }

    public func undo() -> ChangeOutcome {
        do {
            let report = try pipeline.undo(reason: "undo from the dashboard")
            return ChangeOutcome(outcome: report.outcome, message: report.message, timings: report.timings)
        } catch {
            return ChangeOutcome(outcome: nil, message: "\(error)")
        }
    }

    /// The journal description of an edit result: its endpoints, groups and their percents before and after.
    public static func describe(_ result: EditResult, before: RolloutModel, reason: String?) -> ChangeDescription {
        var groups = result.groupsTouched
        for shift in result.shifts {
            for g in [shift.groupBefore, shift.groupAfter].compactMap({ $0 }) where before.group(named: g) != nil || result.model.group(named: g) != nil {
                if !groups.contains(g) { groups.append(g) }
            }
        }
        var percentsBefore: [String: Double] = [:], percentsAfter: [String: Double] = [:]
        for g in groups {
            if let old = before.group(named: g) { percentsBefore[g] = old.percent.value }
            if let new = result.model.group(named: g) { percentsAfter[g] = new.percent.value }
        }
        let patterns = Dictionary(result.model.endpoints.map { ($0.name, $0.pattern) } + before.endpoints.map { ($0.name, $0.pattern) },
                                  uniquingKeysWith: { a, _ in a })
        return ChangeDescription(action: result.edit.action, endpoints: result.shifts.map { patterns[$0.endpoint] ?? $0.endpoint },
                                 groups: groups, percentsBefore: percentsBefore, percentsAfter: percentsAfter, reason: reason)
    }
}
