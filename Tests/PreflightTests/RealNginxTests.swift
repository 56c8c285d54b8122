import Apply
import Foundation
import NginxConfig
@testable import Preflight
import Rollout
import TestSupport
import Testing

/// Runs the recommended config in a real nginx: it validates, routes with the query string intact, writes logs the
/// AccessLog parser reads, and `check` with the real probe finds nothing to warn about.
@Suite(.serialized) struct RealNginxTests {
    /// The recommended config bound to test ports and log paths, with both groups at 100% so routing is deterministic.
    static func recommended(front: Int, legacy: Int, new: Int, logs: String) throws -> String {
        try Fixture.recommended
            .replacing("127.0.0.1:8000", "127.0.0.1:\(legacy)")
            .replacing("127.0.0.1:9000", "127.0.0.1:\(new)")
            .replacing("listen 80;", "listen 127.0.0.1:\(front);")
            .replacing("/var/log/nginx/", logs + "/")
            .replacing("5%  \"new_service\"", "100% \"new_service\"")
            .replacing("50% \"new_service\"", "100% \"new_service\"")
    }

    static func backends(legacy: Int, new: Int) -> String {
        """
        server { listen 127.0.0.1:\(new); access_log off; location / { return 200 "new $request_uri"; } }
        server { listen 127.0.0.1:\(legacy); access_log off; location / { return 200 "legacy $request_uri"; } }

        """
    }

    @Test func recommendedConfigRunsCleanInRealNginx() throws {
        let harness = try NginxHarness()
        let ports = try FreePort.allocate(3)
        let logs = harness.directory.file("logs")
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        try harness.write("nginx.conf", harness.standardMainConfig())
        try harness.write("conf.d/backends.conf", Self.backends(legacy: ports[1], new: ports[2]))
        try harness.write("conf.d/api.conf", try Self.recommended(front: ports[0], legacy: ports[1], new: ports[2], logs: logs))
        try harness.start(waitingFor: ports)
        defer { harness.stop() }

        let client = HTTPTestClient(port: ports[0])
        #expect(try client.get("/v2/orders/42?x=1&y=2").body == "new /v2/order/42?x=1&y=2")
        #expect(try client.get("/v2/content_api/book.get_book_info?id=7").body == "new /v2/book/info?id=7")
        #expect(try client.get("/v2/content_api/book_get_book_info").body == "legacy /v2/content_api/book_get_book_info")
        #expect(try client.get("/v2/content_api/book.get_book_info_v2").body == "legacy /v2/content_api/book.get_book_info_v2")

        let config = try ConfigSet.load(path: harness.mainConfig)
        let model = Discovery.discover(config)
        let inputs = PreflightInputs(nginxBinary: harness.binary,
                                     validateCommand: [harness.binary, "-p", harness.prefix, "-c", harness.mainConfig, "-t"],
                                     pidFile: harness.pidFile, journal: harness.directory.file("state/journal.jsonl"))
        let findings = Preflight.run(config: config, model: model, inputs: inputs, probe: SystemProbe(clock: .system))
        #expect(findings.ids(.error).isEmpty && findings.ids(.warning).isEmpty, "\(findings.dump)")
        // Both logs were read with the timed format: no malformed lines, nothing missing.
        #expect(findings.with("log-missing").isEmpty && findings.with("malformed-rate").isEmpty)
    }

    @Test func argsAppendedToTheRewriteReachTheNewServiceTwice() throws {
        // What `query-duplicated` claims, shown by nginx itself.
        let harness = try NginxHarness()
        let ports = try FreePort.allocate(3)
        let logs = harness.directory.file("logs")
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let config = try Self.recommended(front: ports[0], legacy: ports[1], new: ports[2], logs: logs)
            .replacing("proxy_pass http://golang_backend$api_path$is_args$args;",
                       "rewrite ^ $api_path$is_args$args break;\n        proxy_pass http://golang_backend;")
        try harness.write("nginx.conf", harness.standardMainConfig())
        try harness.write("conf.d/backends.conf", Self.backends(legacy: ports[1], new: ports[2]))
        try harness.write("conf.d/api.conf", config)
        try harness.start(waitingFor: ports)
        defer { harness.stop() }
        #expect(try HTTPTestClient(port: ports[0]).get("/v2/orders/42?x=1").body == "new /v2/order/42%3Fx=1?x=1")
        let set = try ConfigSet.load(path: harness.mainConfig)
        let findings = Preflight.run(config: set, model: Discovery.discover(set),
                                     inputs: PreflightInputs(checkEnvironment: false), probe: SystemProbe(clock: .system))
        #expect(findings.ids(.error).contains("query-duplicated"), "\(findings.dump)")
    }
}
