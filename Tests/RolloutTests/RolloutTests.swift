import Foundation
import NginxConfig
import Testing
@testable import Rollout

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func loadFixture(_ name: String) throws -> (ConfigSet, RolloutModel) {
    let set = try ConfigSet.load(path: fixtures.appendingPathComponent(name).path)
    return (set, Discovery.discover(set))
}

/// The lines of `after` that differ from `before`, as (removed, added) lists.
func changedLines(_ before: String, _ after: String) -> (removed: [String], added: [String]) {
    let a = before.components(separatedBy: "\n"), b = after.components(separatedBy: "\n")
    var removed = a, added: [String] = []
    for line in b {
        if let i = removed.firstIndex(of: line) { removed.remove(at: i) } else { added.append(line) }
    }
    return (removed, added)
}

@Suite struct DiscoveryTests {
    @Test func sampleConfigIsDiscovered() throws {
        let (_, model) = try loadFixture("migration.conf")
        #expect(model.groups.map(\.name) == ["group1_routing", "group3_routing", "group6_routing"])
        #expect(model.groups.map(\.percent.plain) == ["1", "25", "100"])
        #expect(model.groups[1].key == "${request_id}")
        #expect(model.groups[1].location.line == 31)
        #expect(model.endpoints.map(\.name) == ["book.get_chapter_details", "book.chapters_by_status", "book.get_book_info", "user.get_bookmarks"])
        #expect(model.endpoints[0].pattern == "~^/v2/content_api/book.get_chapter_details")
        #expect(model.endpoints[0].target == "/v2/chapter/get_details")
        #expect(model.endpoints[0].groupName == "group6_routing")
        #expect(model.endpoints.map(\.percent.plain) == ["100", "25", "25", "1"])
        #expect(model.endpoints[3].location.line == 17)
        #expect(model.problems.isEmpty, "\(model.problems)")
        #expect(model.internalLocation == "/internal_new_service_proxy")
        #expect(model.migrationLog?.path == "/var/log/nginx/migration_traffic.log")
        #expect(model.migrationLog?.format == "combined")
        #expect(model.mainLog?.path == "/var/log/nginx/access.log")
        #expect(model.flagMap != nil && model.routingMap != nil)
    }

    @Test func fullNginxConfWithCustomNamesAndFormats() throws {
        let (_, model) = try loadFixture("full-nginx.conf")
        #expect(model.groups.map(\.name) == ["g_low", "g_high"])
        #expect(model.endpoints.map(\.name) == ["users", "orders/(\\d+)"])
        #expect(model.endpoints.map(\.pattern) == ["/v1/exact/users", "~^/v2/orders/(\\d+)$"])
        #expect(model.endpoints.map(\.percent.plain) == ["5", "50"])
        #expect(model.mainLog?.path == "/var/log/nginx/api.log")
        #expect(model.mainLog?.format == "timed")
        #expect(model.mainLog?.parameters == ["buffer=32k"])
        #expect(model.migrationLog?.format == "jsonl")
        let timed = try #require(model.logFormat(named: "timed"))
        #expect(timed.template.hasSuffix("$request_time $upstream_response_time $upstream_addr $request_id"))
        #expect(model.logFormat(named: "jsonl")?.escape == "json")
        #expect(model.logFormat(named: "combined") != nil)
        #expect(model.problems.isEmpty, "\(model.problems)")
    }

    @Test func deviationsAreReportedWithFileAndLineNeverDropped() throws {
        let (_, model) = try loadFixture("broken-pattern.conf")
        let text = model.problems.map(\.description)
        func has(_ line: Int, _ fragment: String) -> Bool {
            model.problems.contains { $0.location.line == line && $0.message.contains(fragment) }
        }
        #expect(has(7, "0% entries"), "\(text)")
        #expect(has(11, "after `*`"), "\(text)")
        #expect(has(11, "not first"), "\(text)")
        #expect(has(3, "not in map $split_group"), "\(text)")
        #expect(has(15, "not in map $target_path"), "\(text)")
        #expect(has(15, "$group9_routing, which is no split_clients group"), "\(text)")
        #expect(model.problems.contains { $0.message.contains("no routing map") })
        #expect(model.endpoints.map(\.pattern) == ["~^/v2/a", "~^/v2/b", "~^/v2/c"])
    }

    @Test(arguments: [
        ("~^/v2/content_api/book.get_chapter_details", "book.get_chapter_details"),
        ("~^/v2/content_api/book\\.get_book_info$", "book.get_book_info"),
        ("~*^/v2/orders/(\\d+)$", "orders/(\\d+)"),
        ("/v1/exact/users/", "users"),
        ("~^/v2/items/[0-9]+/detail$", "detail"),
        ("/", "/"),
    ])
    func shortNames(key: String, name: String) {
        #expect(Discovery.shortName(for: key) == name)
    }

    @Test func clashingShortNamesGetLonger() throws {
        let text = """
        map $uri $target_path { ~^/v2/users/(\\d+)$ "/u/$1"; ~^/v2/orders/(\\d+)$ "/o/$1"; /a/info "/1"; /b/info "/2"; }
        split_clients "${request_id}" $g { 5% "new_service"; * "current_service"; }
        map $uri $split_group { ~^/v2/users/(\\d+)$ "$g"; ~^/v2/orders/(\\d+)$ "$g"; /a/info "$g"; /b/info "$g"; }
        """
        let model = Discovery.discover(try ConfigSet.fromTexts([("/c.conf", text)]))
        #expect(model.endpoints.map(\.name) == ["users/(\\d+)", "orders/(\\d+)", "a/info", "b/info"])
    }

    @Test func endpointResolution() throws {
        let (_, model) = try loadFixture("migration.conf")
        #expect(try model.resolveEndpoint("user.get_bookmarks").pattern == "~^/v2/content_api/user.get_bookmarks")
        #expect(try model.resolveEndpoint("~^/v2/content_api/book.get_book_info").name == "book.get_book_info")
        #expect(try model.resolveEndpoint("bookmarks").name == "user.get_bookmarks")
        #expect(throws: EditError.self) { try model.resolveEndpoint("book.") }
        do { _ = try model.resolveEndpoint("book.") } catch {
            #expect(error.message.contains("ambiguous") && error.message.contains("book.get_book_info"))
        }
        #expect(throws: EditError.self) { try model.resolveEndpoint("nothing-like-this") }
    }

    @Test func percentParsingFollowsNginx() {
        #expect(Percent(parsing: "25%")?.hundredths == 2500)
        #expect(Percent(parsing: "12.5")?.hundredths == 1250)
        #expect(Percent(parsing: "0.01%")?.hundredths == 1)
        #expect(Percent(parsing: "0.001%") == nil)
        #expect(Percent(parsing: "-5") == nil)
        #expect(Percent(parsing: "abc") == nil)
        #expect(Percent(hundredths: 1250).nginxText == "12.5%")
        #expect(Percent(hundredths: 5).nginxText == "0.05%")
    }
}

@Suite struct EditTests {
    func editor(_ name: String = "migration.conf") throws -> RolloutEditor {
        let (set, model) = try loadFixture(name)
        return RolloutEditor(config: set, model: model)
    }

    @Test func setGroupPercentTouchesOnlyThatToken() throws {
        let result = try editor().apply(.setGroupPercent(group: "group3_routing", percent: Percent(hundredths: 5000), create: false))
        #expect(result.changes.count == 1)
        let d = changedLines(result.changes[0].before, result.changes[0].after)
        #expect(d.removed == ["    25% \"new_service\";"])
        #expect(d.added == ["    50% \"new_service\";"])
        #expect(result.model.group(named: "group3_routing")?.percent.plain == "50")
        #expect(result.shifts.map(\.endpoint) == ["book.chapters_by_status", "book.get_book_info"])
        #expect(result.groupsTouched == ["group3_routing"])
    }

    @Test func zeroPercentLeavesTheRemainderLineAlone() throws {
        let result = try editor().apply(.setGroupPercent(group: "group1_routing", percent: .zero, create: false))
        let d = changedLines(result.changes[0].before, result.changes[0].after)
        #expect(d.removed == ["    1% \"new_service\";"])
        #expect(d.added.isEmpty)
        // And back up: the new-service bucket goes first.
        let up = try RolloutEditor(config: result.config, model: result.model).apply(.setGroupPercent(group: "group1_routing", percent: Percent(hundredths: 1000), create: false))
        #expect(up.config.text(of: up.changes[0].path)?.contains("split_clients \"${request_id}\" $group1_routing {\n    10% \"new_service\";\n    * \"current_service\";\n}") == true)
    }

    @Test func assignKeepsQuotingAndTouchesOneLine() throws {
        let result = try editor().apply(.assign(endpoint: "bookmarks", group: "group3_routing"))
        let d = changedLines(result.changes[0].before, result.changes[0].after)
        #expect(d.removed == ["    ~^/v2/content_api/user.get_bookmarks \"$group1_routing\";"])
        #expect(d.added == ["    ~^/v2/content_api/user.get_bookmarks \"$group3_routing\";"])
        #expect(result.shifts == [EndpointShift(endpoint: "user.get_bookmarks", groupBefore: "group1_routing", groupAfter: "group3_routing",
                                                percentBefore: Percent(hundredths: 100), percentAfter: Percent(hundredths: 2500),
                                                id: EndpointID(raw: "~^/v2/content_api/user.get_bookmarks"))])
    }

    @Test func assignPercentReusesOrCreatesAGroup() throws {
        let reuse = try editor().apply(.assignPercent(endpoint: "bookmarks", percent: Percent(hundredths: 2500)))
        #expect(reuse.model.resolveEndpointOrNil("bookmarks")?.groupName == "group3_routing")
        let create = try editor().apply(.assignPercent(endpoint: "bookmarks", percent: Percent(hundredths: 1000)))
        let e = try create.model.resolveEndpoint("bookmarks")
        #expect(e.groupName == "group4_routing")
        #expect(e.percent.plain == "10")
        let text = try #require(create.config.text(of: create.changes[0].path))
        #expect(text.contains("split_clients \"${request_id}\" $group6_routing {\n    100% \"new_service\";\n    * \"current_service\";\n}\nsplit_clients \"${request_id}\" $group4_routing {\n    10% \"new_service\";\n    * \"current_service\";\n}\n"))
        #expect(create.model.problems.isEmpty)
    }

    @Test func oneLineGroupsStayOneLine() throws {
        let result = try editor("full-nginx.conf").apply(.setGroupPercent(group: "g_mid", percent: Percent(hundredths: 2000), create: true))
        let text = try #require(result.config.text(of: result.changes[0].path))
        #expect(text.contains("\tsplit_clients \"${request_id}\" $g_high { 50% \"new_service\"; * \"current_service\"; }\n\tsplit_clients \"${request_id}\" $g_mid { 20% \"new_service\"; * \"current_service\"; }\n"))
        let zero = try RolloutEditor(config: result.config, model: result.model).apply(.setGroupPercent(group: "g_low", percent: .zero, create: false))
        #expect(zero.config.text(of: zero.changes[0].path)?.contains("$g_low { * \"current_service\"; }") == true)
    }

    @Test func addAndRemoveEndpoint() throws {
        let added = try editor().apply(.add(key: "~^/v2/content_api/user.get_profile$", target: "/v2/user/profile", group: "group1_routing"))
        let d = changedLines(added.changes[0].before, added.changes[0].after)
        #expect(d.removed.isEmpty)
        #expect(d.added == ["    ~^/v2/content_api/user.get_profile$ \"/v2/user/profile\";", "    ~^/v2/content_api/user.get_profile$ \"$group1_routing\";"])
        let e = try added.model.resolveEndpoint("user.get_profile")
        #expect(e.percent.plain == "1" && e.target == "/v2/user/profile")
        let removed = try RolloutEditor(config: added.config, model: added.model).apply(.remove(endpoint: "user.get_profile"))
        #expect(removed.changes.isEmpty)  // back to the bytes that were read
        #expect(removed.config.text(of: added.changes[0].path) == added.changes[0].before)
        #expect(throws: EditError.self) { try editor().apply(.add(key: "~^/v2/content_api/user.get_bookmarks", target: "/x", group: "group1_routing")) }
        #expect(throws: EditError.self) { try editor().apply(.add(key: "/v2/new", target: "/x", group: "group42_routing")) }
        #expect(throws: EditError.self) { try editor().apply(.add(key: "~^/v2/(broken", target: "/x", group: "group1_routing")) }
    }

    @Test func rollbackAllThenResumeRestoresEveryByte() throws {
        let original = try editor()
        let back = try original.apply(.rollbackAll)
        #expect(back.model.endpoints.allSatisfy { $0.percent == .zero })
        #expect(back.model.groups.allSatisfy { $0.percent == .zero })
        #expect(back.changes.count == 1)
        let resumed = try RolloutEditor(config: back.config, model: back.model).apply(.resume)
        #expect(resumed.config.text(of: back.changes[0].path) == back.changes[0].before)
        #expect(resumed.model.endpoints.map(\.percent.plain) == ["100", "25", "25", "1"])
        #expect(throws: EditError.self) { try RolloutEditor(config: resumed.config, model: resumed.model).apply(.resume) }
    }

    @Test func rollbackOneEndpointThenResume() throws {
        let back = try editor().apply(.rollback(endpoints: ["book.get_book_info"]))
        let d = changedLines(back.changes[0].before, back.changes[0].after)
        #expect(d.removed == ["    ~^/v2/content_api/book.get_book_info \"$group3_routing\";"])
        #expect(d.added == ["    # cutover:rollback group=$group3_routing (cutover resume restores it)", "    ~^/v2/content_api/book.get_book_info \"current_service\";"])
        let e = try back.model.resolveEndpoint("book.get_book_info")
        #expect(e.percent == .zero)
        #expect(try back.model.resolveEndpoint("chapters_by_status").percent.plain == "25")
        #expect(throws: EditError.self) { try RolloutEditor(config: back.config, model: back.model).apply(.rollback(endpoints: ["book.get_book_info"])) }
        let resumed = try RolloutEditor(config: back.config, model: back.model).apply(.resume)
        #expect(resumed.config.text(of: back.changes[0].path) == back.changes[0].before)
    }

    @Test(arguments: ["101", "100.01"])
    func outOfRangePercentIsRefused(text: String) throws {
        let p = try #require(Percent(parsing: text))
        #expect(throws: EditError.self) { try editor().apply(.setGroupPercent(group: "group1_routing", percent: p, create: false)) }
    }

    @Test func crlfFilesKeepTheirLineEndings() throws {
        let original = try String(contentsOf: fixtures.appendingPathComponent("migration.conf"), encoding: .utf8)
        let crlf = original.replacingOccurrences(of: "\n", with: "\r\n")
        let set = try ConfigSet.fromTexts([("/tmp/crlf.conf", crlf)])
        let result = try RolloutEditor(config: set).apply(.add(key: "/v2/x", target: "/x", group: "group1_routing"))
        let after = result.changes[0].after
        #expect(!after.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        let back = try RolloutEditor(config: set).apply(.rollbackAll)
        #expect(!back.changes[0].after.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }
}

extension RolloutModel {
    func resolveEndpointOrNil(_ q: String) -> Endpoint? { try? resolveEndpoint(q) }
}
