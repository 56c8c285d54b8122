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
    /// With `hosts:`, how the change ended on each host (the ones needing hands first).
    public var hosts: [HostRecord]

    /// Creates an outcome.
    public init(outcome: ApplyOutcome?, message: String, timings: ApplyTimings? = nil, shifts: [EndpointShift] = [],
                hosts: [HostRecord] = []) {
        self.outcome = outcome
        self.message = message
        self.timings = timings
        self.shifts = shifts
        self.hosts = hosts
    }
}

/// Applies routing edits and undoes them: the dashboard's only way to change the config.
public protocol ChangeApplying: Sendable {
    /// Applies `edit` through the apply pipeline (lock, validate, swap, reload, verify, journal); `basis` is the
    /// config the operator saw the preview on (nil: read it now).
    func apply(_ edit: RolloutEdit, basis: LoadedConfig?) -> ChangeOutcome
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

/// A journal read for one config: only that config's records (a shared `journal:` holds others too).
public struct ConfigJournal: JournalReading {
    /// The journal file.
    public var journal: Journal
    /// The config whose records are shown.
    public var config: String

    /// Creates a reader of `journal` for `config`.
    public init(journal: Journal, config: String) {
        self.journal = journal
        self.config = config
    }

    public func records() throws -> [JournalRecord] {
        try journal.records().filter { $0.belongs(toConfig: config) }
    }
}

extension ApplyClock {
    /// The clock's monotonic reading in seconds, the form the log follower and the simulator pace with.
    public var monotonicSeconds: @Sendable () -> Double {
        let monotonic = self.monotonic
        return {
            let (seconds, attoseconds) = monotonic().components
            return Double(seconds) + Double(attoseconds) / 1e18
        }
    }

    /// The clock's wall time in whole Unix seconds, the form log times take.
    public var unixSeconds: @Sendable () -> Int64 {
        let now = self.now
        return { Int64(now().timeIntervalSince1970) }
    }
}

/// Reads a config file (with its includes) and discovers the rollout in it: from this machine, or with a
/// fleet from its reference host, comparing every host's routing (`LoadedConfig.drift`) on each read.
public struct LocalConfigReader: ConfigReading {
    /// The config file.
    public var path: String
    /// The directory relative includes resolve against.
    public var prefix: String?
    /// The pattern's variable names and labels.
    public var names: RolloutNames
    /// The directory nginx resolves relative log paths against (its `-p`); nil leaves them relative.
    public var nginxPrefix: String?
    /// With `hosts:`, the host the config is read from; nil reads this machine's disk.
    public var reference: NginxTarget?
    /// With `hosts:`, every host, whose routing each read compares.
    public var fleet: [NginxTarget] = []

    /// Creates a reader.
    public init(path: String, prefix: String? = nil, names: RolloutNames = RolloutNames(), nginxPrefix: String? = nil,
                reference: NginxTarget? = nil, fleet: [NginxTarget] = []) {
        self.path = path
        self.prefix = prefix
        self.names = names
        self.nginxPrefix = nginxPrefix
        self.reference = reference
        self.fleet = fleet
    }

    public func load() throws -> LoadedConfig {
        var config = try ConfigSet.load(path: path, prefix: prefix, store: reference?.store ?? LocalFileStore())
        config.nginxPrefix = nginxPrefix
        return LoadedConfig(config: config, model: Discovery.discover(config, names: names),
                            drift: fleet.isEmpty ? nil : DriftReport.read(fleet))
    }
}

/// Applies rollout edits through the Apply module's `EditApplier`, the path every CLI change takes too: the
/// edit is recomputed under the lock from the files as they are then, and a hand edit made since the operator
/// saw the preview is refused as a conflict.
public struct PipelineChangeApplier: ChangeApplying {
    /// The applier shared with the CLI.
    public var applier: EditApplier
    /// Reads the config when no basis is given.
    public var reader: ConfigReading
    /// The reason recorded in the journal.
    public var reason: String?

    /// Creates an applier.
    public init(applier: EditApplier, reader: ConfigReading, reason: String? = "from the dashboard") {
        self.applier = applier
        self.reader = reader
        self.reason = reason
    }

    public func apply(_ edit: RolloutEdit, basis: LoadedConfig?) -> ChangeOutcome {
        do {
            let base = try basis ?? reader.load()
            if let drift = base.drift, !drift.agrees {
                // As the CLI does: no edit while the hosts differ (the pipeline would refuse it as a conflict too).
                let agreeing = drift.hosts.filter { !$0.drift }.map(\.name)
                return ChangeOutcome(outcome: .conflict, message: "hosts differ: " + drift.drifted.joined(separator: ", ")
                                     + "; nothing was changed. Make them identical with `cutover sync --from \(agreeing.first ?? "HOST")`\n"
                                     + drift.describe())
            }
            let preview = try RolloutEditor(config: base.config, model: base.model).apply(edit)
            let report = try applier.apply(edit, preview: preview, previewModel: base.model, reason: reason)
            return ChangeOutcome(outcome: report.outcome, message: report.message, timings: report.timings,
                                 shifts: report.outcome == .applied ? preview.shifts : [], hosts: report.hosts)
        } catch {
            return ChangeOutcome(outcome: nil, message: "\(error)")
        }
    }

    public func undo() -> ChangeOutcome {
        do {
            let report = try applier.undo(reason: "undo from the dashboard")
            return ChangeOutcome(outcome: report.outcome, message: report.message, timings: report.timings, hosts: report.hosts)
        } catch {
            return ChangeOutcome(outcome: nil, message: "\(error)")
        }
    }
}
