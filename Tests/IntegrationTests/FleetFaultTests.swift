import Apply
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A fleet change checked beside the live files by the real `nginx -t`, and a fleet change whose `cutover`
/// process is killed mid-way, put back on every host by the next command.
@Suite(.serialized) struct FleetFaultTests {
    /// A `run` prefix that, when the command is `nginx ... -c MAIN -t`, first copies the host's live routing file
    /// (beside MAIN's directory) to `routing-during-validate` and notes MAIN, then runs the command.
    static let watchingValidation = """
        main=""; prev=""; for a in "$@"; do [ "$prev" = "-c" ] && main="$a"; prev="$a"; done
        if [ "$prev" = "-t" ] && [ -n "$main" ]; then d=$(dirname "$main"); cp "$d/conf.d/routing.conf" "$d/routing-during-validate"; printf '%s' "$main" > "$d/validated-main"; fi
        exec "$@"

        """

    @Test func theRealNginxTChecksTheCandidateWhileEveryLiveFileStaysAsItWas() throws {
        let scripts = try TempDir(prefix: "cutover-fleet-watch")
        let run = ["sh", try scripts.write("watch.sh", Self.watchingValidation)]
        let fleet = try FleetNginx(count: 2, run: ["edge1": run, "edge2": run])
        defer { fleet.stop() }
        let before = try fleet.routing(0)
        let result = try fleet.cutover(["set", "ping", "--percent", "0", "--yes"])
        try #require(result.exitCode == 0, "\(result)")
        for (index, host) in fleet.hosts.enumerated() {
            let conf = host.nginx.directory
            #expect(try conf.read("routing-during-validate") == before, "\(host.name): the live file was untouched while nginx -t ran")
            let main = try conf.read("validated-main")
            #expect(main.contains("/.nginx.conf.cutover-candidate-"), "\(host.name) validated \(main)")
            #expect(!FileManager.default.fileExists(atPath: main), "the candidate main config is removed afterwards")
            #expect(try fleet.routing(index).contains("0% \"new_service\""))
            #expect(try fleet.awaitAnswer(index, "/v2/status/ping", "current"))
        }
        let record = try fleet.lastRecord()
        #expect(FleetNginx.hostStates(record) == ["edge1": "applied", "edge2": "applied"])
    }

    @Test func aCutoverKilledMidFleetChangeIsPutBackOnEveryHostByTheNextCommand() throws {
        let marks = try TempDir(prefix: "cutover-fleet-kill")
        let mark = marks.file("edge2-reloading")
        // edge2's first reload hangs (the process is killed meanwhile); later ones succeed at once.
        let reload = "if [ -e \(mark) ]; then exit 0; fi; touch \(mark); sleep 30"
        let fleet = try FleetNginx(count: 2, hostLines: ["edge2": ["nginx: {reload: [sh, -c, \"\(reload)\"]}"]])
        defer { fleet.stop() }
        let before = try fleet.routing(0)
        let child = try SpawnedCutover(["set", "ping", "--percent", "0", "--yes", "--settings", fleet.settingsPath],
                                       env: ["XDG_STATE_HOME": fleet.dir.file("state"), "XDG_CONFIG_HOME": fleet.dir.file("state")],
                                       outputDir: marks, name: "set")
        try #require(awaitFile(mark, timeout: .seconds(30)), "edge2's reload never started: \(child.stderr)")
        kill(child.pid, SIGKILL)
        _ = child.wait()
        // Killed after both hosts were swapped, while reloading: the change is in every host's files, not journaled.
        for index in 0..<2 { #expect(try fleet.routing(index) != before) }
        #expect(((try? String(contentsOfFile: fleet.journalPath, encoding: .utf8)) ?? "").isEmpty, "nothing was journaled")

        let routes = try fleet.cutover(["routes"])
        #expect(routes.exitCode == 0, "\(routes)")
        #expect(routes.stderr.contains("RECOVERED"), "\(routes)")
        #expect(routes.stderr.contains("edge1, edge2"), "\(routes)")
        for index in 0..<2 {
            #expect(try fleet.routing(index) == before, "edge\(index + 1) holds its previous routing")
            #expect(try fleet.awaitAnswer(index, "/v2/status/ping", "new"), "edge\(index + 1) serves it")
        }
        let record = try fleet.lastRecord()
        #expect(record["outcome"] as? String == "recovered")
        #expect(FleetNginx.hostStates(record) == ["edge1": "reverted", "edge2": "reverted"])
        // Nothing is left to recover, and the hosts agree.
        let again = try fleet.cutover(["routes"])
        #expect(!again.stderr.contains("RECOVERED"), "\(again)")
        #expect(!again.stdout.contains("DRIFT"), "\(again.stdout)")
    }

    @Test func aRampLimitedToACanaryHostIsKeptWithItsHostsAndMustGateOnNotBad() throws {
        let fleet = try FleetNginx(count: 2)
        defer { fleet.stop() }
        let refused = try fleet.cutover(["ramp", "ping", "--steps", "50,100", "--bake", "0s", "--hosts", "edge1"])
        #expect(refused.exitCode == 3, "\(refused)")
        #expect(refused.stderr.contains("--gate not-bad"), "\(refused)")
        let unknown = try fleet.cutover(["ramp", "ping", "--steps", "50,100", "--gate", "not-bad", "--hosts", "edge9"])
        #expect(unknown.exitCode == ExitStatus.usage.rawValue && unknown.stderr.contains("edge9"), "\(unknown)")
        let created = try fleet.cutover(["ramp", "ping", "--steps", "50,100", "--bake", "0s", "--gate", "not-bad", "--hosts", "edge1"])
        try #require(created.exitCode == 0, "\(created)")
        #expect(created.stderr.contains("on edge1 only"), "\(created)")
        let plans = try fleet.cutover(["plans", "--json"])
        let document = try #require(try JSONSerialization.jsonObject(with: Data(plans.stdout.utf8)) as? [String: Any], "\(plans)")
        let list = try #require(document["plans"] as? [[String: Any]])
        #expect(list.first?["hosts"] as? [String] == ["edge1"], "\(list)")
        let text = try fleet.cutover(["plans"])
        #expect(text.stdout.contains("on edge1"), "\(text.stdout)")
        // Nothing moves until an executor runs the plan.
        #expect(try fleet.routing(0) == FleetRouting.text() && fleet.routing(1) == FleetRouting.text())
    }
}
