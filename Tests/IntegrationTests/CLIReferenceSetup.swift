import Apply
import Foundation
import TestSupport
import Testing

/// The routing file in the reference pattern (/work/shared/samples/migration.conf) on test ports: whitelist
/// map, `is_migratable`, three `split_clients` groups, the group map, `api_routing`, the `/v2/` location with
/// its `if`/`rewrite`, and the internal location with its own migration `access_log`.
struct ReferenceRouting {
    var frontPort: Int
    var newPort: Int
    var currentPort: Int
    var mainLog: String
    var migrationLog: String
    /// The new-service percent of group1, group2 and group3 (0 is written as a group with only `*`).
    var percents: [Int] = [30, 50, 100]

    /// The endpoints: map key, target on the new service, group variable.
    static let endpoints: [(key: String, target: String, group: String)] = [
        (#"~^/v2/orders/(\d+)$"#, "/v2/order/$1", "$group2_routing"),
        ("~^/v2/content_api/book.get_book_info", "/v2/book/info", "$group1_routing"),
        ("/v2/status/ping", "/v2/ping", "$group3_routing"),
    ]

    var text: String {
        let groups = percents.enumerated().map { index, percent in
            let newLine = percent > 0 ? "    \(percent)% \"new_service\";\n" : ""
            return "split_clients \"${request_id}\" $group\(index + 1)_routing {\n\(newLine)    * \"current_service\";\n}\n"
        }.joined(separator: "\n")
        let targets = Self.endpoints.map { "    \($0.key) \"\($0.target)\";" }.joined(separator: "\n")
        let members = Self.endpoints.map { "    \($0.key) \"\($0.group)\";" }.joined(separator: "\n")
        return """
            # Routing in the reference pattern; current service on \(currentPort), new service on \(newPort).
            log_format timed '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                             '"$http_referer" "$http_user_agent" $request_time $upstream_response_time $upstream_addr $request_id';

            upstream app_server {
                server 127.0.0.1:\(currentPort) fail_timeout=0;
            }

            upstream golang_backend {
                server 127.0.0.1:\(newPort);
            }

            # Endpoints ready for migration, and where each lives on the new service.
            map $uri $target_path {
            \(targets)
            }

            map $target_path $is_migratable {
                "" 0;         # not in the migration list
                default 1;    # in the migration list
            }

            # Reusable percentage groups.
            \(groups)
            # Each endpoint's group.
            map $uri $split_group {
            \(members)
            }

            map $is_migratable $api_routing {
                0 "current_service";   # not migratable: legacy
                1 $split_group;        # migratable: percentage routing
            }

            server {
                listen 127.0.0.1:\(frontPort);
                access_log \(mainLog) timed;

                location ~ ^/v2/(.*)$ {
                    if ($api_routing = "new_service") {
                        set $api_path $target_path;
                        rewrite ^ /internal_new_service_proxy last;
                        break;
                    }
                    try_files $uri @proxy_to_app;
                }

                location = /internal_new_service_proxy {
                    internal;
                    rewrite ^ $api_path break;
                    proxy_pass http://golang_backend;
                    proxy_set_header Host $host;
                    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    add_header X-Original-URI $request_uri always;
                    access_log \(migrationLog) timed;
                }

                location / {
                    try_files $uri @proxy_to_app;
                }

                location @proxy_to_app {
                    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    proxy_set_header Host $http_host;
                    proxy_pass http://app_server;
                }
            }

            """
    }
}

/// A running nginx serving the reference pattern (front server plus two backends answering `new` and
/// `current`), a `cutover.yaml` aimed at it, and a way to run the real `cutover` binary against it.
final class CLIReferenceNginx: @unchecked Sendable {
    let nginx: NginxHarness
    let routing: ReferenceRouting
    let routingPath: String
    let settingsPath: String
    let journalPath: String
    var frontPort: Int { routing.frontPort }
    var mainLog: String { routing.mainLog }
    var migrationLog: String { routing.migrationLog }

    /// Writes the configs and settings and starts nginx; `nginxSettings` lines are added under `nginx:` in
    /// cutover.yaml. With `spreadLatency`, each backend serves a file behind `limit_req` without `nodelay`
    /// (new: 100 r/s, current: 250 r/s), so back-to-back requests wait a few milliseconds each and
    /// `$request_time` spreads over 0-10 ms instead of sitting at 0.
    init(percents: [Int] = [30, 50, 100], nginxSettings: [String] = [], spreadLatency: Bool = false,
         mainConfigEdit: (String, NginxHarness) -> String = { text, _ in text }) throws {
        nginx = try NginxHarness(binary: Self.nginxBinary)
        let ports = try FreePort.allocate(3)
        routing = ReferenceRouting(frontPort: ports[0], newPort: ports[1], currentPort: ports[2],
                                   mainLog: nginx.directory.file("logs/main.log"),
                                   migrationLog: nginx.directory.file("logs/migration.log"), percents: percents)
        try FileManager.default.createDirectory(atPath: nginx.directory.file("logs"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: nginx.directory.file("state"), withIntermediateDirectories: true)
        let backends: String
        if spreadLatency {
            try nginx.write("www/new/index.txt", "new")
            try nginx.write("www/current/index.txt", "current")
            // limit_req runs in the preaccess phase, after `return` would already have answered: serve files.
            backends = """
                limit_req_zone $server_port zone=slow_new:1m rate=100r/s;
                    limit_req_zone $server_port zone=slow_current:1m rate=250r/s;
                    server { listen 127.0.0.1:\(ports[1]); root \(nginx.directory.file("www/new")); default_type text/plain;
                             location / { limit_req zone=slow_new burst=1000; try_files /index.txt =500; } }
                    server { listen 127.0.0.1:\(ports[2]); root \(nginx.directory.file("www/current")); default_type text/plain;
                             location / { limit_req zone=slow_current burst=1000; try_files /index.txt =500; } }
                """
        } else {
            backends = """
                server { listen 127.0.0.1:\(ports[1]); location / { return 200 "new"; } }
                    server { listen 127.0.0.1:\(ports[2]); location / { return 200 "current"; } }
                """
        }
        try nginx.write("nginx.conf", mainConfigEdit(nginx.standardMainConfig(extraHTTP: backends), nginx))
        routingPath = try nginx.write("conf.d/routing.conf", routing.text)
        journalPath = nginx.directory.file("state/journal.jsonl")
        settingsPath = try nginx.write("cutover.yaml", """
            main_config: \(nginx.mainConfig)
            journal: \(journalPath)
            nginx:
              binary: \(Self.nginxBinary)
              timeout: 10
            \(nginxSettings.map { "  " + $0 }.joined(separator: "\n"))

            """)
        do {
            try nginx.start(waitingFor: ports)
            // The master listens before it has forked its worker: wait for it, so `workers()` is complete.
            let deadline = ContinuousClock.now + .seconds(10)
            while workers().isEmpty {
                guard ContinuousClock.now < deadline else { throw NginxHarness.Failure(description: "nginx started no worker within 10 s") }
                usleep(2_000)
            }
        } catch {
            nginx.stop()
            throw error
        }
    }

    /// The nginx binary: /usr/sbin/nginx when present, else `nginx` on PATH.
    static var nginxBinary: String {
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx"
    }

    /// Runs `cutover ARGS --settings cutover.yaml` in the prefix with XDG dirs inside it.
    func cutover(_ args: [String], timeout: Duration = .seconds(30)) throws -> CutoverBinary.Result {
        try runCutover(args + ["--settings", settingsPath], cwd: nginx.prefix,
                       env: ["XDG_STATE_HOME": nginx.directory.file("state"), "XDG_CONFIG_HOME": nginx.directory.file("state")],
                       timeout: timeout)
    }

    /// Sends `nginx -p P -c C -s SIGNAL` (reload, reopen) and waits for it to return.
    func signal(_ name: String) throws {
        let result = try ProcessRunner().run([Self.nginxBinary, "-p", nginx.prefix, "-c", nginx.mainConfig, "-s", name],
                                             timeout: .seconds(10))
        guard result.succeeded else {
            throw NginxHarness.Failure(description: "nginx -s \(name): \(result.summary): \(result.message)")
        }
    }

    /// The master's current workers (empty when nginx is not running).
    func workers() -> Set<Int32> {
        nginx.masterPid.map { ProcessTable.children(of: $0) } ?? []
    }

    /// Waits (at most five seconds) until none of `old` workers is alive and only one worker (the config
    /// runs one) is left, so that every request from now on is served by the configuration the last of
    /// the finished reloads loaded; returns whether that happened in time.
    @discardableResult
    func awaitExit(of old: Set<Int32>) -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while old.contains(where: { ProcessTable.isAlive($0) }) || workers().count != 1 {
            guard ContinuousClock.now < deadline else { return false }
            usleep(5_000)
        }
        return true
    }

    /// Runs a `cutover` command that reloads nginx, then waits until the workers that served before it have
    /// exited and drops `client`'s kept-alive connection, so later requests see the new configuration.
    func cutoverReloading(_ args: [String], client: HTTPTestClient? = nil) throws -> CutoverBinary.Result {
        let old = workers()
        let result = try cutover(args)
        client?.closeConnection()
        if result.exitCode == 0 {
            #expect(awaitExit(of: old), "the workers from before the reload are still running after 5 s")
        }
        return result
    }

    /// The routing file's current text.
    func routingText() throws -> String {
        try String(contentsOfFile: routingPath, encoding: .utf8)
    }

    /// The journal's lines (empty when there is none yet).
    func journalLines() -> [String] {
        guard let text = try? String(contentsOfFile: journalPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    /// Sends `count` requests to `path` and returns how many the new service answered (any other body or
    /// status is recorded as a test issue).
    func newShare(_ client: HTTPTestClient, path: String, count: Int) throws -> Int {
        var new = 0
        for _ in 0..<count {
            let response = try client.get(path)
            #expect(response.status == 200 && ["new", "current"].contains(response.body), "\(path): \(response.status) \(response.body)")
            if response.body == "new" { new += 1 }
        }
        return new
    }
}
