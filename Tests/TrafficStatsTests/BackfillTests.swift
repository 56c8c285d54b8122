import AccessLog
import Foundation
import Testing
import TestSupport
@testable import TrafficStats

/// Writes a seeded log set for the backfill tests: a rotated main log, the main log (ending in an unfinished
/// line) and a migration log, in the timed format, with late lines, malformed and over-long lines, and more
/// not-migrated paths than the heavy hitters keep.
struct BackfillFixture {
    static let format: LogFormat = {
        (try? LogFormat(name: "timed", template: LogFormat.combinedTemplate + " $request_time $upstream_response_time $upstream_addr $request_id"))
            ?? .combined
    }()
    static let rules = [EndpointRule(endpoint: "book", key: "~^/v2/book"), EndpointRule(endpoint: "user", key: "/v2/user"),
                        EndpointRule(endpoint: "item", key: "~*^/api/item/[0-9]+$")]
    static let t0: Int64 = 1_800_000_000
    let dir: LogTempDirectory
    var random: SplitMix64
    var written = 0

    init(_ label: String, seed: UInt64) throws {
        dir = try LogTempDirectory(label)
        random = SplitMix64(seed: seed)
    }

    var sources: [LogSource] {
        [LogSource(path: dir.file("access.log.1"), role: .main, format: Self.format),
         LogSource(path: dir.file("access.log"), role: .main, format: Self.format),
         LogSource(path: dir.file("migration.log"), role: .migration, format: Self.format)]
    }

    static func stamp(_ time: Int64) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(time))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "dd/MMM/yyyy:HH:mm:ss"
        return formatter.string(from: date) + " +0000"
    }

    /// `count` lines over `seconds` of log time from `from`.
    mutating func lines(_ count: Int, from: Int64, seconds: Int64, new: Bool) -> String {
        var out = ""
        var stamps: [Int64: String] = [:]
        for i in 0..<count {
            written += 1
            let roll = random.next() % 1000
            if roll < 7 {
                out += "garbage line \(i) \u{01} not a log line\n"
                continue
            }
            if roll < 9 {
                out += "10.0.0.1 - - [" + String(repeating: "x", count: 5000 + Int(random.next() % 3000)) + "\n"
                continue
            }
            var time = from + Int64(i) * seconds / Int64(max(1, count))
            // Late lines: some a few seconds, some beyond the per-second ring's and the fine slices' reach.
            if random.next() % 20 == 0 { time -= Int64(random.next() % 200) }
            let pick = random.next() % 100
            let path: String
            switch pick {
            case 0..<30: path = "/v2/book/\(random.next() % 500)?lang=en"
            case 30..<50: path = "/v2/user"
            case 50..<70: path = "/api/ITEM/\(random.next() % 10_000)"
            default:
                let u = Double(random.next() % 10_000) / 10_000
                path = "/other/page_\(Int(u * u * 120))/x"
            }
            let statusRoll = random.next() % 100
            let status = statusRoll < 85 ? 200 : statusRoll < 90 ? 304 : statusRoll < 95 ? 404 : (new ? 502 : 500)
            let ms = Int(random.next() % 400) + (new ? 5 : 20)
            let rt = random.next() % 30 == 0 ? "-" : String(format: "%d.%03d", ms / 1000, ms % 1000)
            let stamp = stamps[time] ?? Self.stamp(time)
            stamps[time] = stamp
            let upstream = status == 502 && random.next() % 2 == 0 ? "-" : (new ? "127.0.0.1:9000" : "127.0.0.1:8000")
            out += "10.1.\(i % 250).\(i % 7) - - [\(stamp)] \"GET \(path) HTTP/1.1\" \(status) \(random.next() % 5000) \"-\" \"agent \(i % 3)\" "
                + "\(rt) \(rt) \(upstream) req\(written)\n"
        }
        return out
    }

    /// Writes the three files; the main log ends in the first half of a line.
    mutating func write() throws -> String {
        try dir.write("access.log.1", lines(4000, from: Self.t0, seconds: 600, new: false))
        let main = lines(5000, from: Self.t0 + 550, seconds: 1200, new: false)
        let tail = lines(1, from: Self.t0 + 1760, seconds: 1, new: false)
        let cut = tail.index(tail.startIndex, offsetBy: tail.count / 2)
        try dir.write("access.log", main + String(tail[..<cut]))
        try dir.write("migration.log", lines(4000, from: Self.t0 + 100, seconds: 1650, new: true))
        return String(tail[cut...])
    }

    func engine(chunkSize: Int = 4096) throws -> TrafficEngine {
        let configuration = TrafficConfiguration(rules: Self.rules, notMigratedCapacity: 16, notMigratedReported: 10, malformedSamples: 3)
        let engine = try TrafficEngine(sources: sources, start: .beginning, configuration: configuration, wallClock: { 5 },
                                       chunkSize: chunkSize)
        // Changes known before the first line, as the journal gives them.
        engine.noteRoutingChange(RoutingChange(endpoint: "item", time: Self.t0 + 300))
        engine.noteRoutingChange(RoutingChange(endpoint: "item", time: Self.t0 + 1000, rollback: true))
        engine.noteRoutingChange(RoutingChange(endpoint: "book", time: Self.t0 + 700))
        engine.setConfiguredPercent(25, endpoint: "book", at: Self.t0 + 700)
        engine.setConfiguredPercent(50, endpoint: "user", at: .min)
        engine.setConfiguredPercent(0, endpoint: "item", at: Self.t0 + 1000)
        return engine
    }
}

/// Every figure a snapshot holds, for every window, ending at the newest line and later.
private func snapshots(_ engine: TrafficEngine) -> [TrafficSnapshot] {
    let now = engine.aggregator.now ?? 0
    return TrafficWindow.allCases.flatMap { window in [engine.snapshot(window), engine.snapshot(window, end: now + 45)] }
}

@Suite struct BackfillTests {
    @Test(arguments: [(threads: 2, range: 4096), (threads: 3, range: 9000), (threads: 4, range: 100_000)])
    func parallelBackfillEqualsReadingInOrder(threads: Int, range: Int) throws {
        var fixture = try BackfillFixture("backfill-equal-\(threads)", seed: 0xBAC4_F111 &+ UInt64(threads))
        defer { fixture.dir.remove() }
        let rest = try fixture.write()
        let sequential = try fixture.engine()
        while sequential.poll() > 0 {}
        let parallel = try fixture.engine()
        var reports: [BackfillProgress] = []
        let final = parallel.backfill(threads: threads, rangeBytes: range, minimumBytes: 0, progress: { reports.append($0) })
        #expect(final.done)
        #expect(final.threads == threads)
        #expect(final.bytesRead == final.bytesTotal)
        #expect(reports.count > 2)
        #expect(zip(reports, reports.dropFirst()).allSatisfy { $0.bytesRead <= $1.bytesRead && $0.lines <= $1.lines })

        // The whole state, not only what the windows show (a stale ring slot is in no window).
        #expect(sequential.aggregator.holdsSameState(as: parallel.aggregator))
        let a = snapshots(sequential), b = snapshots(parallel)
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) {
            #expect(x == y, "window \(x.window), end \(x.logTime.map(String.init) ?? "-")")
        }
        let whole = sequential.snapshot(.all)
        // The fixture has what the equality is about: late lines, malformed and too-long lines, evicted paths.
        #expect(whole.lines > 10_000)
        #expect(whole.malformedCounts.values.reduce(0, +) > 40)
        #expect(sequential.follower.oversizedLines == parallel.follower.oversizedLines)
        #expect(sequential.follower.oversizedLines.reduce(0, +) > 5)
        #expect(final.lines == whole.lines + whole.malformedCounts.values.reduce(0, +))
        #expect(whole.notMigrated.count == 10)

        // Following goes on from where the backfill stopped: the unfinished line, then new lines.
        let more = fixture.lines(300, from: BackfillFixture.t0 + 1770, seconds: 30, new: false)
        try fixture.dir.append("access.log", rest + more)
        try fixture.dir.append("migration.log", fixture.lines(200, from: BackfillFixture.t0 + 1770, seconds: 30, new: true))
        while sequential.poll() > 0 {}
        while parallel.poll() > 0 {}
        #expect(snapshots(sequential) == snapshots(parallel))
        #expect(sequential.aggregator.holdsSameState(as: parallel.aggregator))
        #expect(parallel.snapshot(.all).lines > whole.lines + 400)
    }

    @Test func smallBacklogsAndOneThreadReadOnTheCallingThread() throws {
        var fixture = try BackfillFixture("backfill-small", seed: 7)
        defer { fixture.dir.remove() }
        _ = try fixture.write()
        let sequential = try fixture.engine()
        while sequential.poll() > 0 {}
        let engine = try fixture.engine()
        let final = engine.backfill(threads: 4)
        #expect(final.threads == 1)
        #expect(final.done)
        #expect(snapshots(engine) == snapshots(sequential))
        let empty = try fixture.engine()
        _ = empty.backfill(threads: 1)
        let again = empty.backfill(threads: 2, minimumBytes: 0)
        #expect(again.bytesTotal == 0)
        #expect(again.fraction == 1)
        #expect(again.done)
    }

    @Test func stoppingEndsTheThreadsAndLeavesTheFilesUnread() throws {
        var fixture = try BackfillFixture("backfill-stop", seed: 11)
        defer { fixture.dir.remove() }
        _ = try fixture.write()
        let engine = try fixture.engine()
        var asked = 0
        let final = engine.backfill(threads: 2, rangeBytes: 4096, minimumBytes: 0, shouldContinue: {
            asked += 1
            return asked < 3
        })
        #expect(!final.done)
        #expect(final.bytesRead < final.bytesTotal)
        #expect(engine.follower.backlog().count == 3)
    }

    @Test func liveTrafficReportsTheLookBackThenPublishes() throws {
        var fixture = try BackfillFixture("backfill-live", seed: 13)
        defer { fixture.dir.remove() }
        _ = try fixture.write()
        let sequential = try fixture.engine()
        while sequential.poll() > 0 {}
        let configuration = TrafficConfiguration(rules: BackfillFixture.rules, notMigratedCapacity: 16, notMigratedReported: 10, malformedSamples: 3)
        let live = try LiveTraffic(sources: fixture.sources, start: .beginning, configuration: configuration, wallClock: { 5 })
        #expect(live.backfill == nil)
        live.run(pollInterval: 0.01, publishInterval: 0.05, windows: [.all])
        defer { live.stop() }
        var turns = 0
        while (live.backfill?.done != true || live.snapshot(.all) == nil), turns < 1000 {
            usleep(10_000)
            turns += 1
        }
        let progress = try #require(live.backfill)
        #expect(progress.done)
        #expect(progress.bytesTotal > 0)
        #expect(progress.bytesRead == progress.bytesTotal)
        #expect(live.snapshot(.all)?.lines == sequential.snapshot(.all).lines)
    }

    @Test func progressEstimatesWhatIsLeft() {
        let half = BackfillProgress(lines: 1000, bytesRead: 50, bytesTotal: 100, elapsedSeconds: 2, threads: 2, done: false)
        #expect(half.fraction == 0.5)
        #expect(half.secondsLeft == 2)
        #expect(half.linesPerSecond == 500)
        #expect(BackfillProgress(lines: 0, bytesRead: 0, bytesTotal: 100, elapsedSeconds: 0, threads: 2, done: false).secondsLeft == nil)
    }
}

@Suite struct BackfillHostTests {
    /// One timed-format line of `path` at `time`, answered by the new service when `new`.
    static func line(_ time: Int64, _ path: String, new: Bool, id: Int) -> String {
        "10.0.0.1 - - [\(BackfillFixture.stamp(time))] \"GET \(path) HTTP/1.1\" 200 12 \"-\" \"agent\" 0.010 0.010 "
            + (new ? "127.0.0.1:9000" : "127.0.0.1:8000") + " req\(id)\n"
    }

    @Test func aHostStillOnTheNewServiceAfterARollbackIsCountedFromTheBackfillToo() throws {
        // The rollback is in the journal before the first line; edge2's nginx never took it. Read in parallel
        // ranges, every range must count edge2's late new-service lines, not only the live ones.
        let dir = try LogTempDirectory("backfill-linger")
        defer { dir.remove() }
        let t0 = BackfillFixture.t0
        var id = 0
        for host in ["edge1", "edge2"] {
            var main = "", migration = ""
            for i in 0..<3000 {
                id += 1
                let time = t0 + Int64(i / 10)
                main += Self.line(time, "/v2/a", new: false, id: id)
                let lingers = host == "edge2" || time < t0 + 100 + 3
                if i % 3 == 0, lingers { migration += Self.line(time, "/v2/a", new: true, id: id) }
            }
            try dir.write("\(host)-main.log", main)
            try dir.write("\(host)-migration.log", migration)
        }
        var configuration = TrafficConfiguration(rules: [EndpointRule(endpoint: "/v2/a", key: "/v2/a")])
        configuration.hosts = ["edge1", "edge2"]
        let sources = configuration.hosts.flatMap { h in
            [LogSource(path: dir.file("\(h)-main.log"), role: .main, format: BackfillFixture.format, host: h),
             LogSource(path: dir.file("\(h)-migration.log"), role: .migration, format: BackfillFixture.format, host: h)]
        }
        func engine() throws -> TrafficEngine {
            let engine = try TrafficEngine(sources: sources, start: .beginning, configuration: configuration, wallClock: { t0 + 400 })
            engine.noteRoutingChange(RoutingChange(endpoint: "/v2/a", time: t0 + 100, rollback: true))
            return engine
        }
        let sequential = try engine()
        while sequential.poll() > 0 {}
        let parallel = try engine()
        let final = parallel.backfill(threads: 2, rangeBytes: 16_384, minimumBytes: 0)
        #expect(final.done)
        let expected = sequential.snapshot(.all).endpoints[0].lingeringHosts
        // edge2 logged a new-service line every 3rd line from t0+105 (grace 5 s) to t0+299: 195 s × 10/3.
        #expect(expected.map(\.name) == ["edge2"])
        #expect((expected.first?.requests ?? 0) > 600)
        #expect(parallel.snapshot(.all).endpoints[0].lingeringHosts == expected)
        #expect(parallel.snapshot(.all).endpoints[0].byHost == sequential.snapshot(.all).endpoints[0].byHost)
    }
}
