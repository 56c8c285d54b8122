import Foundation
import TestSupport
import Testing

/// `ramp`, `plans` and `plan` with the real binary on a routing file (no nginx needed until a plan runs): the
/// names, the refusals and their exit codes, the text and JSON listings.
@Suite struct AutopilotCLITests {
    func sandbox() throws -> (TempDir, [String]) {
        let dir = try TempDir(prefix: "cutover-autopilot-cli")
        _ = try dir.write("routing.conf", """
            map $uri $target_path {
                ~^/v2/a$ "/a";
                ~^/v2/b$ "/b";
            }
            split_clients "${request_id}" $group1_routing {
                10% "new_service";
                * "current_service";
            }
            map $uri $split_group {
                ~^/v2/a$ "$group1_routing";
                ~^/v2/b$ "$group1_routing";
            }

            """)
        _ = try dir.write("cutover.yaml", "config: routing.conf\nladder: [20, 40, 100]\n")
        return (dir, ["--settings", dir.file("cutover.yaml")])
    }

    func run(_ dir: TempDir, _ args: [String]) throws -> CutoverBinary.Result {
        try runCutover(args, cwd: dir.path, env: ["XDG_STATE_HOME": dir.file("state")])
    }

    @Test func rampListsAndControlsAPlanWithItsNamesAndExitCodes() throws {
        let (dir, settings) = try sandbox()
        defer { dir.remove() }
        let created = try run(dir, ["ramp", "a", "--bake", "2h", "--min-requests", "50", "--reason", "ticket 1"] + settings)
        try #require(created.exitCode == 0, "\(created)")
        let id = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(created.stderr.contains("steps 20% → 40% → 100%, bake 2h00m, gate healthy, 50 new-service requests per step"), "\(created)")
        // One plan per endpoint at a time.
        let twice = try run(dir, ["ramp", "a"] + settings)
        #expect(twice.exitCode == 3 && twice.stderr.contains("plan \(id) already ramps"), "\(twice)")
        let listed = try run(dir, ["plans"] + settings)
        #expect(listed.exitCode == 0 && listed.stdout.contains("no executor is running"), "\(listed)")
        let row = try #require(listed.stdout.split(separator: "\n").first { $0.hasPrefix(id) }, "\(listed)")
        #expect(row.contains("~^/v2/a$") && row.contains("pending") && row.contains("healthy"), "\(row)")
        let json = try run(dir, ["plans", "--json"] + settings)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json)")
        #expect(document["executor"] is NSNull)
        let plan = try #require((document["plans"] as? [[String: Any]])?.first)
        for key in ["id", "endpoint", "group", "step", "steps", "percent", "state", "bake_left_seconds", "gate", "gate_status", "waiting"] {
            #expect(plan.keys.contains(key), "plans --json lacks \(key)")
        }
        #expect(plan["steps"] as? [Double] == [20, 40, 100] && plan["min_requests"] as? Int == 50 && plan["reason"] as? String == "ticket 1")
        let paused = try run(dir, ["plan", "pause", id, "--reason", "lunch"] + settings)
        #expect(paused.exitCode == 0 && paused.stdout.contains("plan-paused") && paused.stdout.contains("plan \(id): paused"), "\(paused)")
        let again = try run(dir, ["plan", "pause", id] + settings)
        #expect(again.exitCode == 3 && again.stderr.contains("already paused"), "\(again)")
        // Aborting a plan that applied no step changes nothing in the config.
        let before = try dir.read("routing.conf")
        let aborted = try run(dir, ["plan", "abort", String(id.prefix(5))] + settings)
        #expect(aborted.exitCode == 0 && aborted.stdout.contains("plan \(id): aborted"), "\(aborted)")
        #expect(try dir.read("routing.conf") == before)
        #expect(try run(dir, ["plans"] + settings).stdout.contains("no active plans"))
        #expect(try run(dir, ["plans", "--all"] + settings).stdout.contains("aborted"))
    }

    @Test func wrongArgumentsAreRefusedSayingWhatToDo() throws {
        let (dir, settings) = try sandbox()
        defer { dir.remove() }
        let steps = try run(dir, ["ramp", "a", "--steps", "5,one"] + settings)
        #expect(steps.exitCode == 64 && steps.stderr.contains("is not a list of percents such as 1,5,10,25,50,100"), "\(steps)")
        let down = try run(dir, ["ramp", "a", "--steps", "50,10"] + settings)
        #expect(down.exitCode == 3 && down.stderr.contains("--steps must increase"), "\(down)")
        let bake = try run(dir, ["ramp", "a", "--bake", "soon"] + settings)
        #expect(bake.exitCode == 64 && bake.stderr.contains("--bake soon is not a duration"), "\(bake)")
        let gate = try run(dir, ["ramp", "a", "--gate", "green"] + settings)
        #expect(gate.exitCode == 64 && gate.stderr.contains("--gate must be healthy or not-bad"), "\(gate)")
        let both = try run(dir, ["ramp", "a", "--group", "group1_routing"] + settings)
        #expect(both.exitCode == 64, "\(both)")
        let unknown = try run(dir, ["ramp", "zzz"] + settings)
        #expect(unknown.exitCode == 3 && unknown.stderr.contains("no endpoint matches \"zzz\""), "\(unknown)")
        let action = try run(dir, ["plan", "frobnicate", "p-00000000"] + settings)
        #expect(action.exitCode == 64 && action.stderr.contains("pause, resume, promote or abort"), "\(action)")
        let missing = try run(dir, ["plan", "resume", "p-00000000"] + settings)
        #expect(missing.exitCode == 3 && missing.stderr.contains("no plan p-00000000"), "\(missing)")
        let guardSettings = try dir.write("bad.yaml", "config: routing.conf\nguard:\n  auto_rollback: yes please\n")
        let bad = try run(dir, ["guard", "--settings", guardSettings])
        #expect(bad.exitCode == 1 && bad.stderr.contains("bad.yaml:3: guard.auto_rollback must be true or false"), "\(bad)")
    }
}
