import Apply
import Autopilot
import Foundation
import Preflight
import NginxConfig
import Rollout
import TrafficStats

/// One of the dashboard's full-screen views.
public enum DashboardView: String, CaseIterable, Sendable, Hashable {
    /// The endpoint table with the detail pane of the selected endpoint.
    case endpoints
    /// Each group's percent and its members.
    case groups
    /// The busiest legacy-only paths.
    case notMigrated = "not-migrated"
    /// The journal of changes.
    case history
    /// What the routing engine, the log reader and the theme loader reported.
    case problems
    /// The ramp plans: step, state, bake, gate, what each waits for, and who executes them.
    case plans
    /// Per host of the fleet: req/s, the observed split, 5xx, lag and drift.
    case hosts

    /// The digit that shows the view (the hosts view is 7 whatever else there is).
    public var digit: Int {
        switch self {
        case .endpoints: return 1
        case .groups: return 2
        case .notMigrated: return 3
        case .history: return 4
        case .problems: return 5
        case .plans: return 6
        case .hosts: return 7
        }
    }

    /// The tab title.
    public var title: String {
        switch self {
        case .endpoints: return "Endpoints"
        case .groups: return "Groups"
        case .notMigrated: return "Not migrated"
        case .history: return "History"
        case .problems: return "Problems"
        case .plans: return "Plans"
        case .hosts: return "Hosts"
        }
    }

    /// The tab title on narrow terminals.
    public var shortTitle: String {
        switch self {
        case .endpoints: return "End"
        case .groups: return "Grp"
        case .notMigrated: return "Not"
        case .history: return "Hist"
        case .problems: return "Prob"
        case .plans: return "Plan"
        case .hosts: return "Host"
        }
    }
}

/// A column the endpoint table can be sorted by.
public enum SortColumn: String, CaseIterable, Sendable, Hashable {
    /// The order of the rules in the config.
    case config
    case endpoint, group, configured, observed, rps
    /// The new service's 5xx rate minus the current one's.
    case errors
    case p50, p95, p99
    /// The verdict, worst first: bad, then watch, then by traffic.
    case state

    /// The label shown in the status line and the table header.
    public var label: String {
        switch self {
        case .config: return "config order"
        case .endpoint: return "endpoint"
        case .group: return "group"
        case .configured: return "configured %"
        case .observed: return "observed %"
        case .rps: return "req/s"
        case .errors: return "5xx delta"
        case .p50: return "p50 delta"
        case .p95: return "p95 delta"
        case .p99: return "p99 delta"
        case .state: return "worst first"
        }
    }
}

/// A change waiting for the operator's confirmation.
public struct PendingChange: Sendable, Equatable {
    /// What to run when confirmed.
    public enum Operation: Sendable, Equatable {
        /// A routing edit through the apply pipeline.
        case edit(RolloutEdit)
        /// Reverting the last applied change from the journal.
        case undo
        /// An operator's command on a ramp plan (promote and abort ask first).
        case plan(Autopilot.Command, PlanID)
        /// A new ramp plan for the endpoint with this map key, climbing these steps.
        case createPlan(endpoint: String, steps: [Percent])
    }

    /// The operation to run.
    public var operation: Operation
    /// What it will do, in one or more lines for the dialog.
    public var summary: String
    /// Rollbacks take one confirming key (`y`); anything else asks y/n.
    public var isRollback: Bool
    /// Endpoints the change moves that are `bad` or `watch` now, one line each, shown in the dialog.
    public var warnings: [String]

    /// Creates a pending change.
    public init(operation: Operation, summary: String, isRollback: Bool, warnings: [String] = []) {
        self.operation = operation
        self.summary = summary
        self.isRollback = isRollback
        self.warnings = warnings
    }
}

/// What the detail view (Enter) shows in full.
public enum DetailSubject: Sendable, Equatable {
    /// An endpoint's full figures, by its identity.
    case endpoint(EndpointID)
    /// A journal record with its diff, by id.
    case journal(String)
    /// One kind of problem with every place it occurs and its fix, by index in the problems view.
    case problem(Int)
    /// A group with its members, by name.
    case group(String)
    /// A legacy-only path, by index in the not-migrated view.
    case path(Int)
    /// A ramp plan, by id.
    case plan(PlanID)
    /// A host of the fleet, by name.
    case host(String)
}

/// A modal layer over the current view that takes the keys first.
public enum Overlay: Sendable, Equatable {
    case none
    /// The key help, generated from the key table, one page at a time when it does not fit.
    case help(page: Int)
    /// The full text of the selection: scrolled down `scroll` lines.
    case detail(DetailSubject, scroll: Int)
    /// A change shown with what it will do, waiting for y/n.
    case confirm(PendingChange)
    /// The list of groups to move the selected endpoint into; `selected` indexes `AppState.pickableGroups`.
    case groupPicker(selected: Int)
    /// Typing a filter for the endpoint table.
    case filter(text: String)
}

/// A line for the status bar: information or an error.
public struct StatusMessage: Sendable, Equatable {
    /// The message.
    public var text: String
    /// Whether it reports a failure (shown in the error style).
    public var isError: Bool

    /// Creates a message.
    public init(_ text: String, isError: Bool = false) {
        self.text = text
        self.isError = isError
    }
}

/// How the last change from the dashboard ended.
public struct ApplyStatus: Sendable, Equatable {
    /// The journal action (`group`, `set`, `rollback`, `rollback-all`, `undo`).
    public var action: String
    /// The one-line description of the change.
    public var summary: String
    /// How the pipeline ended; nil when the change never reached it (refused edit, I/O trouble).
    public var outcome: ApplyOutcome?
    /// The pipeline's message (nginx's own words on failure).
    public var message: String
    /// From the confirming key press to the reload being done (or the failure).
    public var elapsed: Duration?
    /// When it finished.
    public var finishedAt: Date?
    /// With `hosts:`, how it ended on each host (the ones needing hands first).
    public var hosts: [HostRecord]
    /// The endpoints whose share or group changed (empty for undo and failures).
    public var shifts: [EndpointShift]
    /// Whether nginx's old workers are being watched until they exit (`Action.workersDrained` follows).
    public var drainWatched: Bool

    /// Creates a status.
    public init(action: String, summary: String, outcome: ApplyOutcome?, message: String, elapsed: Duration? = nil,
                finishedAt: Date? = nil, hosts: [HostRecord] = [], shifts: [EndpointShift] = [], drainWatched: Bool = false) {
        self.action = action
        self.summary = summary
        self.outcome = outcome
        self.message = message
        self.elapsed = elapsed
        self.finishedAt = finishedAt
        self.hosts = hosts
        self.shifts = shifts
        self.drainWatched = drainWatched
    }

    /// The per-host outcome in a few words (`edge2 needs-hands, edge1 reverted`); empty for one nginx.
    public var hostsText: String {
        hosts.map { "\($0.host) \($0.state.rawValue)" }.joined(separator: ", ")
    }

    /// Whether the change is live.
    public var succeeded: Bool { outcome == .applied }

    /// The outcome in the header's words: validated and reloaded, refused, reverted, or not applied.
    public var outcomeText: String {
        switch outcome {
        case .applied?: return "validated, reloaded"
        case .validationRefused?: return "refused by validation"
        case .reloadFailedReverted?: return "reload failed, reverted"
        case .conflict?: return "conflict, nothing written"
        case .validationNotRun?: return "validation could not run"
        case .revertWithheld?: return "revert withheld: a hand edit arrived, fix by hand"
        case .interrupted?: return "interrupted, reverted"
        case .recovered?: return "recovered"
        case .hostUnreachable?: return "a host was unreachable, all reverted"
        case .cancelled?: return "cancelled before the reload, nothing changed"
        case nil: return "not applied"
        }
    }
}

/// The config as last read from disk: the tree (for previews of edits) and the rollout model.
public struct LoadedConfig: Sendable {
    /// The parsed files.
    public var config: ConfigSet
    /// The rollout discovered in them.
    public var model: RolloutModel
    /// With `hosts:`, whether every host's routing agrees (read with the config); nil for one local nginx.
    public var drift: DriftReport?

    /// Creates a loaded config.
    public init(config: ConfigSet, model: RolloutModel, drift: DriftReport? = nil) {
        self.config = config
        self.model = model
        self.drift = drift
    }
}

/// Everything the dashboard shows and the keys act on: a value, changed only by `reduce`.
public struct AppState: Sendable {
    /// The routing config's path, shown in the header.
    public var configPath: String
    /// The config and model last read; nil when reading failed.
    public var loaded: LoadedConfig?
    /// Why the config could not be read, when it could not.
    public var loadError: String?
    /// The latest traffic figures for `window`.
    public var snapshot: TrafficSnapshot?
    /// Why the log reader stopped, if it did.
    public var trafficError: String?
    /// How far reading the look-back has got (the table shows it until the first figures arrive).
    public var lookBack: BackfillProgress?
    /// The statistics window.
    public var window: TrafficWindow
    /// The view on screen.
    public var view: DashboardView = .endpoints
    /// The modal layer taking keys first.
    public var overlay: Overlay = .none
    /// The selected endpoint, by identity (kept across sorting and filtering).
    public var selectedEndpoint: EndpointID?
    /// The selected row in the groups, not-migrated, history and problems views.
    public var listSelection: Int = 0
    /// The endpoint table's sort column.
    public var sort: SortColumn = .state
    /// Whether the sort is reversed.
    public var sortDescending = false
    /// The endpoint filter (substring of name, key or group; empty shows all).
    public var filter: String = ""
    /// Whether every key that changes the config is disabled.
    public var readOnly: Bool
    /// The percents `+` and `-` step along, increasing.
    public var ladder: [Percent]
    /// The journal, oldest first.
    public var journal: [JournalRecord] = []
    /// Why the journal could not be read, if it could not.
    public var journalError: String?
    /// How the last change ended.
    public var lastApply: ApplyStatus?
    /// The change being applied now (its summary), if any.
    public var applying: String?
    /// When the change in flight was confirmed (for the elapsed time on the applying line).
    public var applyingSince: Date?
    /// The pipeline stage the change in flight is in.
    public var applyingStage: String?
    /// An emergency rollback confirmed while another change was in flight: it runs right after that one.
    public var queuedRollback: PendingChange?
    /// The traffic watch after the last change that lowered a share (see `RollbackConfirmation`).
    public var confirmation: ConfirmationWatch?
    /// The status line.
    public var status: StatusMessage?
    /// The theme in use.
    public var theme: Theme = .default
    /// The name of the theme last asked for (`t` moves on from it).
    public var themeName: String = Theme.default.name
    /// The themes `t` cycles through.
    public var themeNames: [String] = [Theme.default.name]
    /// Problems loading the theme (file:line: message).
    public var themeProblems: [String] = []
    /// Things found at start worth knowing (missing log files, logs not found in the config).
    public var notices: [String] = []
    /// The preflight findings (`cutover check`'s config and log checks), when a preflight ran.
    public var preflight: [Finding]?
    /// The wall-clock time of the last tick.
    public var now: Date
    /// The time zone times are shown in.
    public var timeZone: TimeZone = .current
    /// Whether the terminal shows box drawing and block characters (else ASCII is drawn).
    public var unicode = true
    /// A label shown in the header (e.g. `demo`), if any.
    public var badge: String?
    /// Set when the operator quits; the event loop ends.
    public var quitting = false
    /// The host whose split the endpoint table shows (`H` cycles it); nil for all hosts.
    public var hostFilter: String?
    /// Per host, whether its routing files drifted from the others' (set here, else from the fleet's drift report
    /// of the loaded config, see `driftOf`); a host in neither is shown as unknown.
    public var hostDrift: [String: Bool] = [:]
    /// Whether the operator has moved the selection (until then it follows the top row when figures arrive).
    public var selectionMoved = false
    /// The terminal's size in cells, as last drawn (for mouse hits and page sizes).
    public var screenWidth = 80
    /// The terminal's height in cells.
    public var screenHeight = 24
    /// The ramp plans, who executes them, the guardrails (`AutopilotState.swift`).
    public var autopilot = AutopilotPane()

    /// Creates a state.
    public init(configPath: String, loaded: LoadedConfig?, window: TrafficWindow = .fiveMinutes, readOnly: Bool = false,
                ladder: [Percent] = AppState.defaultLadder, now: Date = Date(timeIntervalSince1970: 0)) {
        self.configPath = configPath
        self.loaded = loaded
        self.window = window
        self.readOnly = readOnly
        self.ladder = ladder.sorted()
        self.now = now
        // No endpoint chosen yet: the selection is the top row (the worst endpoint) until the operator moves it.
        self.selectedEndpoint = nil
    }

    /// The default ladder: 1, 5, 10, 25, 50, 75, 100.
    public static let defaultLadder: [Percent] = [1, 5, 10, 25, 50, 75, 100].map { Percent(hundredths: $0 * 100) }

    /// Converts the settings' ladder (percent numbers) to percents, dropping out-of-range steps.
    public static func ladder(from steps: [Double]) -> [Percent] {
        let out = steps.map { Percent(hundredths: Int(($0 * 100).rounded())) }.filter { $0.hundredths > 0 && $0.hundredths <= 10000 }
        return out.isEmpty ? defaultLadder : Array(Set(out)).sorted()
    }

    /// The rollout model, when the config was read.
    public var model: RolloutModel? { loaded?.model }
}

extension AppState {
    /// The group selected in the Groups view; nil on the no-group row or with no config.
    public var selectedGroup: Group? {
        let groups = pickableGroups
        guard listSelection < groups.count else { return nil }
        return groups[listSelection]
    }
}

extension AppState {
    /// The views with a tab: every view, the hosts view only when there are per-host figures (or it is shown).
    public var visibleViews: [DashboardView] {
        let hasHosts = !(snapshot?.hosts.isEmpty ?? true)
        return DashboardView.allCases.filter { $0 != .hosts || hasHosts || view == .hosts }
    }

    /// The index of the filtered host in the snapshot's hosts, nil for all hosts.
    public var hostFilterIndex: Int? {
        guard let hostFilter else { return nil }
        return snapshot?.hosts.firstIndex { $0.name == hostFilter }
    }

    /// Hosts that keep sending new-service traffic for a rolled-back endpoint, as "edge2 (ping)" callouts.
    public var lingeringCallouts: [String] {
        guard let model else { return [] }
        let names = Dictionary(model.endpoints.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        return (snapshot?.endpoints ?? []).flatMap { e in
            e.lingeringHosts.map { "\($0.name) still sends \(names[e.id] ?? e.endpoint) to the new service after its rollback (\($0.requests) requests)" }
        }
    }
}

extension AppState {
    /// Whether a host's routing drifted from the others': `hostDrift`, else the loaded config's drift report.
    public func driftOf(_ host: String) -> Bool? {
        hostDrift[host] ?? loaded?.drift?.hosts.first { $0.name == host }?.drift
    }
}
