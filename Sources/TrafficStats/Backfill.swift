import AccessLog
import Foundation

/// How far reading the logs already written (a backfill) has got: what the dashboard's look-back bar shows.
public struct BackfillProgress: Sendable, Hashable {
    /// Lines read so far (aggregated, malformed and too long).
    public var lines: Int
    /// Bytes read so far.
    public var bytesRead: Int64
    /// Bytes to read in all (the files' complete lines when the backfill started).
    public var bytesTotal: Int64
    /// Seconds since the backfill started.
    public var elapsedSeconds: Double
    /// Threads reading.
    public var threads: Int
    /// Whether every byte is read (following goes on from there).
    public var done: Bool

    /// Creates a progress report.
    public init(lines: Int, bytesRead: Int64, bytesTotal: Int64, elapsedSeconds: Double, threads: Int, done: Bool) {
        self.lines = lines
        self.bytesRead = bytesRead
        self.bytesTotal = bytesTotal
        self.elapsedSeconds = elapsedSeconds
        self.threads = threads
        self.done = done
    }

    /// The share read, 0...1 (1 when there was nothing to read).
    public var fraction: Double { bytesTotal > 0 ? min(1, Double(bytesRead) / Double(bytesTotal)) : 1 }

    /// Lines read per second so far.
    public var linesPerSecond: Double { elapsedSeconds > 0 ? Double(lines) / elapsedSeconds : 0 }

    /// Seconds left at the byte rate so far; nil before anything is read.
    public var secondsLeft: Double? {
        guard bytesRead > 0, elapsedSeconds > 0 else { return nil }
        return Double(max(0, bytesTotal - bytesRead)) * elapsedSeconds / Double(bytesRead)
    }
}

/// One line-aligned byte range of a backlog: the unit a backfill thread reads into a partial aggregate.
struct BackfillRange: Sendable {
    var backlog: LogFollower.Backlog
    var start: Int64
    var end: Int64
}

extension TrafficEngine {
    /// Backlogs smaller than this are read by `poll` on the calling thread: threads would not pay.
    public static let backfillMinimumBytes: Int64 = 4 << 20

    /// Reads every log's backlog (what is already written from the start position up to its last complete line)
    /// on `threads` threads, then leaves following to go on from there.
    ///
    /// The backlogs are cut into line-aligned ranges of about `rangeBytes`; each thread parses and aggregates a
    /// range into a partial aggregate of its own, and the calling thread merges the partials in the order of the
    /// lines (file after file, as `poll` reads them), so the figures are exactly those of reading the files with
    /// `poll`. At most `2 × threads` partials exist at once, whatever the size of the files.
    ///
    /// - Parameters:
    ///   - threads: threads reading at once; 1 (or a backlog under `backfillMinimumBytes`) reads on this thread.
    ///   - rangeBytes: the size of a range; nil picks one from the backlog's size (1–32 MiB).
    ///   - minimumBytes: a smaller backlog is read on this thread.
    ///   - progress: called on this thread after each merged range and at the end.
    ///   - shouldContinue: asked after each range; false stops the backfill (the engine must then be dropped).
    /// - Returns: the final progress.
    @discardableResult
    public func backfill(threads: Int = ProcessInfo.processInfo.activeProcessorCount, rangeBytes: Int? = nil,
                         minimumBytes: Int64 = TrafficEngine.backfillMinimumBytes, progress: (BackfillProgress) -> Void = { _ in }, shouldContinue: () -> Bool = { true }) -> BackfillProgress {
        let started = clock()
        let backlogs = follower.backlog()
        let total = backlogs.reduce(Int64(0)) { $0 + $1.end - $1.start }
        let threads = max(1, threads)
        let linesBefore = lineCount
        func report(_ read: Int64, done: Bool, threads: Int) -> BackfillProgress {
            let value = BackfillProgress(lines: lineCount - linesBefore, bytesRead: read, bytesTotal: total,
                                         elapsedSeconds: max(0, clock() - started), threads: threads, done: done)
            progress(value)
            return value
        }
        if threads == 1 || total < minimumBytes {
            var read: Int64 = 0
            while read < total, shouldContinue() {
                let bytes = poll(maxBytesPerFile: 16 << 20)
                if bytes == 0 { break }
                read += Int64(bytes)
                if read < total { _ = report(read, done: false, threads: 1) }
            }
            return report(min(read, total), done: true, threads: 1)
        }
        let size = rangeBytes.map { Int64(max(4096, $0)) } ?? min(32 << 20, max(1 << 20, total / Int64(threads * 8)))
        let reader = LogRangeReader(chunkSize: chunkSize, maxLineLength: follower.maxLineLength)
        var ranges: [BackfillRange] = []
        for backlog in backlogs {
            var start = backlog.start
            while start < backlog.end {
                let end = start + size >= backlog.end ? backlog.end : reader.lineStart(backlog.fd, atOrAfter: start + size, end: backlog.end)
                ranges.append(BackfillRange(backlog: backlog, start: start, end: end))
                start = end
            }
        }
        let run = BackfillRun(ranges: ranges, window: threads * 2)
        let seed = aggregator.partialSeed
        let formats = follower.sources.map(\.format)
        let roles = roles, hosts = hostIndices, wallClock = wallClock, limit = sampleLimit, maxLine = follower.maxLineLength, chunk = chunkSize
        // The observer (an exporter's running totals) counts the backlog's requests too, from every thread.
        let observer = aggregator.observer
        for _ in 0..<threads {
            let thread = Thread {
                TrafficEngine.backfillWorker(run: run, seed: seed, formats: formats, roles: roles, hosts: hosts, wallClock: wallClock,
                                    sampleLimit: limit, chunkSize: chunk, maxLineLength: maxLine, observer: observer)
            }
            thread.name = "cutover.backfill"
            thread.stackSize = 1 << 20
            thread.start()
        }
        var read: Int64 = 0
        var oversized = [Int](repeating: 0, count: follower.sources.count)
        var completed = true
        for index in ranges.indices {
            guard let result = run.take(index) else {
                completed = false
                break
            }
            aggregator.merge(result.partial.value)
            let source = ranges[index].backlog.source
            malformed[source].append(result.malformed, limit: sampleLimit)
            oversized[source] += result.oversized
            read += ranges[index].end - ranges[index].start
            if index + 1 < ranges.count {
                _ = report(read, done: false, threads: threads)
                if !shouldContinue() {
                    completed = false
                    break
                }
            }
        }
        run.finish(threads: threads)
        guard completed else { return report(read, done: false, threads: threads) }
        for backlog in backlogs { follower.skip(backlog, oversized: oversized[backlog.source]) }
        return report(read, done: true, threads: threads)
    }

    /// Lines read in all (aggregated, malformed or too long).
    private var lineCount: Int { aggregator.lines + malformed.reduce(0) { $0 + $1.count } }

    /// One backfill thread: takes the next range, aggregates it into a partial of its own, hands it over.
    private static func backfillWorker(run: BackfillRun, seed: PartialSeed, formats: [LogFormat], roles: [LogRole], hosts: [Int],
                                       wallClock: @escaping WallClock, sampleLimit: Int, chunkSize: Int, maxLineLength: Int,
                                       observer: (any RequestObserver)?) {
        defer { run.workerExited() }
        // The rules compiled when the engine was made, so compiling them again cannot fail.
        guard let classifier = try? EndpointClassifier(rules: seed.configuration.rules, cacheEntries: seed.configuration.pathCacheEntries) else {
            run.fail()
            return
        }
        let reader = LogRangeReader(chunkSize: chunkSize, maxLineLength: maxLineLength)
        var parsers: [LogFormat: LogLineParser] = [:]
        while let index = run.next() {
            let range = run.ranges[index]
            let source = range.backlog.source
            let parser = parsers[formats[source]] ?? LogLineParser(format: formats[source])
            parsers[formats[source]] = parser
            let role = roles[source]
            let host = hosts[source]
            let partial = TrafficAggregator(partial: seed, classifier: classifier)
            partial.observer = observer
            var malformed = MalformedLines()
            let (_, oversized) = reader.read(range.backlog.fd, from: range.start, to: range.end, onOversized: { head, length in
                malformed.note(head, oversized: length, limit: sampleLimit)
            }, onLine: { line in
                if parser.parse(line) {
                    partial.add(parser, role: role, host: host, fallbackTime: wallClock())
                } else {
                    malformed.note(line, limit: sampleLimit)
                }
            })
            run.deliver(index, BackfillResult(partial: Unshared(partial), malformed: malformed, oversized: oversized))
        }
    }
}

/// A value handed from one thread to another and used by one thread at a time (the handing over is locked).
struct Unshared<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// What a backfill thread made of one range.
struct BackfillResult: Sendable {
    var partial: Unshared<TrafficAggregator>
    var malformed: MalformedLines
    var oversized: Int
}

/// The ranges of one backfill and the partials on their way to the merging thread, behind one lock.
final class BackfillRun: @unchecked Sendable {
    let ranges: [BackfillRange]
    private let window: Int
    private let condition = NSCondition()
    private var nextRange = 0
    private var merged = 0
    private var results: [Int: BackfillResult] = [:]
    private var stopped = false
    private var failed = false
    private var exited = 0

    init(ranges: [BackfillRange], window: Int) {
        self.ranges = ranges
        self.window = max(1, window)
    }

    /// The next range to read, waiting while `window` ranges are read but not merged yet; nil when none is left.
    func next() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while !stopped, nextRange < ranges.count, nextRange - merged >= window { condition.wait() }
        guard !stopped, nextRange < ranges.count else { return nil }
        nextRange += 1
        return nextRange - 1
    }

    func deliver(_ index: Int, _ result: BackfillResult) {
        condition.lock()
        results[index] = result
        condition.broadcast()
        condition.unlock()
    }

    /// The result of range `index`, waiting for it; nil when a thread failed.
    func take(_ index: Int) -> BackfillResult? {
        condition.lock()
        defer { condition.unlock() }
        while results[index] == nil, !failed { condition.wait() }
        guard let result = results.removeValue(forKey: index) else { return nil }
        merged = index + 1
        condition.broadcast()
        return result
    }

    func fail() {
        condition.lock()
        failed = true
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    func workerExited() {
        condition.lock()
        exited += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Stops handing out ranges and waits for the `threads` threads started to end (they read the follower's
    /// files, which must stay open until then).
    func finish(threads: Int) {
        condition.lock()
        stopped = true
        condition.broadcast()
        while exited < threads { condition.wait() }
        condition.unlock()
    }
}
