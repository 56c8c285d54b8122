import Foundation
import TestSupport
import Testing

/// `cutover status --json` keeps two endpoints apart whose keys read alike once unescaped: the regex
/// `~^/v2/a$` and the exact key `\~^/v2/a$` (nginx compares the latter as text, so it never matches `/v2/a`).
@Suite struct StatusIdentityTests {
    static let routing = """
        map $uri $target_path {
            ~^/v2/a$ "/v3/a";
            "\\~^/v2/a$" "/v3/literal";
            /v2/b "/v3/b";
        }
        map $target_path $is_migratable { "" 0; default 1; }
        split_clients "${request_id}" $group1_routing {
            50% "new_service";
            * "current_service";
        }
        map $uri $split_group {
            ~^/v2/a$ "$group1_routing";
            "\\~^/v2/a$" "$group1_routing";
            /v2/b "$group1_routing";
        }

        """

    static func line(_ path: String) -> String {
        "127.0.0.1 - - [02/Dec/2026:02:00:00 +0000] \"GET \(path) HTTP/1.1\" 200 12 \"-\" \"curl\"\n"
    }

    @Test func bothLookAlikesAreListedEachWithItsOwnIdentityAndFigures() throws {
        let dir = try TempDir(prefix: "cutover-status-ids")
        let routing = try dir.write("routing.conf", Self.routing)
        let settings = try dir.write("cutover.yaml", "journal: \(dir.file("journal.jsonl"))\n")
        let main = try dir.write("main.log", String(repeating: Self.line("/v2/a"), count: 20))
        let migration = try dir.write("migration.log", String(repeating: Self.line("/v2/a"), count: 4) + String(repeating: Self.line("/v2/b"), count: 5))
        let result = try runCutover(["status", "--json", "--from-start", "--window", "all", "--config", routing, "--settings", settings,
                                     "--main-log", main, "--migration-log", migration], cwd: dir.path,
                                    env: ["XDG_STATE_HOME": dir.file("state"), "XDG_CONFIG_HOME": dir.file("state")])
        try #require(result.exitCode == 0, "\(result)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let endpoints = try #require(document["endpoints"] as? [[String: Any]])
        #expect(endpoints.compactMap { $0["id"] as? String } == ["~^/v2/a$", #"\~^/v2/a$"#, "/v2/b"])
        #expect(endpoints.compactMap { $0["pattern"] as? String } == ["~^/v2/a$", "~^/v2/a$", "/v2/b"], "the pattern field is unchanged")
        let names = endpoints.compactMap { $0["name"] as? String }
        #expect(Set(names).count == 3, "the names shown tell them apart: \(names)")
        func requests(_ i: Int, _ side: String) -> Int? {
            ((endpoints[i]["stats"] as? [String: Any])?[side] as? [String: Any])?["requests"] as? Int
        }
        #expect(requests(0, "current") == 20 && requests(0, "new") == 4, "the regex gets /v2/a")
        #expect(requests(1, "current") == 0 && requests(1, "new") == 0, "the exact key `~^/v2/a$` matches no request")
        #expect(requests(2, "new") == 5)
    }
}
