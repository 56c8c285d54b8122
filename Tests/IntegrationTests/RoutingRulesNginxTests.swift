import Foundation
import NginxConfig
import Rollout
import Testing

/// Runs `nginx -t` on configs in a temp prefix, to prove Cutover's rules are nginx's.
struct NginxSyntaxCheck {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("logs"), withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(at: dir) }

    /// Writes `routing` as conf.d/routing.conf under a minimal nginx.conf and returns nginx -t's exit status and message.
    func test(routing: String) throws -> (ok: Bool, message: String) {
        let main = """
        pid \(dir.path)/nginx.pid;
        error_log \(dir.path)/logs/error.log;
        events {}
        http {
            access_log \(dir.path)/logs/access.log;
            include \(dir.path)/routing.conf;
        }

        """
        try main.write(to: dir.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        try routing.write(to: dir.appendingPathComponent("routing.conf"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: NginxSyntaxCheck.nginxBinary)
        process.arguments = ["-t", "-q", "-p", dir.path, "-c", dir.appendingPathComponent("nginx.conf").path, "-e", dir.path + "/logs/error.log"]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus == 0, out)
    }

    static let nginxBinary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/nginx"

    /// A routing file in the reference pattern with a server on a loopback port and logs inside the prefix.
    func routing(splits: String = "", extraWhitelist: String = "", extraAssign: String = "") -> String {
        """
        map $uri $target_path {
            ~^/v2/api/a$ "/v2/a";
            ~^/v2/api/b$ "/v2/b";
            /v2/api/exact "/v2/exact";\(extraWhitelist)
        }
        map $target_path $is_migratable {
            "" 0;
            default 1;
        }
        split_clients "${request_id}" $group1_routing {
            10% "new_service";
            * "current_service";
        }
        split_clients "${request_id}" $group2_routing { 50% "new_service"; * "current_service"; }
        \(splits)
        map $uri $split_group {
            ~^/v2/api/a$ "$group1_routing";
            ~^/v2/api/b$ "$group2_routing";
            /v2/api/exact "$group2_routing";\(extraAssign)
        }
        map $is_migratable $api_routing {
            0 "current_service";
            1 $split_group;
        }
        server {
            listen 127.0.0.1:1;
            location ~ ^/v2/(.*)$ {
                if ($api_routing = "new_service") {
                    set $api_path $target_path;
                    rewrite ^ /internal_new_service_proxy last;
                }
                return 200 "current";
            }
            location = /internal_new_service_proxy {
                internal;
                access_log \(dir.path)/logs/migration.log;
                return 200 "new";
            }
        }

        """
    }
}

@Suite(.serialized) struct RoutingRulesNginxTests {
    @Test func everyConfigCutoverProducesPassesNginx() throws {
        let check = try NginxSyntaxCheck()
        defer { check.cleanup() }
        let base = check.routing()
        #expect(try check.test(routing: base).ok)
        let edits: [RolloutEdit] = [
            .setGroupPercent(group: "group1_routing", percent: .zero, create: false),
            .setGroupPercent(group: "group1_routing", percent: Percent(hundredths: 1250), create: false),
            .setGroupPercent(group: "group2_routing", percent: .hundred, create: false),
            .setGroupPercent(group: "group2_routing", percent: Percent(hundredths: 1), create: false),
            .setGroupPercent(group: "group9_routing", percent: Percent(hundredths: 7500), create: true),
            .setGroupPercent(group: "group_zero", percent: .zero, create: true),
            .assign(endpoint: "a", group: "group2_routing"),
            .assignPercent(endpoint: "exact", percent: Percent(hundredths: 3333)),
            .add(key: "~*^/v2/api/c/(\\d+)$", target: "/v2/c/$1", group: "group1_routing"),
            .add(key: "/v2/api/with space", target: "/v2/space", group: "group1_routing"),
            .remove(endpoint: "b"),
            .rollback(endpoints: ["a"]),
            .rollbackAll,
            .resume,
        ]
        let path = check.dir.appendingPathComponent("routing.conf").path
        var config = try ConfigSet.fromTexts([(path, base)])
        for edit in edits {
            let result = try RolloutEditor(config: config).apply(edit)
            let text = try #require(result.config.text(of: path))
            let verdict = try check.test(routing: text)
            #expect(verdict.ok, "nginx refused the result of \(edit): \(verdict.message)\n\(text)")
            config = try ConfigSet.fromTexts([(path, text)])
        }
    }

    static let refused: [(String, String)] = [
        ("zero percent entry", "split_clients \"${request_id}\" $bad { 0% \"new_service\"; * \"current_service\"; }"),
        ("total over 100", "split_clients \"${request_id}\" $bad { 60% \"new_service\"; 50% \"current_service\"; }"),
        ("three decimals", "split_clients \"${request_id}\" $bad { 0.125% \"new_service\"; * \"current_service\"; }"),
        ("entry after star", "split_clients \"${request_id}\" $bad { * \"current_service\"; 10% \"new_service\"; }"),
    ]

    @Test(arguments: refused)
    func cutoverRefusesWhatNginxRefuses(name: String, splits: String) throws {
        let check = try NginxSyntaxCheck()
        defer { check.cleanup() }
        let text = check.routing(splits: splits)
        let verdict = try check.test(routing: text)
        #expect(!verdict.ok, "nginx accepted \(name)")
        let model = Discovery.discover(try ConfigSet.fromTexts([("/r.conf", text)]))
        #expect(model.problems.contains { $0.severity == .error }, "Cutover did not flag \(name): \(model.problems)")
    }

    @Test func duplicateExactKeysAreRefusedByBoth() throws {
        let check = try NginxSyntaxCheck()
        defer { check.cleanup() }
        let text = check.routing(extraWhitelist: "\n    /v2/api/exact \"/v2/other\";")
        #expect(try !check.test(routing: text).ok)
        let model = Discovery.discover(try ConfigSet.fromTexts([("/r.conf", text)]))
        #expect(model.problems.contains { $0.severity == .error && $0.message.contains("duplicate key") })
        // And an edit cannot introduce one.
        let clean = try ConfigSet.fromTexts([("/r.conf", check.routing())])
        #expect(throws: EditError.self) { try RolloutEditor(config: clean).apply(.add(key: "/v2/api/exact", target: "/x", group: "group1_routing")) }
    }

    @Test func editsThatNginxWouldRefuseNeverLeaveCutover() throws {
        let check = try NginxSyntaxCheck()
        defer { check.cleanup() }
        let clean = try ConfigSet.fromTexts([("/r.conf", check.routing())])
        #expect(throws: EditError.self) { try RolloutEditor(config: clean).apply(.setGroupPercent(group: "group1_routing", percent: Percent(hundredths: 10001), create: false)) }
        #expect(throws: EditError.self) { try RolloutEditor(config: clean).apply(.assign(endpoint: "a", group: "group77_routing")) }
        #expect(throws: EditError.self) { try RolloutEditor(config: clean).apply(.setGroupPercent(group: "bad name!", percent: .zero, create: true)) }
        // nginx itself confirms that the refused percent would not load.
        let over = check.routing(splits: "split_clients \"${request_id}\" $over { 100.01% \"new_service\"; * \"current_service\"; }")
        #expect(try !check.test(routing: over).ok)
    }
}
