import Apply
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Several real nginx instances, each with its own hostname (a UTS namespace of its own), shipping their access
/// logs by syslog to `cutover status --collect`: the per-host figures must be what each host logged.
@Suite struct FleetSyslogTests {
    /// One nginx host: its own hostname, routing in the reference pattern on its own ports, logs by syslog.
    final class Host: @unchecked Sendable {
        let name: String
        let nginx: NginxHarness
        let routing: ReferenceRouting
        let routingPath: String
        private let wrapperDir: TempDir

        init(name: String, syslogPort: Int, percents: [Int]) throws {
            self.name = name
            // nginx takes its syslog hostname from gethostname(): run it in a UTS namespace named `name`.
            wrapperDir = try TempDir(prefix: "cutover-uts")
            let unshare = getuid() == 0 ? "unshare --uts" : "unshare --user --map-root-user --uts"
            let wrapper = try wrapperDir.write("nginx-\(name)", """
                #!/bin/sh
                exec \(unshare) /bin/sh -c 'hostname "$0" && exec \(CLIReferenceNginx.nginxBinary) "$@"' \(name) "$@"

                """)
            chmod(wrapper, 0o755)
            nginx = try NginxHarness(binary: wrapper)
            let ports = try FreePort.allocate(3)
            routing = ReferenceRouting(frontPort: ports[0], newPort: ports[1], currentPort: ports[2],
                                       mainLog: nginx.directory.file("logs/main.log"),
                                       migrationLog: nginx.directory.file("logs/migration.log"), percents: percents)
            try FileManager.default.createDirectory(atPath: nginx.directory.file("logs"), withIntermediateDirectories: true)
            let backends = """
                server { listen 127.0.0.1:\(ports[1]); location / { return 200 "new"; } }
                    server { listen 127.0.0.1:\(ports[2]); location / { return 200 "current"; } }
                """
            try nginx.write("nginx.conf", nginx.standardMainConfig(extraHTTP: backends))
            // Both logs also go to syslog, each with its tag, beside the files.
            var text = routing.text
            text = text.replacingOccurrences(of: "access_log \(routing.mainLog) timed;",
                                             with: "access_log \(routing.mainLog) timed;\n    access_log syslog:server=127.0.0.1:\(syslogPort),tag=cutover_main timed;")
            text = text.replacingOccurrences(of: "access_log \(routing.migrationLog) timed;",
                                             with: "access_log \(routing.migrationLog) timed;\n        access_log syslog:server=127.0.0.1:\(syslogPort),tag=cutover_migration timed;")
            routingPath = try nginx.write("conf.d/routing.conf", text)
            try nginx.start(waitingFor: ports)
        }
    }

    /// Per endpoint key: requests to send, the request target.
    static let mix: [(key: String, target: String)] = [
        (#"~^/v2/orders/(\d+)$"#, "/v2/orders/12"),
        ("~^/v2/content_api/book.get_book_info", "/v2/content_api/book.get_book_info?id=3"),
        ("/v2/status/ping", "/v2/status/ping"),
    ]

    @Test func perHostFiguresEqualWhatEachHostLoggedOverSyslog() throws {
        let syslogPort = try FreePort.one()
        var hosts: [Host] = []
        defer { for host in hosts { host.nginx.stop() } }
        for name in ["edge1", "edge2", "edge3"] {
            hosts.append(try Host(name: name, syslogPort: syslogPort, percents: [30, 50, 100]))
        }
        // The hostname really is the namespace's: nginx's own syslog header carries it (checked below by host).
        let state = try TempDir(prefix: "cutover-fleet")
        let settings = try state.write("cutover.yaml", """
            config: \(hosts[0].routingPath)
            main_config: \(hosts[0].nginx.mainConfig)
            journal: \(state.file("journal.jsonl"))
            hosts:
              - {name: edge1}
              - {name: edge2}
              - {name: edge3}
            logs:
              syslog: 127.0.0.1:\(syslogPort)

            """)
        // Listen first; the listener is up when its TCP port accepts.
        let out = state.file("status.json"), err = state.file("status.err")
        let status = try CleanChild([try CutoverBinary.path(), "status", "--settings", settings, "--collect", "6s", "--json", "--window", "all"],
                                    stdout: out, stderr: err,
                                    environment: ["XDG_STATE_HOME": state.path, "XDG_CONFIG_HOME": state.path])
        defer { status.stop() }
        let deadline = ContinuousClock.now + .seconds(20)
        while (try? HTTPTestClient.connect(port: syslogPort)).map({ close($0) }) == nil {
            #expect(status.isRunning, "cutover status exited early: \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
            guard status.isRunning, ContinuousClock.now < deadline else { return }
            usleep(10_000)
        }
        // Different counts per host, so a mix-up between hosts cannot pass.
        var sent: [String: [String: (current: Int, new: Int)]] = [:]
        for (index, host) in hosts.enumerated() {
            let client = HTTPTestClient(port: host.routing.frontPort)
            var perEndpoint: [String: (current: Int, new: Int)] = [:]
            for round in 0..<(8 + 5 * index) {
                for (key, target) in Self.mix {
                    let response = try client.get(target)
                    try #require(response.status == 200, "\(host.name) \(target): \(response.status)")
                    var counts = perEndpoint[key] ?? (0, 0)
                    if response.body == "new" { counts.new += 1 } else { counts.current += 1 }
                    perEndpoint[key] = counts
                }
                // One not-migrated request per round: counted for the host, not for any endpoint.
                if round % 2 == 0 { _ = try client.get("/v1/legacy/\(round)") }
            }
            client.closeConnection()
            sent[host.name] = perEndpoint
        }
        let finished = status.wait(timeout: .seconds(30))
        let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        try #require(finished != nil, "cutover status --collect did not end: \(stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: out))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "not JSON: \(String(decoding: data, as: UTF8.self)) \(stderr)")
        let hostList = try #require(json["hosts"] as? [[String: Any]])
        #expect(hostList.map { $0["name"] as? String } == ["edge1", "edge2", "edge3"])
        for (index, host) in hosts.enumerated() {
            let entry = try #require(hostList.first { $0["name"] as? String == host.name })
            let rounds = 8 + 5 * index
            let expected = rounds * Self.mix.count + (rounds + 1) / 2
            #expect(entry["requests"] as? Int == expected, "\(host.name): \(entry)")
            #expect(entry["lag_seconds"] as? Int != nil)
            #expect((entry["config_sha256"] as? String)?.count == 64)
            #expect(entry["drift"] as? Bool == false)
        }
        let endpoints = try #require(json["endpoints"] as? [[String: Any]])
        for (key, _) in Self.mix {
            let endpoint = try #require(endpoints.first { $0["pattern"] as? String == key }, "no endpoint \(key)")
            let byHost = try #require(endpoint["by_host"] as? [String: [String: Int]], "\(endpoint)")
            for host in hosts {
                let want = sent[host.name]?[key] ?? (0, 0)
                #expect(byHost[host.name]?["current"] == want.current, "\(host.name) \(key): \(byHost)")
                #expect(byHost[host.name]?["new"] == want.new, "\(host.name) \(key): \(byHost)")
            }
        }
        let syslog = try #require(json["syslog"] as? [String: Any])
        #expect((syslog["unknown_hosts"] as? [String: Int])?.isEmpty == true, "\(syslog)")
        #expect(syslog["malformed"] as? Int == 0)
        #expect(syslog["udp_kernel_drops"] as? Int == 0)
    }
}
