import Apply
import Foundation
import NginxConfig
import Rollout
import TestSupport
import Testing

@Suite struct EditApplierTests {
    static let routing = """
    map $uri $target_path {
        ~^/v2/a$ "/a";
        ~^/v2/b$ "/b";
    }
    split_clients "${request_id}" $group1_routing {
        10% "new_service";
        * "current_service";
    }
    split_clients "${request_id}" $group2_routing {
        50% "new_service";
        * "current_service";
    }
    map $uri $split_group {
        ~^/v2/a$ "$group1_routing";
        ~^/v2/b$ "$group1_routing";
    }

    """

    func applier(_ dir: TempDir, runner: ScriptedRunner) -> EditApplier {
        let control = NginxControl(validateArgv: ["nginx", "-t"], reloadArgv: ["nginx", "-s", "reload"], verify: [])
        let configuration = ApplyConfiguration(nginx: control, mainConfig: dir.file("routing.conf"), journal: Journal(path: dir.file("journal.jsonl")))
        return EditApplier(pipeline: ApplyPipeline(configuration: configuration, runner: runner), configPath: dir.file("routing.conf"),
                           prefix: nil, names: RolloutNames())
    }

    func preview(_ path: String, _ edit: RolloutEdit) throws -> (EditResult, RolloutModel) {
        let config = try ConfigSet.load(path: path)
        let editor = RolloutEditor(config: config)
        return (try editor.apply(edit), editor.model)
    }

    @Test func anotherCutoverWritersChangeIsKeptNotLost() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try dir.write("routing.conf", Self.routing)
        let runner = ScriptedRunner([.init(["nginx", "-t"]), .init(["nginx", "-s", "reload"]), .init(["nginx", "-t"]), .init(["nginx", "-s", "reload"])])
        // Both previews are computed from the same text, as two processes started together would.
        let (first, firstModel) = try preview(path, .assign(endpoint: "a", group: "group2_routing"))
        let (second, secondModel) = try preview(path, .setGroupPercent(group: "group1_routing", percent: Percent(hundredths: 2500), create: false))
        let a = try applier(dir, runner: runner).apply(.assign(endpoint: "a", group: "group2_routing"), preview: first, previewModel: firstModel, reason: "first")
        #expect(a.outcome == .applied)
        let b = try applier(dir, runner: runner).apply(.setGroupPercent(group: "group1_routing", percent: Percent(hundredths: 2500), create: false),
                                                       preview: second, previewModel: secondModel, reason: "second")
        #expect(b.outcome == .applied, "\(b.message)")
        let final = try dir.read("routing.conf")
        #expect(final.contains("~^/v2/a$ \"$group2_routing\";"))
        #expect(final.contains("25% \"new_service\";"))
        let records = try Journal(path: dir.file("journal.jsonl")).records()
        #expect(records.map(\.change.reason) == ["first", "second"])
        #expect(records[1].change.percentsBefore["group1_routing"] == 10)
        #expect(records[1].change.percentsAfter["group1_routing"] == 25)
        runner.verifyAllRan()
    }

    @Test func aHandEditSinceThePreviewIsAConflict() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try dir.write("routing.conf", Self.routing)
        let runner = ScriptedRunner([])
        let (result, model) = try preview(path, .assign(endpoint: "b", group: "group2_routing"))
        try Self.routing.replacingOccurrences(of: "10%", with: "15%").write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            try applier(dir, runner: runner).apply(.assign(endpoint: "b", group: "group2_routing"), preview: result, previewModel: model, reason: nil)
        } throws: { error in
            guard let e = error as? ApplyError, case .fileChanged(let p, let diff) = e else { return false }
            return p == path && diff.contains("-    10% \"new_service\";") && diff.contains("+    15% \"new_service\";") && e.exitCode == 5
        }
        #expect(try dir.read("routing.conf").contains("15%"))
    }

    @Test func anEditThatBecameInvalidUnderTheLockIsRefused() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = try dir.write("routing.conf", Self.routing)
        let runner = ScriptedRunner([.init(["nginx", "-t"]), .init(["nginx", "-s", "reload"])])
        let (result, model) = try preview(path, .assign(endpoint: "b", group: "group2_routing"))
        // Another Cutover writer removes the endpoint first.
        let (removal, removalModel) = try preview(path, .remove(endpoint: "b"))
        _ = try applier(dir, runner: runner).apply(.remove(endpoint: "b"), preview: removal, previewModel: removalModel, reason: nil)
        #expect(throws: ApplyError.self) {
            try applier(dir, runner: runner).apply(.assign(endpoint: "b", group: "group2_routing"), preview: result, previewModel: model, reason: nil)
        }
        #expect(!(try dir.read("routing.conf").contains("~^/v2/b$")))
    }
}
