import AccessLog
import Foundation
import Synchronization
import Testing
import TestSupport
@testable import TrafficStats

@Suite struct RequestRateTests {
    /// 100 requests per second of log time for 30 s, half to each backend; the first and newest seconds are partial,
    /// as when following starts in the middle of a second and the newest second is still being written, and one
    /// line of the second before comes first (flushed late by another worker).
    @Test func oneMinuteRateCountsEachRequestOnceOverCompleteSeconds() throws {
        let h = try Harness("rate-1m")
        defer { h.dir.remove() }
        let t0: Int64 = 1_800_000_000
        h.feed(t0 - 1, "/v2/book/late")
        for second in 0..<30 {
            let count = second == 0 ? 30 : (second == 29 ? 40 : 100)
            for i in 0..<count { h.feed(t0 + Int64(second), "/v2/book/\(i)", new: i % 2 == 1) }
        }
        let s = try #require(h.engine.snapshot(.oneMinute).endpoint(named: "book")).stats
        #expect(s.current.requests + s.new.requests == 1 + 28 * 100 + 30 + 40)
        #expect(s.current.rps == 50)
        #expect(s.new.rps == 50)
        #expect(s.current.rps + s.new.rps == 100)
    }

    /// 10 requests per second for 400 s starting off a ten-second boundary: the 5-minute window counts whole
    /// ten-second buckets, so its rate must divide by the seconds those buckets cover.
    @Test func longWindowsDivideByTheSecondsTheirBucketsCover() throws {
        let h = try Harness("rate-long")
        defer { h.dir.remove() }
        let t0: Int64 = 1_800_000_003
        for second in 0..<400 {
            for i in 0..<10 { h.feed(t0 + Int64(second), "/v2/user", new: i < 3) }
        }
        for window in [TrafficWindow.fiveMinutes, .fifteenMinutes, .all] {
            let s = try #require(h.engine.snapshot(window).endpoint(named: "user")).stats
            #expect(s.current.rps + s.new.rps == 10, "window \(window.rawValue)")
            #expect(s.new.rps == 3, "window \(window.rawValue)")
        }
        #expect(h.engine.snapshot(.fiveMinutes).endpoint(named: "user")?.stats.current.requests == 303 * 7)
    }

    /// A window ending past the newest log second (the wall clock while the logs are quiet) counts the quiet seconds.
    @Test func quietSecondsAfterTheNewestLineLowerTheRate() throws {
        let h = try Harness("rate-quiet")
        defer { h.dir.remove() }
        let t0: Int64 = 1_800_000_000
        for second in 0..<10 {
            for i in 0..<20 { h.feed(t0 + Int64(second), "/v2/book/\(i)") }
        }
        // Seconds t0+2 ... t0+19 (the first two, maybe partial, left out): 8 seconds of 20 requests, then 10 quiet.
        let s = try #require(h.engine.snapshot(.oneMinute, end: t0 + 19).endpoint(named: "book")).stats
        #expect(s.current.rps == 160.0 / 18.0)
    }
}

@Suite struct LiveTrafficPublishingTests {
    /// A monotonic clock the test moves by hand.
    final class ManualClock: Sendable {
        let seconds = Mutex<Double>(1000)
        var clock: MonotonicClock { { [self] in seconds.withLock { $0 } } }
        func advance(_ by: Double) { seconds.withLock { $0 += by } }
    }

    private func waitFor(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<2000 {
            if condition() { return true }
            try await Task.sleep(nanoseconds: 2_000_000)
        }
        return condition()
    }

    @Test func publishesOnlyTheWindowsAskedForLately() async throws {
        let dir = try LogTempDirectory("live-windows")
        defer { dir.remove() }
        try dir.write("access.log", Harness.line(1_800_000_000, "/v2/book") + "\n")
        let clock = ManualClock()
        let live = try LiveTraffic(sources: [LogSource(path: dir.file("access.log"), role: .main, format: Harness.format)],
                                   start: .beginning, configuration: TrafficConfiguration(rules: Harness.rules),
                                   clock: clock.clock, sleep: { _ in usleep(1_000) })
        live.run(pollInterval: 0.001, publishInterval: 0)
        defer { live.stop() }
        #expect(try await waitFor { live.snapshot(.fiveMinutes)?.endpoint(named: "book")?.stats.current.requests == 1 })
        #expect(live.publishedWindows == [.fiveMinutes])
        // Switching windows: the new one is published, the old one only until it has not been asked for a while.
        #expect(try await waitFor { live.snapshot(.oneMinute) != nil })
        #expect(live.publishedWindows == [.oneMinute, .fiveMinutes])
        clock.advance(LiveTraffic.askedWindowLifetime + 1)
        #expect(try await waitFor { live.snapshot(.oneMinute) != nil && live.publishedWindows == [.oneMinute] })
        #expect(live.error == nil)
    }

    @Test func publishesTheWindowsPassedToRunWithoutBeingAsked() async throws {
        let dir = try LogTempDirectory("live-always")
        defer { dir.remove() }
        try dir.write("access.log", Harness.line(1_800_000_000, "/v2/book") + "\n")
        let live = try LiveTraffic(sources: [LogSource(path: dir.file("access.log"), role: .main, format: Harness.format)],
                                   start: .beginning, configuration: TrafficConfiguration(rules: Harness.rules),
                                   sleep: { _ in usleep(1_000) })
        live.run(pollInterval: 0.001, publishInterval: 0, windows: [.all])
        defer { live.stop() }
        #expect(try await waitFor { live.publishedWindows == [.all] })
    }
}
