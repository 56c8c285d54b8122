import Apply
@testable import Dashboard
import Foundation
import NginxConfig
import Rollout
import TerminalUI
import Testing
import TrafficStats

/// The dashboard finds endpoints by `EndpointID`, never by a short name or an unescaped key text.
@Suite struct DashboardIdentityTests {
    /// Two keys that read alike once unescaped: the regex `~^/v2/a$` and the exact key `\~^/v2/a$`.
    static let config = """
        map $uri $target_path {
            ~^/v2/a$ "/v3/a";
            "\\~^/v2/a$" "/v3/literal";
            /v2/b "/v3/b";
        }
        map $uri $split_group {
            ~^/v2/a$ "$group1_routing";
            "\\~^/v2/a$" "$group2_routing";
            /v2/b "$group1_routing";
        }
        split_clients "${request_id}" $group1_routing {
            10% "new_service";
            * "current_service";
        }
        split_clients "${request_id}" $group2_routing {
            20% "new_service";
            * "current_service";
        }
        """
    static let regex = EndpointID(raw: "~^/v2/a$"), exact = EndpointID(raw: "\\~^/v2/a$")

    static func state() throws -> AppState {
        let config = try ConfigSet.fromTexts([(path: "/srv/ids/routing.conf", text: Self.config)])
        var state = AppState(configPath: "/srv/ids/routing.conf", loaded: LoadedConfig(config: config, model: Discovery.discover(config)),
                             window: .fiveMinutes, now: Fixtures.now)
        state.sort = .config
        return state
    }

    static func traffic(_ id: EndpointID, name: String, current: Int, new: Int) -> EndpointTraffic {
        var stats = EndpointStats(window: .fiveMinutes)
        stats.current.requests = current
        stats.new.requests = new
        return EndpointTraffic(id: id, name: name, stats: stats)
    }

    @Test func keysThatReadAlikeAreTwoRowsWithTheirOwnNamesAndFigures() throws {
        var state = try Self.state()
        #expect(state.rows.map(\.endpoint.id) == [Self.regex, Self.exact, EndpointID(raw: "/v2/b")])
        #expect(state.rows.map(\.endpoint.percent) == [Percent(hundredths: 1000), Percent(hundredths: 2000), Percent(hundredths: 1000)], "\(state.rows.map(\.endpoint))")
        let names = state.rows.map(\.endpoint.name)
        #expect(Set(names).count == 3, "the names shown tell them apart: \(names)")
        state.snapshot = TrafficSnapshot(window: .fiveMinutes, logTime: Fixtures.epoch, endpoints: [
            Self.traffic(Self.regex, name: "a", current: 30, new: 3), Self.traffic(Self.exact, name: "a", current: 7, new: 0),
        ])
        let rows = state.rows
        #expect(rows[0].traffic?.stats.current.requests == 30 && rows[1].traffic?.stats.current.requests == 7)
        #expect(rows[2].traffic == nil)
    }

    @Test func theSelectionMovesOntoTheSecondOfTwoLookAlikesAndActsOnIt() throws {
        var state = try Self.state()
        #expect(state.selectedRow?.endpoint.id == Self.regex)
        press(&state, .char("j"))
        #expect(state.selectedIndex == 1)
        #expect(state.selectedRow?.endpoint.id == Self.exact, "the selection is the row moved to, not the first with the same text")
        press(&state, .char("r"))
        let pending = try #require(confirmSummary(state))
        guard case .edit(let edit) = pending.operation else { Issue.record("\(pending.operation)"); return }
        let loaded = try #require(state.loaded)
        let result = try RolloutEditor(config: loaded.config, model: loaded.model).apply(edit)
        #expect(result.shifts.map(\.id) == [Self.exact], "the rollback moves the selected endpoint only")
        #expect(result.shifts.first?.percentBefore == Percent(hundredths: 2000))
        // Enter opens that endpoint, by identity.
        state.overlay = .none
        press(&state, .enter)
        #expect(state.overlay == .detail(.endpoint(Self.exact), scroll: 0))
    }

    /// A record journaled when search.query's short name was `query`: its identity and its typed percents
    /// still say which endpoint it moved and from where.
    static func staleNameRecord(_ id: EndpointID) -> JournalRecord {
        JournalRecord(id: "r-stale", time: Fixtures.now.addingTimeInterval(-60), user: "ops", host: "bastion",
                      change: ChangeDescription(action: "assign", endpoints: ["query"], groups: [], reason: nil, endpointIDs: [id],
                                                endpointPercentsBefore: [id: 12], endpointPercentsAfter: [id: 50]),
                      outcome: .applied, message: "applied", files: [], configHashBefore: "a", configHashAfter: "b")
    }

    @Test func theTimelineAndTheDetailPaneFindAChangeByIdentityNotByItsOldName() throws {
        var state = try Fixtures.stateWithTraffic()
        let search = try #require(state.rows.first { $0.endpoint.name == "search.query" })
        let other = try #require(state.rows.first { $0.endpoint.name == "user.get_profile" })
        state.journal = [Self.staleNameRecord(search.endpoint.id)]
        let timeline = try #require(search.traffic?.timeline)
        let configured = Timeline.configuredPercents(search, journal: state.journal, model: state.model, timeline: timeline)
        #expect(configured.first == 12, "before the change: the percent the record kept for this endpoint")
        #expect(configured.last == search.endpoint.percent.value)
        #expect(DetailPane.recentChanges(for: search, in: state.journal).map(\.id) == ["r-stale"])
        #expect(DetailPane.recentChanges(for: other, in: state.journal).isEmpty)
    }

    @Test func anEndpointOnlyChangeIsDescribedWithItsOwnPercentsForUndo() {
        let id = EndpointID(raw: "~^/v2/a$")
        let change = ChangeDescription(action: "rollback", endpoints: ["a"], endpointIDs: [id],
                                       endpointPercentsBefore: [id: 10], endpointPercentsAfter: [id: 0])
        #expect(describeChange(change) == "a 10% → 0%")
        #expect(describeChange(change, reversed: true) == "a 0% → 10%")
        #expect(describeChange(ChangeDescription(action: "rollback", endpoints: ["a"])) == "a", "an old record names the endpoint only")
    }
}
