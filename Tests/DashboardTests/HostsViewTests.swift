@testable import Dashboard
import Foundation
import TerminalUI
import TestSupport
import Testing
import TrafficStats

/// The hosts view, the host filter, the detail pane's host lines and the rollback callout, from plain values.
@Suite struct HostsViewTests {
    /// The standard screen state with three hosts: edge3 lags, edge2 keeps sending search.query to the new
    /// service after its rollback, and UDP lost datagrams.
    static func state() throws -> AppState {
        var state = try ScreenTests.state()
        guard var snapshot = state.snapshot else { throw CutoverBinary.Failure(description: "the fixture has no snapshot") }
        snapshot.hosts = [
            HostTraffic(name: "edge1", requests: 52_010, current: 30_120, new: 9_870, s5xx: 41, newest: 1_795_831_200, lagSeconds: 1,
                        rps: 412.5, observedPercent: 24.7, errorRate: 0.0008),
            HostTraffic(name: "edge2", requests: 49_870, current: 28_400, new: 10_300, s5xx: 310, newest: 1_795_831_199, lagSeconds: 2,
                        rps: 398.1, observedPercent: 26.6, errorRate: 0.0062),
            HostTraffic(name: "edge3-with-a-long-name", requests: 12_004, current: 7_500, new: 2_210, s5xx: 12, newest: 1_795_831_110,
                        lagSeconds: 91, rps: 0, observedPercent: 22.8, errorRate: 0.001),
        ]
        for i in snapshot.endpoints.indices {
            let total = snapshot.endpoints[i].stats.current.requests + snapshot.endpoints[i].stats.new.requests
            snapshot.endpoints[i].byHost = [HostSplit(current: total / 3, new: total / 9), HostSplit(current: total / 4, new: total / 8),
                                            HostSplit(current: total / 10, new: 0)]
        }
        let search = try #require(snapshot.endpoints.firstIndex { $0.endpoint.contains("search") })
        snapshot.endpoints[search].lingeringHosts = [LingeringHost(name: "edge2", requests: 57)]
        var syslog = SyslogCounters()
        syslog.received = 113_884
        syslog.udp = 113_884
        syslog.kernelDrops = 312
        syslog.unknownHosts = ["ip-10-0-9-9": 44]
        snapshot.syslog = syslog
        state.snapshot = snapshot
        state.hostDrift = ["edge1": false, "edge2": true]
        state.status = nil
        return state
    }

    @Test func hostsViewAtThreeSizes() throws {
        var state = try Self.state()
        _ = reduce(&state, .key(.char("7")))
        #expect(state.view == .hosts)
        for (width, height) in [(60, 20), (80, 24), (120, 40)] {
            assertSnapshot(render(state, width: width, height: height).snapshot(), name: "hosts-\(width)x\(height)")
        }
        // Enter opens the selected host in full: its figures, its requests per endpoint, the unknown hosts.
        _ = reduce(&state, .key(.down))
        _ = reduce(&state, .key(.enter))
        #expect(state.overlay == .detail(.host("edge2"), scroll: 0))
        let text = render(state, width: 120, height: 40).snapshot()
        #expect(text.contains("its routing differs from the other hosts'"), "\(text)")
        #expect(text.contains("search.query: 1095 current · 547 new · 57 new-service requests after the"), "\(text)")
        #expect(text.contains("rollback: this host did not take it"), "\(text)")
        #expect(text.contains("ip-10-0-9-9: 44 messages"), "\(text)")
    }

    @Test func theHostsTabShowsOnlyWithPerHostFigures() throws {
        let plain = try ScreenTests.state()
        #expect(!plain.visibleViews.contains(.hosts))
        let plainTabs = render(plain, width: 120, height: 40).snapshot()
        #expect(!plainTabs.contains(" 6  7 ") && !plainTabs.contains(" 6 7 "))
        let state = try Self.state()
        #expect(state.visibleViews.contains(.hosts))
        let tabs = render(state, width: 120, height: 40).snapshot()
        #expect(tabs.contains(" 6  7 ") || tabs.contains(" 6 7 "))
        // Tab cycles through it after plans.
        var cycling = state
        cycling.view = .plans
        _ = reduce(&cycling, .key(.tab))
        #expect(cycling.view == .hosts)
        // Without hosts, 7 still shows the view, saying how to get figures.
        var empty = plain
        _ = reduce(&empty, .key(.char("7")))
        #expect(render(empty, width: 80, height: 24).snapshot().contains("No per-host figures"))
    }

    @Test func hostFilterCyclesAllHostsThenEachAndShowsThatHostsSplit() throws {
        var state = try Self.state()
        _ = reduce(&state, .key(.char("H")))
        #expect(state.hostFilter == "edge1")
        _ = reduce(&state, .key(.char("H")))
        #expect(state.hostFilter == "edge2")
        let text = render(state, width: 120, height: 40).snapshot()
        #expect(text.contains("obs edge2"), "\(text)")
        _ = reduce(&state, .key(.char("H")))
        _ = reduce(&state, .key(.char("H")))
        #expect(state.hostFilter == nil)
        #expect(state.status?.text == "host filter: all hosts")
        var none = try ScreenTests.state()
        _ = reduce(&none, .key(.char("H")))
        #expect(none.hostFilter == nil && none.status?.text.contains("no per-host figures") == true)
    }

    @Test func aHostStillOnTheNewServiceAfterARollbackIsCalledOutByName() throws {
        var state = try Self.state()
        try select(&state, name: "search.query")
        let screen = render(state, width: 120, height: 40).snapshot()
        assertSnapshot(screen, name: "endpoints-hosts-120x40")
        #expect(screen.contains("edge2 still sends search.query to the new service after its rollback"), "\(screen)")
        #expect(screen.contains("still on the new service after the rollback: edge2 (57)"), "\(screen)")
    }
}
