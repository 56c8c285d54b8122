import AccessLog
import Foundation
import NginxConfig
import Rollout
import Testing
import TestSupport
@testable import TrafficStats

/// The figures are keyed by `EndpointID` (the map key), never by the short name shown for display.
@Suite struct TrafficIdentityTests {
    static let t: Int64 = 1_800_000_000
    static let exact = EndpointID(raw: "/v2/a"), regex = EndpointID(raw: "~^/v2/a/[0-9]+$")

    @Test func twoEndpointsShownUnderOneShortNameAreCountedApart() throws {
        // Both keys read `a` for display: the rules give them the same name, the figures must not merge.
        let rules = [EndpointRule(id: Self.exact, name: "a"), EndpointRule(id: Self.regex, name: "a")]
        let h = try Harness("ids-same-name", rules: rules)
        defer { h.dir.remove() }
        for _ in 0..<30 { h.feed(Self.t, "/v2/a") }
        for i in 0..<10 { h.feed(Self.t, "/v2/a/\(i)", new: true) }
        h.engine.setConfiguredPercent(100, endpoint: Self.regex, at: .min)
        let snapshot = h.engine.snapshot(.oneMinute)
        #expect(snapshot.endpoints.map(\.id) == [Self.exact, Self.regex])
        #expect(snapshot.endpoints.map(\.endpoint) == ["a", "a"], "the short name is carried along for display")
        let exact = try #require(snapshot.endpoint(Self.exact)).stats, regex = try #require(snapshot.endpoint(Self.regex)).stats
        #expect(exact.current.requests == 30 && exact.new.requests == 0)
        #expect(regex.current.requests == 0 && regex.new.requests == 10)
        #expect(exact.configuredPercent == nil && regex.configuredPercent == 100, "a percent reaches the endpoint it names only")
    }

    @Test func aRoutingChangeReachesOnlyTheEndpointItNames() throws {
        let rules = [EndpointRule(id: Self.exact, name: "a"), EndpointRule(id: Self.regex, name: "a")]
        let h = try Harness("ids-change", rules: rules)
        defer { h.dir.remove() }
        h.engine.noteRoutingChange(RoutingChange(endpoint: Self.regex, time: Self.t - 30, rollback: true))
        h.feed(Self.t, "/v2/a")
        h.feed(Self.t, "/v2/a/1", new: true)
        let snapshot = h.engine.snapshot(.fiveMinutes)
        #expect(snapshot.endpoint(Self.regex)?.stats.since == Self.t - 30)
        #expect(snapshot.endpoint(Self.exact)?.stats.since == nil)
    }

    /// `\~^/v2/a$` is an exact key (the backslash escapes the tilde): nginx compares it as text, so it never
    /// matches `/v2/a`; the regex `~^/v2/a$` beside it does. Both read `~^/v2/a$` once unescaped.
    static let escaped = """
        map $uri $target_path {
            ~^/v2/a$ "/v3/a";
            "\\~^/v2/a$" "/v3/literal";
        }
        map $uri $split_group {
            ~^/v2/a$ "$group1_routing";
            "\\~^/v2/a$" "$group1_routing";
        }
        split_clients "${request_id}" $group1_routing {
            10% "new_service";
            * "current_service";
        }
        """

    @Test func anEscapedExactKeyIsItsOwnEndpointAndMatchesAsText() throws {
        let config = try ConfigSet.fromTexts([(path: "/etc/nginx/routing.conf", text: Self.escaped)])
        let model = Discovery.discover(config)
        #expect(model.endpoints.count == 2)
        #expect(model.endpoints.map(\.pattern) == ["~^/v2/a$", "~^/v2/a$"], "the unescaped texts collide")
        let rules = LogPlan.rules(for: model)
        #expect(rules.map(\.id) == model.endpoints.map(\.id))
        #expect(Set(rules.map(\.id)).count == 2, "the identities do not")
        let classifier = try EndpointClassifier(rules: rules)
        #expect(classifier.endpoints.count == 2)
        #expect(classifier.endpoint(forPath: "/v2/a") == EndpointID(raw: "~^/v2/a$"), "the regex matches, not the exact key")
        #expect(classifier.endpoint(forPath: "~^/v2/a$") == EndpointID(raw: "\\~^/v2/a$"), "the exact key matches its own text")
    }
}
