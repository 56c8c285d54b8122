import Apply
import Autopilot
import Foundation
import Rollout
import TerminalUI
import TrafficStats

/// Something that happens to the dashboard: a command from the key table, a raw key, or a result from
/// the background (traffic, config, journal, apply, theme).
public enum Action: Sendable {
    // Commands (the key table's actions).
    /// Moves the selection by this many rows.
    case moveSelection(Int)
    /// Moves the selection by this many pages (a page is the rows visible).
    case movePage(Int)
    /// Selects the first row (`false`) or the last (`true`).
    case jump(toEnd: Bool)
    /// Opens the detail view of the selection (the full text of a finding, a record's diff, all figures).
    case openDetail
    /// Raises the selected endpoint's group one step on the ladder.
    case raisePercent
    /// Lowers the selected endpoint's group one step on the ladder.
    case lowerPercent
    /// Moves the selected endpoint into the next group with a higher percent.
    case nextGroup
    /// Moves the selected endpoint into the next group with a lower percent.
    case previousGroup
    /// Opens the group picker for the selected endpoint.
    case pickGroup
    /// Asks to roll back the selected endpoint.
    case rollbackSelected
    /// Asks to roll back every endpoint.
    case rollbackAll
    /// Asks to undo the last applied change.
    case undo
    /// Cycles the statistics window.
    case cycleWindow
    /// Cycles the sort column.
    case cycleSort
    /// Reverses the sort.
    case reverseSort
    /// Cycles the themes.
    case cycleTheme
    /// Shows or hides the help overlay.
    case toggleHelp
    /// Starts typing a filter.
    case startFilter
    /// Shows the next view.
    case nextView
    /// Shows the previous view.
    case previousView
    /// Shows a view.
    case showView(DashboardView)
    /// Cycle the host filter: all hosts, then each host in turn.
    case cycleHostFilter
    /// Ends the dashboard.
    case quit
    /// Pauses, resumes, promotes or aborts the selected plan (in Plans) or the selected endpoint's plan.
    case planCommand(Autopilot.Command)
    /// Asks to create a ramp plan for the selected endpoint (the settings' ladder, `cutover ramp`'s defaults).
    case createPlan

    // Events.
    /// A key press, routed through the overlay first and then the key table.
    case key(Key)
    /// The latest traffic snapshot for the current window, and the reader's failure if it stopped.
    case traffic(TrafficSnapshot?, error: String?)
    /// How far the ingest has read the lines already written (the look-back), nil when it reports none.
    case lookBack(BackfillProgress?)
    /// The config was read from disk.
    case configLoaded(LoadedConfig)
    /// The config could not be read.
    case configFailed(String)
    /// The journal was read.
    case journalLoaded([JournalRecord])
    /// The journal could not be read.
    case journalFailed(String)
    /// A change finished (applied or not).
    case applyFinished(ApplyStatus)
    /// The change in flight entered a pipeline stage ("validating (nginx -t)", "reloading nginx", ...).
    case applyStage(String)
    /// nginx's workers from before the last change's reload have all exited at that time (nil: some still ran
    /// when the wait gave up).
    case workersDrained(Date?)
    /// The theme `name` was loaded (the built-in one when it failed); `problems` are its diagnostics (file:line: message).
    case themeLoaded(Theme, name: String, problems: [String])
    /// The list of themes to cycle through.
    case themesListed([String])
    /// The wall clock advanced.
    case tick(Date)
    /// The terminal has this size now.
    case resized(width: Int, height: Int)
    /// An autopilot effect came back: the plans and executor after it, its events, its outcome.
    case autopilotReported(AutopilotReport)
}

/// Work the reducer asks for; the effect runner performs it off the UI loop and answers with actions.
public enum Effect: Sendable, Equatable {
    /// Runs a routing edit through the apply pipeline; `summary` describes it.
    case apply(RolloutEdit, summary: String)
    /// Reverts the last applied change through the apply pipeline.
    case undo(summary: String)
    /// Reads the config again.
    case reloadConfig
    /// Reads the journal again.
    case loadJournal
    /// Fetches the latest traffic snapshot of a window.
    case refreshTraffic(TrafficWindow)
    /// Loads a theme by name.
    case loadTheme(String)
    /// Checks the lease and reads the plans; when this dashboard executes, one round of the autopilot's
    /// decisions on these verdicts (by map key; nil before the first figures: no decisions).
    case autopilotTick(verdicts: [EndpointID: Verdict]?)
    /// An operator's command on a plan.
    case planCommand(Autopilot.Command, plan: PlanID)
    /// Creates a ramp plan for an endpoint (map key) with these steps and the pane's defaults.
    case createPlan(endpoint: String, steps: [Percent], defaults: PlanDefaults)
    /// Asks the change in flight to stop before nginx takes it up (an emergency rollback waits behind it);
    /// it stops only if it has not reached the reload, and its outcome says which happened.
    case cancelInFlight(reason: String)
}
