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
    /// nginx's workers from before the reload, to watch until they exit (nil when the master is unknown).
    public var drain: WorkerDrain?

    /// Creates an outcome.
    public init(outcome: ApplyOutcome?, message: String, timings: ApplyTimings? = nil, shifts: [EndpointShift] = [],
                hosts: [HostRecord] = [], drain: WorkerDrain? = nil) {
        self.outcome = outcome
        self.message = message
        self.timings = timings
        self.shifts = shifts
        self.hosts = hosts
        self.drain = drain
    }
}

/// Applies routing edits and undoes them: the dashboard's only way to change the config.
public protocol ChangeApplying: Sendable {
    /// Applies `edit` through the apply pipeline (lock, validate, swap, reload, verify, journal); `basis` is the
    /// config the operator saw the preview on (nil: read it now).
    func apply(_ edit: RolloutEdit, basis: LoadedConfig?) -> ChangeOutcome
    /// Reverts the last applied change through the pipeline.
    func undo() -> ChangeOutcome
    /// Asks the change in flight (from another thread) to stop before the reload, for `reason`; a change
    /// that reached the reload completes (or reverts) as usual. Emergency changes (rollbacks) never stop.
    func cancelInFlight(reason: String)
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
    func setConfiguredPercent(_ percent: Double?, endpoint: EndpointID, at time: Int64)
    /// How far reading the lines already written has got (nil: not reported).
    var backfill: BackfillProgress? { get }
}

extension TrafficSource {
    /// Sources that read no look-back report none.
    public var backfill: BackfillProgress? { nil }
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

    /// What `cancelInFlight` sets; the pipeline looks at it before the reload.
    public let cancellation: ApplyCancellation

    /// Creates an applier; the pipeline's cancellation is used (one is added when it has none).
    public init(applier: EditApplier, reader: ConfigReading, reason: String? = "from the dashboard") {
        var applier = applier
        if let existing = applier.pipeline.configuration.cancellation {
            cancellation = existing
        } else {
            let made = ApplyCancellation()
            var configuration = applier.pipeline.configuration
            configuration.cancellation = made
            applier.pipeline = ApplyPipeline(configuration: configuration, runner: applier.pipeline.runner, clock: applier.pipeline.clock)
            cancellation = made
        }
        self.applier = applier
        self.reader = reader
        self.reason = reason
    }

    public func cancelInFlight(reason: String) {
        cancellation.request(reason)
    }

    public func apply(_ edit: RolloutEdit, basis: LoadedConfig?) -> ChangeOutcome {
        // A request meant for an earlier change does not reach this one (rollbacks ignore it anyway).
        if !EditApplier.isEmergency(edit) { cancellation.reset() }
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
            // The workers serving before the reload: the traffic confirmation counts once they have exited.
            let control = applier.pipeline.configuration.nginx
            let drain = WorkerDrain.workers(ofMasterIn: control.masterPidFile ?? control.reloadSignalPidFile,
                                            procRoot: applier.pipeline.configuration.procRoot)
            let report = try applier.apply(edit, preview: preview, previewModel: base.model, reason: reason)
            return ChangeOutcome(outcome: report.outcome, message: report.message, timings: report.timings,
                                 shifts: report.outcome == .applied ? preview.shifts : [], hosts: report.hosts, drain: drain)
        } catch {
            return ChangeOutcome(outcome: nil, message: "\(error)")
        }
    }

    public func undo() -> ChangeOutcome {
        cancellation.reset()
        do {
            let report = try applier.undo(reason: "undo from the dashboard")
            return ChangeOutcome(outcome: report.outcome, message: report.message, timings: report.timings, hosts: report.hosts)
        } catch {
            return ChangeOutcome(outcome: nil, message: "\(error)")
        }
    }
}
