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
    state.selectedPattern = endpoint.pattern
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
        #expect(press(&state, .char("y")).isEmpty, "nothing starts while the other change is in flight")
        #expect(state.queuedRollback == pending)
        #expect(state.status?.text.contains("rollback queued") == true, "\(state.status?.text ?? "")")
        // The change in flight ends: the rollback runs right after.
        let effects = reduce(&state, .applyFinished(ApplyStatus(action: "group", summary: "group: x", outcome: .applied,
                                                                  message: "ok", elapsed: .milliseconds(42), finishedAt: Fixtures.now)))
        #expect(effects.first == .apply(.rollbackAll, summary: pending.summary), "\(effects)")
        #expect(state.applying == pending.summary)
        #expect(state.queuedRollback == nil)
        #expect(state.status?.text.contains("queued rollback") == true)
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
        for row in state.rows { #expect(row.verdict == state.snapshot?.endpoint(EndpointNaming.names(for: [row.endpoint])[0])?.verdict) }
    }
}

@Suite struct RollbackConfirmationTests {
    static func rolledBack(_ state: inout AppState, endpoints: [String], secondsAgo: Double) {
        state.lastApply = ApplyStatus(action: "rollback", summary: "rollback", outcome: .applied, message: "ok",
                                      elapsed: .milliseconds(30), finishedAt: Fixtures.now.addingTimeInterval(-secondsAgo))
        state.journal = [Fixtures.record(id: "r1", action: "rollback", groups: [], before: [:], after: [:], minutesAgo: secondsAgo / 60,
                                         endpoints: endpoints)]
    }

    @Test func newServiceTrafficAfterTheReloadIsSaidLoudly() throws {
        var state = try Fixtures.stateWithTraffic()
        let busy = try #require(state.model?.endpoints.first { $0.percent > .zero && $0.target != nil })
        Self.rolledBack(&state, endpoints: [busy.name], secondsAgo: 30)
        let confirmation = try #require(RollbackConfirmation.of(state))
        #expect(confirmation.confirmed == false, "\(confirmation.text)")
        #expect(confirmation.text.contains("ROLLBACK NOT CONFIRMED BY TRAFFIC") && confirmation.text.contains(busy.name))
    }

    @Test func noNewServiceTrafficConfirmsAndTooEarlyWaits() throws {
        var state = try Fixtures.stateWithTraffic()
        let idle = try #require(state.model?.endpoints.first { $0.percent > .zero && $0.target != nil })
        // The traffic after the rollback: every second on the current service only.
        var snapshot = try #require(state.snapshot)
        let index = try #require(snapshot.endpoints.firstIndex { $0.endpoint == idle.name })
        snapshot.endpoints[index].newShareSeries = snapshot.endpoints[index].newShareSeries.map { $0 == nil ? nil : 0 }
        state.snapshot = snapshot
        Self.rolledBack(&state, endpoints: [idle.name], secondsAgo: 30)
        let confirmation = try #require(RollbackConfirmation.of(state))
        #expect(confirmation.confirmed == true, "\(confirmation.text)")
        #expect(confirmation.text.contains("0 new-service requests for \(idle.name)"))
        Self.rolledBack(&state, endpoints: [idle.name], secondsAgo: 0)
        #expect(RollbackConfirmation.of(state)?.confirmed == nil, "within the drain margin it waits")
    }
}
