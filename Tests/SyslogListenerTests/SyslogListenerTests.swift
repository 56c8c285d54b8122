import AccessLog
import Foundation
import NginxConfig
import Rollout
import Settings
import SyslogListener
import TestSupport
import Testing
import TrafficStats
#if canImport(Glibc)
import Glibc
#endif

private func frame(_ text: String) -> (SyslogFrame?, host: String, tag: String, message: String) {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { b in
        guard case .success(let f) = SyslogFrame.parse(b) else { return (nil, "", "", "") }
        func s(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        return (f, s(f.hostname), s(f.tag), s(f.message))
    }
}

@Suite struct SyslogFramingTests {
    @Test func readsTheHeaderNginxWrites() {
        // ngx_syslog_add_header: "<%ui>%V %V %V: " with the time as "%s %2d %02d:%02d:%02d".
        let r = frame(#"<190>Dec  1 23:05:09 edge1 cutover_main: 127.0.0.1 - - [01/Dec/2026:23:05:09 +0000] "GET / HTTP/1.1" 200 5"#)
        #expect(r.host == "edge1")
        #expect(r.tag == "cutover_main")
        #expect(r.message == #"127.0.0.1 - - [01/Dec/2026:23:05:09 +0000] "GET / HTTP/1.1" 200 5"#)
    }

    @Test func readsNohostnameRelayPidsAndRFC5424() {
        let none = frame("<190>Dec 11 01:02:03 nginx: line one")
        #expect(none.host == "" && none.tag == "nginx" && none.message == "line one")
        let relayed = frame("<13>Jan  2 03:04:05 edge2.example.com cutover_migration[123]: a b c\n")
        #expect(relayed.host == "edge2.example.com" && relayed.tag == "cutover_migration" && relayed.message == "a b c")
        let modern = frame(#"<165>1 2026-12-01T23:05:09.003Z edge3 cutover_main - - [x@1 a="\]"][y@2] the line"#)
        #expect(modern.host == "edge3" && modern.tag == "cutover_main" && modern.message == "the line")
        let nilFields = frame("<165>1 2026-12-01T23:05:09Z - - - - - msg")
        #expect(nilFields.host == "" && nilFields.tag == "" && nilFields.message == "msg")
    }

    @Test func rejectsWhatIsNoSyslogMessage() {
        #expect(frame("GET / HTTP/1.1").0 == nil)
        #expect(frame("<12345>x").0 == nil)
        #expect(frame("<13>Dec  1 23:05:09 lonelytoken").0 == nil)
    }

    @Test func tcpFramerSplitsOctetCountedAndNewlineFramesAcrossReads() {
        let messages = ["<13>Dec  1 00:00:00 h t: one", "<13>Dec  1 00:00:00 h t: two with\nnewline inside", "<13>Dec  1 00:00:00 h t: three"]
        // Octet counting keeps an embedded newline; newline framing ends at the newline.
        var stream = ""
        stream += "\(messages[0].utf8.count) \(messages[0])"
        stream += "\(messages[1].utf8.count) \(messages[1])"
        stream += messages[2] + "\n" + messages[0] + "\n"
        let bytes = Array(stream.utf8)
        for cut in [1, 7, 29, 30, 31, bytes.count / 2, bytes.count - 1] {
            var framer = SyslogStreamFramer()
            var got: [String] = []
            bytes[..<cut].withUnsafeBytes { b in framer.feed(b) { got.append(String(decoding: $0, as: UTF8.self)) } }
            bytes[cut...].withUnsafeBytes { b in framer.feed(b) { got.append(String(decoding: $0, as: UTF8.self)) } }
            framer.finish { got.append(String(decoding: $0, as: UTF8.self)) }
            #expect(got == [messages[0], messages[1], messages[2], messages[0]], "cut at \(cut)")
        }
    }

    @Test func tcpFramerCutsOversizedFramesAndCountsThem() {
        var framer = SyslogStreamFramer(maxMessage: 16)
        var got: [String] = []
        let long = String(repeating: "x", count: 40)
        let text = "\(long.utf8.count) \(long)" + "<1>h t: ok\n" + long + "\n" + "<1>h t: after\n"
        Array(text.utf8).withUnsafeBytes { b in framer.feed(b) { got.append(String(decoding: $0, as: UTF8.self)) } }
        #expect(got == [String(repeating: "x", count: 16), "<1>h t: ok", String(repeating: "x", count: 16), "<1>h t: after"])
        #expect(framer.oversized == 2)
    }
}

@Suite struct SyslogRoutingTests {
    static let config = """
        log_format timed '$remote_addr [$time_local] "$request" $status $request_time';
        map $uri $target_path { /v2/a "/new/a"; }
        map $target_path $is_migratable { "" 0; default 1; }
        split_clients "${request_id}" $group1_routing { 50% "new_service"; * "current_service"; }
        map $uri $split_group { /v2/a "$group1_routing"; }
        map $is_migratable $api_routing { 0 "current_service"; 1 $split_group; }
        server {
            listen 80;
            access_log /var/log/nginx/main.log timed;
            access_log syslog:server=10.0.0.5:5514,tag=edge_main timed;
            location ~ ^/v2/ {
                if ($api_routing = "new_service") { rewrite ^ /internal_new last; }
            }
            location = /internal_new {
                internal;
                access_log /var/log/nginx/migration.log timed;
                access_log syslog:server=10.0.0.5:5514,tag=edge_new,severity=info timed;
            }
        }
        """

    @Test func tagsComeFromEachAccessLogAndFileLogsStayFiles() throws {
        let set = try ConfigSet.fromTexts([("/etc/nginx/routing.conf", Self.config)])
        let model = Discovery.discover(set)
        #expect(model.mainLog?.path == "/var/log/nginx/main.log")
        #expect(model.migrationLog?.path == "/var/log/nginx/migration.log")
        #expect(model.mainSyslogLogs.map(\.path) == ["syslog:server=10.0.0.5:5514,tag=edge_main"])
        let plan = LogPlan.syslogRoles(model: model, listen: "0.0.0.0:5514")
        #expect(plan.tags == ["edge_main": .main, "edge_new": .migration])
        #expect(plan.problems.isEmpty, "\(plan.problems)")
        #expect(plan.formats[.main]?.name == "timed")
        // The file plan never tries to open a syslog destination.
        let files = LogPlan.plan(model: model, mainLogs: [], migrationLogs: [], prefix: "/", fileExists: { _ in true })
        #expect(files.sources.map(\.path) == ["/var/log/nginx/main.log", "/var/log/nginx/migration.log"])
    }

    @Test func syslogParametersAreReadWithNginxsRules() throws {
        let d = try #require(try SyslogDestination.parse("syslog:server=[::1]:5514,facility=local7,tag=cut_1,nohostname"))
        #expect(d.address == "::1" && d.port == 5514 && d.tag == "cut_1" && d.nohostname && d.facility == "local7")
        let plain = try #require(try SyslogDestination.parse("syslog:server=127.0.0.1"))
        #expect(plain.port == 514 && plain.tag == "nginx" && !plain.tagGiven)
        #expect(throws: SyslogDestinationError.self) { try SyslogDestination.parse("syslog:server=a:1,tag=bad-tag") }
        #expect(throws: SyslogDestinationError.self) { try SyslogDestination.parse("syslog:tag=x") }
        #expect(throws: SyslogDestinationError.self) { try SyslogDestination.parse("syslog:server=a:1,bogus") }
        #expect(try SyslogDestination.parse("/var/log/x.log") == nil)
    }

    @Test func aRoleWithoutASyslogDirectiveGetsTheRecommendedTagAndAWarning() throws {
        let text = Self.config.replacingOccurrences(of: "access_log syslog:server=10.0.0.5:5514,tag=edge_new,severity=info timed;", with: "")
        let model = Discovery.discover(try ConfigSet.fromTexts([("/etc/nginx/routing.conf", text)]))
        let plan = LogPlan.syslogRoles(model: model, listen: "0.0.0.0:5514")
        #expect(plan.tags["cutover_migration"] == .migration)
        #expect(plan.problems.contains { $0.message.contains("migration log is not shipped by syslog") })
        // The same tag on both logs cannot tell them apart: an error.
        let same = Self.config.replacingOccurrences(of: "tag=edge_new", with: "tag=edge_main")
        let clash = LogPlan.syslogRoles(model: Discovery.discover(try ConfigSet.fromTexts([("/r.conf", same)])), listen: "x:1")
        #expect(clash.problems.contains { $0.severity == .error && $0.message.contains("both shipped with tag=edge_main") })
    }

    @Test func hostnamesMatchNamesSyslogNamesAndFirstLabelsAndUnknownOnesAreCounted() throws {
        let settings = try Settings.parse("""
            hosts:
              - {name: edge1}
              - {name: edge2, syslog_name: ip-10-0-0-7}
            logs:
              syslog: 127.0.0.1:5514
            """, file: "cutover.yaml")
        var plan = SyslogPlan()
        plan.tags = ["cutover_main": .main, "cutover_migration": .migration]
        let router = settings.syslogRouter(plan: plan)
        #expect(router.host("edge1") == 0)
        #expect(router.host("EDGE1.example.com") == 0)
        #expect(router.host("ip-10-0-0-7") == 1)
        #expect(router.host("edge2") == 1)
        #expect(router.host("edge9") == nil)
        var batch = SyslogBatch(streams: 4)
        for text in ["<1>Dec  1 00:00:00 edge2 cutover_migration: L1", "<1>Dec  1 00:00:00 edge9 cutover_main: L2",
                     "<1>Dec  1 00:00:00 edge1 other_tag: L3", "garbage", "<1>Dec  1 00:00:00 ip-10-0-0-7 cutover_main: L4"] {
            Array(text.utf8).withUnsafeBytes { batch.add($0, transport: .udp, router: router) }
        }
        let inbox = SyslogInbox(router: router)
        inbox.deliver(&batch, transport: .udp)
        var streams: [Int: String] = [:]
        inbox.drain { stream, lines in streams[stream] = String(decoding: lines, as: UTF8.self) }
        #expect(streams == [3: "L1\n", 2: "L4\n"])
        let c = inbox.counters
        #expect(c.received == 5 && c.malformed == 1 && c.unknownHosts == ["edge9": 1] && c.unknownTags == ["other_tag": 1])
        // Without hosts:, one local nginx: every hostname counts for it.
        let single = try Settings.parse("logs:\n  syslog: 127.0.0.1:5514\n", file: "cutover.yaml").syslogRouter(plan: plan)
        #expect(single.host("anything") == 0)
    }

    @Test func hostPlaceholderPathsBecomeOneFilePerHost() throws {
        let model = Discovery.discover(try ConfigSet.fromTexts([("/etc/nginx/routing.conf", Self.config)]))
        let plan = LogPlan.plan(model: model, mainLogs: ["/var/log/edge/{host}/access.log"], migrationLogs: [], prefix: "/",
                                hosts: ["edge1", "edge2"], fileExists: { _ in true })
        let main = plan.sources.filter { $0.role == .main }
        #expect(main.map(\.path) == ["/var/log/edge/edge1/access.log", "/var/log/edge/edge2/access.log"])
        #expect(main.map(\.host) == ["edge1", "edge2"])
        let none = LogPlan.plan(model: model, mainLogs: ["/var/log/{host}.log"], migrationLogs: [], prefix: "/", hosts: [], fileExists: { _ in true })
        #expect(none.problems.contains { $0.severity == .error && $0.message.contains("lists no hosts") })
    }
}

@Suite struct HostFigureTests {
    static let format = try! LogFormat(name: "t", template: #"$remote_addr [$time_local] "$request" $status $request_time"#, escape: .default)

    static func line(_ time: Int64, _ path: String, status: Int = 200) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(time))
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "dd/MMM/yyyy:HH:mm:ss Z"
        return "127.0.0.1 [\(f.string(from: date))] \"GET \(path) HTTP/1.1\" \(status) 0.001"
    }

    @Test func hostFilesCountPerHostAndPerEndpointAndLagFollowsTheNewestLine() throws {
        let dir = try TempDir(prefix: "cutover-hosts")
        let t0: Int64 = 1_800_000_000
        try dir.write("edge1-main.log", (0..<5).map { Self.line(t0 + Int64($0), "/v2/a") + "\n" }.joined() + Self.line(t0 + 5, "/other") + "\n")
        try dir.write("edge2-main.log", Self.line(t0, "/v2/a", status: 502) + "\n")
        try dir.write("edge1-migration.log", (0..<3).map { Self.line(t0 + Int64($0), "/v2/a") + "\n" }.joined())
        try dir.write("edge2-migration.log", "")
        var configuration = TrafficConfiguration(rules: [EndpointRule(endpoint: "/v2/a", key: "/v2/a")])
        configuration.hosts = ["edge1", "edge2"]
        let names: [String] = ["edge1", "edge2"]
        let sources = names.flatMap { (h: String) -> [LogSource] in
            [LogSource(path: dir.file("\(h)-main.log"), role: .main, format: Self.format, host: h),
             LogSource(path: dir.file("\(h)-migration.log"), role: .migration, format: Self.format, host: h)]
        }
        let engine = try TrafficEngine(sources: sources, start: .beginning, configuration: configuration, wallClock: { t0 + 65 })
        while engine.poll() > 0 {}
        let snapshot = engine.snapshot(.all)
        #expect(snapshot.lines == 10, "\(snapshot.malformed)")
        #expect(snapshot.hosts.map(\.name) == ["edge1", "edge2"])
        #expect(snapshot.hosts.map(\.requests) == [9, 1])
        #expect(snapshot.hosts.map(\.s5xx) == [0, 1])
        #expect(snapshot.hosts.map(\.lagSeconds) == [60, 65])
        #expect(snapshot.endpoints[0].byHost == [HostSplit(current: 5, new: 3), HostSplit(current: 1, new: 0)])
    }

    @Test func aHostStillSendingToTheNewServiceAfterARollbackIsNamed() throws {
        let router = SyslogRouter(hosts: [("edge1", []), ("edge2", [])], tags: ["m": .main, "n": .migration])
        let inbox = SyslogInbox(router: router)
        var configuration = TrafficConfiguration(rules: [EndpointRule(endpoint: "/v2/a", key: "/v2/a")])
        configuration.hosts = router.hosts
        let t0: Int64 = 1_800_000_000
        let engine = try TrafficEngine(sources: [], start: .beginning, configuration: configuration, wallClock: { t0 + 30 },
                                       syslog: SyslogSources(inbox: inbox, mainFormat: Self.format, migrationFormat: Self.format))
        engine.noteRoutingChange(RoutingChange(endpoint: "/v2/a", time: t0 + 10, rollback: true))
        var batch = inbox.makeBatch()
        func send(_ host: String, _ tag: String, _ time: Int64) {
            Array("<1>Dec  1 00:00:00 \(host) \(tag): \(Self.line(time, "/v2/a"))".utf8).withUnsafeBytes { batch.add($0, transport: .tcp, router: router) }
        }
        // Both hosts served the new service before the rollback and within its grace; only edge2 goes on.
        for t in [t0, t0 + 11, t0 + 12] { send("edge1", "n", t); send("edge2", "n", t) }
        for t in [t0 + 16, t0 + 18, t0 + 20] { send("edge2", "n", t); send("edge1", "m", t) }
        inbox.deliver(&batch, transport: .tcp)
        while engine.poll() > 0 {}
        let snapshot = engine.snapshot(.all)
        #expect(snapshot.endpoints[0].lingeringHosts == [LingeringHost(name: "edge2", requests: 3)])
        #expect(snapshot.endpoints[0].byHost == [HostSplit(current: 3, new: 3), HostSplit(current: 0, new: 6)])
        #expect(snapshot.syslog?.tcp == 12)
    }
}

@Suite struct SyslogListenerSocketTests {
    static func router() -> SyslogRouter { SyslogRouter(hosts: [("edge1", []), ("edge2", [])], tags: ["m": .main, "n": .migration]) }

    @Test func receivesOverUDPAndTCPOnOnePort() throws {
        let inbox = SyslogInbox(router: Self.router())
        let listener = try SyslogListener(address: "127.0.0.1:0", inbox: inbox)
        try listener.start()
        defer { listener.stop() }
        let port = listener.port
        #expect(port > 0)
        // UDP, one message per datagram, as nginx sends.
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(udp) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        for i in 0..<10 {
            let message = Array("<190>Dec  1 23:05:09 edge1 m: udp \(i)".utf8)
            _ = withUnsafePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(udp, message, message.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        // TCP: octet counted and newline framed on one connection.
        let tcp = try HTTPTestClient.connect(port: port)
        let m1 = "<13>Dec  1 23:05:09 edge2 n: tcp one"
        let payload = Array(("\(m1.utf8.count) \(m1)" + "<13>Dec  1 23:05:09 edge2 m: tcp two\n").utf8)
        _ = payload.withUnsafeBytes { write(tcp, $0.baseAddress, $0.count) }
        close(tcp)
        var got: [Int: [String]] = [:]
        let deadline = ContinuousClock.now + .seconds(10)
        while got.values.reduce(0, { $0 + $1.count }) < 12, ContinuousClock.now < deadline {
            inbox.drain { stream, lines in got[stream, default: []] += String(decoding: lines, as: UTF8.self).split(separator: "\n").map(String.init) }
            usleep(5_000)
        }
        #expect(got[0]?.count == 10)
        #expect(got[3] == ["tcp one"])
        #expect(got[2] == ["tcp two"])
        listener.refreshCounters()
        #expect(inbox.counters.udp == 10 && inbox.counters.tcp == 2)
        #expect(inbox.counters.kernelDrops == 0)
    }

    @Test func aUDPDatagramLargerThan16KiBArrivesWhole() throws {
        // nginx does not cut long access-log lines it sends by syslog; a datagram is up to 64 KiB, and a
        // receive slot smaller than that would cut the line silently (counted nowhere).
        let inbox = SyslogInbox(router: Self.router())
        let listener = try SyslogListener(address: "127.0.0.1:0", inbox: inbox)
        try listener.start()
        defer { listener.stop() }
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(udp) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(listener.port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let body = "GET /v2/x?" + String(repeating: "q", count: 60_000) + " END"
        for text in ["<190>Dec  1 23:05:09 edge1 m: " + body, "<190>Dec  1 23:05:09 edge1 m: short"] {
            let message = Array(text.utf8)
            let sent = withUnsafePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(udp, message, message.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(sent == message.count)
        }
        var got: [String] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while got.count < 2, ContinuousClock.now < deadline {
            inbox.drain { _, lines in got += String(decoding: lines, as: UTF8.self).split(separator: "\n").map(String.init) }
            usleep(5_000)
        }
        // Compared by length and ends: a failure must not print 60,000 characters.
        #expect(got.map(\.utf8.count) == [body.utf8.count, 5])
        #expect(got.first?.hasSuffix(" END") == true && got.last == "short")
        #expect(inbox.counters.oversized == 0)
    }

    @Test func theKernelsDropCounterOfAFullUDPSocketIsRead() throws {
        // A socket nobody reads, with the smallest receive buffer: the kernel must drop most of a burst.
        let receiver = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(receiver) }
        var size: Int32 = 1
        setsockopt(receiver, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(receiver, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { p in p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(receiver, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        #expect(UDPDropCounter.read(port: port) == 0)
        let sender = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(sender) }
        let message = Array(repeating: UInt8(ascii: "x"), count: 1000)
        for _ in 0..<500 {
            _ = withUnsafePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(sender, message, message.count, 0, $0, length) }
            }
        }
        let drops = try #require(UDPDropCounter.read(port: port))
        #expect(drops > 400, "dropped \(drops) of 500")
    }

    @Test func theDropColumnIsReadFromTheTable() {
        let table = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
             1:  0100007F:1586 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 123 2 0000000000000000 17
             2:  00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 124 2 0000000000000000 3
            """
        #expect(UDPDropCounter.drops(table: table, port: 5510) == 17)
        #expect(UDPDropCounter.drops(table: table, port: 53) == 3)
        #expect(UDPDropCounter.drops(table: table, port: 80) == nil)
    }

    @Test func aBadListenAddressSaysHowToWriteIt() {
        #expect(throws: SyslogListenerError.self) { try SyslogListener(address: "5514", inbox: SyslogInbox(router: Self.router())) }
        #expect(SyslogListener.split("[::1]:5514")! == ("::1", 5514))
    }
}
