import AccessLog
import Foundation
import Rollout

/// A source of wall-clock Unix seconds, injected for lines whose format has no time variable.
public typealias WallClock = @Sendable () -> Int64

/// The system's wall clock in Unix seconds.
public let systemWallClock: WallClock = { Int64(Date().timeIntervalSince1970) }

/// The whole ingest pipeline: follows the logs, parses, classifies and aggregates; call `poll()` repeatedly.
///
/// Not thread-safe: one task owns it. `LiveTraffic` runs one in the background for the dashboard.
public final class TrafficEngine {
    /// The follower reading the files.
    public let follower: LogFollower
    /// The aggregator holding the figures.
    public let aggregator: TrafficAggregator
    private let parsers: [LogLineParser]
    // The parsers unretained (`parsers` keeps them): the per-line path reaches one without retain and release.
    private let parserRefs: [Unmanaged<LogLineParser>]
    // Internal for the backfill (Backfill.swift), which reads ranges of the same sources on threads of its own.
    let roles: [LogRole]
    private let paths: [String]
    /// Per source (files first, then the syslog streams): the index of its host in the configuration's hosts, or -1.
    let hostIndices: [Int]
    /// The syslog listener's hand-off, when logs arrive by syslog.
    public let inbox: SyslogInbox?
    var malformed: [MalformedLines]
    let wallClock: WallClock
    let clock: MonotonicClock
    let sampleLimit: Int
    let chunkSize: Int

    /// Opens the sources and compiles the rules.
    ///
    /// - Parameter syslog: the listener's inbox and, per stream of it (two per host: main, migration), the format
    ///   its lines are written in; the streams' hosts are `configuration.hosts`.
    public init(sources: [LogSource], start: LogStart, configuration: TrafficConfiguration,
                clock: @escaping MonotonicClock = systemMonotonicClock, wallClock: @escaping WallClock = systemWallClock,
                chunkSize: Int = 1 << 20, retireAfter: Double = 5, observer: (any RequestObserver)? = nil,
                syslog: SyslogSources? = nil) throws {
        aggregator = try TrafficAggregator(configuration: configuration)
        aggregator.observer = observer
        follower = LogFollower(sources: sources, start: start, clock: clock, chunkSize: chunkSize, retireAfter: retireAfter)
        let streams = syslog?.streams ?? []
        // One parser per distinct format keeps the time cache warm across files of the same format.
        var shared: [LogFormat: LogLineParser] = [:]
        parsers = (sources.map(\.format) + streams.map(\.format)).map { format in
            if let parser = shared[format] { return parser }
            let parser = LogLineParser(format: format)
            shared[format] = parser
            return parser
        }
        parserRefs = parsers.map { Unmanaged.passUnretained($0) }
        roles = sources.map(\.role) + streams.map(\.role)
        paths = sources.map(\.path) + streams.map(\.label)
        var hostIndex: [String: Int] = [:]
        for (i, name) in configuration.hosts.enumerated() where hostIndex[name] == nil { hostIndex[name] = i }
        hostIndices = sources.map { $0.host.flatMap { hostIndex[$0] } ?? -1 } + streams.map { $0.host < configuration.hosts.count ? $0.host : -1 }
        inbox = syslog?.inbox
        malformed = Array(repeating: MalformedLines(), count: sources.count + streams.count)
        self.wallClock = wallClock
        self.clock = clock
        self.chunkSize = chunkSize
        sampleLimit = max(0, configuration.malformedSamples)
    }

    /// Reads what was appended since the last poll (and what the syslog listener received) and aggregates it;
    /// returns the bytes read.
    @discardableResult
    public func poll(maxBytesPerFile: Int = Int.max) -> Int {
        var read = follower.poll(maxBytesPerFile: maxBytesPerFile, onOversized: { [self] index, head, length in
            malformed[index].note(head, oversized: length, limit: sampleLimit)
        }, onLine: { [self] index, line in
            ingest(line, source: index)
        })
        if let inbox {
            let base = follower.sources.count
            read += inbox.drain { [self] stream, lines in
                guard let start = lines.baseAddress else { return }
                var offset = 0
                while offset < lines.count {
                    let rest = lines.count - offset
                    let end = memchr(start + offset, 0x0A, rest).map { start.distance(to: UnsafeRawPointer($0)) } ?? lines.count
                    ingest(UnsafeRawBufferPointer(start: start + offset, count: end - offset), source: base + stream)
                    offset = end + 1
                }
            }
        }
        return read
    }

    /// Parses and aggregates one line (without newline) as if read from source `source`.
    @inline(__always)
    public func ingest(_ line: UnsafeRawBufferPointer, source: Int) {
        let parsed = parserRefs[source]._withUnsafeGuaranteedRef { parser in
            guard parser.parse(line) else { return false }
            aggregator.add(parser, role: roles[source], host: hostIndices[source], fallbackTime: wallClock())
            return true
        }
        if !parsed { malformed[source].note(line, limit: sampleLimit) }
    }

    /// Records that the configured new-service percent of an endpoint changed at a log time.
    public func setConfiguredPercent(_ percent: Double?, endpoint: EndpointID, at time: Int64) {
        aggregator.setConfiguredPercent(percent, endpoint: endpoint, at: time)
    }

    /// Records a routing change of an endpoint (see `TrafficAggregator.noteRoutingChange`).
    public func noteRoutingChange(_ change: RoutingChange) {
        aggregator.noteRoutingChange(change)
    }

    /// The figures over a window, with the malformed-line counts per file.
    ///
    /// - Parameter end: the last second of the window; by default the newest log time. Pass the wall clock while
    ///   following live so that windows keep sliding (and empty) when the logs go quiet.
    public func snapshot(_ window: TrafficWindow, end: Int64? = nil) -> TrafficSnapshot {
        var snapshot = aggregator.snapshot(window, end: end)
        for (index, path) in paths.enumerated() {
            var entry = snapshot.malformed[path] ?? MalformedLines()
            entry.count += malformed[index].count
            entry.samples = Array((entry.samples + malformed[index].samples).suffix(max(1, sampleLimit)))
            snapshot.malformed[path] = entry
            if index < follower.fileErrors.count, let problem = follower.fileErrors[index] { snapshot.unreadable[path] = problem.description }
        }
        snapshot.malformed = snapshot.malformed.filter { $0.value.count > 0 || !$0.key.hasPrefix("syslog ") }
        if !snapshot.hosts.isEmpty {
            let wall = wallClock()
            for i in snapshot.hosts.indices {
                if let newest = snapshot.hosts[i].newest { snapshot.hosts[i].lagSeconds = max(0, wall - newest) }
            }
        }
        snapshot.syslog = inbox?.counters
        return snapshot
    }
}

extension MalformedLines {
    /// Counts a line that did not parse (or, with `oversized`, a line of that many bytes dropped for its length,
    /// `line` holding its first bytes), keeping the last `limit` as samples.
    mutating func note(_ line: UnsafeRawBufferPointer, oversized: Int? = nil, limit: Int) {
        count += 1
        guard limit > 0 else { return }
        let head = UnsafeRawBufferPointer(rebasing: line[0..<min(line.count, 200)])
        var text = String(decoding: head, as: UTF8.self)
        text = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\u{FFFD}" : Character($0) })
        if line.count > 200 { text += "…" }
        if let oversized { text += " … (line of \(oversized) bytes, too long)" }
        if samples.count >= limit { samples.removeFirst() }
        samples.append(text)
    }

    /// Adds the malformed lines counted after these (their samples last), keeping the last `limit` samples.
    mutating func append(_ later: MalformedLines, limit: Int) {
        count += later.count
        samples = Array((samples + later.samples).suffix(max(0, limit)))
    }
}

/// A background ingest task that keeps the latest snapshots of the windows in use, for a UI that must never block.
///
/// `run()` starts a thread of its own that polls the logs (never a thread of Swift's cooperative pool, which
/// blocking callers may hold), and republishes snapshots at most every
/// `publishInterval`; `snapshot(_:)` only takes a lock and copies a value. Only the windows asked for through
/// `snapshot(_:)` in the last `askedWindowLifetime` seconds (and those passed to `run`) are computed: each one costs
/// a pass over every endpoint's buckets and histograms.
public final class LiveTraffic: @unchecked Sendable {
    private let lock = NSLock()
    private var latest: [TrafficWindow: TrafficSnapshot] = [:]
    private var asked: [TrafficWindow: Double] = [:]
    private var askedUnpublished = false
    private var pending: [(endpoint: EndpointID, percent: Double?, time: Int64)] = []
    private var pendingChanges: [RoutingChange] = []
    private var thread: Thread?
    /// Counts runs: a loop ends when the run it belongs to is no longer the current one (`stop()` moves on).
    private var runs = 0
    private var failure: String?
    private var backfillProgress: BackfillProgress?
    private let sources: [LogSource]
    private let start: LogStart
    private let configuration: TrafficConfiguration
    private let clock: MonotonicClock
    private let wallClock: WallClock
    private let sleep: @Sendable (Double) -> Void
    private let observer: (any RequestObserver)?
    private let syslog: SyslogSources?

    /// Validates the configuration (compiles the rules) without opening the logs yet.
    ///
    /// - Parameters:
    ///   - sleep: waits the given seconds between idle polls (injected for tests).
    ///   - observer: told of every request counted (see `RequestObserver`), on the background thread.
    ///   - syslog: the syslog listener's inbox and streams, read beside the files.
    public init(sources: [LogSource], start: LogStart, configuration: TrafficConfiguration,
                clock: @escaping MonotonicClock = systemMonotonicClock, wallClock: @escaping WallClock = systemWallClock,
                sleep: @escaping @Sendable (Double) -> Void = { Thread.sleep(forTimeInterval: $0) },
                observer: (any RequestObserver)? = nil, syslog: SyslogSources? = nil) throws {
        self.observer = observer
        _ = try EndpointClassifier(rules: configuration.rules, cacheEntries: 8)
        self.syslog = syslog
        self.sources = sources
        self.start = start
        self.configuration = configuration
        self.clock = clock
        self.wallClock = wallClock
        self.sleep = sleep
    }

    /// Seconds a window stays published after `snapshot(_:)` last asked for it.
    public static let askedWindowLifetime: Double = 10

    /// Starts the background task (once); it polls every `pollInterval` seconds when idle and publishes the
    /// snapshots of `windows` and of the windows asked for lately every `publishInterval` seconds (each window of
    /// 500 endpoints takes about 25 ms); a window asked for that is not published yet is published at the next poll.
    ///
    /// With `slideWithWallClock`, windows end at the later of the newest log time and the wall clock, so quiet
    /// logs show as quiet; leave it off when reading old files.
    ///
    /// The lines already written from the start position on (the look-back) are read first on every core
    /// (`TrafficEngine.backfill`), publishing `backfill` progress; snapshots follow once they are read.
    public func run(pollInterval: Double = 0.2, publishInterval: Double = 0.5, windows: [TrafficWindow] = [],
                    slideWithWallClock: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        guard thread == nil else { return }
        runs += 1
        let run = runs
        let sources = sources, start = start, configuration = configuration, clock = clock, wallClock = wallClock, sleep = sleep
        let observer = observer
        let syslog = syslog
        let thread = Thread { [weak self] in
            let engine: TrafficEngine
            do {
                engine = try TrafficEngine(sources: sources, start: start, configuration: configuration, clock: clock, wallClock: wallClock,
                                           observer: observer, syslog: syslog)
            } catch {
                self?.fail("\(error)")
                return
            }
            var lastPublish = -Double.infinity
            // Changes known before the first line (the journal's) must be in place before the lines they split.
            self?.applyPending(to: engine)
            // The lines already written (the look-back) are read on every core first, with progress for the UI.
            let progress = engine.backfill(progress: { self?.publish(backfill: $0) }, shouldContinue: { self?.isRunning(run) == true })
            guard progress.done else {
                if self?.isRunning(run) == true { self?.fail("reading the logs already written stopped early; start again to read them") }
                return
            }
            while self?.isRunning(run) == true {
                let read = engine.poll(maxBytesPerFile: 16 << 20)
                guard let self else { return }
                self.applyPending(to: engine)
                let now = clock()
                let due = self.windowsToPublish(now: now, always: windows)
                if now - lastPublish >= publishInterval || due.hurry {
                    lastPublish = now
                    var snapshots: [TrafficWindow: TrafficSnapshot] = [:]
                    var end: Int64?
                    if slideWithWallClock {
                        let wall = wallClock()
                        end = max(engine.aggregator.now ?? wall, wall)
                    }
                    for window in due.windows { snapshots[window] = engine.snapshot(window, end: end) }
                    self.publish(snapshots)
                }
                if read == 0 { sleep(pollInterval) }
            }
        }
        thread.name = "cutover.traffic"
        self.thread = thread
        thread.start()
    }

    private func isRunning(_ run: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return thread != nil && runs == run
    }

    /// Stops the background thread (it ends after its current poll).
    public func stop() {
        lock.lock()
        thread = nil
        runs += 1
        lock.unlock()
    }

    /// The latest published snapshot of a window, nil before its first publication; asking keeps it published.
    public func snapshot(_ window: TrafficWindow) -> TrafficSnapshot? {
        let now = clock()
        lock.lock()
        defer { lock.unlock() }
        asked[window] = now
        let snapshot = latest[window]
        if snapshot == nil { askedUnpublished = true }
        return snapshot
    }

    /// The windows published now (asked for lately or always published, in a fixed order), and whether one of them
    /// was asked for before it was published (so it is published without waiting for the interval).
    private func windowsToPublish(now: Double, always: [TrafficWindow]) -> (windows: [TrafficWindow], hurry: Bool) {
        lock.lock()
        defer { lock.unlock() }
        asked = asked.filter { now - $0.value <= Self.askedWindowLifetime }
        let hurry = askedUnpublished
        askedUnpublished = false
        return (TrafficWindow.allCases.filter { asked[$0] != nil || always.contains($0) }, hurry)
    }

    /// The windows of the latest publication (reading it does not count as asking for them).
    public var publishedWindows: Set<TrafficWindow> {
        lock.lock()
        defer { lock.unlock() }
        return Set(latest.keys)
    }

    /// Why the background task stopped, if it failed.
    public var error: String? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    /// Records that the configured percent of an endpoint changed at a log time (applied by the background task).
    public func setConfiguredPercent(_ percent: Double?, endpoint: EndpointID, at time: Int64) {
        lock.lock()
        pending.append((endpoint, percent, time))
        lock.unlock()
    }

    /// Records a routing change of an endpoint (applied by the background task, before any line when given
    /// before `run`).
    public func noteRoutingChange(_ change: RoutingChange) {
        lock.lock()
        pendingChanges.append(change)
        lock.unlock()
    }

    private func applyPending(to engine: TrafficEngine) {
        lock.lock()
        let percents = pending, changes = pendingChanges
        pending.removeAll()
        pendingChanges.removeAll()
        lock.unlock()
        for change in changes { engine.noteRoutingChange(change) }
        for change in percents { engine.setConfiguredPercent(change.percent, endpoint: change.endpoint, at: change.time) }
    }

    private func publish(_ snapshots: [TrafficWindow: TrafficSnapshot]) {
        lock.lock()
        latest = snapshots
        lock.unlock()
    }

    private func publish(backfill progress: BackfillProgress) {
        lock.lock()
        backfillProgress = progress
        lock.unlock()
    }

    /// How far reading the lines already written has got (nil before it starts; `done` once following).
    public var backfill: BackfillProgress? {
        lock.lock()
        defer { lock.unlock() }
        return backfillProgress
    }

    private func fail(_ message: String) {
        lock.lock()
        failure = message
        lock.unlock()
    }
}

/// The syslog streams an engine reads from a listener's inbox: per stream (two per host, see `SyslogRouter.stream`)
/// its host index, role and format.
public struct SyslogSources: Sendable {
    /// One stream of the inbox.
    public struct Stream: Sendable {
        public var host: Int
        public var role: LogRole
        public var format: LogFormat
        /// How the stream is named where files show their path (`syslog edge1 main`).
        public var label: String
    }

    public var inbox: SyslogInbox
    public var streams: [Stream]

    /// The streams of `inbox`'s hosts, each role in its format.
    public init(inbox: SyslogInbox, mainFormat: LogFormat, migrationFormat: LogFormat) {
        self.inbox = inbox
        streams = inbox.router.hosts.enumerated().flatMap { index, name in
            [Stream(host: index, role: .main, format: mainFormat, label: "syslog \(name) main"),
             Stream(host: index, role: .migration, format: migrationFormat, label: "syslog \(name) migration")]
        }
    }
}
