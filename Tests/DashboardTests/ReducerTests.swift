import Apply
import Dashboard
import Foundation
import Rollout
import TerminalUI
import Testing
import TrafficStats

/// Feeds keys through `reduce` and collects every effect.
@discardableResult
func press(_ state: inout AppState, _ keys: Key...) -> [Effect] {
    keys.flatMap { reduce(&state, .key($0)) }
}

func select(_ state: inout AppState, name: String) throws {
    let endpoint = try #require(state.model?.endpoints.first { $0.name == name })
    state.selectedEndpoint = endpoint.id
}

func confirmSummary(_ state: AppState) -> PendingChange? {
    if case .confirm(let pending) = state.overlay { return pending }
    return nil
}

@Suite struct ReducerTests {
    @Test func selectionMovesAndClamps() throws {
        var state = try Fixtures.state()
        let rows = state.rows
        #expect(rows.count == 10)
        #expect(state.selectedIndex == 0)
        press(&state, .char("j"), .down)
        #expect(state.selectedIndex == 2)
        press(&state, .char("k"), .up, .up, .up)
        #expect(state.selectedIndex == 0)
        press(&state, .pageDown, .pageDown, .pageDown)
        #expect(state.selectedIndex == 9)
    }

    @Test func plusPreviewsTheNextLadderStepAndYApplies() throws {
        var state = try Fixtures.state()
        try select(&state, name: "book.get_book_info")
        #expect(press(&state, .char("+")).isEmpty)
        let pending = try #require(confirmSummary(state))
        #expect(!pending.isRollback)
        #expect(pending.summary.contains("25% → 50%"))
        #expect(pending.summary.contains("book.chapters_by_status"))
        #expect(state.status?.text.contains("3 endpoints share group3_routing") == true)
        let effects = press(&state, .char("y"))
        #expect(effects == [.apply(.setGroupPercent(group: "group3_routing", percent: Percent(hundredths: 5000), create: false),
                                   summary: pending.summary)])
        #expect(state.applying == pending.summary)
        #expect(state.overlay == .none)
    }

    @Test func nCancelsAndNothingIsApplied() throws {
        var state = try Fixtures.state()
        try select(&state, name: "book.get_book_info")
        press(&state, .char("-"))
        #expect(confirmSummary(state)?.summary.contains("25% → 10%") == true)
        #expect(press(&state, .char("n")).isEmpty)
        #expect(state.overlay == .none)
        #expect(state.applying == nil)
        #expect(state.status?.text.contains("cancelled") == true)
    }

    @Test func ladderEnds() throws {
        var state = try Fixtures.state()
        try select(&state, name: "catalog.get_categories")  // group5 at 100%
        press(&state, .char("+"))
        #expect(state.overlay == .none)
        #expect(state.status?.text.contains("already at 100%") == true)
        try select(&state, name: "user.get_bookmarks")  // group1 at 1%: one step down is 0%
        press(&state, .char("-"))
        #expect(confirmSummary(state)?.summary.contains("1% → 0%") == true)
    }

    @Test func customLadderFromSettings() throws {
        var state = try Fixtures.state()
        state.ladder = AppState.ladder(from: [2, 30, 100])
        try select(&state, name: "book.get_book_info")
        press(&state, .char("+"))
        #expect(confirmSummary(state)?.summary.contains("25% → 30%") == true)
    }

    @Test func bracketsMoveBetweenGroups() throws {
        var state = try Fixtures.state()
        try select(&state, name: "book.get_book_info")  // group3 25%
        press(&state, .char("]"))
        let up = try #require(confirmSummary(state))
        #expect(up.summary.contains("(group3_routing → group4_routing)"))
        var effects = press(&state, .char("y"))
        #expect(effects == [.apply(.assign(endpoint: "~^/v2/content_api/book\\.get_book_info$", group: "group4_routing"), summary: up.summary)])
        state.applying = nil
        press(&state, .char("["))
        let down = try #require(confirmSummary(state))
        #expect(down.summary.contains("(group3_routing → group2_routing)"))
        effects = press(&state, .escape)
        #expect(effects.isEmpty)
        try select(&state, name: "catalog.get_categories")
        press(&state, .char("]"))
        #expect(state.overlay == .none)
        #expect(state.status?.text.contains("highest") == true)
    }

    @Test func rollbackTakesOneConfirmingKey() throws {
        var state = try Fixtures.state()
        try select(&state, name: "search.query")
        press(&state, .char("r"))
        let pending = try #require(confirmSummary(state))
        #expect(pending.isRollback)
        #expect(pending.summary.contains("search.query 50% → 0%"))
        #expect(press(&state, .char("x")).isEmpty)  // any other key cancels
        #expect(state.overlay == .none)
        press(&state, .char("r"))
        #expect(press(&state, .char("y")) == [.apply(.rollback(endpoints: ["~^/v2/content_api/search\\.query$"]), summary: pending.summary)])
    }

    @Test func rollbackAllThenY() throws {
        var state = try Fixtures.state()
        press(&state, .char("R"))
        let pending = try #require(confirmSummary(state))
        #expect(pending.isRollback)
        let effects = press(&state, .char("y"))
        #expect(effects == [.apply(.rollbackAll, summary: pending.summary)])
    }

    @Test func changesAreRefusedWhileApplying() throws {
        var state = try Fixtures.state()
        state.applying = "group: something"
        press(&state, .char("+"))
        #expect(state.overlay == .none)
        #expect(state.status?.isError == true)
        let effects = reduce(&state, .applyFinished(ApplyStatus(action: "group", summary: "group: x", outcome: .applied,
                                                                  message: "ok", elapsed: .milliseconds(42), finishedAt: Fixtures.now)))
        #expect(effects == [.reloadConfig, .loadJournal])
        #expect(state.applying == nil)
        #expect(state.status?.text.contains("validated, reloaded in 42 ms") == true)
    }

    @Test func anEmergencyRollbackWhileApplyingIsQueuedNotDropped() throws {
        var state = try Fixtures.state()
        state.applying = "group: group2_routing 50% -> 75%"
        state.applyingSince = Fixtures.now
        press(&state, .char("R"))
        let pending = try #require(confirmSummary(state), "R while applying still asks")
        #expect(press(&state, .char("y")) == [.cancelInFlight(reason: "an emergency rollback from the dashboard takes precedence")],
                "nothing starts while the other change is in flight: it is asked to stop before its reload")
        #expect(state.queuedRollback == pending)
        #expect(state.status?.text.contains("rollback queued") == true, "\(state.status?.text ?? "")")
        // The change in flight ends: the rollback runs right after.
        let effects = reduce(&state, .applyFinished(ApplyStatus(action: "group", summary: "group: x", outcome: .applied,
                                                                  message: "ok", elapsed: .milliseconds(42), finishedAt: Fixtures.now)))
        #expect(effects.first == .apply(.rollbackAll, summary: pending.summary), "\(effects)")
        #expect(state.applying == pending.summary)
        #expect(state.queuedRollback == nil)
        #expect(state.status?.text.contains("had already reached nginx, so it completed") == true, "\(state.status?.text ?? "")")
        #expect(state.status?.text.contains("now running the rollback") == true)
        // The applying line follows the pipeline's stages.
        reduce(&state, .applyStage("validating (nginx -t)"))
        #expect(state.applyingStage == "validating (nginx -t)")
        // An ordinary change is still refused while busy.
        press(&state, .char("+"))
        #expect(state.overlay == .none && state.status?.text.contains("wait") == true)
    }

    @Test func failedApplyShowsNginxMessage() throws {
        var state = try Fixtures.state()
        _ = reduce(&state, .applyFinished(ApplyStatus(action: "group", summary: "group: x", outcome: .reloadFailedReverted,
                                                        message: "the reload failed: nginx said:\nnginx: [emerg] bind() failed")))
        #expect(state.status?.isError == true)
        #expect(state.lastApply?.outcomeText == "reload failed, reverted")
    }

    @Test func readOnlyRemovesChangingKeys() throws {
        var state = try Fixtures.state(readOnly: true)
        for key: Key in [.char("+"), .char("-"), .char("]"), .char("["), .char("m"), .char("r"), .char("R"), .char("u")] {
            #expect(press(&state, key).isEmpty)
            #expect(state.overlay == .none)
        }
        #expect(state.status?.text.contains("read-only") == true)
        #expect(KeyTable.bindings(readOnly: true).allSatisfy { !$0.changesConfig })
        #expect(KeyTable.bindings(readOnly: false).contains { $0.changesConfig })
    }

    @Test func groupPickerAssigns() throws {
        var state = try Fixtures.state()
        try select(&state, name: "user.get_bookmarks")  // group1, the first of the pickable groups
        press(&state, .char("m"))
        #expect(state.overlay == .groupPicker(selected: 0))
        press(&state, .down, .down, .enter)
        let pending = try #require(confirmSummary(state))
        #expect(pending.summary.contains("user.get_bookmarks 1% → 25%"))
    }

    @Test func filterNarrowsRowsAndEscClears() throws {
        var state = try Fixtures.state()
        press(&state, .char("/"), .char("u"), .char("s"), .char("e"), .char("r"))
        #expect(state.rows.map(\.endpoint.name) == ["user.get_bookmarks", "user.get_profile", "user.get_history"])
        press(&state, .backspace, .char("r"), .enter)
        #expect(state.filter == "user")
        #expect(state.overlay == .none)
        #expect(state.selectedRow?.endpoint.name == "user.get_bookmarks")
        press(&state, .escape)
        #expect(state.filter.isEmpty)
        #expect(state.rows.count == 10)
    }

    @Test func windowAndSortCycle() throws {
        var state = try Fixtures.stateWithSimulatedTraffic()
        #expect(press(&state, .char("w")) == [.refreshTraffic(.fifteenMinutes)])
        #expect(press(&state, .char("w")) == [.refreshTraffic(.all)])
        #expect(press(&state, .char("w")) == [.refreshTraffic(.oneMinute)])
        // Worst first by default: the bad endpoint leads, then the busiest.
        #expect(state.sort == .state)
        #expect(state.rows.first?.endpoint.name == "search.query")
        #expect(state.rows.first?.health == .bad)
        let rest = state.rows.dropFirst().map(\.requestRate)
        #expect(rest == rest.sorted(by: >))
        press(&state, .char("s"))
        #expect(state.sort == .config)
        press(&state, .char("s"))
        #expect(state.sort == .endpoint)
        #expect(state.rows.first?.endpoint.name == "book.chapters_by_status")
        for _ in 0..<9 { press(&state, .char("s")) }
        #expect(state.sort == .state)
        #expect(state.rows.first?.endpoint.name == "search.query")
        press(&state, .char("S"))
        #expect(state.rows.last?.endpoint.name == "search.query")
    }

    @Test func undoAsksWithTheLastUndoableChange() throws {
        var state = try Fixtures.state()
        press(&state, .char("u"))
        #expect(state.overlay == .none)
        #expect(state.status?.text.contains("nothing to undo") == true)
        state.journal = [
            Fixtures.record(id: "1", action: "group", groups: ["group3_routing"], before: ["group3_routing": 10], after: ["group3_routing": 25]),
            Fixtures.record(id: "2", action: "group", groups: ["group4_routing"], before: ["group4_routing": 25], after: ["group4_routing": 50]),
            Fixtures.record(id: "3", action: "undo", groups: ["group4_routing"], before: ["group4_routing": 50], after: ["group4_routing": 25],
                            undoes: "2"),
            Fixtures.record(id: "4", action: "group", groups: ["group1_routing"], before: [:], after: [:], outcome: .validationRefused),
        ]
        press(&state, .char("u"))
        let pending = try #require(confirmSummary(state))
        #expect(pending.operation == .undo)
        #expect(pending.summary.contains("group3_routing 25% → 10%"))
        #expect(press(&state, .char("y")) == [.undo(summary: pending.summary)])
    }

    @Test func viewsAndHelp() throws {
        var state = try Fixtures.state()
        press(&state, .tab)
        #expect(state.view == .groups)
        press(&state, .pageDown)
        #expect(state.listSelection == 4)  // five groups, clamped to the last
        press(&state, .char("k"))
        #expect(state.listSelection == 3)
        press(&state, .char("5"))
        #expect(state.view == .problems)
        press(&state, .backTab)
        #expect(state.view == .history)
        press(&state, .char("?"))
        #expect(state.overlay == .help(page: 0))
        press(&state, .char("x"))
        #expect(state.overlay == .none)
        press(&state, .char("q"))
        #expect(state.quitting)
    }

    @Test func themeCycleLoadsTheNextName() throws {
        var state = try Fixtures.state()
        _ = reduce(&state, .themesListed(["colorblind", "default", "light"]))
        #expect(press(&state, .char("t")) == [.loadTheme("light")])
        _ = reduce(&state, .themeLoaded(Theme(name: "Light (custom name)", styles: [:]), name: "light", problems: []))
        #expect(press(&state, .char("t")) == [.loadTheme("colorblind")])
        _ = reduce(&state, .themeLoaded(.default, name: "colorblind", problems: ["themes/broken.yaml:3:5: bad colour"]))
        #expect(press(&state, .char("t")) == [.loadTheme("default")])
        #expect(state.status?.isError == true)
        #expect(state.themeProblems == ["themes/broken.yaml:3:5: bad colour"])
    }

    @Test func keyTableHasNoDuplicateKeys() {
        var seen = Set<Key>()
        for binding in KeyTable.all {
            for key in binding.keys {
                #expect(seen.insert(key).inserted, "\(key) is bound twice")
            }
        }
    }

    @Test func stateColumnShowsTheCoreVerdict() throws {
        // The verdicts as the aggregator computes them from simulated lines (the screens use plain values).
        let state = try Fixtures.stateWithSimulatedTraffic()
        let byName = Dictionary(uniqueKeysWithValues: state.rows.map { ($0.endpoint.name, $0) })
        #expect(byName["search.query"]?.health == .bad)
        #expect(byName["search.query"]?.verdict.reasons.first?.hasPrefix("5xx 5.9% vs 0.1%") == true)
        // 25% of ~12% of 150 req/s for 120 s: about 600 new-service requests, not yet enough for a 0.5-point margin.
        #expect(byName["book.get_book_info"]?.health == .notEnoughData)
        #expect((byName["book.get_book_info"]?.verdict.neededRequests ?? 0) > 0)
        // group1 at 1% with ~8% of 150 req/s for 120 s: about 14 requests on the new service, too few to judge.
        #expect(byName["user.get_bookmarks"]?.health == .notEnoughData)
        // At 100% with no current-service traffic: nothing to compare with.
        #expect(byName["catalog.get_categories"]?.health == .noBaseline)
        #expect(state.verdictSummary.worst?.endpoint.name == "search.query")
        // Until the operator moves it, the selection is the top row: the worst endpoint.
        #expect(state.selectedRow?.endpoint.name == "search.query")
        #expect(state.verdictSummary.counts.first.map { $0.0 == .bad && $0.1 == 1 } == true)
        // The rows show the snapshot's verdicts as they are: the dashboard decides nothing.
        for row in state.rows { #expect(row.verdict == state.snapshot?.endpoint(row.endpoint.id)?.verdict) }
    }
}

@Suite struct RollbackConfirmationTests {
    static let reloaded = Date(timeIntervalSince1970: 1_700_000_000.412)  // 22:13:20.412 UTC
    static let drained = Date(timeIntervalSince1970: 1_700_000_001.137)   // 22:13:21.1 UTC
    /// The first log second counted: the one after the drain.
    static let from: Int64 = 1_700_000_002

    /// A state right after the dashboard applied a change taking `endpoint` from its share to `percent`.
    static func changed(to percent: Percent, drainWatched: Bool = true) throws -> (AppState, Endpoint, EndpointID) {
        var state = try Fixtures.state()
        state.timeZone = try #require(TimeZone(identifier: "UTC"))
        let model = try #require(state.model)
        let index = try #require(model.endpoints.firstIndex { $0.percent > percent && $0.target != nil })
        let endpoint = model.endpoints[index]
        _ = reduce(&state, .applyFinished(ApplyStatus(
            action: percent == .zero ? "rollback" : "group", summary: "change", outcome: .applied, message: "ok",
            finishedAt: reloaded, shifts: [EndpointShift(endpoint: endpoint.name, groupBefore: endpoint.group, groupAfter: endpoint.group,
                                                         percentBefore: endpoint.percent, percentAfter: percent, id: endpoint.id)],
            drainWatched: drainWatched)))
        return (state, endpoint, endpoint.id)
    }

    /// A snapshot at `logTime` whose last 60 seconds carry `perSecond(second)` = (current, new) for `id`.
    static func snapshot(_ id: EndpointID, logTime: Int64, _ perSecond: (Int64) -> (Int, Int)) -> TrafficSnapshot {
        let seconds = (logTime - 59...logTime).map { perSecond($0) }
        let entry = EndpointTraffic(id: id, name: id.description, stats: EndpointStats(window: .fiveMinutes),
                                    currentRequestSeries: seconds.map(\.0), newRequestSeries: seconds.map(\.1))
        return TrafficSnapshot(window: .fiveMinutes, logTime: logTime, endpoints: [entry], notMigrated: [], malformed: [:],
                               lines: 0, unclassified: 0)
    }

    @Test func aRollbackIsConfirmedOnceTheOldWorkersDrainedAndTheWatchIsOver() throws {
        var (state, endpoint, name) = try Self.changed(to: .zero)
        var confirmation = try #require(RollbackConfirmation.of(state))
        #expect(confirmation.confirmed == nil)
        #expect(confirmation.text == "confirming from traffic: waiting for nginx's old workers to exit (reload at 22:13:20.412)")
        _ = reduce(&state, .workersDrained(Self.drained))
        // Before the drain the old workers still sent requests to the new service: they do not count.
        let traffic: (Int64) -> (Int, Int) = { $0 < Self.from ? (5, 3) : (5, 0) }
        _ = reduce(&state, .traffic(Self.snapshot(name, logTime: Self.from + 9, traffic), error: nil))
        confirmation = try #require(RollbackConfirmation.of(state))
        #expect(confirmation.confirmed == nil, "still watching: \(confirmation.text)")
        #expect(confirmation.text.contains("10 of 30 s") && confirmation.text.contains("0 new-service of 50"), "\(confirmation.text)")
        _ = reduce(&state, .traffic(Self.snapshot(name, logTime: Self.from + 30, traffic), error: nil))
        confirmation = try #require(RollbackConfirmation.of(state))
        #expect(confirmation.confirmed == true, "\(confirmation.text)")
        #expect(confirmation.text == "traffic confirms the rollback: 0 new-service requests for \(endpoint.name) since the reload at "
                + "22:13:20.412 (old workers drained at 22:13:21.1); 150 answered by the current service in 30.0 s")
        // The status line and the detail pane both say it.
        state.status = StatusMessage("rollback: validated, reloaded")
        state.selectedEndpoint = endpoint.id
        let screen = render(state, width: 250, height: 40).lines()
        let lines = screen.filter { $0.contains("traffic confirms the rollback: 0 new-service requests") }
        #expect(lines.count == 2, "the status line and the detail pane:\n\(screen.joined(separator: "\n"))")
        #expect(lines.contains { $0.contains("rollback: validated, reloaded · traffic confirms") }, "the status line")
    }

    @Test func newServiceTrafficAfterTheDrainIsSaidLoudlyAtOnce() throws {
        var (state, endpoint, name) = try Self.changed(to: .zero)
        _ = reduce(&state, .workersDrained(Self.drained))
        _ = reduce(&state, .traffic(Self.snapshot(name, logTime: Self.from + 5) { $0 == Self.from + 3 ? (5, 17) : (5, 0) }, error: nil))
        let confirmation = try #require(RollbackConfirmation.of(state))
        #expect(confirmation.confirmed == false, "\(confirmation.text)")
        #expect(confirmation.text.hasPrefix("TRAFFIC DOES NOT CONFIRM THE ROLLBACK: 17 requests for \(endpoint.name) still reached the new service"),
                "\(confirmation.text)")
        #expect(confirmation.text.contains("after the reload at 22:13:20.412 (old workers drained at 22:13:21.1)"))
    }

    @Test func aLoweredShareIsJudgedAgainstItsNewPercentOnTheWholeWatch() throws {
        let tenth = Percent(hundredths: 1000)
        // Still at the old share (about half the requests on the new service): clearly above 10%.
        var (state, endpoint, name) = try Self.changed(to: tenth)
        _ = reduce(&state, .workersDrained(Self.drained))
        _ = reduce(&state, .traffic(Self.snapshot(name, logTime: Self.from + 5) { _ in (10, 10) }, error: nil))
        #expect(RollbackConfirmation.of(state)?.confirmed == nil, "a share is judged on the whole watch, not every second")
        _ = reduce(&state, .traffic(Self.snapshot(name, logTime: Self.from + 30) { _ in (10, 10) }, error: nil))
        var confirmation = try #require(RollbackConfirmation.of(state))
        #expect(confirmation.confirmed == false, "\(confirmation.text)")
        #expect(confirmation.text.hasPrefix("TRAFFIC DOES NOT CONFIRM THE CHANGE: \(endpoint.name) 50.0% new-service (300 of 600)"),
                "\(confirmation.text)")
        #expect(confirmation.text.contains("clearly above its new 10%"))
        // At the new share: consistent.
        (state, endpoint, name) = try Self.changed(to: tenth)
        _ = reduce(&state, .workersDrained(Self.drained))
        _ = reduce(&state, .traffic(Self.snapshot(name, logTime: Self.from + 30) { $0 % 2 == 0 ? (9, 1) : (8, 2) }, error: nil))
        confirmation = try #require(RollbackConfirmation.of(state))
        #expect(confirmation.confirmed == true, "\(confirmation.text)")
        #expect(confirmation.text.contains("consistent with its new 10%"), "\(confirmation.text)")
    }

    @Test func withoutAKnownMasterItCountsFromTheSecondAfterTheReloadAndSaysSo() throws {
        var (state, _, name) = try Self.changed(to: .zero, drainWatched: false)
        _ = reduce(&state, .traffic(Self.snapshot(name, logTime: 1_700_000_001 + 30) { _ in (4, 0) }, error: nil))
        let confirmation = try #require(RollbackConfirmation.of(state))
        #expect(confirmation.confirmed == true, "\(confirmation.text)")
        #expect(confirmation.text.contains("old workers not watched: nginx's master is unknown"), "\(confirmation.text)")
    }

    @Test func aLaterChangeThatLowersNothingEndsTheWatch() throws {
        var (state, _, _) = try Self.changed(to: .zero)
        #expect(state.confirmation != nil)
        _ = reduce(&state, .applyFinished(ApplyStatus(action: "group", summary: "raise", outcome: .applied, message: "ok",
                                                        finishedAt: Self.reloaded, shifts: [])))
        #expect(state.confirmation == nil)
        #expect(RollbackConfirmation.of(state) == nil)
    }
}
