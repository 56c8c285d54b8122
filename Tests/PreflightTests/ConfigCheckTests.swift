import Foundation
@testable import Preflight
import Rollout
import Testing

/// One config check: an edit of the recommended config that triggers it.
struct ConfigCase: Sendable, CustomStringConvertible {
    var id: String
    var severity: Severity
    var edits: [(String, String)]
    var description: String { id + " " + edits.map { $0.0.prefix(30) }.joined(separator: ",") }
}

let ordersWhitelist = #"~^/v2/orders/(\d+)$                          "/v2/order/$1";"#
let ordersGroup = #"~^/v2/orders/(\d+)$                          "$group1_routing";"#
let internalProxy = "proxy_pass http://golang_backend$api_path$is_args$args;"
let group2Body = "50% \"new_service\";\n    *   \"current_service\";"

let configCases: [ConfigCase] = [
    ConfigCase(id: "unescaped-dot", severity: .warning, edits: [(#"book\.get_book_info$"#, #"book.get_book_info$"#)]),
    ConfigCase(id: "unanchored-key", severity: .warning, edits: [(#"book\.get_book_info$"#, #"book\.get_book_info"#)]),
    // An earlier anchored regex takes every path of the later one.
    ConfigCase(id: "shadowed-key", severity: .warning, edits: [
        (ordersWhitelist, "~^/v2/orders/[0-9]+$ \"/v2/order/all\";\n    " + ordersWhitelist),
        (ordersGroup, "~^/v2/orders/[0-9]+$ \"$group1_routing\";\n    " + ordersGroup)]),
    // An exact key always wins over a regex, wherever it stands.
    ConfigCase(id: "shadowed-key", severity: .warning, edits: [
        (ordersWhitelist, ordersWhitelist + "\n    /v2/content_api/book.get_book_info \"/v2/book/info_v0\";"),
        (ordersGroup, ordersGroup + "\n    /v2/content_api/book.get_book_info \"$group1_routing\";")]),
    ConfigCase(id: "uri-normalisation", severity: .warning, edits: [("map $uri $target_path", "map $request_uri $target_path")]),
    ConfigCase(id: "target-drops-capture", severity: .error, edits: [(#""/v2/order/$1""#, #""/v2/order""#)]),
    ConfigCase(id: "target-drops-capture", severity: .warning, edits: [(#"(\d+)$"#, #"\d+$"#), (#""/v2/order/$1""#, #""/v2/order""#)]),
    ConfigCase(id: "target-has-query", severity: .error, edits: [
        (#""/v2/book/info""#, #""/v2/book/info?v=2""#),
        (internalProxy, "rewrite ^ $api_path break;\n        proxy_pass http://golang_backend;")]),
    ConfigCase(id: "query-dropped", severity: .error, edits: [(internalProxy, "proxy_pass http://golang_backend$api_path;")]),
    ConfigCase(id: "query-dropped", severity: .error, edits: [(internalProxy, "rewrite ^ $api_path? break;\n        proxy_pass http://golang_backend;")]),
    ConfigCase(id: "query-duplicated", severity: .error, edits: [(internalProxy, "rewrite ^ $api_path$is_args$args break;\n        proxy_pass http://golang_backend;")]),
    ConfigCase(id: "missing-in-whitelist", severity: .error, edits: [(ordersGroup, ordersGroup + "\n    ~^/v2/extra$ \"$group1_routing\";")]),
    ConfigCase(id: "missing-in-group-map", severity: .error, edits: [(ordersWhitelist, ordersWhitelist + "\n    ~^/v2/extra$ \"/v2/extra\";")]),
    ConfigCase(id: "unused-group", severity: .warning, edits: [("# Each endpoint's group", "split_clients \"${request_id}\" $group3_routing {\n    25% \"new_service\";\n    * \"current_service\";\n}\n\n# Each endpoint's group")]),
    ConfigCase(id: "unknown-group", severity: .error, edits: [(ordersGroup, ordersGroup.replacingOccurrences(of: "group1", with: "group9"))]),
    ConfigCase(id: "split-missing-semicolon", severity: .error, edits: [(group2Body, "50% \"new_service\" *   \"current_service\";")]),
    ConfigCase(id: "split-no-star", severity: .warning, edits: [(group2Body, "50% \"new_service\";")]),
    ConfigCase(id: "split-new-not-first", severity: .warning, edits: [(group2Body, "50% \"current_service\";\n    25% \"new_service\";\n    * \"current_service\";")]),
    // The routing engine's own problems keep their meaning under a stable id.
    ConfigCase(id: "split-zero-percent", severity: .error, edits: [(group2Body, "0% \"new_service\";\n    * \"current_service\";")]),
    ConfigCase(id: "split-star-not-last", severity: .error, edits: [(group2Body, "* \"current_service\";\n    50% \"new_service\";")]),
    ConfigCase(id: "split-over-100", severity: .error, edits: [(group2Body, "60% \"new_service\";\n    50% \"current_service\";\n    * \"current_service\";")]),
    ConfigCase(id: "split-unknown-value", severity: .warning, edits: [(group2Body, "50% \"new_svc\";\n    * \"current_service\";")]),
    ConfigCase(id: "split-invalid-percent", severity: .error, edits: [(group2Body, "50 \"new_service\";\n    * \"current_service\";")]),
    // nginx accepts a repeated regex key (the first one matches) but refuses an exact key twice, in any case.
    ConfigCase(id: "repeated-regex-key", severity: .warning, edits: [(ordersWhitelist, ordersWhitelist + "\n    " + ordersWhitelist)]),
    ConfigCase(id: "duplicate-key", severity: .error, edits: [(ordersWhitelist, ordersWhitelist + "\n    /v2/Ping \"/v2/ping\";\n    /v2/PING \"/v2/ping\";")]),
    ConfigCase(id: "regex-invalid", severity: .error, edits: [(ordersWhitelist, ordersWhitelist + "\n    ~^/v2/a**$ \"/v2/a\";")]),
    ConfigCase(id: "variable-unknown", severity: .error, edits: [(#""/v2/order/$1""#, #""/v2/order/$nosuchvar""#)]),
    ConfigCase(id: "variable-invalid", severity: .error, edits: [(#""/v2/order/$1""#, #""/v2/order/${x""#)]),
    ConfigCase(id: "variable-redefined", severity: .warning, edits: [("# Endpoints ready", "map $uri $split_group { default \"\"; }\n# Endpoints ready")]),
    ConfigCase(id: "pattern-incomplete", severity: .warning, edits: [("map $is_migratable $api_routing {\n    0 \"current_service\";\n    1 $split_group;\n}", "")]),
    ConfigCase(id: "routing-map-unexpected", severity: .warning, edits: [("    1 $split_group;\n", "    1 \"new_service\";\n")]),
    ConfigCase(id: "format-no-request-time", severity: .warning, edits: [(" $request_time $upstream_response_time", " $upstream_response_time")]),
    ConfigCase(id: "format-no-path", severity: .error, edits: [(#" "$request" $status"#, " $status")]),
    ConfigCase(id: "format-unknown", severity: .error, edits: [("migration_traffic.log timed;", "migration_traffic.log nosuch;")]),
    ConfigCase(id: "json-list-unquoted", severity: .error, edits: [
        ("# Endpoints ready", "log_format jsonlog escape=json '{\"uri\":\"$request_uri\",\"rt\":$request_time,\"urt\":$upstream_response_time}';\n\n# Endpoints ready"),
        ("migration_traffic.log timed;", "migration_traffic.log jsonlog;")]),
    ConfigCase(id: "log-buffered", severity: .warning, edits: [("access.log timed;", "access.log timed buffer=32k flush=5s;")]),
    ConfigCase(id: "log-buffered", severity: .warning, edits: [("access.log timed;", "access.log timed gzip;")]),
    ConfigCase(id: "migration-log-missing", severity: .warning, edits: [("        access_log /var/log/nginx/migration_traffic.log timed;\n", "")]),
    ConfigCase(id: "migration-log-missing", severity: .warning, edits: [("access_log /var/log/nginx/migration_traffic.log timed;", "access_log off;")]),
]

@Suite struct ConfigCheckTests {
    @Test func recommendedConfigPassesCleanly() throws {
        let findings = try Fixture.check(try Fixture.recommended)
        #expect(findings.ids(.error).isEmpty && findings.ids(.warning).isEmpty, "\(findings.dump)")
        #expect(PreflightReport.exitCode(findings) == 0)
        // The per-request split key and the $uri normalisation are noted, not counted.
        #expect(findings.ids(.info).isSuperset(of: ["split-key-per-request", "uri-normalisation", "nginx-version"]), "\(findings.dump)")
    }

    @Test(arguments: configCases)
    func editTriggersFinding(_ c: ConfigCase) throws {
        let clean = try Fixture.check(try Fixture.recommended)
        #expect(clean.filter { $0.id == c.id && $0.severity == c.severity }.isEmpty, "\(clean.dump)")
        var text = try Fixture.recommended
        for (from, to) in c.edits { text = text.replacing(from, to) }
        let findings = try Fixture.check(text)
        let hits = findings.filter { $0.id == c.id && $0.severity == c.severity }
        #expect(!hits.isEmpty, "\(c.id) not reported:\n\(findings.dump)")
        for hit in hits {
            #expect(hit.file == Fixture.configPath, "\(hit)")
            #expect(hit.line != nil || c.id == "pattern-incomplete", "\(hit)")
            #expect(hit.fix != nil, "\(hit)")
        }
        // Every finding, whatever its id, carries a message and one of the three severities; ids are kebab-case.
        for f in findings {
            #expect(f.id.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }, "\(f.id)")
        }
    }

    @Test func unescapedDotNamesAPathItWronglyMatchesAndTheEscapedKey() throws {
        let text = try Fixture.recommended.replacing(#"book\.get_book_info$"#, #"book.get_book_info$"#)
        let hits = try Fixture.check(text).with("unescaped-dot")
        #expect(hits.count == 2) // once per map
        let first = try #require(hits.first)
        #expect(first.message.contains("`/v2/content_api/book_get_book_info`"), "\(first)")
        #expect(first.fix?.contains(#"`~^/v2/content_api/book\.get_book_info$ "/v2/book/info";`"#) == true, "\(first)")
    }

    @Test func unanchoredKeyNamesTheEndpointsAndLogPathsItSwallows() throws {
        var text = try Fixture.recommended.replacing(#"book\.get_book_info$"#, #"book\.get_book_info"#)
        text = text.replacing(ordersWhitelist, ordersWhitelist + "\n    ~^/v2/content_api/book\\.get_book_info_full$ \"/v2/book/full\";")
        text = text.replacing(ordersGroup, ordersGroup + "\n    ~^/v2/content_api/book\\.get_book_info_full$ \"$group1_routing\";")
        var probe = try Fixture.healthy()
        probe.files[Fixture.mainLog] = FakeProbe.File(try Fixture.text("timed-longer-path.log"))
        let findings = try Fixture.check(text, probe: probe)
        let hit = try #require(findings.with("unanchored-key").first, "\(findings.dump)")
        #expect(hit.message.contains(#"endpoint `~^/v2/content_api/book\.get_book_info_full$`"#), "\(hit)")
        #expect(hit.message.contains("`/v2/content_api/book.get_book_info_legacy`"), "\(hit)")
        #expect(hit.fix?.contains(#"~^/v2/content_api/book\.get_book_info$ "/v2/book/info""#) == true, "\(hit)")
        // The swallowed endpoint is reported once, as unanchored-key, not again as shadowed-key.
        #expect(findings.with("shadowed-key").isEmpty, "\(findings.dump)")
    }

    @Test func captureFixCarriesTheCapturedId() throws {
        let text = try Fixture.recommended.replacing(#""/v2/order/$1""#, #""/v2/order""#)
        let hit = try #require(try Fixture.check(text).with("target-drops-capture").first)
        #expect(hit.message.contains("`/v2/orders/1` reaches the new service as `/v2/order`"), "\(hit)")
        #expect(hit.fix?.contains(#""/v2/order/$1""#) == true, "\(hit)")
    }

    @Test func referenceRewriteKeepsTheQueryString() throws {
        // `rewrite ^ $api_path break;` keeps the original arguments (nginx appends them when the replacement has no `?`).
        let text = try Fixture.recommended.replacing(internalProxy, "rewrite ^ $api_path break;\n        proxy_pass http://golang_backend;")
        let findings = try Fixture.check(text)
        #expect(findings.with("query-dropped").isEmpty && findings.with("query-duplicated").isEmpty, "\(findings.dump)")
    }

    @Test func stickySplitKeyIsNotNoted() throws {
        let text = try Fixture.recommended.replacingOccurrences(of: "split_clients \"${request_id}\"", with: "split_clients \"${cookie_session}${remote_addr}\"")
        let findings = try Fixture.check(text)
        #expect(findings.with("split-key-per-request").isEmpty, "\(findings.dump)")
        let noted = try Fixture.check(try Fixture.recommended).with("split-key-per-request")
        #expect(noted.count == 2)
        #expect(noted.allSatisfy { $0.fix?.contains("split_clients \"${cookie_session}${remote_addr}\"") == true })
    }

    @Test func quotedListVariableInJSONIsFine() throws {
        var text = try Fixture.recommended
        text = text.replacing("# Endpoints ready", "log_format jsonlog escape=json '{\"uri\":\"$request_uri\",\"rt\":$request_time,\"urt\":\"$upstream_response_time\"}';\n\n# Endpoints ready")
        text = text.replacing("migration_traffic.log timed;", "migration_traffic.log jsonlog;")
        var probe = try Fixture.healthy()
        probe.files[Fixture.migrationLog] = FakeProbe.File(#"{"uri":"/v2/orders/1","rt":0.004,"urt":"0.003, 0.004"}"# + "\n")
        let findings = try Fixture.check(text, probe: probe)
        #expect(findings.with("json-list-unquoted").isEmpty, "\(findings.dump)")
        #expect(findings.with("malformed-rate").isEmpty, "\(findings.dump)")
    }

    @Test func referenceSampleTripsTheQuietFailureModes() throws {
        let findings = try Fixture.check(try Fixture.text("reference-sample.conf"))
        #expect(findings.ids(.warning).isSuperset(of: ["unescaped-dot", "unanchored-key", "format-no-request-time"]), "\(findings.dump)")
        #expect(findings.with("unescaped-dot").count == 8) // four keys in two maps
        #expect(findings.with("unanchored-key").count == 4)
        #expect(PreflightReport.exitCode(findings) == 1, "\(findings.dump)")
    }
}
