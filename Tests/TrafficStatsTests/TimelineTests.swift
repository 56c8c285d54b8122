import Foundation
import Testing
import TestSupport
@testable import TrafficStats

/// The per-endpoint timeline the dashboard charts: buckets over the whole window, both services, p99 per slice.
@Suite struct TimelineTests {
    @Test func oneMinuteHasSecondBucketsAndFifteenSecondSlices() throws {
        let h = try Harness("timeline-1m")
        defer { h.dir.remove() }
        let t: Int64 = 1_800_000_000
        // 30 s ago: 3 current requests (one 502); 10 s ago: 1 new at 900 ms; now: 2 new.
        for i in 0..<3 { h.feed(t - 30, "/v2/book/\(i)", status: i == 0 ? 502 : 200, ms: 10) }
        h.feed(t - 10, "/v2/book/x", new: true, ms: 900)
        h.feed(t, "/v2/book/y", new: true, ms: 20)
        h.feed(t, "/v2/book/z", new: true, ms: 20)
        let timeline = try #require(h.engine.snapshot(.oneMinute).endpoint(named: "book")?.timeline)
        #expect(timeline.bucketSeconds == 1)
        #expect(timeline.currentRequests.count == 60)
        #expect(timeline.end == t + 1, "the last bucket is the newest second")
        #expect(timeline.currentRequests[59 - 30] == 3 && timeline.currentErrors[59 - 30] == 1)
        #expect(timeline.newRequests[59 - 10] == 1 && timeline.newRequests[59] == 2)
        let current: Int = timeline.currentRequests.reduce(0, +), new: Int = timeline.newRequests.reduce(0, +)
        #expect(current == 3 && new == 3)
        #expect(timeline.latencySliceSeconds == 15)
        #expect(timeline.newP99.compactMap { $0 }.contains { $0 >= 890 }, "the slow request is the p99 of its slice")
    }

    @Test func fiveMinutesHasTenSecondBucketsCoveringTheWindow() throws {
        let h = try Harness("timeline-5m")
        defer { h.dir.remove() }
        let t: Int64 = 1_800_000_000
        for s in stride(from: Int64(0), to: 300, by: 5) { h.feed(t - s, "/v2/book/1", new: s % 10 == 0) }
        let timeline = try #require(h.engine.snapshot(.fiveMinutes).endpoint(named: "book")?.timeline)
        #expect(timeline.bucketSeconds == 10)
        // The window t-299...t starts inside the bucket t-300...t-291, which its figures count whole.
        #expect(timeline.currentRequests.count == 31)
        #expect(timeline.start == t - 300 && timeline.end == t + 10)
        let current: Int = timeline.currentRequests.reduce(0, +), new: Int = timeline.newRequests.reduce(0, +)
        #expect(current + new == 60)
        #expect(timeline.latencySliceSeconds == 60)
        #expect(timeline.currentP99.count == 6)
    }
}
