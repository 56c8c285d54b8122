import Apply
import Preflight
@testable import Dashboard
import Foundation
import Rollout
import TerminalUI
import TestSupport
import Testing
import TrafficStats

/// The findings of issue 14 ("The cockpit, round 2"), one test each: screens at 60×20, 80×24 and 120×40 and the
/// reducer's answers to keys and the mouse.
@Suite struct CockpitTests {
    static func state(width: Int = 80, height: Int = 24) throws -> AppState {
        var state = try ScreenTests.state()
        state.screenWidth = width
        state.screenHeight = height
        return state
    }

    static func text(_ backend: TestBackend) -> String { backend.lines().joined(separator: "\n") }

    // Finding 1: a bad endpoint out of view is marked; the scroll position is shown.
    @Test func badRowOutOfViewIsMarkedWithTheScrollPosition() throws {
        var state = try Self.state()
        state.sort = .config
        press(&state, .char("g"))
        #expect(state.selectedIndex == 0)
        let backend = render(state, width: 80, height: 24)
        assertSnapshot(backend.snapshot(), name: "bad-below-80x24")
        let text = Self.text(backend)
        #expect(text.contains("▼ 1 BAD below"))
        #expect(text.contains("rows 1–5 of 10"))
        press(&state, .char("G"))
        let bottom = Self.text(render(state, width: 80, height: 24))
        #expect(!bottom.contains("BAD above") && !bottom.contains("BAD below"), "the BAD row is in view")
        #expect(bottom.contains("rows 6–10 of 10"))
        // Sorted by config order descending, the BAD row is above the last rows.
        press(&state, .char("S"), .char("G"))
        #expect(Self.text(render(state, width: 80, height: 24)).contains("▲ 1 BAD above"))
    }

    // Finding 3: in Groups, + changes the selected group, not the endpoint selected in the other view.
    @Test func plusInGroupsChangesTheSelectedGroup() throws {
        var state = try Self.state()
        try select(&state, name: "search.query")  // group4 in the endpoints view
        press(&state, .char("2"), .char("j"))     // group2_routing in the groups view
        #expect(state.selectedGroup?.name == "group2_routing")
        press(&state, .char("+"))
        let pending = try #require(confirmSummary(state))
        #expect(pending.operation == .edit(.setGroupPercent(group: "group2_routing", percent: Percent(hundredths: 1000), create: false)))
        #expect(state.view == .groups, "the view stays where the operator acted")
        press(&state, .escape)
        press(&state, .char("]"))
        #expect(state.overlay == .none)
        #expect(state.status?.text.contains("Endpoints (1)") == true)
        press(&state, .char("3"), .char("+"))
        #expect(state.overlay == .none)
        #expect(state.status?.text.contains("Groups (2)") == true)
    }

    // Finding 3: ramping a healthy endpoint that shares its group with a BAD one says so in the dialog.
    @Test func confirmationFlagsATroubledEndpointItMoves() throws {
        var state = try Self.state()
        try select(&state, name: "user.get_profile")  // watch, shares group4 with search.query (BAD)
        press(&state, .char("+"))
        let pending = try #require(confirmSummary(state))
        #expect(pending.warnings.count == 2)
        #expect(pending.warnings.contains { $0.hasPrefix("search.query is BAD now") && $0.contains("5xx 5.9%") })
        let backend = render(state, width: 80, height: 24)
        let dialogStyle = state.theme[.dialog]
        let row = try #require(backend.lines().firstIndex { $0.contains("search.query is BAD") })
        let column = try #require(backend.lines()[row].range(of: "search.query is BAD").map { backend.lines()[row].distance(from: backend.lines()[row].startIndex, to: $0.lowerBound) })
        let cell = try #require(backend.screen[column, row])
        #expect(cell.style.fg == dialogStyle.fg && cell.style.bg == dialogStyle.bg, "the warning is in the dialog's own colours")
        #expect(cell.style.isBold)
        // A filtered-out bad endpoint in the same group is flagged too.
        state.overlay = .none
        state.filter = "profile"
        press(&state, .char("+"))
        #expect(confirmSummary(state)?.warnings.contains { $0.hasPrefix("search.query") } == true)
    }

    // Finding 3: the dialog names one confirming key, and Enter does not apply.
    @Test func enterDoesNotConfirm() throws {
        var state = try Self.state()
        try select(&state, name: "book.get_book_info")
        press(&state, .char("+"))
        #expect(press(&state, .enter).isEmpty)
        #expect(confirmSummary(state) != nil, "the dialog stays open")
        #expect(state.status?.text.contains("press y") == true)
        #expect(press(&state, .char("y")).count == 1)
        state.applying = nil
        press(&state, .char("r"))
        #expect(press(&state, .enter).isEmpty)
        #expect(confirmSummary(state)?.isRollback == true)
        let text = Self.text(render(state, width: 80, height: 24))
        #expect(text.contains("y: roll back now · n or Esc: cancel"))
    }

    // Finding 4: the footer keeps `? help` and `q quit` at every width from 60 columns.
    @Test func footerAndHeaderAtEveryWidth() throws {
        for (w, h) in [(60, 20), (72, 22), (80, 24), (100, 30), (120, 40), (200, 60)] {
            let state = try Self.state(width: w, height: h)
            let lines = render(state, width: w, height: h).lines()
            let footer = lines.suffix(2).joined(separator: " ")
            #expect(footer.contains("? help") && footer.contains("q quit"), "footer at \(w)x\(h): \(footer)")
            #expect(!footer.contains("…"))
            for view in 1...5 { #expect(lines[1].contains(" \(view) "), "tab \(view) missing at \(w)x\(h)") }
        }
    }

    // Finding 4: columns give way by priority, the name column is capped, wide terminals give room to charts.
    @Test func columnsByWidth() throws {
        let state = try Self.state(width: 60, height: 20)
        let narrow = render(state, width: 60, height: 20)
        assertSnapshot(narrow.snapshot(), name: "endpoints-60x20")
        let header = narrow.lines().prefix(8).joined(separator: "\n")
        #expect(header.contains("5xx %") && header.contains("p99 ms"), "errors and latency stay at 60 columns")
        let all = EndpointsScreen.columns(state: state)
        for width in [58, 78, 118, 198] {
            let fitted = EndpointsScreen.fittingColumns(all, width: width, longestName: 24)
            let name = try #require(fitted.first { $0.sort == .endpoint })
            #expect(name.width <= EndpointsScreen.nameWidthCap)
            #expect(fitted.contains { $0.sort == .errors } && fitted.contains { $0.sort == .p99 })
            let used = fitted.reduce(0) { $0 + $1.width } + fitted.count
            #expect(used <= width)
        }
        let wide = EndpointsScreen.fittingColumns(all, width: 198, longestName: 24)
        #expect(wide.first { $0.grows }.map(\.width) ?? 0 > 40, "the trend takes the spare room")
        let big = render(try Self.state(width: 200, height: 60), width: 200, height: 60).lines()
        let chartRows = big.filter { $0.unicodeScalars.contains { $0.value >= 0x2801 && $0.value <= 0x28FF } }
        #expect(chartRows.count >= 15, "at 200x60 the charts take the height: \(chartRows.count) rows")
        let trend = try #require(big.first { $0.contains("book.get_chapter_details") })
        #expect(trend.filter { $0 == "█" }.count >= 40, "the trend stretches over the wide column")
    }

    // Finding 5: figures line up in fixed parts, units in the headers.
    @Test func cellsLineUpWithUnits() throws {
        let backend = render(try Self.state(width: 120, height: 40), width: 120, height: 40)
        let lines = backend.lines()
        #expect(lines.contains { $0.contains("5xx %") && $0.contains("p99 ms") && $0.contains("req/s") })
        let rows = lines.filter { $0.contains("│ search.query") || $0.contains("│▶search.query") || $0.contains("book.get_book_info") }
        #expect(rows.count == 2, "\(rows)")
        let search = try #require(rows.first { $0.contains("search.query") })
        let info = try #require(rows.first { $0.contains("book.get_book_info") })
        #expect(search.range(of: "+1106")?.upperBound.utf16Offset(in: search) == info.range(of: "-161")?.upperBound.utf16Offset(in: info))
    }

    // Finding 5: on 8 colours every grey role stays visible (never drawn as black) on dark and light themes.
    @Test func eightColourPaletteKeepsEveryRoleVisible() throws {
        for name in ["default", "light", "high-contrast", "colorblind"] {
            let theme = ThemeLoader.load(named: name, searchDirectories: []).theme
            for role in ThemeRole.allCases {
                let original = theme[role], degraded = original.degraded(to: .ansi8)
                if original.fg != .black && original.fg.degraded(to: .palette256) != .black && original.fg != .default {
                    #expect(degraded.fg != .black, "\(name).\(role.rawValue) turns black on 8 colours")
                }
                if degraded.fg != .default { #expect(degraded.fg != degraded.bg, "\(name).\(role.rawValue) fg == bg on 8 colours") }
            }
            #expect(theme[.muted].degraded(to: .ansi8).fg == .default || name == "high-contrast" || name == "colorblind")
        }
        #expect(Color.brightBlack.isMidGrey && Color.indexed(244).isMidGrey && !Color.indexed(16).isMidGrey && !Color.red.isMidGrey)
    }

    // Finding 7: Enter opens the full text: a finding with its fix, a record with its diff, an endpoint's figures.
    @Test func enterOpensTheDetailView() throws {
        var state = try Self.state(width: 120, height: 40)
        press(&state, .enter)
        #expect(state.overlay == .detail(.endpoint(EndpointID(raw: "~^/v2/content_api/search\\.query$")), scroll: 0))
        let endpoint = render(state, width: 120, height: 40)
        assertSnapshot(endpoint.snapshot(), name: "detail-endpoint-120x40")
        #expect(Self.text(endpoint).contains("p50 106 · p90 263 · p95 591 · p99 1543 · max 4645"))
        press(&state, .escape)
        #expect(state.overlay == .none)

        state.journal[1].files = [FileRecord(path: "/srv/demo/cutover-demo.conf", hashBefore: "a", hashAfter: "b",
                                             diff: "@@ -30,2 +30,2 @@\n-    25% new;\n+    50% new;\n")]
        press(&state, .char("4"), .char("j"), .enter)
        let record = Self.text(render(state, width: 120, height: 40))
        #expect(record.contains("+    50% new;") && record.contains("-    25% new;"))

        state.overlay = .none
        state.preflight = (0..<16).map { i in
            Finding(.unescapedDot, .warning, "map key `~^/v2/a\(i).b$` has an unescaped dot",
                    at: Rollout.SourceLocation(file: "/srv/demo/cutover-demo.conf", line: 10 + i), fix: "escape it: `\\.`")
        }
        press(&state, .char("5"))
        let groups = ProblemsScreen.groups(state)
        #expect(groups.filter { $0.kind == "check unescaped-dot" }.count == 1, "16 findings of one kind are one row")
        #expect(groups.first { $0.kind == "check unescaped-dot" }?.places.count == 16)
        let list = Self.text(render(state, width: 120, height: 40))
        #expect(list.contains("16 × unescaped dot") && list.contains("fix: escape it"))
        let index = try #require(groups.firstIndex { $0.kind == "check unescaped-dot" })
        press(&state, .char("g"))
        for _ in 0..<index { press(&state, .char("j")) }
        press(&state, .enter)
        let detail = render(state, width: 120, height: 40)
        assertSnapshot(detail.snapshot(), name: "detail-problem-120x40")
        let detailText = Self.text(detail)
        #expect(detailText.contains("fix: escape it"))
        #expect(detailText.contains("cutover-demo.conf:10"))
        press(&state, .char("G"))
        #expect(Self.text(render(state, width: 120, height: 40)).contains("cutover-demo.conf:25"), "the last place scrolls into view")
    }

    // Finding 7: g/G/Home/End jump; long status messages wrap instead of being cut.
    @Test func jumpsAndLongMessages() throws {
        var state = try Self.state()
        press(&state, .end)
        #expect(state.selectedIndex == 9)
        press(&state, .home)
        #expect(state.selectedIndex == 0)
        press(&state, .char("G"))
        #expect(state.selectedIndex == 9)
        press(&state, .char("4"), .char("G"))
        #expect(state.listSelection == state.journal.count - 1)
        press(&state, .char("g"))
        #expect(state.listSelection == 0)
        let long = "group: search.query 50% → 75%: reload failed, reverted in 1.2 s: nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use) while reading /etc/nginx/conf.d/api.conf:14"
        state.status = StatusMessage(long, isError: true)
        let text = render(state, width: 80, height: 24).lines().joined(separator: " ")
        #expect(text.contains("/etc/nginx/conf.d/api.conf:14"))
    }

    // Finding 8: the trend covers the whole window without gaps; latency bars use a log axis.
    @Test func trendCoversTheWindowAndLatencyIsLogarithmic() throws {
        let state = try Self.state()
        let search = try #require(state.rows.first { $0.endpoint.name == "search.query" })
        let shares = Trend.shares(search.traffic, width: 10)
        #expect(shares.count == 10)
        #expect(shares.allSatisfy { $0 != nil })
        let first = (shares.first ?? nil) ?? 0, last = (shares.last ?? nil) ?? 0
        #expect(abs(first - 0.25) < 0.05 && abs(last - 0.5) < 0.05, "\(shares)")
        var gappy = search.traffic
        gappy?.timeline?.currentRequests[5] = 0
        gappy?.timeline?.newRequests[5] = 0
        #expect(Trend.shares(gappy, width: 30).allSatisfy { $0 != nil }, "a quiet bucket repeats the one before")
        #expect(logFraction(89, low: 1, high: 10_000) > 0.45, "p50 of 89 ms fills about half of a 1 ms–10 s bar")
        #expect(abs(logFraction(100, low: 1, high: 10_000) - 0.5) < 1e-9)
    }

    // Pictures over time: the configured percent steps at the change, the journal marks it.
    @Test func timelineFollowsTheJournal() throws {
        let state = try Self.state(width: 120, height: 40)
        let search = try #require(state.rows.first { $0.endpoint.name == "search.query" })
        let timeline = try #require(search.traffic?.timeline)
        let configured = Timeline.configuredPercents(search, journal: state.journal, timeline: timeline)
        #expect(configured.first == 25 && configured.last == 50)
        let marks = Timeline.markers(journal: state.journal, timeline: timeline)
        #expect(marks.count == 1)
        #expect(abs((marks.first ?? 0) - 170.0 / 300) < 0.01)
        let text = Self.text(render(state, width: 120, height: 40))
        #expect(text.contains("share %") && text.contains("5xx %") && text.contains("p99 ms") && text.contains("change from the journal"))
        let braille = text.unicodeScalars.filter { $0.value >= 0x2801 && $0.value <= 0x28FF }.count
        #expect(braille > 60)
    }

    // Mouse: click a row, click a tab, turn the wheel.
    @Test func mouseSelectsScrollsAndSwitchesTabs() throws {
        var state = try Self.state(width: 120, height: 40)
        let lines = render(state, width: 120, height: 40).lines()
        let row = try #require(lines.firstIndex { $0.contains("book.list_reviews") })
        press(&state, .mouse(MouseEvent(.press, x: 10, y: row)))
        #expect(state.selectedRow?.endpoint.name == "book.list_reviews")
        #expect(state.overlay == .none)
        press(&state, .mouse(MouseEvent(.press, x: 10, y: row)))
        #expect(state.overlay == .detail(.endpoint(EndpointID(raw: "~^/v2/content_api/book\\.list_reviews$")), scroll: 0), "a second click opens the row")
        state.overlay = .none
        press(&state, .mouse(MouseEvent(.wheelUp, x: 10, y: row)))
        #expect(state.selectedRow?.endpoint.name == "user.get_bookmarks")
        let tab = try #require(HeaderScreen.tabs(state, area: Screen.layout(state).header).first { $0.view == .history })
        #expect(lines[1].contains(" 4 "))
        press(&state, .mouse(MouseEvent(.press, x: tab.x + 1, y: tab.y)))
        #expect(state.view == .history)
        press(&state, .mouse(MouseEvent(.press, x: 5, y: 0)))
        #expect(state.view == .history, "a click on nothing does nothing")
        press(&state, .mouse(MouseEvent(.press, x: 5, y: 2)))
        #expect(state.overlay == .detail(.journal("3"), scroll: 0), "a click on the last change opens it in full")
        #expect(Self.text(render(state, width: 120, height: 40)).contains("nginx: [emerg] invalid percent"))
    }

    @Test func describeChangeNamesNewGroups() {
        let change = ChangeDescription(action: "set", endpoints: [], groups: ["group6_routing"], percentsBefore: [:],
                                       percentsAfter: ["group6_routing": 10])
        #expect(describeChange(change) == "group6_routing new at 10%")
        #expect(!describeChange(change).contains("-→") && !describeChange(change).contains("?"))
    }

    @Test func snapshotsAtThreeSizes() throws {
        for (w, h) in [(60, 20), (80, 24), (120, 40)] {
            var state = try Self.state(width: w, height: h)
            for view in [DashboardView.groups, .history] {
                state.view = view
                assertSnapshot(render(state, width: w, height: h).snapshot(), name: "\(view.rawValue)-\(w)x\(h)")
            }
            state.view = .endpoints
            state.overlay = .help(page: 0)
            assertSnapshot(render(state, width: w, height: h).snapshot(), name: "help-\(w)x\(h)")
        }
    }
}

extension CockpitTests {
    @Test func wideTerminalSnapshot() throws {
        assertSnapshot(render(try Self.state(width: 200, height: 60), width: 200, height: 60).snapshot(), name: "endpoints-200x60")
    }
}

extension CockpitTests {
    /// The README's key table documents every key of the key table.
    @Test func readmeDocumentsEveryKey() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try #require(text.range(of: "## The dashboard"))
        let section = String(text[start.upperBound...])
        for binding in KeyTable.all {
            for key in binding.keys {
                var label = "`" + KeyBinding.label(key) + "`"
                if case .char(let c) = key, c.isNumber { label = "`1`–`\(DashboardView.allCases.count)`" }
                if key == .ctrl("c") { label = "`Ctrl-C`" }
                #expect(section.contains(label), "README's dashboard section lacks \(label)")
            }
        }
        #expect(section.contains("mouse click") && section.contains("mouse wheel"))
        for state in VerdictState.allCases { #expect(section.contains("`\(state.label)`"), "README lacks the state \(state.label)") }
        #expect(section.contains("`rolled back`"))
    }
}

extension CockpitTests {
    /// The first figures sort the table worst first; the selection starts on that top row, not on the config's first.
    @Test func selectionStartsOnTheWorstRow() throws {
        var state = try Fixtures.state()
        #expect(state.selectedRow?.endpoint.name == "book.get_chapter_details")
        _ = reduce(&state, .traffic(PlainFixtures.snapshot(logTime: Fixtures.epoch), error: nil))
        #expect(state.selectedRow?.endpoint.name == "search.query")
        // Once the operator moves, new figures leave the selection alone.
        var moved = try Fixtures.state()
        press(&moved, .char("j"))
        let chosen = moved.selectedRow?.endpoint.name
        _ = reduce(&moved, .traffic(PlainFixtures.snapshot(logTime: Fixtures.epoch), error: nil))
        #expect(moved.selectedRow?.endpoint.name == chosen)
    }
}
