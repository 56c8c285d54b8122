import Apply
import Foundation
import NginxConfig
import Rollout
import Settings
import TestSupport
import Testing

/// The journal keys endpoints by identity (`EndpointID`, the map key), not by short name; records written
/// before it did are read as they are and resolved against the config (never rewritten).
@Suite struct JournalIdentityTests {
    static let config = """
        map $uri $target_path {
            /v1/status/ping "/new/v1/ping";
            /v2/status/ping "/new/v2/ping";
            ~^/v2/orders/(\\d+)$ "/new/order/$1";
        }
        map $target_path $is_migratable { "" 0; default 1; }
        split_clients "${request_id}" $group1_routing {
            10% "new_service";
            * "current_service";
        }
        map $uri $split_group {
            /v1/status/ping "$group1_routing";
            /v2/status/ping "$group1_routing";
            ~^/v2/orders/(\\d+)$ "$group1_routing";
        }

        """

    static func model() throws -> RolloutModel {
        let dir = try TempDir(prefix: "cutover-journal-ids")
        let path = try dir.write("routing.conf", config)
        return Discovery.discover(try ConfigSet.load(path: path))
    }

    @Test func anOldFormatJournalIsReadAsItIsAndResolvedByNameAgainstTheConfig() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/journal-before-endpoint-ids.jsonl")
        let dir = try TempDir(prefix: "cutover-journal-old")
        let path = dir.file("journal.jsonl")
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let records = try Journal(path: path).records()
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0.change.endpointIDs.isEmpty }, "old records carry no identities")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == bytes, "reading never rewrites the user's journal")

        let model = try Self.model()
        let pings = model.endpoints.filter { $0.pattern.hasSuffix("/status/ping") }
        #expect(pings.map(\.name) == ["v1/status/ping", "v2/status/ping"], "two endpoints would share the short name `ping`")
        // An old record names `ping`: both endpoints of that name (it cannot tell them apart).
        #expect(Set(records[0].change.endpointIDs(in: model)) == Set(pings.map(\.id)))
        #expect(records[1].change.endpointIDs(in: model) == [EndpointID(raw: #"~^/v2/orders/(\d+)$"#)])
        #expect(pings.allSatisfy(records[0].change.touches))

        // The traffic figures' routing changes come from the resolved identities.
        let changes = Settings.routingChanges(journal: records, model: model)
        #expect(Set(changes.map(\.endpoint)) == Set(["/v1/status/ping", "/v2/status/ping", #"~^/v2/orders/(\d+)$"#].map { EndpointID(raw: $0) }))
        #expect(changes.first { $0.endpoint.key.isRegex }?.rollback == true)
    }

    @Test func aNewRecordCarriesTheIdentitiesAndMatchesOnlyThem() throws {
        let model = try Self.model()
        let v2 = try #require(model.endpoints.first { $0.pattern == "/v2/status/ping" })
        let v1 = try #require(model.endpoints.first { $0.pattern == "/v1/status/ping" })
        let change = ChangeDescription(action: "rollback", endpoints: [v2.name], percentsBefore: ["endpoint:ping": 10],
                                       percentsAfter: ["endpoint:ping": 0], endpointIDs: [v2.id])
        let record = JournalRecord(id: "r-new", time: Date(timeIntervalSince1970: 1_790_000_000), user: "ops", host: "edge-1",
                                   change: change, outcome: .applied, message: "applied", files: [], configHashBefore: "",
                                   configHashAfter: "")
        let line = try #require(Journal.line(record))
        #expect(line.contains(#""endpoint_ids":["\/v2\/status\/ping"]"#) || line.contains(#""endpoint_ids":["/v2/status/ping"]"#), "\(line)")
        let dir = try TempDir(prefix: "cutover-journal-new")
        let journal = Journal(path: dir.file("journal.jsonl"))
        try journal.append(record)
        let read = try #require(try journal.records().first)
        #expect(read.change.endpointIDs == [v2.id])
        #expect(read.change.touches(v2) && !read.change.touches(v1), "the short name no longer reaches the other endpoint")
        let changes = Settings.routingChanges(journal: [read], model: model)
        #expect(changes.map(\.endpoint) == [v2.id])
    }

    @Test func anEditJournalsTheIdentitiesOfWhatItMoved() throws {
        let dir = try TempDir(prefix: "cutover-journal-edit")
        let path = try dir.write("routing.conf", Self.config)
        let config = try ConfigSet.load(path: path)
        let model = Discovery.discover(config)
        let result = try RolloutEditor(config: config, model: model).apply(.rollback(endpoints: ["/v2/status/ping"]))
        let description = EditApplier.describe(result, before: model, reason: nil)
        #expect(description.endpointIDs == [EndpointID(raw: "/v2/status/ping")], "\(description)")
    }

    // The record format step: endpoint percents by map key (`endpoint_percents_before`/`_after`) beside the group
    // maps, where records before it wrote `endpoint:NAME` entries into the group maps.

    @Test func anOldRecordsEndpointEntriesAreReadApartFromTheGroupsAndWrittenBackAsTheyWere() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/journal-before-endpoint-ids.jsonl")
        let dir = try TempDir(prefix: "cutover-journal-old-percents")
        let path = dir.file("journal.jsonl")
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        let records = try Journal(path: path).records()
        let ramp = records[0].change, rollback = records[1].change
        #expect(ramp.percentsBefore == ["group1_routing": 10] && ramp.percentsAfter == ["group1_routing": 25], "the group maps hold groups only")
        #expect(ramp.legacyEndpointPercentsBefore == ["ping": 10] && ramp.legacyEndpointPercentsAfter == ["ping": 25])
        #expect(ramp.endpointPercentsBefore.isEmpty && ramp.endpointPercentsAfter.isEmpty)
        #expect(rollback.percentsBefore.isEmpty && rollback.legacyEndpointPercentsAfter == ["orders": 0])
        // Resolved against the config: `ping` names two endpoints, so it resolves to neither.
        let model = try Self.model()
        #expect(ramp.endpointPercents(in: model).before.isEmpty)
        // Written back as read: the old entries keep their place and no typed field appears.
        let line = try #require(Journal.line(records[0]))
        #expect(line.contains(#""endpoint:ping":10"#) && line.contains(#""group1_routing":10"#), "\(line)")
        #expect(!line.contains("endpoint_percents"), "\(line)")
        // A rollback to 0% is still told from the old entries.
        let changes = Settings.routingChanges(journal: records, model: model)
        #expect(changes.first { $0.endpoint.key.isRegex }?.rollback == true)
    }

    @Test func aNewRecordKeepsEndpointPercentsByMapKeyAndUndoSwapsThem() throws {
        let dir = try TempDir(prefix: "cutover-journal-percents")
        let path = try dir.write("routing.conf", Self.config)
        let config = try ConfigSet.load(path: path)
        let model = Discovery.discover(config)
        let v2 = EndpointID(raw: "/v2/status/ping")
        let result = try RolloutEditor(config: config, model: model).apply(.rollback(endpoints: ["/v2/status/ping"]))
        let description = EditApplier.describe(result, before: model, reason: nil)
        #expect(description.endpointPercentsBefore == [v2: 10] && description.endpointPercentsAfter == [v2: 0])
        #expect(!description.percentsBefore.keys.contains { $0.hasPrefix("endpoint:") }, "no endpoint entry in the group map")
        let record = JournalRecord(id: "r-typed", time: Date(timeIntervalSince1970: 1_790_000_000), user: "ops", host: "edge-1",
                                   change: description, outcome: .applied, message: "applied", files: [], configHashBefore: "",
                                   configHashAfter: "")
        let line = try #require(Journal.line(record))
        #expect(line.contains(#""endpoint_percents_before":{"/v2/status/ping":10}"#) || line.contains(#""endpoint_percents_before":{"\/v2\/status\/ping":10}"#), "\(line)")
        let journal = Journal(path: dir.file("journal.jsonl"))
        try journal.append(record)
        let read = try #require(try journal.records().first)
        #expect(read.change == description, "the typed form reads back as written")
        #expect(read.change.endpointPercents(in: model).before == [v2: 10])
        let undo = read.change.reversed(action: "undo", reason: "undo")
        #expect(undo.endpointPercentsBefore == [v2: 0] && undo.endpointPercentsAfter == [v2: 10] && undo.endpointIDs == [v2])
        // The traffic figures tell the rollback from the typed percents even without a rollback action.
        var lowered = read
        lowered.change.action = "group"
        #expect(Settings.routingChanges(journal: [lowered], model: model).map(\.rollback) == [true])
    }
}

/// An exact key escaped with a backslash (`\~^/v2/a$`) reads like the regex `~^/v2/a$` once unescaped; nginx
/// keeps them apart (it compares the first as text), and so must every identity.
@Suite struct LookAlikeKeyTests {
    static let config = """
        map $uri $target_path {
            ~^/v2/a$ "/v3/a";
            "\\~^/v2/a$" "/v3/literal";
        }
        map $target_path $is_migratable { "" 0; default 1; }
        split_clients "${request_id}" $group1_routing {
            10% "new_service";
            * "current_service";
        }
        split_clients "${request_id}" $group2_routing {
            20% "new_service";
            * "current_service";
        }
        map $uri $split_group {
            ~^/v2/a$ "$group1_routing";
            "\\~^/v2/a$" "$group2_routing";
        }

        """

    @Test func anExactKeyNeverEqualsTheRegexOfTheSameText() {
        let exact = MapKey(raw: "\\~^/v2/a$"), regex = MapKey(raw: "~^/v2/a$")
        #expect(!exact.isRegex && regex.isRegex && exact.key == regex.key)
        #expect(exact != regex && EndpointID(exact) != EndpointID(regex))
        #expect(Set([EndpointID(exact), EndpointID(regex)]).count == 2)
        #expect(MapKey(raw: "/v2/PING") == MapKey(raw: "/v2/ping"), "exact keys still compare case-insensitively")
    }

    @Test func bothAreEndpointsAndAnEditMovesOnlyTheOneItNames() throws {
        let dir = try TempDir(prefix: "cutover-look-alike")
        let path = try dir.write("routing.conf", Self.config)
        let config = try ConfigSet.load(path: path)
        let model = Discovery.discover(config)
        #expect(model.endpoints.map(\.id.description) == ["~^/v2/a$", "\\~^/v2/a$"])
        #expect(model.endpoints.map(\.percent) == [Percent(hundredths: 1000), Percent(hundredths: 2000)])
        #expect(!model.problems.contains { $0.kind == .repeatedRegexKey || $0.kind == .duplicateKey }, "\(model.problems)")
        #expect(Set(model.endpoints.map(\.name)).count == 2, "their names differ too: \(model.endpoints.map(\.name))")
        let exact = try #require(model.endpoints.last)
        #expect(try model.resolveEndpoint("\\~^/v2/a$").id == exact.id)
        let result = try RolloutEditor(config: config, model: model).apply(.rollback(endpoints: ["\\~^/v2/a$"]))
        #expect(result.shifts.map(\.id) == [exact.id])
        #expect(result.shifts.first.map { ($0.percentBefore, $0.percentAfter) } ?? (.zero, .hundred) == (Percent(hundredths: 2000), .zero))
        #expect(result.model.endpoints.map(\.percent) == [Percent(hundredths: 1000), .zero])
    }
}
