import Apply
import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The autopilot end to end: the real `cutover guard` following a real nginx's logs on 127.0.0.1, executing a
/// ramp plan made with `cutover ramp`, and rolling back by itself an endpoint whose new backend answers 5% 5xx.
@Suite(.serialized) struct AutopilotIntegrationTests {
    static let book = "/v2/content_api/book.get_book_info"
    static let orders = "/v2/orders/12"

    /// A `cutover guard` running in the background, its stdout in a file.
    final class GuardProcess: @unchecked Sendable {
        let process = Process()
        let output: String

        init(_ setup: CLIReferenceNginx, extra: [String] = [], output name: String = "guard.out") throws {
            output = setup.nginx.directory.file(name)
            FileManager.default.createFile(atPath: output, contents: nil)
            FileManager.default.createFile(atPath: setup.nginx.directory.file(name + ".err"), contents: nil)
            process.executableURL = URL(fileURLWithPath: try CutoverBinary.path())
            process.arguments = ["guard", "--config", setup.routingPath, "--settings", setup.settingsPath,
                                 "--main-log", setup.mainLog, "--migration-log", setup.migrationLog, "--interval", "0.5"] + extra
            process.currentDirectoryURL = URL(fileURLWithPath: setup.nginx.prefix)
            var env = ProcessInfo.processInfo.environment
            env["XDG_STATE_HOME"] = setup.nginx.directory.file("state")
            process.environment = env
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: setup.nginx.directory.file(name + ".err")))
            try process.run()
        }

        var lines: [String] { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }

        /// Sends SIGTERM and waits (at most 15 s) for the exit; the exit status, nil if it did not exit.
        func terminate() -> Int32? {
            guard process.isRunning else { return process.terminationStatus }
            kill(process.processIdentifier, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(15)
            while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return nil
            }
            return process.terminationStatus
        }
    }

    /// The guard's lines once one matches, polling at most `seconds` while `traffic` sends requests.
    func until(_ guardProcess: GuardProcess, seconds: Double, traffic: () throws -> Void, _ done: ([String]) -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if done(guardProcess.lines) { return true }
            try traffic()
        }
        return done(guardProcess.lines)
    }

    @Test func aPlanRampsAHealthyEndpointThroughThreeSteps() throws {
        let setup = try CLIReferenceNginx(percents: [30, 50, 100])
        defer { setup.nginx.stop() }
        let created = try setup.cutover(["ramp", "book.get_book_info", "--steps", "40,60,80", "--bake", "1s", "--gate", "not-bad",
                                         "--min-requests", "30", "--reason", "integration", "--config", setup.routingPath])
        try #require(created.exitCode == 0, "\(created)")
        let id = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.hasPrefix("p-") && id.count == 10, "\(created)")
        #expect(created.stderr.contains("no executor is running"))
        let guardProcess = try GuardProcess(setup)
        defer { _ = guardProcess.terminate() }
        let client = HTTPTestClient(port: setup.frontPort)
        let completed = try until(guardProcess, seconds: 90, traffic: {
            for _ in 0..<20 { _ = try client.get(Self.book) }
            client.closeConnection()
            usleep(30_000)  // a gentle neighbour: the suites run in parallel on two cores
        }) { lines in lines.contains { $0.hasPrefix("plan-completed") } }
        let lines = guardProcess.lines
        #expect(completed, "\(lines.joined(separator: "\n"))\n\((try? String(contentsOfFile: setup.nginx.directory.file("guard.out.err"), encoding: .utf8)) ?? "")")
        #expect(lines.filter { $0.hasPrefix("plan-step plan=\(id)") }.count == 3, "\(lines)")
        #expect(lines.contains { $0.contains("percent=60%->80%") })
        // The config, the journal and the plans agree.
        let text = try setup.routingText()
        #expect(text.contains("split_clients \"${request_id}\" $group1_routing {\n    80% \"new_service\";"), "\(text)")
        #expect(text.contains("50% \"new_service\"") && text.contains("100% \"new_service\""), "no other group moved")
        let journal = setup.journalLines()
        #expect(journal.count == 3 && journal.allSatisfy { $0.contains("\"outcome\":\"applied\"") && $0.contains("autopilot: plan \(id) step") })
        let plans = try setup.cutover(["plans", "--json", "--all", "--config", setup.routingPath])
        try #require(plans.exitCode == 0, "\(plans)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(plans.stdout.utf8)) as? [String: Any])
        let plan = try #require((document["plans"] as? [[String: Any]])?.first)
        #expect(plan["id"] as? String == id && plan["state"] as? String == "completed" && plan["percent"] as? Double == 80)
        #expect(plan["endpoint"] as? String == "~^/v2/content_api/book.get_book_info" && plan["step"] as? Int == 3)
        #expect((document["executor"] as? [String: Any])?["role"] as? String == "guard")
        // A clean stop on SIGTERM.
        #expect(guardProcess.terminate() == 0)
        #expect(guardProcess.lines.last?.contains("guard: stopped (SIGTERM)") == true, "\(guardProcess.lines)")
    }

    @Test func aSecondGuardWaitsOnStandbyNamingTheHolderAndTakesOverWhenItIsGone() throws {
        let setup = try CLIReferenceNginx(percents: [30, 50, 100])
        defer { setup.nginx.stop() }
        let first = try GuardProcess(setup)
        defer { _ = first.terminate() }
        let started = try until(first, seconds: 15, traffic: { usleep(20_000) }) { $0.contains { $0.hasPrefix("lease executing the plans") } }
        try #require(started, "\(first.lines)")
        let second = try GuardProcess(setup, output: "guard2.out")
        defer { _ = second.terminate() }
        let pid = first.process.processIdentifier
        let standby = try until(second, seconds: 15, traffic: { usleep(20_000) }) { $0.contains { $0.contains("guard: standby") } }
        #expect(standby && second.lines.contains { $0.contains("executed by cutover guard pid \(pid)") }, "\(second.lines)")
        let plans = try setup.cutover(["plans", "--config", setup.routingPath])
        #expect(plans.stdout.contains("executed by cutover guard pid \(pid)"), "\(plans)")
        // The holder dies without a word: the standby takes over.
        kill(pid, SIGKILL)
        first.process.waitUntilExit()
        let took = try until(second, seconds: 15, traffic: { usleep(20_000) }) { $0.contains { $0.contains("took the executor lease over from cutover guard pid \(pid)") } }
        #expect(took, "\(second.lines)")
        #expect(second.terminate() == 0, "\(second.lines)\n\((try? String(contentsOfFile: setup.nginx.directory.file("guard2.out.err"), encoding: .utf8)) ?? "")")
    }

    @Test func theGuardRollsBackAnEndpointWhoseBackendAnswersFivePercent5xx() throws {
        // The new backend fails one request in twenty (by the request id, as nginx splits).
        let setup = try CLIReferenceNginx(percents: [30, 50, 100]) { text, _ in
            text.replacingOccurrences(of: #"location / { return 200 "new"; }"#,
                                      with: #"location / { if ($fail_one_in_twenty) { return 500 "broken"; } return 200 "new"; }"#)
                .replacingOccurrences(of: "http {", with: "http {\n    split_clients \"${request_id}x\" $fail_one_in_twenty { 5% 1; * \"\"; }")
        }
        defer { setup.nginx.stop() }
        let events = setup.nginx.directory.file("events.jsonl")
        let settings = try String(contentsOfFile: setup.settingsPath, encoding: .utf8)
        try (settings + """
            guard:
              auto_rollback: true
              cooldown: 10m
              notify: [/bin/sh, -c, "cat >> \(events)"]

            """).write(toFile: setup.settingsPath, atomically: true, encoding: .utf8)
        // No reload happens before the rollback: these are the workers it replaces.
        let workersBefore = setup.workers()
        let guardProcess = try GuardProcess(setup, extra: ["--confirm-traffic", "1"])
        defer { _ = guardProcess.terminate() }
        let client = HTTPTestClient(port: setup.frontPort)
        var sent = 0, failed = 0
        let rolledBack = try until(guardProcess, seconds: 120, traffic: {
            for _ in 0..<100 {
                let response = try client.get(Self.orders)
                sent += 1
                if response.status == 500 { failed += 1 }
            }
            usleep(30_000)  // a gentle neighbour: the suites run in parallel on two cores
        }) { lines in lines.contains { $0.hasPrefix("automatic-rollback") } }
        let lines = guardProcess.lines
        try #require(rolledBack, "sent \(sent), \(failed) failed\n\(lines.joined(separator: "\n"))\n\((try? String(contentsOfFile: setup.nginx.directory.file("guard.out.err"), encoding: .utf8)) ?? "")")
        #expect(failed > 0)
        let line = try #require(lines.first { $0.hasPrefix("automatic-rollback") })
        #expect(line.contains("endpoint=~^/v2/orders/(\\d+)$") && line.contains("percent=50%->0%") && line.contains("verdict=bad"), "\(line)")
        // Only orders went back; the journal has the evidence and the outcome.
        let text = try setup.routingText()
        #expect(text.contains(#"~^/v2/orders/(\d+)$ "current_service";"#), "\(text)")
        #expect(text.contains("30% \"new_service\"") && text.contains("100% \"new_service\""))
        let journal = setup.journalLines()
        #expect(journal.count == 1)
        #expect(journal.first?.contains("autopilot: automatic rollback of ") == true && journal.first?.contains("5xx ") == true
                && journal.first?.contains("\"outcome\":\"applied\"") == true, "\(journal)")
        // Once: more traffic and time bring no second action; the traffic confirms the rollback. (Requests go
        // through the new config once the workers from before the reload have exited.)
        #expect(setup.awaitExit(of: workersBefore), "the workers from before the rollback's reload are still running after 5 s")
        client.closeConnection()
        let confirmed = try until(guardProcess, seconds: 20, traffic: {
            for _ in 0..<50 {
                let response = try client.get(Self.orders)
                #expect(response.body != "new" && response.body != "broken", "the new service still answers orders")
            }
        }) { lines in lines.contains { $0.hasPrefix("rollback-") } }
        #expect(confirmed && guardProcess.lines.contains { $0.hasPrefix("rollback-confirmed") && $0.contains("traffic confirms the rollback") },
                "\(guardProcess.lines)")
        #expect(guardProcess.lines.filter { $0.hasPrefix("automatic-rollback") }.count == 1)
        #expect(setup.journalLines().count == 1)
        // The notify command got the event as one JSON object on its stdin.
        let deadline = ContinuousClock.now + .seconds(10)
        while ((try? String(contentsOfFile: events, encoding: .utf8)) ?? "").isEmpty && ContinuousClock.now < deadline { usleep(20_000) }
        let sentEvents = ((try? String(contentsOfFile: events, encoding: .utf8)) ?? "").split(separator: "\n")
        let event = try #require(sentEvents.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }, "\(sentEvents)")
        #expect(event["event"] as? String == "automatic-rollback" && event["verdict"] as? String == "bad")
        #expect((event["evidence"] as? [String])?.contains { $0.contains("5xx") } == true)
        #expect(guardProcess.terminate() == 0)
    }
}
