import Preflight
import Rollout
import Apply
@testable import Dashboard
import Foundation
import TerminalUI
import TestSupport
import Testing
import TrafficStats

/// Renders a state on an in-memory terminal of the given size and returns the backend.
func render(_ state: AppState, width: Int, height: Int, colorMode: ColorMode = .truecolor, unicode: Bool = true) -> TestBackend {
    let backend = TestBackend(width: width, height: height, colorMode: colorMode, supportsUnicode: unicode)
    var state = state
    state.unicode = unicode
    let terminal = Terminal(backend: backend)
    terminal.draw { buffer in Screen.render(state, theme: state.theme, area: buffer.area, buffer: &buffer) }
    return backend
}

@Suite struct ScreenTests {
    static func journal() -> [JournalRecord] {
        [Fixtures.record(id: "1", action: "group", groups: ["group3_routing"], before: ["group3_routing": 10],
                         after: ["group3_routing": 25], minutesAgo: 30),
         Fixtures.record(id: "2", action: "group", groups: ["group4_routing"], before: ["group4_routing": 25],
                         after: ["group4_routing": 50], minutesAgo: 2, endpoints: ["~^/v2/content_api/search\\.query$"]),
         Fixtures.record(id: "3", action: "group", groups: ["group4_routing"], before: ["group4_routing": 50],
                         after: ["group4_routing": 75], outcome: .validationRefused, minutesAgo: 1)]
    }

    static func state() throws -> AppState {
        var state = try Fixtures.stateWithTraffic()
        state.journal = journal()
        try select(&state, name: "search.query")
        state.lastApply = ApplyStatus(action: "group", summary: "group: search.query 25% → 50%", outcome: .applied,
                                      message: "applied", elapsed: .milliseconds(38), finishedAt: Fixtures.now.addingTimeInterval(-120))
        return state
    }

    @Test func endpointsAt120x40() throws {
        let backend = render(try Self.state(), width: 120, height: 40)
        assertSnapshot(backend.snapshot(), name: "endpoints-120x40")
        let text = backend.lines().joined(separator: "\n")
        #expect(text.contains("search.query"))
        #expect(text.contains("BAD"))
        #expect(text.contains("key to reload 38 ms"))
    }

    @Test func endpointsAt80x24() throws {
        let backend = render(try Self.state(), width: 80, height: 24)
        assertSnapshot(backend.snapshot(), name: "endpoints-80x24")
        #expect(backend.lines().contains { $0.contains("search.query") })
    }

    @Test func endpointsWithStylesAt120x40() throws {
        assertSnapshot(render(try Self.state(), width: 120, height: 40).snapshot(styles: true), name: "endpoints-styles-120x40")
    }

    @Test func tinyAndOddSizesDoNotCrash() throws {
        var state = try Self.state()
        for (w, h) in [(40, 10), (1, 1), (0, 0), (10, 3), (200, 60), (79, 23)] {
            for view in DashboardView.allCases {
                state.view = view
                for overlay: Overlay in [.none, .help(page: 0), .help(page: 9), .detail(.endpoint(EndpointID(raw: "~^/v2/content_api/search\\.query$")), scroll: 3), .detail(.journal("2"), scroll: 0), .detail(.problem(0), scroll: 0), .groupPicker(selected: 2),
                                         .confirm(PendingChange(operation: .undo, summary: "undo group of 02:00:00: group3_routing 25% → 10%",
                                                                isRollback: false))] {
                    state.overlay = overlay
                    _ = render(state, width: w, height: h)
                }
            }
        }
        state.view = .endpoints
        state.overlay = .none
        assertSnapshot(render(state, width: 40, height: 10).snapshot(), name: "endpoints-40x10")
    }

    @Test func otherViewsAt120x40() throws {
        var state = try Self.state()
        state.view = .groups
        assertSnapshot(render(state, width: 120, height: 40).snapshot(), name: "groups-120x40")
        state.view = .notMigrated
        assertSnapshot(render(state, width: 120, height: 40).snapshot(), name: "not-migrated-120x40")
        state.view = .history
        assertSnapshot(render(state, width: 120, height: 40).snapshot(), name: "history-120x40")
        state.view = .problems
        state.themeProblems = ["/home/ops/.config/cutover/themes/mine.yaml:4:10: unknown colour 'purpel'"]
        state.preflight = [
            Finding(.unanchoredKey, .warning, "map key `~^/v2/content_api/book.get_book_info` has no end anchor", at: Rollout.SourceLocation(file: "/srv/demo/cutover-demo.conf", line: 16), fix: "anchor it with `$`"),
            Finding(.splitKeyPerRequest, .info, "split_clients $group1_routing splits on `${request_id}`", at: Rollout.SourceLocation(file: "/srv/demo/cutover-demo.conf", line: 26)),
        ]
        let problems = render(state, width: 120, height: 40)
        assertSnapshot(problems.snapshot(), name: "problems-120x40")
        #expect(problems.lines().contains { $0.contains("mine.yaml:4:10") })
        #expect(problems.lines().contains { $0.contains("[check unanchored-key]") && $0.contains("fix: anchor it with `$`") })
        #expect(problems.lines()[0].contains("check 1"))
    }

    @Test func overlaysAt80x24() throws {
        var state = try Self.state()
        state.overlay = .help(page: 0)
        let help = render(state, width: 80, height: 24)
        assertSnapshot(help.snapshot(), name: "help-80x24")
        // Every key is on some page, its description whole (wrapped, never cut), at 80 and at 60 columns.
        for (w, h) in [(80, 24), (60, 20)] {
            state.screenWidth = w
            state.screenHeight = h
            let body = Screen.layout(state).body
            let g = Overlays.helpGeometry(state, area: body)
            let all = Overlays.helpLines(state, theme: state.theme, width: g.width)
            let words = all.map(\.plainText).joined(separator: " ").split(separator: " ").joined(separator: " ")
            for binding in KeyTable.all {
                let description = binding.description.split(separator: " ").joined(separator: " ")
                #expect(words.contains(description), "help at \(w)x\(h) lacks \(binding.description)")
            }
            let pages = Overlays.helpPageCount(state)
            #expect(pages == (all.count + g.rows - 1) / g.rows)
            for page in 0..<pages {
                state.overlay = .help(page: page)
                let screen = render(state, width: w, height: h).lines().joined(separator: "\n")
                for line in all.dropFirst(page * g.rows).prefix(g.rows) {
                    let text = line.plainText.trimmingCharacters(in: .whitespaces)
                    #expect(screen.contains(text), "page \(page + 1) at \(w)x\(h) lacks or cuts: \(text)")
                }
            }
        }
        state.screenWidth = 80
        state.screenHeight = 24
        state.overlay = .none
        _ = press(&state, .char("+"))
        assertSnapshot(render(state, width: 80, height: 24).snapshot(), name: "confirm-80x24")
        state.overlay = .none
        _ = press(&state, .char("m"))
        assertSnapshot(render(state, width: 80, height: 24).snapshot(), name: "group-picker-80x24")
    }

    @Test func readOnlyHeaderAndHelp() throws {
        var state = try Fixtures.stateWithTraffic(readOnly: true)
        state.overlay = .help(page: 0)
        let backend = render(state, width: 120, height: 40)
        let text = backend.lines().joined(separator: "\n")
        #expect(text.contains("READ-ONLY"))
        #expect(!text.contains("roll back every endpoint"))
        #expect(backend.lines().last?.contains("ramp") == false)
    }

    @Test func monochromeAndEightColoursDegrade() throws {
        let state = try Self.state()
        let mono = render(state, width: 120, height: 40, colorMode: .monochrome)
        for y in 0..<40 {
            for x in 0..<120 {
                let style = try #require(mono.screen[x, y]).style
                #expect(style.fg == .default && style.bg == .default, "colour left at \(x),\(y) in monochrome")
            }
        }
        // The text is the same whatever the colours.
        #expect(mono.lines() == render(state, width: 120, height: 40).lines())
        let eight = render(state, width: 120, height: 40, colorMode: .ansi8)
        for y in 0..<40 {
            for x in 0..<120 {
                let style = try #require(eight.screen[x, y]).style
                for color in [style.fg, style.bg] {
                    #expect(color == .default || (color.paletteIndex ?? 99) < 8, "\(color) at \(x),\(y) on an 8-colour terminal")
                }
            }
        }
    }

    @Test func asciiTerminal() throws {
        let backend = render(try Self.state(), width: 120, height: 40, unicode: false)
        let text = backend.lines().joined()
        let ascii = text.allSatisfy { $0.isASCII }
        #expect(ascii, "non-ASCII drawn on an ASCII terminal: \(text.filter { !$0.isASCII })")
        #expect(text.contains("search.query"))
    }
}

/// The verdict on screen: counts and the worst endpoint in the header, `since` and `rolled back` in the rows and
/// the detail, the selection keeping the State cell's colour.
@Suite struct VerdictScreenTests {
    /// The standard state with `search.query` rolled back at 11:55:00 (was bad) and `user.get_profile` changed at
    /// 11:58:20, as plain values on the snapshot.
    static func state() throws -> AppState {
        var state = try ScreenTests.state()
        var snapshot = try #require(state.snapshot)
        let rolledBack: Int64 = 1_796_126_100, changed: Int64 = 1_796_126_300
        for i in snapshot.endpoints.indices {
            switch snapshot.endpoints[i].endpoint {
            case "search.query":
                let was = snapshot.endpoints[i].verdict
                snapshot.endpoints[i].stats.since = rolledBack
                snapshot.endpoints[i].stats.sinceCurrent = snapshot.endpoints[i].stats.current
                snapshot.endpoints[i].stats.sinceNew = BackendFigures()
                snapshot.endpoints[i].stats.errorRateDelta = nil
                snapshot.endpoints[i].stats.p50DeltaMs = nil
                snapshot.endpoints[i].stats.p95DeltaMs = nil
                snapshot.endpoints[i].stats.p99DeltaMs = nil
                snapshot.endpoints[i].verdict = Verdict(state: .noBaseline, reasons: ["rolled back at 11:55:00; was \(was.summary)", "at 0%: the new service gets no traffic to judge"],
                                                        since: rolledBack, rolledBackAt: rolledBack,
                                                        previous: PreviousVerdict(state: was.state, reasons: was.reasons, rolledBackAt: rolledBack))
            case "user.get_profile":
                snapshot.endpoints[i].stats.since = changed
                snapshot.endpoints[i].verdict = Verdict(state: .watch, reasons: ["p99 61 ms vs 38 ms (+61%, margin 20%, at least 5 ms)"],
                                                        since: changed, baseline: .concurrent, newRequests: 800, currentRequests: 800)
            default: break
            }
        }
        state.snapshot = snapshot
        state.timeZone = TimeZone(identifier: "UTC") ?? .current
        return state
    }

    @Test func headerCountsRowsAndDetailShowTheVerdict() throws {
        var state = try Self.state()
        try select(&state, name: "search.query")
        let backend = render(state, width: 120, height: 40)
        assertSnapshot(backend.snapshot(), name: "verdict-rolled-back-120x40")
        let lines = backend.lines()
        #expect(lines[1].contains("1 watch"))
        #expect(lines[1].contains("worst: user.get_profile"))
        let row = try #require(lines.first { $0.contains("search.query") && $0.contains("rolled back") })
        #expect(row.contains("11:55:00"))
        #expect(lines.contains { $0.contains("verdict rolled back at 11:55:00") })
        #expect(lines.contains { $0.contains("was BAD before the rollback: 5xx") })
        #expect(lines.contains { $0.contains("user.get_profile") && $0.contains("11:58:20") && $0.contains("watch") })
        // Worst first: the watch endpoint leads the table (nothing is bad any more).
        let firstRow = try #require(lines.firstIndex { $0.contains("│ Endpoint ") })
        #expect(lines[firstRow + 1].contains("user.get_profile"))
    }

    @Test func theSelectedRowKeepsTheStateColour() throws {
        var state = try ScreenTests.state()
        try select(&state, name: "search.query")
        let backend = render(state, width: 120, height: 40)
        let lines = backend.lines()
        let y = try #require(lines.firstIndex { $0.contains("▶search.query") && $0.contains("BAD") })
        let x = try #require(lines[y].range(of: "BAD").map { lines[y].distance(from: lines[y].startIndex, to: $0.lowerBound) })
        let cell = try #require(backend.screen[x, y])
        #expect(cell.style.fg == state.theme[.bad].fg)
        #expect(cell.style.bg != state.theme[.selection].bg)
        // The rest of the row is highlighted.
        #expect(backend.screen[3, y]?.style.bg == state.theme[.selection].bg)
    }
}

/// A fleet in the header: the drifted hosts named on the first row, the per-host outcome of the last change.
@Suite struct FleetHeaderTests {
    @Test func driftedHostsAndPerHostOutcomesAreInTheHeader() throws {
        var state = try ScreenTests.state()
        let drift = DriftReport(hosts: [DriftReport.Host(name: "edge1", configSHA256: "a", drift: false),
                                        DriftReport.Host(name: "edge3", configSHA256: "b", drift: true)], majoritySHA256: "a")
        state.loaded?.drift = drift
        state.lastApply = ApplyStatus(action: "rollback", summary: "rollback: search.query", outcome: .revertWithheld,
                                      message: "NEEDS HANDS on edge2: ...\nreload failed on edge2", elapsed: .milliseconds(90),
                                      finishedAt: Fixtures.now,
                                      hosts: [HostRecord(host: "edge2", state: .needsHands, failure: "backup gone"),
                                              HostRecord(host: "edge1", state: .reverted)])
        let rows = render(state, width: 160, height: 30).lines()
        #expect(rows.first?.contains("DRIFT: edge3") == true, "\(rows.first ?? "")")
        #expect(rows.count > 2 && rows[2].contains("[edge2 needs-hands, edge1 reverted]"), "\(rows.prefix(3))")

        // One nginx: neither appears.
        let single = render(try ScreenTests.state(), width: 160, height: 30).lines()
        #expect(!single.joined().contains("DRIFT"))
    }
}

/// The dashboard refuses an edit while the fleet's hosts differ, as the CLI does.
@Suite struct FleetDashboardApplyTests {
    struct NoReader: ConfigReading {
        func load() throws -> LoadedConfig { throw DashboardError("not read") }
    }

    @Test func anEditIsRefusedWhileHostsDiffer() throws {
        let state = try ScreenTests.state()
        var loaded = try #require(state.loaded)
        loaded.drift = DriftReport(hosts: [DriftReport.Host(name: "edge1", configSHA256: "a", drift: false),
                                           DriftReport.Host(name: "edge2", configSHA256: "b", drift: true)], majoritySHA256: "a")
        let dir = try TempDir(prefix: "cutover-fleet-dashboard")
        let journal = Journal(path: dir.file("journal.jsonl"))
        let pipeline = ApplyPipeline(configuration: ApplyConfiguration(nginx: NginxControl(validateArgv: ["false"], reloadArgv: ["false"]),
                                                                       mainConfig: dir.file("x.conf"), journal: journal),
                                     runner: ScriptedRunner())
        let applier = PipelineChangeApplier(applier: EditApplier(pipeline: pipeline, configPath: dir.file("x.conf"), prefix: nil,
                                                                 names: RolloutNames()), reader: NoReader())
        let outcome = applier.apply(.rollbackAll, basis: loaded)
        #expect(outcome.outcome == .conflict)
        #expect(outcome.message.contains("hosts differ: edge2"))
        #expect(outcome.message.contains("cutover sync --from edge1"))
        #expect(try journal.records().isEmpty)
    }
}
