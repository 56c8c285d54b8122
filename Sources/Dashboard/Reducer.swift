import Apply
import Autopilot
import Foundation
import Rollout
import TerminalUI
import TrafficStats

/// Applies an action to the state and returns the work to do outside; pure: no I/O, no clock.
public func reduce(_ state: inout AppState, _ action: Action) -> [Effect] {
    switch action {
    case .key(let key):
        return reduceKey(&state, key)
    case .moveSelection(let delta):
        moveSelection(&state, by: delta)
        return []
    case .movePage(let pages):
        moveSelection(&state, by: pages * max(1, Screen.visibleListRows(state) - 1))
        return []
    case .jump(let toEnd):
        moveSelection(&state, by: toEnd ? Int.max / 2 : Int.min / 2)
        return []
    case .openDetail:
        guard let subject = detailSubject(state) else {
            state.status = StatusMessage("nothing selected to open")
            return []
        }
        state.overlay = .detail(subject, scroll: 0)
        return []
    case .raisePercent, .lowerPercent:
        return stepPercent(&state, up: { if case .raisePercent = action { return true } else { return false } }())
    case .nextGroup, .previousGroup:
        return stepGroup(&state, up: { if case .nextGroup = action { return true } else { return false } }())
    case .pickGroup:
        guard !refuseChange(&state), let row = selectedEndpointForMove(&state) else { return [] }
        let groups = state.pickableGroups
        guard !groups.isEmpty else {
            state.status = StatusMessage("the config has no split_clients groups to pick from", isError: true)
            return []
        }
        let current = groups.firstIndex { $0.variable == row.endpoint.group } ?? 0
        state.overlay = .groupPicker(selected: current)
        return []
    case .rollbackSelected:
        // An emergency rollback is never dropped: while a change is in flight it is queued behind it.
        guard !refuseChange(&state, emergency: true) else { return [] }
        switch state.view {
        case .endpoints:
            guard let row = state.selectedRow else { return [] }
            return propose(&state, .rollback(endpoints: [row.endpoint.id.description]), isRollback: true)
        case .groups:
            guard let group = state.selectedGroup, let model = state.model else {
                state.status = StatusMessage("select a group to roll back its members (the no-group row has none on the new service)")
                return []
            }
            let members = model.members(of: group).map(\.id.description)
            guard !members.isEmpty else {
                state.status = StatusMessage("\(group.name) has no members to roll back")
                return []
            }
            return propose(&state, .rollback(endpoints: members), isRollback: true)
        default:
            state.status = StatusMessage("r rolls back the selection of Endpoints (1) or Groups (2); R rolls back every endpoint")
            return []
        }
    case .rollbackAll:
        guard !refuseChange(&state, emergency: true) else { return [] }
        return propose(&state, .rollbackAll, isRollback: true)
    case .undo:
        guard !refuseChange(&state) else { return [] }
        guard let target = lastUndoable(state.journal) else {
            state.status = StatusMessage("nothing to undo: the journal has no applied change left to revert")
            return []
        }
        let summary = "undo \(target.change.action) of \(formatTime(target.time, zone: state.timeZone)): "
            + describeChange(target.change, reversed: true)
        state.overlay = .confirm(PendingChange(operation: .undo, summary: summary, isRollback: false,
                                               warnings: warnings(state, ids: state.model.map { target.change.endpointIDs(in: $0) } ?? target.change.endpointIDs,
                                                                  groups: target.change.groups)))
        return []
    case .cycleWindow:
        let all = TrafficWindow.allCases
        let next = all[((all.firstIndex(of: state.window) ?? 0) + 1) % all.count]
        state.window = next
        state.status = StatusMessage("window: \(next.rawValue)")
        return [.refreshTraffic(next)]
    case .cycleSort:
        let all = SortColumn.allCases
        state.sort = all[((all.firstIndex(of: state.sort) ?? 0) + 1) % all.count]
        state.sortDescending = state.sort == .state ? false : state.sort != .config && state.sort != .endpoint && state.sort != .group
        state.status = StatusMessage("sorted by \(state.sort.label)\(state.sortDescending ? ", descending" : "")")
        return []
    case .reverseSort:
        state.sortDescending.toggle()
        state.status = StatusMessage("sorted by \(state.sort.label)\(state.sortDescending ? ", descending" : "")")
        return []
    case .cycleTheme:
        let names = state.themeNames.isEmpty ? [Theme.default.name] : state.themeNames
        let next = names[((names.firstIndex(of: state.themeName) ?? -1) + 1) % names.count]
        return [.loadTheme(next)]
    case .toggleHelp:
        if case .help = state.overlay { state.overlay = .none } else { state.overlay = .help(page: 0) }
        return []
    case .startFilter:
        state.view = .endpoints
        state.overlay = .filter(text: state.filter)
        return []
    case .nextView, .previousView:
        let all = state.visibleViews
        let step = { if case .nextView = action { return 1 } else { return all.count - 1 } }()
        state.view = all[((all.firstIndex(of: state.view) ?? 0) + step) % all.count]
        state.listSelection = 0
        return []
    case .showView(let view):
        if state.view != view { state.listSelection = 0 }
        state.view = view
        return []
    case .cycleHostFilter:
        let hosts = state.snapshot?.hosts.map(\.name) ?? []
        guard !hosts.isEmpty else {
            state.hostFilter = nil
            state.status = StatusMessage("no per-host figures: set logs.syslog (or {host} log paths) and hosts: in cutover.yaml")
            return []
        }
        let next = state.hostFilter.flatMap { hosts.firstIndex(of: $0) }.map { $0 + 1 } ?? 0
        state.hostFilter = next < hosts.count ? hosts[next] : nil
        state.status = StatusMessage(state.hostFilter.map { "host filter: \($0) (the endpoint table shows its split; H for the next host)" } ?? "host filter: all hosts")
        return []
    case .quit:
        state.quitting = true
        return []
    case .planCommand(let command):
        return planCommand(&state, command)
    case .createPlan:
        return proposePlan(&state)
    case .autopilotReported(let report):
        return autopilotReported(&state, report)
    case .traffic(let snapshot, let error):
        let first = state.snapshot == nil
        if let snapshot { state.snapshot = snapshot }
        // The first figures re-sort the table (worst first): start on its top row unless the operator moved.
        if first, snapshot != nil, !state.selectionMoved, let top = state.rows.first { state.selectedEndpoint = top.endpoint.id }
        state.trafficError = error
        if let snapshot, state.confirmation != nil {
            state.confirmation?.record(snapshot)
        }
        return []
    case .lookBack(let progress):
        state.lookBack = progress
        return []
    case .configLoaded(let loaded):
        state.loaded = loaded
        state.loadError = nil
        if !loaded.model.endpoints.contains(where: { $0.id == state.selectedEndpoint }) {
            state.selectedEndpoint = state.rows.first?.endpoint.id
        }
        return []
    case .configFailed(let message):
        state.loadError = message
        state.status = StatusMessage("cannot read the config: \(message)", isError: true)
        return []
    case .journalLoaded(let records):
        state.journal = records
        state.journalError = nil
        return []
    case .journalFailed(let message):
        state.journalError = message
        return []
    case .applyStage(let stage):
        if state.applying != nil { state.applyingStage = stage }
        return []
    case .workersDrained(let at):
        if state.confirmation?.drain == .waiting {
            state.confirmation?.drain = at.map { .drained($0) } ?? .timedOut(state.now)
        }
        return []
    case .applyFinished(let result):
        state.applying = nil
        state.applyingSince = nil
        state.applyingStage = nil
        state.lastApply = result
        if result.succeeded, let model = state.model {
            // A change that lowers a share (a rollback above all) is confirmed from the traffic; any other live
            // change ends the previous watch (its shares are no longer the ones to check).
            let lowered = TrafficConfirmation.lowered(result.shifts, model: model)
            state.confirmation = lowered.isEmpty ? nil
                : ConfirmationWatch(lowered: lowered, reloadedAt: result.finishedAt ?? state.now, drainWatched: result.drainWatched)
        }
        let took = result.elapsed.map { " in \(formatDuration($0))" } ?? ""
        let firstLine = result.message.split(separator: "\n").first.map(String.init) ?? result.message
        let hosts = result.hosts.isEmpty ? "" : " [\(result.hostsText)]"
        if result.succeeded {
            state.status = StatusMessage("\(result.summary): \(result.outcomeText)\(hosts)\(took)")
        } else {
            state.status = StatusMessage("\(result.summary): \(result.outcomeText)\(hosts)\(took): \(firstLine)", isError: true)
        }
        if let queued = state.queuedRollback, case .edit(let edit) = queued.operation {
            // The queued emergency rollback goes next, on the files as they are now (the pipeline recomputes it).
            state.queuedRollback = nil
            state.applying = queued.summary
            state.applyingSince = state.now
            let what: String
            switch result.outcome {
            case .cancelled?:
                what = "cancelled \(result.summary) before nginx took it up (nothing changed)"
            case .applied?:
                what = "\(result.summary) had already reached nginx, so it completed (\(result.outcomeText))"
            default:
                what = "\(result.summary): \(result.outcomeText)"
            }
            state.status = StatusMessage("\(what); now running the rollback", isError: true)
            return [.apply(edit, summary: queued.summary), .reloadConfig, .loadJournal]
        }
        return [.reloadConfig, .loadJournal]
    case .themeLoaded(let theme, let name, let problems):
        state.theme = theme
        state.themeName = name
        state.themeProblems = problems
        state.status = problems.isEmpty
            ? StatusMessage("theme: \(name)")
            : StatusMessage("theme \(name): \(problems.count) problem(s), see the problems view (5)", isError: true)
        return []
    case .themesListed(let names):
        state.themeNames = names.isEmpty ? [Theme.default.name] : names
        return []
    case .tick(let date):
        state.now = date
        return autopilotTickDue(&state)
    case .resized(let width, let height):
        state.screenWidth = max(0, width)
        state.screenHeight = max(0, height)
        return []
    }
}

// MARK: - Keys

private func reduceKey(_ state: inout AppState, _ key: Key) -> [Effect] {
    switch state.overlay {
    case .help(let page):
        if key == .char("q") || key == .ctrl("c") { return reduce(&state, .quit) }
        let pages = Overlays.helpPageCount(state)
        switch key {
        case .char(" "), .pageDown, .down, .char("j"), .right:
            state.overlay = .help(page: min(pages - 1, page + 1))
        case .pageUp, .up, .char("k"), .left:
            state.overlay = .help(page: max(0, page - 1))
        case .mouse(let event) where event.kind != .press:
            state.overlay = .help(page: event.kind == .wheelDown ? min(pages - 1, page + 1) : max(0, page - 1))
        default:
            state.overlay = .none
        }
        return []
    case .detail(let subject, let scroll):
        let page = max(1, Screen.bodyHeight(state) - 4)
        let limit = max(0, Overlays.detailLines(subject, state: state, theme: state.theme, width: Overlays.detailWidth(state)).count - page)
        var next = scroll
        switch key {
        case .up, .char("k"): next -= 1
        case .down, .char("j"): next += 1
        case .pageUp: next -= page
        case .pageDown, .char(" "): next += page
        case .home, .char("g"): next = 0
        case .end, .char("G"): next = limit
        case .mouse(let event):
            switch event.kind {
            case .wheelUp: next -= 3
            case .wheelDown: next += 3
            case .press: return []
            }
        case .ctrl("c"):
            return reduce(&state, .quit)
        default:
            state.overlay = .none
            return []
        }
        state.overlay = .detail(subject, scroll: min(limit, max(0, next)))
        return []
    case .confirm(let pending):
        if case .mouse = key { return [] }
        if key == .enter {
            // One confirming key per dialog: the one it names. Enter leaves the dialog open.
            state.status = StatusMessage("Enter does not confirm: press y to \(pending.isRollback ? "roll back" : "apply"), n or Esc to cancel")
            return []
        }
        state.overlay = .none
        if key == .char("y") || key == .char("Y") {
            switch pending.operation {
            case .plan(let command, let id):
                state.status = StatusMessage("plan \(id): \(command.rawValue)…")
                return [.planCommand(command, plan: id)]
            case .createPlan(let endpoint, let steps):
                state.status = StatusMessage("creating the plan…")
                return [.createPlan(endpoint: endpoint, steps: steps, defaults: state.autopilot.defaults)]
            case .edit, .undo:
                break
            }
            if let busy = state.applying {
                state.queuedRollback = pending
                state.status = StatusMessage("rollback queued: cancelling \(firstLine(busy)) if nginx has not taken it up yet, "
                                             + "else the rollback runs as soon as it finishes", isError: true)
                return [.cancelInFlight(reason: "an emergency rollback from the dashboard takes precedence")]
            }
            state.applying = pending.summary
            state.applyingSince = state.now
            state.status = StatusMessage("applying: \(pending.summary)")
            switch pending.operation {
            case .edit(let edit): return [.apply(edit, summary: pending.summary)]
            case .undo: return [.undo(summary: pending.summary)]
            case .plan, .createPlan: return []
            }
        }
        state.status = StatusMessage("cancelled: nothing changed")
        return []
    case .groupPicker(let selected):
        let groups = state.pickableGroups
        switch key {
        case .up, .char("k"):
            state.overlay = .groupPicker(selected: max(0, selected - 1))
        case .down, .char("j"):
            state.overlay = .groupPicker(selected: min(max(0, groups.count - 1), selected + 1))
        case .enter, .char(" "):
            state.overlay = .none
            guard selected < groups.count, let row = state.selectedRow else { return [] }
            if row.endpoint.group == groups[selected].variable {
                state.status = StatusMessage("\(row.endpoint.name) is already in \(groups[selected].name)")
                return []
            }
            return propose(&state, .assign(endpoint: row.endpoint.id.description, group: groups[selected].name), isRollback: false)
        case .escape, .char("q"), .char("m"):
            state.overlay = .none
        default:
            break
        }
        return []
    case .filter(let text):
        switch key {
        case .enter:
            state.overlay = .none
            state.filter = text
        case .escape:
            state.overlay = .none
            state.filter = ""
        case .backspace, .delete:
            let shorter = String(text.dropLast())
            state.overlay = .filter(text: shorter)
            state.filter = shorter
        case .char(let c):
            state.overlay = .filter(text: text + String(c))
            state.filter = text + String(c)
        default:
            break
        }
        if let first = state.rows.first, !state.rows.contains(where: { $0.endpoint.id == state.selectedEndpoint }) {
            state.selectedEndpoint = first.endpoint.id
        }
        return []
    case .none:
        if case .mouse(let event) = key { return reduceMouse(&state, event) }
        if key == .escape, !state.filter.isEmpty {
            state.filter = ""
            state.status = StatusMessage("filter cleared")
            return []
        }
        guard let binding = KeyTable.binding(for: key, readOnly: state.readOnly) else {
            if state.readOnly, KeyTable.binding(for: key, readOnly: false)?.changesConfig == true {
                state.status = StatusMessage("read-only: changes are disabled (started with --read-only)")
            }
            return []
        }
        return reduce(&state, binding.action)
    }
}

// MARK: - Mouse

private func reduceMouse(_ state: inout AppState, _ event: MouseEvent) -> [Effect] {
    switch event.kind {
    case .wheelUp:
        moveSelection(&state, by: -3)
    case .wheelDown:
        moveSelection(&state, by: 3)
    case .press:
        switch Screen.hit(state, x: event.x, y: event.y) {
        case .tab(let view)?:
            return reduce(&state, .showView(view))
        case .row(let index)?:
            let current = state.view == .endpoints ? state.selectedIndex : state.listSelection
            // A click on the row already selected opens it, as Enter does.
            if index == current { return reduce(&state, .openDetail) }
            moveSelection(&state, by: index - current)
        case .lastChange?:
            // The last change in full: its journal record (nginx's whole message, the diff).
            if let newest = state.journal.last { state.overlay = .detail(.journal(newest.id), scroll: 0) }
        case nil:
            break
        }
    }
    return []
}

// MARK: - Selection

private func moveSelection(_ state: inout AppState, by delta: Int) {
    state.selectionMoved = true
    if state.view != .endpoints {
        state.listSelection = min(max(0, listCount(state) - 1), max(0, state.listSelection + delta))
        return
    }
    let rows = state.rows
    guard !rows.isEmpty else { return }
    let index = min(rows.count - 1, max(0, state.selectedIndex + delta))
    state.selectedEndpoint = rows[index].endpoint.id
}

/// The number of rows in the current list view (groups, not-migrated, history, problems).
func listCount(_ state: AppState) -> Int {
    switch state.view {
    case .endpoints: return state.rows.count
    case .groups:
        let unassigned = state.model?.endpoints.contains { $0.group == nil } ?? false
        return (state.model?.groups.count ?? 0) + (unassigned ? 1 : 0)
    case .notMigrated: return state.snapshot?.notMigrated.count ?? 0
    case .history: return state.journal.count
    case .problems: return ProblemsScreen.groups(state).count
    case .plans: return state.autopilot.orderedPlans.count
    case .hosts: return state.snapshot?.hosts.count ?? 0
    }
}

// MARK: - Changes

/// The first line of a (possibly multi-line) summary.
private func firstLine(_ text: String) -> String {
    text.split(separator: "\n").first.map(String.init) ?? text
}

/// Sets a status and returns true when no change may start now (read-only, busy, or no config); an
/// `emergency` change (a rollback) is not refused while another is in flight: it is queued behind it.
private func refuseChange(_ state: inout AppState, emergency: Bool = false) -> Bool {
    if state.readOnly {
        state.status = StatusMessage("read-only: changes are disabled (started with --read-only)")
        return true
    }
    if let busy = state.applying, !emergency {
        state.status = StatusMessage("wait: still applying \(busy)", isError: true)
        return true
    }
    guard state.loaded != nil else {
        state.status = StatusMessage("the config could not be read, so nothing can be changed; see the problems view", isError: true)
        return true
    }
    return false
}

/// The endpoint `]`, `[` and `m` move: the selected row of the Endpoints view; elsewhere nil, with a status.
private func selectedEndpointForMove(_ state: inout AppState) -> EndpointRow? {
    guard state.view == .endpoints else {
        state.status = StatusMessage("], [ and m move the endpoint selected in Endpoints (1); in Groups, + and - change the selected group")
        return nil
    }
    return state.selectedRow
}

/// The detail view's subject for the selection of the visible view.
private func detailSubject(_ state: AppState) -> DetailSubject? {
    switch state.view {
    case .endpoints: return state.selectedRow.map { .endpoint($0.endpoint.id) }
    case .groups: return state.selectedGroup.map { .group($0.name) }
    case .notMigrated: return (state.snapshot?.notMigrated.isEmpty ?? true) ? nil : .path(state.listSelection)
    case .history:
        let records = state.journal.reversed() as ReversedCollection<[JournalRecord]>
        guard !records.isEmpty else { return nil }
        return .journal(Array(records)[min(state.listSelection, records.count - 1)].id)
    case .problems: return ProblemsScreen.groups(state).isEmpty ? nil : .problem(state.listSelection)
    case .plans: return state.selectedPlan.map { .plan($0.id) }
    case .hosts:
        let hosts = state.snapshot?.hosts ?? []
        return hosts.isEmpty ? nil : .host(hosts[min(state.listSelection, hosts.count - 1)].name)
    }
}

/// One line per endpoint that `ids` or `groups` touch and whose verdict is `bad` or `watch`.
func warnings(_ state: AppState, ids: [EndpointID], groups: [String]) -> [String] {
    var unfiltered = state
    unfiltered.filter = ""
    return unfiltered.rows.compactMap { row in
        let named = ids.contains(row.endpoint.id)
        let touched = named || (row.endpoint.groupName.map { groups.contains($0) } ?? false)
        guard touched, row.health == .bad || row.health == .watch else { return nil }
        return "\(row.endpoint.name) is \(row.health.label) now" + healthReason(row)
    }
}

/// Why the verdict is what it is, for a warning: the core's first reason, else the figures behind it
/// (` (5xx +5.81 points, p99 +1106 ms)`).
func healthReason(_ row: EndpointRow) -> String {
    if let reason = row.verdict.reasons.first, !reason.isEmpty { return " (\(reason))" }
    guard let s = row.traffic?.stats else { return "" }
    var parts: [String] = []
    if let d = s.errorRateDelta, d > 0 { parts.append("5xx \(formatErrorDelta(d)) points") }
    if let d = s.p99DeltaMs, d > 0 { parts.append("p99 \(formatDeltaMs(d)) ms") }
    if s.splitMismatch == true { parts.append("split differs from the config") }
    return parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
}

/// Previews an edit on the loaded tree and asks for confirmation; a refused edit only sets the status.
private func propose(_ state: inout AppState, _ edit: RolloutEdit, isRollback: Bool, note: String? = nil) -> [Effect] {
    guard let loaded = state.loaded else { return [] }
    let result: EditResult
    do {
        result = try RolloutEditor(config: loaded.config, model: loaded.model).apply(edit)
    } catch {
        state.status = StatusMessage(error.message, isError: true)
        return []
    }
    if result.changes.allSatisfy(\.isNoOp) {
        state.status = StatusMessage("\(edit.action): nothing to change, the config already says so")
        return []
    }
    let summary = result.summary
    let moved = warnings(state, ids: result.shifts.map(\.id), groups: [])
    state.overlay = .confirm(PendingChange(operation: .edit(edit), summary: summary, isRollback: isRollback, warnings: moved))
    if let note { state.status = StatusMessage(note) }
    return []
}

private func stepPercent(_ state: inout AppState, up: Bool) -> [Effect] {
    guard !refuseChange(&state), let model = state.model else { return [] }
    let group: Group
    var selectedID: EndpointID?
    switch state.view {
    case .endpoints:
        guard let row = state.selectedRow else { return [] }
        guard let variable = row.endpoint.group, let found = model.group(named: variable) else {
            state.status = StatusMessage("\(row.endpoint.name) is in no group (\(row.endpoint.assignment ?? "unassigned")); "
                + "put it in one with ] or m", isError: true)
            return []
        }
        group = found
        selectedID = row.endpoint.id
    case .groups:
        guard let found = state.selectedGroup else {
            state.status = StatusMessage("the no-group row has no percent: move its endpoints into a group with ] or m in Endpoints (1)")
            return []
        }
        group = found
    default:
        state.status = StatusMessage("+ and - change the group selected in Endpoints (1) or Groups (2)")
        return []
    }
    let current = group.percent
    let target: Percent?
    if up {
        target = state.ladder.first { $0 > current }
    } else {
        target = state.ladder.last { $0 < current } ?? (current > .zero ? .zero : nil)
    }
    guard let target else {
        state.status = StatusMessage("\(group.name) is already at \(current.nginxText), the \(up ? "top" : "bottom") of the ladder")
        return []
    }
    let members = model.members(of: group)
    let others = members.filter { $0.id != selectedID }.map(\.name)
    let note: String
    if selectedID == nil {
        note = "\(group.name) has \(members.count) endpoint(s): " + others.prefix(4).joined(separator: ", ")
            + (others.count > 4 ? " and \(others.count - 4) more" : "")
    } else if members.count > 1 {
        note = "\(members.count) endpoints share \(group.name): this also moves " + others.prefix(4).joined(separator: ", ")
            + (others.count > 4 ? " and \(others.count - 4) more" : "")
    } else {
        note = "\(members.first?.name ?? group.name) is the only endpoint in \(group.name)"
    }
    return propose(&state, .setGroupPercent(group: group.name, percent: target, create: false), isRollback: false, note: note)
}

private func stepGroup(_ state: inout AppState, up: Bool) -> [Effect] {
    guard !refuseChange(&state), let row = selectedEndpointForMove(&state) else { return [] }
    let groups = state.pickableGroups
    guard !groups.isEmpty else {
        state.status = StatusMessage("the config has no split_clients groups", isError: true)
        return []
    }
    let target: Group?
    if let index = groups.firstIndex(where: { $0.variable == row.endpoint.group }) {
        let current = groups[index].percent
        target = up ? groups[(index + 1)...].first { $0.percent > current }
            : groups[..<index].last { $0.percent < current }
    } else {
        target = up ? groups.first : nil
    }
    guard let target else {
        state.status = StatusMessage("\(row.endpoint.name) is already in the \(up ? "highest" : "lowest") group")
        return []
    }
    return propose(&state, .assign(endpoint: row.endpoint.id.description, group: target.name), isRollback: false,
                   note: "move \(row.endpoint.name) to \(target.name) (\(target.percent.nginxText))")
}

// MARK: - Journal helpers

/// The applied record `undo` would revert: the newest applied one not undone by a later applied undo.
public func lastUndoable(_ records: [JournalRecord]) -> JournalRecord? {
    var undone = Set<String>()
    for record in records.reversed() where record.outcome == .applied {
        if let target = record.undoes {
            undone.insert(target)
            continue
        }
        if undone.contains(record.id) { continue }
        return record
    }
    return nil
}

/// A change's groups and percents in one line (`group3_routing 25% → 50%`), optionally reversed (for undo).
public func describeChange(_ change: ChangeDescription, reversed: Bool = false) -> String {
    let before = reversed ? change.percentsAfter : change.percentsBefore
    let after = reversed ? change.percentsBefore : change.percentsAfter
    var parts: [String] = []
    for group in change.groups {
        switch (before[group].map { formatPercent($0) }, after[group].map { formatPercent($0) }) {
        case let (b?, a?): parts.append(b == a ? group : "\(group) \(b) → \(a)")
        case let (nil, a?): parts.append("\(group) new at \(a)")
        case let (b?, nil): parts.append("\(group) removed (was \(b))")
        case (nil, nil): parts.append(group)
        }
    }
    if parts.isEmpty {
        // No group moved: the endpoints' own percents, by identity (shown by the short names journaled with them).
        let endpointBefore = reversed ? change.endpointPercentsAfter : change.endpointPercentsBefore
        let endpointAfter = reversed ? change.endpointPercentsBefore : change.endpointPercentsAfter
        for (index, id) in change.endpointIDs.prefix(3).enumerated() {
            let name = change.endpointIDs.count == change.endpoints.count ? change.endpoints[index] : id.description
            if let b = endpointBefore[id], let a = endpointAfter[id] {
                parts.append("\(name) \(formatPercent(b)) → \(formatPercent(a))")
            } else {
                parts.append(name)
            }
        }
    }
    if parts.isEmpty { parts = change.endpoints.prefix(3).map { $0 } }
    if parts.isEmpty { return change.action }
    return parts.joined(separator: ", ")
}
