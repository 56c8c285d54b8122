import Rollout
import Apply
@testable import Dashboard
import Foundation
import TerminalUI
import TestSupport
import Testing
import TrafficStats

/// A traffic source whose look-back progress and snapshot the test sets (the protocol's fake for stepped tests).
final class ScriptedTraffic: TrafficSource, @unchecked Sendable {
    private let lock = NSLock()
    private var progress: BackfillProgress?
    private var published: TrafficSnapshot?

    func set(progress: BackfillProgress?, snapshot: TrafficSnapshot?) {
        lock.lock()
        self.progress = progress
        published = snapshot
        lock.unlock()
    }

    func snapshot(_ window: TrafficWindow) -> TrafficSnapshot? {
        lock.lock()
        defer { lock.unlock() }
        return published
    }

    var error: String? { nil }
    func setConfiguredPercent(_ percent: Double?, endpoint: EndpointID, at time: Int64) {}

    var backfill: BackfillProgress? {
        lock.lock()
        defer { lock.unlock() }
        return progress
    }
}

@Suite struct LookBackTests {
    /// 160 of 400 MiB read in 0.8 s by two threads: 2.5 M lines/s, 1.2 s left.
    static let halfway = BackfillProgress(lines: 2_000_000, bytesRead: 160 << 20, bytesTotal: 400 << 20, elapsedSeconds: 0.8,
                                          threads: 2, done: false)

    @Test func theTableShowsTheLookBackBarUntilTheFiguresArrive() throws {
        var state = try Fixtures.state()
        state.lookBack = Self.halfway
        let backend = render(state, width: 80, height: 24)
        assertSnapshot(backend.snapshot(), name: "look-back-80x24")
        let text = backend.lines().joined(separator: "\n")
        #expect(text.contains("Reading the look-back: 160 of 400 MiB"))
        #expect(text.contains("40%"))
        #expect(text.contains("2.0M lines read · 2.5M/s · about 2 s left · 2 threads"))
        assertSnapshot(render(state, width: 120, height: 40).snapshot(), name: "look-back-120x40")
        assertSnapshot(render(state, width: 60, height: 20, unicode: false).snapshot(), name: "look-back-60x20-ascii")

        // Once read (or once figures are there), the table is back.
        state.lookBack?.done = true
        #expect(!render(state, width: 80, height: 24).lines().joined().contains("Reading the look-back"))
        state.lookBack?.done = false
        state.snapshot = PlainFixtures.snapshot(logTime: Fixtures.epoch)
        #expect(!render(state, width: 80, height: 24).lines().joined().contains("Reading the look-back"))
    }

    @Test func summaryWordsTheRateAndTimeLeft() {
        #expect(LookBackPanel.summary(BackfillProgress(lines: 0, bytesRead: 0, bytesTotal: 10, elapsedSeconds: 0, threads: 1, done: false))
            == "0 lines read · starting · 1 thread")
        let slow = BackfillProgress(lines: 950, bytesRead: 10, bytesTotal: 1000, elapsedSeconds: 2, threads: 2, done: false)
        #expect(LookBackPanel.summary(slow) == "950 lines read · 475/s · about 3 min 18 s left · 2 threads")
    }

    @Test func theAppTakesTheProgressFromTheSourceEachRefresh() throws {
        let traffic = ScriptedTraffic()
        traffic.set(progress: Self.halfway, snapshot: nil)
        let app = App(state: try Fixtures.state(), runner: inlineRunner(RecordingApplier(), loaded: try Fixtures.loaded()), traffic: traffic,
                      clock: ApplyClock(now: { Fixtures.now }, monotonic: { .zero }, sleep: { _ in }))
        let backend = TestBackend(width: 80, height: 24)
        app.keyTimeout = .zero
        app.attach(backend)
        defer { app.detach() }
        app.step(now: .seconds(1))
        #expect(app.state.lookBack == Self.halfway)
        #expect(backend.lines().joined().contains("Reading the look-back: 160 of 400 MiB"))
        var done = Self.halfway
        done.bytesRead = done.bytesTotal
        done.done = true
        traffic.set(progress: done, snapshot: PlainFixtures.snapshot(logTime: Fixtures.epoch))
        app.step(now: .seconds(2))
        #expect(app.state.lookBack?.done == true)
        let text = backend.lines().joined(separator: "\n")
        #expect(!text.contains("Reading the look-back"))
        #expect(text.contains("search.query"))
    }
}
