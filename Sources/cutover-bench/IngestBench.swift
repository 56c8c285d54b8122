import AccessLog
import Dashboard
import Foundation
import NginxConfig
import Rollout
import Settings
import SyslogListener
import TerminalUI
import TrafficStats

/// `cutover-bench ingest`: 20 TCP senders at a total of 200,000 syslog lines/s into the listener on 127.0.0.1,
/// read by the dashboard's own session (the listener, `LiveTraffic`, `App.step` on a test backend): lines lost,
/// lines/s sustained, memory at the start and the end, and key-to-screen latency measured meanwhile.
func runIngestBenchmark(_ arguments: [String]) throws {
    var senders = 20, rate = 200_000, duration = 20.0
    var index = 0
    while index < arguments.count {
        let value = index + 1 < arguments.count ? arguments[index + 1] : ""
        switch arguments[index] {
        case "--senders": senders = max(1, Int(value) ?? senders); index += 1
        case "--rate": rate = max(1, Int(value) ?? rate); index += 1
        case "--seconds": duration = max(1, Double(value) ?? duration); index += 1
        default: throw BenchError("unknown option \(arguments[index]); use --senders N, --rate LINES_PER_S, --seconds S")
        }
        index += 1
    }
    let dir = NSTemporaryDirectory() + "cutover-bench-ingest-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let hosts = (1...5).map { "edge\($0)" }
    let endpoints = (0..<20).map { "/v2/api/e\($0)" }
    let port = try freeTCPPort()
    let configPath = dir + "/routing.conf"
    try IngestConfig.text(endpoints: endpoints, syslogPort: port).write(toFile: configPath, atomically: true, encoding: .utf8)
    let settings = try Settings.parse("""
        config: \(configPath)
        journal: \(dir)/journal.jsonl
        hosts:
        \(hosts.map { "  - {name: \($0)}" }.joined(separator: "\n"))
        logs:
          syslog: 127.0.0.1:\(port)

        """, file: dir + "/cutover.yaml")

    // The executable's wiring (Sources/cutover/WatchCommand.swift): listener, then the dashboard session on it.
    let model = Discovery.discover(try ConfigSet.load(path: configPath))
    let plan = LogPlan.syslogRoles(model: model, listen: settings.syslog)
    let inbox = SyslogInbox(router: settings.syslogRouter(plan: plan))
    let listener = try SyslogListener(address: "127.0.0.1:\(port)", inbox: inbox)
    try listener.start()
    defer { listener.stop() }
    var options = WatchOptions(config: configPath, readOnly: true)
    options.preflight = []
    options.syslog = SyslogSources(inbox: inbox, mainFormat: plan.formats[.main] ?? .combined, migrationFormat: plan.formats[.migration] ?? .combined)
    let session = try DashboardSession.watch(settings: settings, options: options, clock: .system)
    guard let traffic = session.traffic else { throw BenchError("the session has no traffic source") }
    traffic.run()
    defer { traffic.stop() }
    let backend = TestBackend(width: 120, height: 40)
    session.app.attach(backend)
    let clockStart = DispatchTime.now().uptimeNanoseconds
    func monotonic() -> Duration { .nanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - clockStart)) }
    for _ in 0..<20 { session.app.step(now: monotonic()); usleep(5_000) }
    let rssStart = currentRSSMiB()

    print("ingest: \(senders) TCP senders, \(thousands(rate)) lines/s in total for \(Int(duration)) s, \(hosts.count) hosts, \(endpoints.count) endpoints, to 127.0.0.1:\(port)")
    let sent = SentCounter()
    let perSender = Double(rate) / Double(senders)
    let sendSeconds = duration
    let stop = StopFlag()
    var threads: [Thread] = []
    for s in 0..<senders {
        let thread = Thread {
            do {
                try IngestSender(index: s, host: hosts[s % hosts.count], endpoints: endpoints, port: port)
                    .run(rate: perSender, duration: sendSeconds, sent: sent, stop: stop)
            } catch {
                FileHandle.standardError.write(Data("sender \(s): \(error)\n".utf8))
                stop.set()
            }
        }
        thread.name = "sender-\(s)"
        threads.append(thread)
    }
    let t0 = Date()
    for thread in threads { thread.start() }

    // Meanwhile: a key every 100 ms through App.step, timed from the key to the frame being drawn.
    var latencies: [Double] = []
    var keys = 0
    var rssMax = rssStart
    let keySequence: [Key] = [.char("j"), .char("j"), .char("k"), .char("s"), .char("7"), .char("1"), .char("H"), .char("k")]
    while Date().timeIntervalSince(t0) < duration + 0.5 {
        let tick = Date()
        if keys % 10 == 0 { rssMax = max(rssMax, currentRSSMiB()) }
        backend.enqueue(keySequence[keys % keySequence.count])
        let before = backend.flushCount
        let k0 = DispatchTime.now().uptimeNanoseconds
        session.app.step(now: monotonic())
        let k1 = DispatchTime.now().uptimeNanoseconds
        if backend.flushCount > before { latencies.append(Double(k1 - k0) / 1e6) }
        keys += 1
        // The loop's other turns: the event loop steps about every 10 ms.
        while Date().timeIntervalSince(tick) < 0.1 {
            usleep(10_000)
            session.app.step(now: monotonic())
        }
    }
    stop.set()
    for thread in threads { while !thread.isFinished { usleep(1_000) } }
    let sentSeconds = Date().timeIntervalSince(t0)
    let total = sent.value
    // Every line sent over TCP must reach the figures: wait (bounded) for the ingest to catch up.
    let drainStart = Date()
    var aggregated = 0
    while Date().timeIntervalSince(drainStart) < 60 {
        session.app.step(now: monotonic())
        aggregated = traffic.snapshot(.all)?.lines ?? 0
        if aggregated >= total { break }
        usleep(50_000)
    }
    let drain = Date().timeIntervalSince(drainStart)
    let snapshot = traffic.snapshot(.all)
    let counters = inbox.counters
    let rssEnd = currentRSSMiB()
    latencies.sort()
    func pct(_ p: Double) -> Double { latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count - 1) * p))] }
    print("  sent          \(thousands(total)) lines in \(String(format: "%.1f", sentSeconds)) s = \(thousands(Int(Double(total) / sentSeconds))) lines/s offered")
    print("  aggregated    \(thousands(aggregated)) lines; lost over TCP: \(total - min(total, aggregated)); the ingest caught up \(String(format: "%.2f", drain)) s after the senders stopped")
    print("  sustained     \(thousands(Int(Double(aggregated) / (sentSeconds + drain)))) lines/s through listener, parser and aggregator")
    print("  syslog        received \(thousands(counters.received)) (tcp \(thousands(counters.tcp))), malformed \(counters.malformed), unknown hosts \(counters.unknownHostMessages), overflow \(counters.overflow)")
    print("  per host      " + (snapshot?.hosts.map { "\($0.name) \(thousands($0.requests))" }.joined(separator: " · ") ?? "-"))
    print("  memory        RSS \(String(format: "%.1f", rssStart)) MiB at the start, \(String(format: "%.1f", rssMax)) MiB max while sending, \(String(format: "%.1f", rssEnd)) MiB at the end")
    print("  key-to-screen \(latencies.count) keys while ingesting: median \(String(format: "%.1f", pct(0.5))) ms, p90 \(String(format: "%.1f", pct(0.9))) ms, p99 \(String(format: "%.1f", pct(0.99))) ms, max \(String(format: "%.1f", latencies.last ?? .nan)) ms")
    if total != aggregated { throw BenchError("\(total - aggregated) of \(total) lines sent over TCP did not reach the figures") }
}

/// One TCP sender: paces newline-framed syslog messages (as a relay forwards nginx's) in 10 ms slices.
struct IngestSender {
    let index: Int
    let host: String
    let endpoints: [String]
    let port: Int

    func run(rate: Double, duration: Double, sent: SentCounter, stop: StopFlag) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw BenchError("connect: \(String(cString: strerror(errno)))") }
        let start = DispatchTime.now().uptimeNanoseconds
        var written = 0
        var block: [UInt8] = []
        var blockSecond: Int64 = -1
        var seq = 0
        while !stop.isSet {
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            guard elapsed < duration else { break }
            let due = Int(elapsed * rate)
            if due > written {
                let now = Int64(Date().timeIntervalSince1970)
                if now != blockSecond {
                    blockSecond = now
                    block = message(time: now, count: 64, seq: &seq)
                }
                // Whole blocks of 64 lines, as many as are due.
                var lines = 0
                while written + lines < due {
                    var offset = 0
                    while offset < block.count {
                        let n = block.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                        guard n > 0 else { throw BenchError("write: \(String(cString: strerror(errno)))") }
                        offset += n
                    }
                    lines += 64
                }
                written += lines
                sent.add(lines)
            }
            usleep(10_000)
        }
    }

    /// `count` newline-framed messages of the current second, over the endpoints, a quarter to the new service.
    func message(time: Int64, count: Int, seq: inout Int) -> [UInt8] {
        var out: [UInt8] = []
        let stamp = IngestConfig.timeLocal(time)
        for i in 0..<count {
            seq &+= 1
            let endpoint = endpoints[(seq &* 7 &+ index) % endpoints.count]
            let new = (seq + i) % 4 == 0
            let tag = new ? "cutover_migration" : "cutover_main"
            let status = seq % 500 == 0 ? 502 : 200
            let line = "<190>Dec  1 00:00:00 \(host) \(tag): 10.0.\(index).\(i % 250) - - [\(stamp)] \"GET \(endpoint)?id=\(seq) HTTP/1.1\" \(status) 512 \"-\" \"bench\" 0.0\(seq % 10)\(i % 10) 0.0\(seq % 10)\(i % 10) 127.0.0.1:\(new ? 9001 : 9000) \(index)-\(seq)\n"
            out.append(contentsOf: line.utf8)
        }
        return out
    }
}

/// The routing config of the ingest benchmark: 20 endpoints in the reference pattern, both logs by syslog.
enum IngestConfig {
    static func text(endpoints: [String], syslogPort: Int) -> String {
        let targets = endpoints.map { "    \($0) \"/new\($0)\";" }.joined(separator: "\n")
        let members = endpoints.enumerated().map { "    \($0.element) \"$group\($0.offset % 2 + 1)_routing\";" }.joined(separator: "\n")
        return """
            log_format timed '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                             '"$http_referer" "$http_user_agent" $request_time $upstream_response_time $upstream_addr $request_id';
            upstream app_server { server 127.0.0.1:9000; }
            upstream golang_backend { server 127.0.0.1:9001; }
            map $uri $target_path {
            \(targets)
            }
            map $target_path $is_migratable { "" 0; default 1; }
            split_clients "${request_id}" $group1_routing { 25% "new_service"; * "current_service"; }
            split_clients "${request_id}" $group2_routing { 25% "new_service"; * "current_service"; }
            map $uri $split_group {
            \(members)
            }
            map $is_migratable $api_routing { 0 "current_service"; 1 $split_group; }
            server {
                listen 127.0.0.1:8080;
                access_log syslog:server=127.0.0.1:\(syslogPort),tag=cutover_main timed;
                location ~ ^/v2/(.*)$ {
                    if ($api_routing = "new_service") { set $api_path $target_path; rewrite ^ /internal_new_service_proxy last; }
                    proxy_pass http://app_server;
                }
                location = /internal_new_service_proxy {
                    internal;
                    rewrite ^ $api_path break;
                    proxy_pass http://golang_backend;
                    access_log syslog:server=127.0.0.1:\(syslogPort),tag=cutover_migration timed;
                }
            }

            """
    }

    /// `01/Dec/2026:00:00:00 +0000` for a Unix second (UTC).
    static func timeLocal(_ time: Int64) -> String {
        var t = time_t(time)
        var parts = tm()
        gmtime_r(&t, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return String(format: "%02d/%@/%04d:%02d:%02d:%02d +0000", parts.tm_mday, months[Int(parts.tm_mon)], Int(parts.tm_year) + 1900,
                      parts.tm_hour, parts.tm_min, parts.tm_sec)
    }
}

/// Lines sent by all senders.
final class SentCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) { lock.lock(); count += n; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

/// Tells the senders to stop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    func set() { lock.lock(); stopped = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
}

/// The resident set size now, in MiB (`VmRSS` of `/proc/self/status`).
func currentRSSMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return .nan }
    return kb / 1024
}

/// A free TCP port on 127.0.0.1 (bound to port 0, read back, closed).
func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { throw BenchError("bind: \(String(cString: strerror(errno)))") }
    _ = withUnsafeMutablePointer(to: &address) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// 1234567 as `1,234,567`.
func thousands(_ value: Int) -> String {
    let digits = String(value)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0, c != "-" { out.append(",") }
        out.append(c)
    }
    return out
}

