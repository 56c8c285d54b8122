import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `cutover status` with its verdicts, against what a real nginx in the reference pattern served and logged,
/// before and after a rollback made with the real binary (the journal tells status where the change is).
extension StatusCorrectnessTests {
    /// The endpoints of a `status --json` document by map key.
    static func endpointsByPattern(_ stdout: String) throws -> [String: [String: Any]] {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any], "\(stdout)")
        let endpoints = try #require(document["endpoints"] as? [[String: Any]])
        return Dictionary(endpoints.compactMap { e in (e["pattern"] as? String).map { ($0, e) } }, uniquingKeysWith: { a, _ in a })
    }

    @Test func verdictsInJSONAndTextAndARollbackIsNoBaselineAtOnce() throws {
        let setup = try CLIReferenceNginx(percents: [30, 50, 100])
        defer { setup.nginx.stop() }
        let client = HTTPTestClient(port: setup.frontPort)
        for i in 0..<200 {
            let target = i % 2 == 0 ? "/v2/orders/12" : "/v2/status/ping"
            let response = try client.get(target)
            try #require(response.status == 200, "\(target): \(response.status)")
        }
        // Wait (bounded) until nginx has logged every request.
        let deadline = ContinuousClock.now + .seconds(5)
        func loggedLines() -> Int { [setup.mainLog, setup.migrationLog].flatMap { LoggedRequest.read($0) }.count }
        while loggedLines() < 200 && ContinuousClock.now < deadline { usleep(10_000) }
        try #require(loggedLines() == 200)
        let args = ["status", "--json", "--from-start", "--window", "all", "--config", setup.routingPath,
                    "--main-log", setup.mainLog, "--migration-log", setup.migrationLog]

        let before = try setup.cutover(args)
        try #require(before.exitCode == 0, "\(before)")
        let first = try Self.endpointsByPattern(before.stdout)
        let allowed: Set<String> = ["healthy", "bad", "watch", "not_enough_data", "no_baseline"]
        for (pattern, endpoint) in first {
            let verdict = try #require(endpoint["verdict"] as? [String: Any], "\(pattern) has no verdict")
            for key in ["state", "reasons", "needed_requests", "since"] {
                #expect(verdict.keys.contains(key), "\(pattern): verdict lacks \(key)")
            }
            #expect(allowed.contains(verdict["state"] as? String ?? ""), "\(pattern): \(verdict["state"] ?? "nil")")
            #expect(verdict["reasons"] is [String])
            #expect(verdict["since"] is NSNull, "no change in the journal yet")
        }
        // 50% with 100 requests all answered 200: too few for a 0.5-point margin, with an estimate.
        let orders = try #require(first[Self.orders]?["verdict"] as? [String: Any])
        #expect(orders["state"] as? String == "not_enough_data")
        #expect((orders["needed_requests"] as? Int ?? 0) > 0)
        // At 100% with nothing from before: nothing to compare with.
        #expect((first[Self.ping]?["verdict"] as? [String: Any])?["state"] as? String == "no_baseline")
        // Nothing was sent to book: no traffic.
        #expect((first[Self.book]?["verdict"] as? [String: Any])?["needed_requests"] is NSNull)

        // Roll orders back with the real binary (journal and reload), in a later second than every request.
        sleep(1)
        let rollback = try setup.cutoverReloading(["rollback", "/v2/orders", "--yes", "--config", setup.routingPath], client: client)
        try #require(rollback.exitCode == 0, "\(rollback)")
        let after = try setup.cutover(args)
        try #require(after.exitCode == 0, "\(after)")
        let second = try Self.endpointsByPattern(after.stdout)
        let rolled = try #require(second[Self.orders]?["verdict"] as? [String: Any])
        #expect(rolled["state"] as? String == "no_baseline")
        let since = try #require(rolled["since"] as? Int, "\(rolled)")
        #expect(abs(Double(since) - Date().timeIntervalSince1970) < 60)
        #expect(rolled["rolled_back_at"] as? Int == since)
        #expect((rolled["previous"] as? [String: Any])?["state"] as? String == "not_enough_data")
        #expect((rolled["reasons"] as? [String])?.first?.hasPrefix("rolled back at ") == true)
        let stats = try #require(second[Self.orders]?["stats"] as? [String: Any])
        #expect(stats["since"] as? Int == since)
        #expect(((stats["new"] as? [String: Any])?["requests"] as? Int ?? 0) > 0, "the window totals keep the requests before")

        // The text table: a VERDICT column and the reasons below it.
        let text = try setup.cutover(Array(args.filter { $0 != "--json" }))
        try #require(text.exitCode == 0, "\(text)")
        let header = try #require(text.stdout.split(separator: "\n").first { $0.hasPrefix("ENDPOINT") })
        #expect(header.contains("SINCE") && header.hasSuffix("VERDICT"))
        #expect(text.stdout.contains("no_baseline (rolled back)"))
        #expect(text.stdout.contains("verdicts (each claim at 99% confidence"))
    }
}
