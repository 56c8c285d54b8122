import AccessLog
import Foundation
import TrafficStats

/// Runs the Log benchmark: generates access logs, then reads, parses, classifies and aggregates them.
///
/// Scenarios: `throughput` (≥ 2,000,000 lines in the timed format, ~40 endpoints, two logs), `json` (the same in an
/// `escape=json` format), `memory` (10,000,000 lines over 500 endpoints and a million distinct paths), `follow`
/// (a writer appends 100,000 lines/s while the engine follows), `live` (the same into two logs with current
/// timestamps while `LiveTraffic` follows as the dashboard runs it: lag of the published snapshots, their req/s). Options: `--scenario NAME|all`, `--lines N`,
/// `--memory-lines N`, `--publish-all` (live: publish every window, not only the one read), `--keep` (keep the generated files), `--reuse` (reuse files kept earlier), `--dir PATH`.
func runLogBenchmark(_ arguments: [String]) throws {
    var scenario = "all"
    var lines = 2_000_000
    var memoryLines = 10_000_000
    var keep = false
    var reuse = false
    var publishAll = false
    var directory: String?
    var i = 0
    while i < arguments.count {
        let argument = arguments[i]
        let value = i + 1 < arguments.count ? arguments[i + 1] : ""
        switch argument {
        case "--scenario": scenario = value; i += 1
        case "--lines": lines = Int(value) ?? lines; i += 1
        case "--memory-lines": memoryLines = Int(value) ?? memoryLines; i += 1
        case "--dir": directory = value; i += 1
        case "--keep": keep = true
        case "--reuse": reuse = true; keep = true
        case "--publish-all": publishAll = true
        default: throw LogBenchError.unknownArgument(argument)
        }
        i += 1
    }
    let dir = directory ?? NSTemporaryDirectory() + "cutover-logbench-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { if !keep { try? FileManager.default.removeItem(atPath: dir) } }
    let all = scenario == "all"
    if all || scenario == "throughput" { try throughputScenario(dir: dir, lines: lines, json: false, reuse: reuse) }
    if all || scenario == "json" { try throughputScenario(dir: dir, lines: lines, json: true, reuse: reuse) }
    if all || scenario == "follow" { try followScenario(dir: dir) }
    if all || scenario == "memory" { try memoryScenario(dir: dir, lines: memoryLines) }
    if all || scenario == "live" { try liveScenario(dir: dir, publishAll: publishAll) }
}

/// An error in the benchmark's arguments or files.
enum LogBenchError: Error, CustomStringConvertible {
    case unknownArgument(String)
    case cannotWrite(String)
    case mismatch(String)

    var description: String {
        switch self {
        case .unknownArgument(let argument):
            return "unknown argument '\(argument)'; use --scenario throughput|json|follow|memory|live|all, --lines N, --memory-lines N, --dir PATH, --keep, --reuse, --publish-all"
        case .cannotWrite(let path):
            return "cannot write '\(path)'; check the directory exists and has free space"
        case .mismatch(let message):
            return "the engine's figures disagree with the generated log: \(message)"
        }
    }
}

// MARK: Scenarios

/// The "timed" format: combined plus request time, upstream time and address, and request id.
let timedTemplate = LogFormat.combinedTemplate + " $request_time $upstream_response_time $upstream_addr $request_id"
let jsonTemplate = #"{"time":"$time_iso8601","remote_addr":"$remote_addr","request":"$request","status":$status,"#
    + #""bytes":$body_bytes_sent,"request_time":$request_time,"upstream_time":"$upstream_response_time","#
    + #""upstream":"$upstream_addr","request_id":"$request_id","agent":"$http_user_agent"}"#

private func throughputScenario(dir: String, lines: Int, json: Bool, reuse: Bool) throws {
    let name = json ? "json" : "throughput"
    let format = json ? try LogFormat(name: "jsonlog", template: jsonTemplate, escape: .json)
                      : try LogFormat(name: "timed", template: timedTemplate)
    let workload = Workload(endpoints: 40, idsPerPathEndpoint: 2000, notMigratedPaths: 1000, distinctExtraPaths: 0)
    let main = dir + "/\(name)-access.log", migration = dir + "/\(name)-migration.log"
    let started = Date()
    let meta = dir + "/\(name)-\(lines).meta"
    let generated: LogGenerator.Result
    if reuse, let text = try? String(contentsOfFile: meta, encoding: .utf8), let migrated = Int(text) {
        generated = LogGenerator.Result(bytes: 0, migratedLines: migrated, distinctPaths: 0)
    } else {
        var generator = LogGenerator(workload: workload, json: json)
        generated = try generator.write(lines: lines, main: main, migration: migration)
        try? "\(generated.migratedLines)".write(toFile: meta, atomically: true, encoding: .utf8)
    }
    print("logs \(name): generated \(grouped(lines)) lines (\(megabytes(generated.bytes)) MiB) in \(seconds(started))")
    resetPeakRSS()
    let engine = try TrafficEngine(sources: [LogSource(path: main, role: .main, format: format),
                                             LogSource(path: migration, role: .migration, format: format)],
                                   start: .beginning, configuration: TrafficConfiguration(rules: workload.rules))
    let t0 = DispatchTime.now().uptimeNanoseconds
    let cpu0 = threadCPUSeconds()
    let bytes = engine.poll()
    let cpu = threadCPUSeconds() - cpu0
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    let snapshot = engine.snapshot(.all)
    let counted = snapshot.endpoints.reduce(0) { $0 + $1.stats.current.requests + $1.stats.new.requests }
    guard snapshot.lines == lines, counted == generated.migratedLines else {
        throw LogBenchError.mismatch("lines \(snapshot.lines) of \(lines), endpoint requests \(counted) of \(generated.migratedLines)")
    }
    let malformed = snapshot.malformedCounts.values.reduce(0, +)
    let rate = grouped(Int(Double(lines) / elapsed))
    let throughput = megabytes(Int(Double(bytes) / elapsed))
    let classifier = engine.aggregator.classifier
    let detail = "\(grouped(lines)) lines in \(String(format: "%.3f", elapsed)) s, malformed \(malformed), "
        + "cache hits \(classifier.cacheHits), misses \(classifier.cacheMisses)"
    print("logs \(name): \(rate) lines/s wall, \(grouped(Int(Double(lines) / cpu))) lines/s of CPU time on one core, "
          + "\(throughput) MiB/s (\(detail)), peak RSS \(peakRSSMiB()) MiB")
    if let busiest = snapshot.endpoints.first {
        let s = busiest.stats
        print("logs \(name): e.g. \(busiest.endpoint): current \(s.current.requests) req p95 \(s.current.p95Ms ?? -1) ms, "
              + "new \(s.new.requests) req p95 \(s.new.p95Ms ?? -1) ms, observed \(String(format: "%.2f", s.observedPercent ?? -1))%")
    }
}

private func memoryScenario(dir: String, lines: Int) throws {
    let workload = Workload(endpoints: 500, idsPerPathEndpoint: 1000, notMigratedPaths: 1000, distinctExtraPaths: 1_000_000)
    let format = try LogFormat(name: "timed", template: timedTemplate)
    let main = dir + "/memory-access.log", migration = dir + "/memory-migration.log"
    let started = Date()
    var generator = LogGenerator(workload: workload, json: false)
    let generated = try generator.write(lines: lines, main: main, migration: migration)
    print("logs memory: generated \(grouped(lines)) lines (\(megabytes(generated.bytes)) MiB, 500 endpoints, "
          + "\(grouped(generated.distinctPaths)) distinct paths) in \(seconds(started))")
    resetPeakRSS()
    let before = peakRSSMiB()
    let engine = try TrafficEngine(sources: [LogSource(path: main, role: .main, format: format),
                                             LogSource(path: migration, role: .migration, format: format)],
                                   start: .beginning, configuration: TrafficConfiguration(rules: workload.rules))
    let t0 = DispatchTime.now().uptimeNanoseconds
    let cpu0 = threadCPUSeconds()
    var total = 0
    while true {
        let read = engine.poll(maxBytesPerFile: 64 << 20)
        total += read
        if read == 0 { break }
        if total % (256 << 20) < (128 << 20) {
            for window in TrafficWindow.allCases { _ = engine.snapshot(window) }
        }
    }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    let s0 = DispatchTime.now().uptimeNanoseconds
    for window in TrafficWindow.allCases { _ = engine.snapshot(window) }
    let snapshotMs = Double(DispatchTime.now().uptimeNanoseconds - s0) / 1e6
    let snapshot = engine.snapshot(.fifteenMinutes)
    guard snapshot.lines == lines else { throw LogBenchError.mismatch("lines \(snapshot.lines) of \(lines)") }
    print("logs memory: snapshots of all four windows for 500 endpoints took \(String(format: "%.1f", snapshotMs)) ms")
    let cpu = threadCPUSeconds() - cpu0
    print("logs memory: \(grouped(Int(Double(lines) / elapsed))) lines/s wall, \(grouped(Int(Double(lines) / cpu))) lines/s CPU, peak RSS \(peakRSSMiB()) MiB (at start \(before) MiB), "
          + "statistics \(megabytes(engine.aggregator.statisticsFootprint)) MiB, cached paths \(engine.aggregator.classifier.cachedPaths), "
          + "cache resets \(engine.aggregator.classifier.cacheResets), not-migrated tracked \(engine.aggregator.trackedNotMigratedPaths)")
}

private func followScenario(dir: String) throws {
    let format = try LogFormat(name: "timed", template: timedTemplate)
    let workload = Workload(endpoints: 40, idsPerPathEndpoint: 2000, notMigratedPaths: 1000, distinctExtraPaths: 0)
    let path = dir + "/follow-access.log"
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let engine = try TrafficEngine(sources: [LogSource(path: path, role: .main, format: format)], start: .end(lookBackSeconds: nil),
                                   configuration: TrafficConfiguration(rules: workload.rules))
    let rate = 100_000, duration = 3.0
    let target = Int(Double(rate) * duration)
    let writer = Thread {
        var generator = LogGenerator(workload: workload, json: false)
        guard let file = fopen(path, "a") else { return }
        defer { fclose(file) }
        let start = DispatchTime.now().uptimeNanoseconds
        var written = 0
        var buffer: [UInt8] = []
        while written < target {
            let due = min(target, Int(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 * Double(rate)))
            if due > written {
                buffer.removeAll(keepingCapacity: true)
                for _ in written..<due { _ = generator.appendLine(to: &buffer, newService: false) }
                buffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
                fflush(file)
                written = due
            }
            usleep(2000)
        }
    }
    let t0 = DispatchTime.now().uptimeNanoseconds
    writer.start()
    var maxBehind = 0
    while Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 < duration + 2 {
        engine.poll()
        let expected = min(target, Int(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 * Double(rate)))
        maxBehind = max(maxBehind, expected - engine.aggregator.lines)
        if engine.aggregator.lines >= target { break }
        usleep(5000)
    }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    print("logs follow: writer appended \(grouped(target)) lines at \(grouped(rate)) lines/s; engine read \(grouped(engine.aggregator.lines)) "
          + "in \(String(format: "%.2f", elapsed)) s, at most \(grouped(max(0, maxBehind))) lines "
          + "(\(String(format: "%.0f", Double(max(0, maxBehind)) / Double(rate) * 1000)) ms) behind the writer")
    guard engine.aggregator.lines == target else { throw LogBenchError.mismatch("follow read \(engine.aggregator.lines) of \(target)") }
}

/// What the live scenario's writer has written so far, shared with the measuring thread.
private final class WriterProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var written = 0
    private var migrated = 0
    private var newestTime: Int64?

    func add(lines: Int, migrated count: Int, newest: Int64) {
        lock.lock()
        written += lines
        migrated += count
        newestTime = max(newestTime ?? newest, newest)
        lock.unlock()
    }

    var value: (written: Int, migrated: Int, newest: Int64?) {
        lock.lock()
        defer { lock.unlock() }
        return (written, migrated, newestTime)
    }
}

private func liveScenario(dir: String, publishAll: Bool) throws {
    let format = try LogFormat(name: "timed", template: timedTemplate)
    let workload = Workload(endpoints: 40, idsPerPathEndpoint: 2000, notMigratedPaths: 1000, distinctExtraPaths: 0)
    let main = dir + "/live-main.log", migration = dir + "/live-migration.log"
    for path in [main, migration] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    let live = try LiveTraffic(sources: [LogSource(path: main, role: .main, format: format),
                                         LogSource(path: migration, role: .migration, format: format)],
                               start: .end(lookBackSeconds: 60), configuration: TrafficConfiguration(rules: workload.rules))
    // As the dashboard starts it (Dashboard/Runtime/Session.swift).
    live.run(windows: publishAll ? TrafficWindow.allCases : [])
    let cpuStart = processCPUSeconds()
    defer { live.stop() }
    let rate = 100_000, duration = 6.0
    let progress = WriterProgress()
    let writer = Thread {
        var generator = LogGenerator(workload: workload, json: false)
        guard let mainFile = fopen(main, "a"), let migrationFile = fopen(migration, "a") else { return }
        defer { fclose(mainFile); fclose(migrationFile) }
        let start = DispatchTime.now().uptimeNanoseconds
        var written = 0
        var mainBuffer: [UInt8] = [], migrationBuffer: [UInt8] = []
        while Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < duration {
            let due = Int(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 * Double(rate))
            if due > written {
                let now = Int64(Date().timeIntervalSince1970)
                generator.wallTime = now
                mainBuffer.removeAll(keepingCapacity: true)
                migrationBuffer.removeAll(keepingCapacity: true)
                var migrated = 0
                for _ in written..<due {
                    // Each line goes to the log of the backend it picked, like nginx's two upstreams.
                    let before = mainBuffer.count
                    let outcome = generator.appendLine(to: &mainBuffer, newService: nil)
                    if outcome.migrated { migrated += 1 }
                    if outcome.newService {
                        migrationBuffer.append(contentsOf: mainBuffer[before...])
                        mainBuffer.removeSubrange(before...)
                    }
                }
                mainBuffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, mainFile) }
                migrationBuffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, migrationFile) }
                fflush(mainFile)
                fflush(migrationFile)
                progress.add(lines: due - written, migrated: migrated, newest: now)
                written = due
            }
            usleep(2000)
        }
    }
    writer.start()
    let t0 = DispatchTime.now().uptimeNanoseconds
    var worstLag = 0.0, worstRpsError = 0.0
    var tick = 1
    print("logs live: LiveTraffic.run() following two logs, writer at \(grouped(rate)) lines/s with current timestamps")
    print("   t(s)  lines behind  lag(s)  log-time lag(s)  1m req/s (sum)  true req/s")
    while Double(tick) * 0.5 <= duration + 1.5 {
        let wake = t0 + UInt64(Double(tick) * 0.5e9)
        let nowNanos = DispatchTime.now().uptimeNanoseconds
        if wake > nowNanos { usleep(useconds_t((wake - nowNanos) / 1000)) }
        let written = progress.value
        guard let snapshot = live.snapshot(.oneMinute) else {
            print(String(format: "%7.1f  (nothing published yet)", Double(tick) * 0.5))
            tick += 1
            continue
        }
        let behind = max(0, written.written - snapshot.lines)
        let lag = Double(behind) / Double(rate)
        let logLag = written.newest.map { w in snapshot.logTime.map { Double(w - $0) } ?? Double.nan } ?? 0
        let rps = snapshot.endpoints.reduce(0.0) { $0 + $1.stats.current.rps + $1.stats.new.rps }
        // The endpoints' share of the lines written, at the writer's rate (while it writes).
        let writing = Double(tick) * 0.5 < duration
        let trueRps = writing && written.written > 0 ? Double(rate) * Double(written.migrated) / Double(written.written) : 0
        print(String(format: "%7.1f  %12d  %6.2f  %15.0f  %14.0f  %10.0f", Double(tick) * 0.5, behind, lag, logLag, rps, trueRps))
        if tick >= 4 && writing {
            worstLag = max(worstLag, lag)
            worstRpsError = max(worstRpsError, abs(rps - trueRps) / max(1, trueRps))
        }
        tick += 1
    }
    if let last = live.snapshot(.oneMinute) {
        let requests = last.endpoints.reduce(0) { $0 + $1.stats.current.requests + $1.stats.new.requests }
        print("logs live: 1m window holds \(grouped(requests)) endpoint requests of \(grouped(progress.value.migrated)) written, "
              + "\(grouped(last.lines)) lines read of \(grouped(progress.value.written))")
    }
    print(String(format: "logs live: process CPU %.2f s over %.1f s (writer included), publishing %@", processCPUSeconds() - cpuStart,
                 Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, publishAll ? "every window" : "the window read (1m)"))
    print(String(format: "logs live: worst lag %.2f s (lines not yet in the published snapshot / rate), "
                 + "worst 1m req/s error %.0f%% (from 2 s on)", worstLag, worstRpsError * 100))
}

// MARK: Workload and generator

/// The endpoints, their map keys and the paths requests use.
struct Workload {
    let rules: [EndpointRule]
    let endpointPaths: [(prefix: [UInt8], idInPath: Bool, percent: Int)]
    let notMigrated: [[UInt8]]
    let distinctExtraPaths: Int
    let idsPerPathEndpoint: Int

    init(endpoints: Int, idsPerPathEndpoint: Int, notMigratedPaths: Int, distinctExtraPaths: Int) {
        var rules: [EndpointRule] = []
        var paths: [(prefix: [UInt8], idInPath: Bool, percent: Int)] = []
        let percents = [1, 10, 25, 50, 100]
        for e in 0..<endpoints {
            let name = String(format: "endpoint_%03d", e)
            switch e % 8 {
            case 0:
                rules.append(EndpointRule(endpoint: name, key: "/v1/legacy/thing_\(e)"))
                paths.append((Array("/v1/legacy/thing_\(e)".utf8), false, percents[e % 5]))
            case 1:
                rules.append(EndpointRule(endpoint: name, key: "~*^/v2/users/[0-9]+/item_\(e)$"))
                paths.append((Array("/v2/users/".utf8), true, percents[e % 5]))
            default:
                rules.append(EndpointRule(endpoint: name, key: "~^/v2/content_api/book.method_\(e)"))
                paths.append((Array("/v2/content_api/book.method_\(e)".utf8), false, percents[e % 5]))
            }
        }
        self.rules = rules
        endpointPaths = paths
        notMigrated = (0..<notMigratedPaths).map { Array("/v2/other/page_\($0 % 50)/\($0)".utf8) }
        self.distinctExtraPaths = distinctExtraPaths
        self.idsPerPathEndpoint = idsPerPathEndpoint
    }
}

/// Writes access log lines of the workload into a main and a migration log, deterministic and fast.
struct LogGenerator {
    let workload: Workload
    let json: Bool
    private var state: UInt64 = 0x2545_F491_4F6C_DD1D
    private var time: Int64 = 1_764_000_000
    private var lineInSecond = 0
    private var timeText: [UInt8] = []
    private var timeTextSecond: Int64 = -1
    private var requestID: UInt64 = 0
    private var extraPath = 0
    private(set) var distinctExtraUsed = 0
    /// Log lines per second of log time.
    let linesPerSecond = 2000
    /// When set, lines carry this second (one in 50 the second before) instead of the generated log time.
    var wallTime: Int64?

    init(workload: Workload, json: Bool) {
        self.workload = workload
        self.json = json
    }

    private mutating func random() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    private mutating func uniform() -> Double { Double(random() >> 11) / Double(1 << 53) }

    struct Result {
        var bytes = 0
        var migratedLines = 0
        var distinctPaths = 0
    }

    mutating func write(lines: Int, main: String, migration: String) throws -> Result {
        guard let mainFile = fopen(main, "w") else { throw LogBenchError.cannotWrite(main) }
        defer { fclose(mainFile) }
        guard let migrationFile = fopen(migration, "w") else { throw LogBenchError.cannotWrite(migration) }
        defer { fclose(migrationFile) }
        var result = Result()
        var mainBuffer: [UInt8] = [], migrationBuffer: [UInt8] = []
        mainBuffer.reserveCapacity(1 << 20 + 4096)
        migrationBuffer.reserveCapacity(1 << 20 + 4096)
        for _ in 0..<lines {
            // Decide the backend inside appendLine; it reports which buffer the line belongs in.
            var line: [UInt8] = []
            swap(&line, &mainBuffer)
            let before = line.count
            let outcome = appendLine(to: &line, newService: nil)
            if outcome.migrated { result.migratedLines += 1 }
            if outcome.newService {
                migrationBuffer.append(contentsOf: line[before...])
                line.removeSubrange(before...)
            }
            swap(&line, &mainBuffer)
            for (buffer, file) in [(0, mainFile), (1, migrationFile)] {
                let count = buffer == 0 ? mainBuffer.count : migrationBuffer.count
                if count >= 1 << 20 {
                    if buffer == 0 {
                        mainBuffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
                        mainBuffer.removeAll(keepingCapacity: true)
                    } else {
                        migrationBuffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
                        migrationBuffer.removeAll(keepingCapacity: true)
                    }
                    result.bytes += count
                }
            }
        }
        mainBuffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, mainFile) }
        migrationBuffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, migrationFile) }
        result.bytes += mainBuffer.count + migrationBuffer.count
        result.distinctPaths = workload.endpointPaths.count + workload.notMigrated.count + distinctExtraUsed
            + workload.endpointPaths.filter(\.idInPath).count * workload.idsPerPathEndpoint
        return result
    }

    /// Appends one line; `newService` nil lets the endpoint's percent decide.
    mutating func appendLine(to out: inout [UInt8], newService: Bool?) -> (migrated: Bool, newService: Bool) {
        lineInSecond += 1
        if lineInSecond >= linesPerSecond {
            lineInSecond = 0
            time += 1
        }
        // Workers flush slightly out of order: one line in 50 carries the previous second.
        let lineTime = random() % 50 == 0 ? (wallTime ?? time) - 1 : (wallTime ?? time)
        var path: [UInt8]
        var query: [UInt8] = []
        var migrated = false
        var percent = 0
        let pick = random() % 100
        if pick < 80 {
            let e = Int(random() % UInt64(workload.endpointPaths.count))
            let endpoint = workload.endpointPaths[e]
            path = endpoint.prefix
            if endpoint.idInPath {
                path += Array("\(random() % UInt64(workload.idsPerPathEndpoint))/item_\(e)".utf8)
            } else {
                query = Array("?book_id=\(random() % 100_000)&lang=en".utf8)
            }
            migrated = true
            percent = endpoint.percent
        } else if pick < 90 || workload.distinctExtraPaths == 0 {
            // Skewed like real traffic: the square of a uniform favours the first paths.
            let u = uniform()
            path = workload.notMigrated[min(workload.notMigrated.count - 1, Int(u * u * Double(workload.notMigrated.count)))]
            query = Array("?page=\(random() % 10)".utf8)
        } else {
            path = Array("/v3/unlisted/item/\(extraPath)".utf8)
            extraPath += 1
            if extraPath >= workload.distinctExtraPaths { extraPath = 0 }
            distinctExtraUsed = min(workload.distinctExtraPaths, distinctExtraUsed + 1)
        }
        let isNew = newService ?? (migrated && Int(random() % 100) < percent)
        let statusRoll = random() % 1000
        let status = statusRoll < 940 ? 200 : statusRoll < 955 ? 304 : statusRoll < 985 ? 404 : (isNew ? 502 : 500)
        var latency = Int(-log(max(1e-12, uniform())) * (isNew ? 30 : 45)) + 2
        if random() % 500 == 0 { latency *= 20 }
        requestID &+= 0x9E37_79B9_7F4A_7C15
        let upstream = isNew ? "127.0.0.1:9000" : "127.0.0.1:8000"
        if json {
            appendJSON(&out, time: lineTime, path: path, query: query, status: status, latency: latency, upstream: upstream)
        } else {
            appendTimed(&out, time: lineTime, path: path, query: query, status: status, latency: latency, upstream: upstream)
        }
        return (migrated, isNew)
    }

    private mutating func appendTimed(_ out: inout [UInt8], time: Int64, path: [UInt8], query: [UInt8], status: Int,
                                      latency: Int, upstream: String) {
        out += Array("10.0.\(random() % 256).\(random() % 256) - - [".utf8)
        out += localTime(time)
        out += Array("] \"GET ".utf8)
        out += path
        out += query
        out += Array(" HTTP/1.1\" \(status) \(random() % 20_000) \"-\" \"Mozilla/5.0 (X11; Linux x86_64) bench\" ".utf8)
        appendMillis(&out, latency)
        out.append(0x20)
        appendMillis(&out, max(0, latency - 1))
        out += Array(" \(upstream) ".utf8)
        appendHex(&out, requestID)
        out.append(0x0A)
    }

    private mutating func appendJSON(_ out: inout [UInt8], time: Int64, path: [UInt8], query: [UInt8], status: Int,
                                     latency: Int, upstream: String) {
        out += Array("{\"time\":\"".utf8)
        out += isoTime(time)
        out += Array("\",\"remote_addr\":\"10.0.\(random() % 256).\(random() % 256)\",\"request\":\"GET ".utf8)
        out += path
        out += query
        out += Array(" HTTP/1.1\",\"status\":\(status),\"bytes\":\(random() % 20_000),\"request_time\":".utf8)
        appendMillis(&out, latency)
        out += Array(",\"upstream_time\":\"".utf8)
        appendMillis(&out, max(0, latency - 1))
        out += Array("\",\"upstream\":\"\(upstream)\",\"request_id\":\"".utf8)
        appendHex(&out, requestID)
        out += Array("\",\"agent\":\"Mozilla/5.0 \\\"bench\\\" \\u00e9\"}\n".utf8)
    }

    private func appendMillis(_ out: inout [UInt8], _ ms: Int) {
        out += Array("\(ms / 1000).".utf8)
        let frac = ms % 1000
        out.append(UInt8(48 + frac / 100))
        out.append(UInt8(48 + frac / 10 % 10))
        out.append(UInt8(48 + frac % 10))
    }

    private func appendHex(_ out: inout [UInt8], _ value: UInt64) {
        let digits = Array("0123456789abcdef".utf8)
        for shift in stride(from: 60, through: 0, by: -4) { out.append(digits[Int((value >> UInt64(shift)) & 0xF)]) }
        for shift in stride(from: 60, through: 0, by: -4) { out.append(digits[Int(((value &* 31) >> UInt64(shift)) & 0xF)]) }
    }

    private mutating func civil(_ time: Int64) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let days = Int(time / 86_400), rest = Int(time % 86_400)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, rest / 3600, rest / 60 % 60, rest % 60)
    }

    private mutating func localTime(_ time: Int64) -> [UInt8] {
        if time == timeTextSecond, !json { return timeText }
        let c = civil(time)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let text = Array(String(format: "%02d/%@/%04d:%02d:%02d:%02d +0000", c.day, months[c.month - 1], c.year, c.hour, c.minute, c.second).utf8)
        timeText = text
        timeTextSecond = time
        return text
    }

    private mutating func isoTime(_ time: Int64) -> [UInt8] {
        if time == timeTextSecond, json { return timeText }
        let c = civil(time)
        let text = Array(String(format: "%04d-%02d-%02dT%02d:%02d:%02d+00:00", c.year, c.month, c.day, c.hour, c.minute, c.second).utf8)
        timeText = text
        timeTextSecond = time
        return text
    }
}

// MARK: Measurement helpers

func grouped(_ value: Int) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.groupingSeparator = ","
    return formatter.string(from: NSNumber(value: value)) ?? "\(value)"
}

func megabytes(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }

func seconds(_ since: Date) -> String { String(format: "%.1f s", Date().timeIntervalSince(since)) }

/// CPU seconds used by the calling thread (user and system), unaffected by other processes on a busy machine.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Resets the kernel's peak-RSS mark of this process (`/proc/self/clear_refs`, value 5).
/// CPU seconds (user and system) used by the whole process so far.
func processCPUSeconds() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func resetPeakRSS() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

/// The peak resident set size in MiB (`VmHWM` in `/proc/self/status`).
func peakRSSMiB() -> String {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return "?" }
    return String(format: "%.1f", kb / 1024)
}
