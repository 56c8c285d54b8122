import Rollout
import Foundation
import Testing
@testable import TrafficStats

/// Figures and verdicts that know about routing changes: they count the requests since an endpoint's last
/// change, say since when, and answer a rollback at once.
@Suite struct ChangeAwareTests {
    static let t: Int64 = 1_800_000_000

    /// Feeds `seconds` seconds of `perSecond` requests to `book` from `start`, `percent` of them to the new
    /// service (every n-th request, so the split is exact), the new service answering 5xx with `newErrors`.
    static func feed(_ h: Harness, from start: Int64, seconds: Int, perSecond: Int = 40, percent: Int, newErrors: Double = 0.01) {
        var count = 0
        var sides = [0, 0]
        for s in 0..<Int64(seconds) {
            for i in 0..<perSecond {
                count += 1
                let toNew = (count * percent) % 100 < percent
                sides[toNew ? 1 : 0] += 1
                let errorEvery = Int((1 / (toNew ? newErrors : 0.01)).rounded(.down))
                h.feed(start + s, "/v2/book", new: toNew, status: sides[toNew ? 1 : 0] % errorEvery == 0 ? 500 : 200, ms: 20 + i % 7)
            }
        }
    }

    @Test func aRollbackIsNoBaselineAtOnceAndKeepsTheVerdictBeforeIt() throws {
        let h = try Harness("change-rollback")
        defer { h.dir.remove() }
        h.engine.setConfiguredPercent(50, endpoint: EndpointID(raw: "~^/v2/book"), at: Self.t)
        Self.feed(h, from: Self.t, seconds: 120, percent: 50, newErrors: 0.08)
        let before = try #require(h.engine.snapshot(.fiveMinutes).endpoint(named: "book"))
        #expect(before.verdict.state == .bad)
        // Rolled back at t+120 (the dashboard's apply): no line read since, and the verdict changes at once.
        h.engine.setConfiguredPercent(0, endpoint: EndpointID(raw: "~^/v2/book"), at: Self.t + 120)
        let after = try #require(h.engine.snapshot(.fiveMinutes).endpoint(named: "book"))
        #expect(after.verdict.state == .noBaseline)
        #expect(after.verdict.rolledBackAt == Self.t + 120)
        #expect(after.verdict.previous?.state == .bad)
        #expect(after.verdict.reasons.first?.hasPrefix("rolled back at ") == true)
        #expect(after.verdict.reasons.first?.contains("; was bad: 5xx 8.3% vs 1.0% (+7.3 pp, margin 0.5 pp)") == true, "\(after.verdict.reasons)")
        // The comparisons start at the rollback; the plain window totals still hold the bad requests.
        #expect(after.stats.since == Self.t + 120)
        #expect(after.stats.sinceNew?.requests == 0)
        #expect(after.stats.errorRateDelta == nil)
        #expect(after.stats.new.requests == 2_400)
        // Current-service lines after the rollback keep it no_baseline (nothing on the new service to judge).
        Self.feed(h, from: Self.t + 121, seconds: 10, percent: 0)
        let later = try #require(h.engine.snapshot(.fiveMinutes).endpoint(named: "book"))
        #expect(later.verdict.state == .noBaseline)
        #expect(later.stats.observedPercent == 0)
        #expect(later.stats.sinceCurrent?.requests == 400)
    }

    @Test func aRampsObservedShareSinceTheChangeMatchesTheNewPercent() throws {
        let h = try Harness("change-ramp")
        defer { h.dir.remove() }
        h.engine.setConfiguredPercent(50, endpoint: EndpointID(raw: "~^/v2/book"), at: Self.t)
        Self.feed(h, from: Self.t, seconds: 100, percent: 50)
        h.engine.setConfiguredPercent(75, endpoint: EndpointID(raw: "~^/v2/book"), at: Self.t + 100)
        Self.feed(h, from: Self.t + 100, seconds: 30, percent: 75)
        let e = try #require(h.engine.snapshot(.fiveMinutes).endpoint(named: "book"))
        // The window mixes both: 2,000 + 900 new of 5,200 (55.8%), which excludes 75 and says nothing about why.
        #expect(abs(100 * Double(e.stats.new.requests) / Double(e.stats.new.requests + e.stats.current.requests) - 100 * 2_900 / 5_200) < 1e-9)
        // Since the change (from the second after it: the change's own second counts on neither side): 870 of
        // 1,160 = 75%, its interval holds the configured percent, no mismatch.
        #expect(e.stats.since == Self.t + 100)
        #expect(abs((e.stats.observedPercent ?? 0) - 75) < 1e-9)
        let ci = try #require(e.stats.observedPercentCI)
        #expect(ci[0] < 75 && 75 < ci[1])
        #expect(e.stats.splitMismatch == false)
        #expect(e.verdict.since == Self.t + 100)
        #expect(e.verdict.newRequests == 870 && e.verdict.currentRequests == 290)
        #expect(!e.verdict.reasons.contains { $0.hasPrefix("split") })
    }

    @Test func journalChangesNotedBeforeTheLinesSplitThem() throws {
        // As `cutover status` does: the journal's changes first, then the whole log.
        let h = try Harness("change-journal")
        defer { h.dir.remove() }
        h.engine.noteRoutingChange(RoutingChange(endpoint: EndpointID(raw: "~^/v2/book"), time: Self.t + 60, rollback: false))
        h.engine.noteRoutingChange(RoutingChange(endpoint: EndpointID(raw: "~^/v2/book"), time: Self.t + 120, rollback: true))
        h.engine.setConfiguredPercent(0, endpoint: EndpointID(raw: "~^/v2/book"), at: Self.t + 120)
        Self.feed(h, from: Self.t, seconds: 60, percent: 10)                        // before both: not judged
        Self.feed(h, from: Self.t + 60, seconds: 60, percent: 50, newErrors: 0.08)  // the ramp that went wrong
        Self.feed(h, from: Self.t + 120, seconds: 30, percent: 0)                    // after the rollback
        let e = try #require(h.engine.snapshot(.all).endpoint(named: "book"))
        #expect(e.verdict.state == .noBaseline)
        #expect(e.verdict.rolledBackAt == Self.t + 120)
        #expect(e.verdict.previous?.state == .bad)
        #expect(e.stats.since == Self.t + 120)
        #expect(e.stats.sinceCurrent?.requests == 1_160)
        #expect(h.engine.snapshot(.oneMinute).endpoint(named: "book")?.stats.since == Self.t + 120)
        // A change older than the window leaves the window's figures as they are.
        Self.feed(h, from: Self.t + 150, seconds: 100, percent: 0)
        let oneMinute = try #require(h.engine.snapshot(.oneMinute).endpoint(named: "book"))
        #expect(oneMinute.stats.since == nil)
        #expect(oneMinute.stats.sinceCurrent == nil)
        #expect(oneMinute.verdict.since == Self.t + 120)
    }

    @Test func atHundredPercentTheBaselineIsTheCurrentServiceBeforeTheChange() throws {
        let h = try Harness("change-historical")
        defer { h.dir.remove() }
        h.engine.noteRoutingChange(RoutingChange(endpoint: EndpointID(raw: "~^/v2/book"), time: Self.t + 300))
        h.engine.setConfiguredPercent(100, endpoint: EndpointID(raw: "~^/v2/book"), at: Self.t + 300)
        Self.feed(h, from: Self.t, seconds: 300, perSecond: 100, percent: 0)
        Self.feed(h, from: Self.t + 300, seconds: 300, perSecond: 100, percent: 100, newErrors: 0.01)
        let e = try #require(h.engine.snapshot(.fifteenMinutes).endpoint(named: "book"))
        #expect(e.verdict.baseline == .historical)
        #expect(e.verdict.currentRequests == 30_000 && e.verdict.newRequests == 29_900)
        #expect(e.verdict.reasons.contains { $0.contains("historical, not concurrent") })
        #expect(e.verdict.state == .healthy)
        // Without requests from before the change there is nothing to compare with.
        let h2 = try Harness("change-historical-none")
        defer { h2.dir.remove() }
        h2.engine.setConfiguredPercent(100, endpoint: EndpointID(raw: "~^/v2/book"), at: Self.t)
        Self.feed(h2, from: Self.t, seconds: 30, percent: 100)
        #expect(h2.engine.snapshot(.fiveMinutes).endpoint(named: "book")?.verdict.state == .noBaseline)
    }

    @Test func nginxMadeErrorsAreToldApartWhereTheLogAllows() throws {
        let h = try Harness("change-origin")
        defer { h.dir.remove() }
        h.engine.setConfiguredPercent(50, endpoint: EndpointID(raw: "~^/v2/book"), at: Self.t)
        for i in 0..<4_000 {
            let toNew = i % 2 == 0
            // The new service: 6% errors, two thirds of them 502s with no upstream address (nginx's own).
            let status = toNew ? (i % 50 < 4 ? 502 : (i % 50 < 6 ? 500 : 200)) : (i % 100 == 1 ? 500 : 200)
            let upstream = status == 502 ? "-" : (toNew ? "127.0.0.1:9000" : "127.0.0.1:8000")
            h.feed(Self.t + Int64(i / 40), "/v2/book", new: toNew, status: status, ms: 20, upstream: upstream)
        }
        let v = try #require(h.engine.snapshot(.fiveMinutes).endpoint(named: "book")).verdict
        #expect(v.state == .bad)
        #expect(v.reasons.contains { $0.hasPrefix("new-service 5xx: 160 made by nginx (502/504, no upstream answer") && $0.contains("80 from the application; current service: 0 by nginx, 40 from the application") }, "\(v.reasons)")
    }
}
