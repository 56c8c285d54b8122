import Apply
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A test host with its own hostname: a process in a new UTS namespace (`unshare --uts`, with a user
/// namespace when not root) that `nsenter -t PID -u` enters; stopped by pid. Loopback and the filesystem are
/// shared, so each host keeps its files in its own directory and listens on its own ports.
final class UTSHost: @unchecked Sendable {
    let name: String
    let holder: CleanChild
    var pid: Int32 { holder.pid }

    /// The `run` prefix that runs a command on this host.
    var run: [String] {
        geteuid() == 0 ? ["nsenter", "-t", "\(pid)", "-u", "--"]
            : ["nsenter", "-t", "\(pid)", "-U", "-u", "--preserve-credentials", "--"]
    }

    init(name: String) throws {
        self.name = name
        let namespace = geteuid() == 0 ? ["unshare", "--uts"] : ["unshare", "--user", "--map-root-user", "--uts"]
        // The holder sets its hostname and then only waits (bounded: it ends by itself after ten minutes).
        holder = try CleanChild(namespace + ["sh", "-c", "hostname \(name) && exec sleep 600"])
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let result = try? ProcessRunner().run(run + ["hostname"], timeout: .seconds(5))
            if result?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == name { break }
            guard ContinuousClock.now < deadline, holder.isRunning else {
                holder.stop()
                throw NginxHarness.Failure(description: "the UTS namespace of \(name) did not come up: \(result?.message ?? "no result")")
            }
            usleep(10_000)
        }
    }

    func stop() { holder.stop() }
}

/// The routing files every host shares (maps and split_clients only; ports and logs live in each host's
/// nginx.conf, so identical routing means identical files).
enum FleetRouting {
    static func text(orders: Int = 30, ping: Int = 100) -> String {
        """
        # Fleet routing: identical on every host.
        map $uri $target_path {
            ~^/v2/orders/(\\d+)$ "/v2/order/$1";
            /v2/status/ping "/v2/ping";
        }

        map $target_path $is_migratable {
            "" 0;
            default 1;
        }

        split_clients "${request_id}" $group1_routing {
            \(orders)% "new_service";
            * "current_service";
        }

        split_clients "${request_id}" $group3_routing {
            \(ping)% "new_service";
            * "current_service";
        }

        map $uri $split_group {
            ~^/v2/orders/(\\d+)$ "$group1_routing";
            /v2/status/ping "$group3_routing";
        }

        map $is_migratable $api_routing {
            0 "current_service";
            1 $split_group;
        }

        """
    }
}

/// Several real nginx instances, each on its own test host (UTS namespace), and a `cutover.yaml` whose
/// `hosts:` reaches each through `nsenter` (or, for one test, through a real sshd).
final class FleetNginx: @unchecked Sendable {
    struct Host {
        var name: String
        var uts: UTSHost
        var nginx: NginxHarness
        var frontPort: Int
        var routingPath: String
    }

    let dir: TempDir
    var hosts: [Host] = []
    let settingsPath: String
    var journalPath: String { dir.file("state/journal.jsonl") }

    /// Starts `count` hosts; `hostLines[name]` are extra YAML lines of that host's entry; `run[name]` replaces its
    /// `run` prefix (the ssh test).
    init(count: Int = 3, hostLines: [String: [String]] = [:], run: [String: [String]] = [:]) throws {
        dir = try TempDir(prefix: "cutover-fleet")
        try FileManager.default.createDirectory(atPath: dir.file("state"), withIntermediateDirectories: true)
        var entries: [String] = []
        do {
            for n in 1...count {
                let name = "edge\(n)"
                let uts = try UTSHost(name: name)
                let nginx = try NginxHarness(binary: CLIReferenceNginx.nginxBinary)
                nginx.launcher = uts.run
                let ports = try FreePort.allocate(3)
                let routingPath = try nginx.write("conf.d/routing.conf", FleetRouting.text())
                try nginx.write("nginx.conf", nginx.standardMainConfig(extraHTTP: """
                    include \(routingPath);
                        server {
                            listen 127.0.0.1:\(ports[0]);
                            location ~ ^/v2/(.*)$ {
                                if ($api_routing = "new_service") { return 200 "new"; }
                                return 200 "current";
                            }
                            location = /host { return 200 "$hostname"; }
                        }
                        server { listen 127.0.0.1:\(ports[1]); return 200 "new"; }
                        server { listen 127.0.0.1:\(ports[2]); return 200 "current"; }
                    """))
                hosts.append(Host(name: name, uts: uts, nginx: nginx, frontPort: ports[0], routingPath: routingPath))
                try nginx.start(waitingFor: [ports[0]])
                let prefix = run[name] ?? uts.run
                entries.append("""
                      - name: \(name)
                        run: [\(prefix.map { "\"\($0)\"" }.joined(separator: ", "))]
                        config: \(routingPath)
                        main_config: \(nginx.mainConfig)
                    \((hostLines[name] ?? []).map { "    " + $0 }.joined(separator: "\n"))
                    """)
            }
        } catch {
            for host in hosts { host.nginx.stop(); host.uts.stop() }
            throw error
        }
        settingsPath = try dir.write("cutover.yaml", """
            journal: \(dir.file("state/journal.jsonl"))
            nginx:
              binary: \(CLIReferenceNginx.nginxBinary)
              timeout: 10
            hosts:
            \(entries.joined(separator: "\n"))

            """)
    }

    func stop() {
        for host in hosts {
            host.nginx.stop()
            host.uts.stop()
        }
    }

    func cutover(_ args: [String], timeout: Duration = .seconds(60)) throws -> CutoverBinary.Result {
        try runCutover(args + ["--settings", settingsPath], cwd: dir.path,
                       env: ["XDG_STATE_HOME": dir.file("state"), "XDG_CONFIG_HOME": dir.file("state")], timeout: timeout)
    }

    func routing(_ index: Int) throws -> String { try String(contentsOfFile: hosts[index].routingPath, encoding: .utf8) }

    /// What host `index` answers for `path` (a fresh connection, so it reaches a worker of the latest reload).
    func answer(_ index: Int, _ path: String) throws -> String {
        let client = HTTPTestClient(port: hosts[index].frontPort)
        defer { client.closeConnection() }
        return try client.get(path).body
    }

    /// Waits (at most five seconds) until host `index` answers `expected` for `path` (old workers drain).
    func awaitAnswer(_ index: Int, _ path: String, _ expected: String) throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while try answer(index, path) != expected {
            guard ContinuousClock.now < deadline else { return false }
            usleep(10_000)
        }
        return true
    }

    /// The journal's last record as JSON.
    func lastRecord() throws -> [String: Any] {
        let text = try String(contentsOfFile: journalPath, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    static func hostStates(_ record: [String: Any]) -> [String: String] {
        var out: [String: String] = [:]
        for host in record["hosts"] as? [[String: Any]] ?? [] {
            if let name = host["host"] as? String { out[name] = host["state"] as? String }
        }
        return out
    }
}

/// Changes to several real nginx hosts: all or none, drift, sync, and the ssh transport.
@Suite(.serialized) struct FleetIntegrationTests {
    @Test func eachHostHasItsOwnHostnameAndARollbackReachesEveryHost() throws {
        let fleet = try FleetNginx()
        defer { fleet.stop() }
        for (index, host) in fleet.hosts.enumerated() {
            #expect(try fleet.answer(index, "/host") == host.name, "nginx of \(host.name) runs in its own UTS namespace")
            #expect(try fleet.answer(index, "/v2/status/ping") == "new")
        }
        let before = try fleet.routing(0)

        let result = try fleet.cutover(["rollback", "--all", "--yes", "--reason", "fleet itest"])
        try #require(result.exitCode == 0, "\(result)")
        #expect(result.stdout.contains("reloaded on 3 hosts (edge1, edge2, edge3)"), "\(result.stdout)")
        for index in 0..<3 {
            #expect(try fleet.routing(index) != before)
            #expect(try fleet.routing(index) == fleet.routing(0), "every host holds the same routing")
            #expect(try fleet.awaitAnswer(index, "/v2/status/ping", "current"), "edge\(index + 1) serves the rollback")
        }
        let record = try fleet.lastRecord()
        #expect(record["outcome"] as? String == "applied")
        #expect(FleetNginx.hostStates(record) == ["edge1": "applied", "edge2": "applied", "edge3": "applied"])
        let hosts = record["hosts"] as? [[String: Any]] ?? []
        #expect(hosts.allSatisfy { ($0["validate"] as? [String: Any])?["succeeded"] as? Bool == true
                && ($0["verify"] as? [String: Any])?["succeeded"] as? Bool == true }, "\(hosts)")

        // `resume` goes to every host too, and `history` shows the per-host outcome.
        let resume = try fleet.cutover(["resume", "--yes"])
        try #require(resume.exitCode == 0, "\(resume)")
        for index in 0..<3 {
            #expect(try fleet.routing(index) == before)
            #expect(try fleet.awaitAnswer(index, "/v2/status/ping", "new"))
        }
        let history = try fleet.cutover(["history"])
        #expect(history.stdout.contains("hosts: edge1 applied, edge2 applied, edge3 applied"), "\(history)")
    }

    @Test func aReloadFailureOnOneHostRevertsEveryHost() throws {
        let fleet = try FleetNginx(hostLines: ["edge3": ["nginx: {reload: [sh, -c, \"echo 'edge3 refuses the reload' >&2; exit 1\"]}"]])
        defer { fleet.stop() }
        let before = try fleet.routing(0)
        let result = try fleet.cutover(["set", "ping", "--percent", "0", "--yes"])
        #expect(result.exitCode == ExitStatus.reloadFailedReverted.rawValue, "\(result)")
        #expect(result.stdout.contains("reload failed on edge3"), "\(result.stdout)")
        #expect(result.stdout.contains("edge3 refuses the reload"), "\(result.stdout)")
        for index in 0..<3 {
            #expect(try fleet.routing(index) == before, "edge\(index + 1) is back on its previous routing")
            #expect(try fleet.awaitAnswer(index, "/v2/status/ping", "new"), "edge\(index + 1) serves the previous routing")
        }
        let record = try fleet.lastRecord()
        #expect(record["outcome"] as? String == "reload-failed-reverted")
        #expect(FleetNginx.hostStates(record) == ["edge1": "reverted", "edge2": "reverted", "edge3": "reverted"])
    }

    @Test func driftIsShownAndRefusedUntilSyncMakesTheHostsIdentical() throws {
        let fleet = try FleetNginx()
        defer { fleet.stop() }
        // A hand edit on edge2 only.
        let edited = try fleet.routing(1).replacingOccurrences(of: "    30% \"new_service\";", with: "    40% \"new_service\";")
        try edited.write(toFile: fleet.hosts[1].routingPath, atomically: true, encoding: .utf8)

        let routes = try fleet.cutover(["routes", "--json"])
        try #require(routes.exitCode == 0, "\(routes)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(routes.stdout.utf8)) as? [String: Any])
        let hosts = try #require(document["hosts"] as? [[String: Any]])
        #expect(hosts.map { $0["drift"] as? Bool } == [false, true, false])
        let files = hosts[1]["files"] as? [[String: Any]] ?? []
        #expect(files.first?["path"] as? String == fleet.hosts[1].routingPath)
        #expect((files.first?["diff"] as? String)?.contains("+    40% \"new_service\";") == true, "\(files)")
        #expect(hosts[0]["config_sha256"] as? String == hosts[2]["config_sha256"] as? String)
        let text = try fleet.cutover(["routes"])
        #expect(text.stdout.contains("DRIFT: differs from the majority"), "\(text.stdout)")

        let check = try fleet.cutover(["check", "--json", "--config-only"])
        #expect(check.stdout.contains("\"id\": \"host-drift\""), "\(check)")
        #expect(check.stdout.contains("edge2"), "\(check)")

        // An edit is refused while the hosts differ, naming edge2; nothing is written.
        let refused = try fleet.cutover(["set", "ping", "--percent", "50", "--yes"])
        #expect(refused.exitCode == ExitStatus.conflict.rawValue, "\(refused)")
        #expect(refused.stderr.contains("edge2"), "\(refused)")
        #expect(try fleet.routing(0) == FleetRouting.text())

        // Limited to the hosts that agree, it goes through there only; the drift left is shown.
        let subset = try fleet.cutover(["set", "ping", "--percent", "50", "--yes", "--hosts", "edge1,edge3"])
        try #require(subset.exitCode == 0, "\(subset)")
        #expect(subset.stdout.contains("fleet: hosts differ now"), "\(subset.stdout)")
        #expect(try fleet.routing(0) == fleet.routing(2))
        #expect(try fleet.routing(0).contains("50% \"new_service\""))
        #expect(try fleet.routing(1) == edited)

        // sync --from edge1 makes edge2 identical, through the two-phase apply.
        let dry = try fleet.cutover(["sync", "--from", "edge1", "--dry-run"])
        #expect(dry.exitCode == 0 && dry.stdout.contains("edge2:"), "\(dry)")
        #expect(try fleet.routing(1) == edited)
        let sync = try fleet.cutover(["sync", "--from", "edge1", "--yes"])
        try #require(sync.exitCode == 0, "\(sync)")
        #expect(sync.stdout.contains("every host holds the same routing"), "\(sync.stdout)")
        for index in 0..<3 { #expect(try fleet.routing(index) == fleet.routing(0)) }
        let record = try fleet.lastRecord()
        #expect((record["change"] as? [String: Any])?["action"] as? String == "sync")
        #expect(FleetNginx.hostStates(record) == ["edge2": "applied"])
        let again = try fleet.cutover(["routes", "--json"])
        let after = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        #expect((after["hosts"] as? [[String: Any]])?.allSatisfy { $0["drift"] as? Bool == false } == true, "\(again)")
    }

    @Test func anUnreachableHostIsNamedAndNothingChanges() throws {
        let fleet = try FleetNginx(count: 2, run: ["edge2": ["sh", "-c", "echo 'ssh: connect to host edge2 port 22: Connection refused' >&2; exit 255", "sh"]])
        defer { fleet.stop() }
        let result = try fleet.cutover(["set", "ping", "--percent", "0", "--yes"])
        #expect(result.exitCode == ExitStatus.error.rawValue, "\(result)")
        #expect(result.stderr.contains("edge2") && result.stderr.contains("Connection refused"), "\(result)")
        #expect(try fleet.routing(0) == FleetRouting.text())
        let subset = try fleet.cutover(["set", "ping", "--percent", "0", "--yes", "--hosts", "edge1"])
        #expect(subset.exitCode == 0, "\(subset)")
        #expect(try fleet.awaitAnswer(0, "/v2/status/ping", "current"))
    }
}

/// A real OpenSSH server on a free loopback port, with its own config and generated keys in a temp dir.
final class TestSSHServer: @unchecked Sendable {
    let dir: TempDir
    let port: Int
    let server: CleanChild
    let user: String
    private var madeRunDirectory = false

    /// The `run` prefix reaching this machine through the server.
    var run: [String] {
        ["ssh", "-p", "\(port)", "-i", dir.file("user_key"), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=\(dir.file("known_hosts"))", "-o", "LogLevel=ERROR", "\(user)@127.0.0.1"]
    }

    init() throws {
        dir = try TempDir(prefix: "cutover-sshd")
        port = try FreePort.one()
        user = ApplyConfiguration.currentUser()
        for key in ["host_key", "user_key"] {
            let result = try ProcessRunner().run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir.file(key)], timeout: .seconds(20))
            guard result.succeeded else { throw NginxHarness.Failure(description: "ssh-keygen: \(result.message)") }
        }
        _ = try dir.write("authorized_keys", try dir.read("user_key.pub"))
        chmod(dir.file("authorized_keys"), 0o600)
        let config = try dir.write("sshd_config", """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(dir.file("host_key"))
            PidFile \(dir.file("sshd.pid"))
            AuthorizedKeysFile \(dir.file("authorized_keys"))
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            StrictModes no
            UsePAM no

            """)
        // sshd's privilege separation directory (Debian creates it at boot, a container may not have it).
        if geteuid() == 0 && !FileManager.default.fileExists(atPath: "/run/sshd") {
            try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            madeRunDirectory = true
        }
        server = try CleanChild(["/usr/sbin/sshd", "-D", "-e", "-f", config], stderr: dir.file("sshd.log"))
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            if let fd = try? HTTPTestClient.connect(port: port) { close(fd); break }
            guard ContinuousClock.now < deadline, server.isRunning else {
                let log = (try? dir.read("sshd.log")) ?? ""
                server.stop()
                throw NginxHarness.Failure(description: "sshd did not listen on 127.0.0.1:\(port): \(log)")
            }
            usleep(10_000)
        }
    }

    func stop() {
        server.stop()
        if madeRunDirectory { try? FileManager.default.removeItem(atPath: "/run/sshd") }
    }
}

/// The ssh transport end to end: read, write, validate and reload through a real OpenSSH server.
@Suite struct FleetSSHTests {
    @Test func aChangeReachesAHostThroughSSH() throws {
        let ssh = try TestSSHServer()
        defer { ssh.stop() }
        // The words reach the remote shell quoted: what comes back is exactly what was sent.
        let probe = try ProcessRunner().run(HostTransport(prefix: ssh.run).argv(["printf", "%s|", "it's ok", "$(no)"]), timeout: .seconds(20))
        try #require(probe.succeeded, "ssh to the test server: \(probe.summary): \(probe.message) \((try? ssh.dir.read("sshd.log")) ?? "")")
        #expect(probe.stdout == "it's ok|$(no)|")
        let fleet = try FleetNginx(count: 1, run: ["edge1": ssh.run])
        defer { fleet.stop() }

        let routes = try fleet.cutover(["routes", "--json"])
        try #require(routes.exitCode == 0, "\(routes)")
        #expect(routes.stdout.contains("\"name\":\"edge1\"") || routes.stdout.contains("\"name\": \"edge1\""), "\(routes.stdout)")

        let result = try fleet.cutover(["set", "ping", "--percent", "0", "--yes", "--reason", "over ssh"])
        try #require(result.exitCode == 0, "\(result)")
        #expect(try fleet.routing(0) != FleetRouting.text(), "the routing file was written over ssh")
        #expect(try fleet.awaitAnswer(0, "/v2/status/ping", "current"), "nginx was reloaded over ssh")
        let record = try fleet.lastRecord()
        #expect(FleetNginx.hostStates(record) == ["edge1": "applied"])
        let host = try #require((record["hosts"] as? [[String: Any]])?.first)
        let validate = try #require(host["validate"] as? [String: Any])
        #expect((validate["command"] as? [String])?.first == "ssh", "validate ran through ssh: \(validate)")
        #expect(validate["succeeded"] as? Bool == true)
        #expect((host["reload"] as? [String: Any])?["succeeded"] as? Bool == true)
        #expect((host["verify"] as? [String: Any])?["succeeded"] as? Bool == true)
    }
}
