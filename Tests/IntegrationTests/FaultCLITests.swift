import Apply
import Foundation
import Synchronization
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A `cutover` child started as a shell starts it (default signal dispositions, empty mask), output to files,
/// so a test can signal it mid-change.
final class SpawnedCutover: @unchecked Sendable {
    let outPath: String
    let errPath: String
    private let child: CleanChild
    var pid: pid_t { child.pid }

    init(_ args: [String], env: [String: String], outputDir: TempDir, name: String) throws {
        outPath = outputDir.file("\(name).out")
        errPath = outputDir.file("\(name).err")
        child = try CleanChild([try CutoverBinary.path()] + args, stdout: outPath, stderr: errPath, environment: env)
    }

    /// Waits at most `timeout` for the child to end; returns its raw wait status (nil: still running, then killed).
    func wait(timeout: Duration = .seconds(20)) -> Int32? { child.wait(timeout: timeout) }

    var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// The signal that ended the child, from a raw wait status.
    static func signal(_ raw: Int32) -> Int32? { raw & 0x7f == 0 ? nil : raw & 0x7f }
    /// The exit code, from a raw wait status.
    static func exitCode(_ raw: Int32) -> Int32? { raw & 0x7f == 0 ? (raw >> 8) & 0xff : nil }
}

/// Waits (bounded) until `path` exists.
func awaitFile(_ path: String, timeout: Duration = .seconds(15)) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !FileManager.default.fileExists(atPath: path) {
        guard ContinuousClock.now < deadline else { return false }
        usleep(5_000)
    }
    return true
}

/// The real `cutover` against a real nginx under faults: signals and SIGKILL mid-validation, hand edits while
/// nginx -t runs, stale pid files, relative pid/error_log, hostile request paths, FIFOs and directories as
/// inputs, per-config journals, an unwritable journal during an emergency rollback, traffic confirmation.
@Suite(.serialized) struct FaultCLITests {
    /// Settings aimed at `setup` with a validate command that marks its start, sleeps, then runs the real `nginx -t`.
    static func slowSettings(_ setup: CLIReferenceNginx, marker: String, sleep: String = "1.5") throws -> String {
        let nginx = CLIReferenceNginx.nginxBinary
        let script = "touch \(marker); sleep \(sleep); exec \(nginx) -p \(setup.nginx.prefix) -c \(setup.nginx.mainConfig) -t"
        return try setup.nginx.write("slow.yaml", """
            main_config: \(setup.nginx.mainConfig)
            journal: \(setup.journalPath)
            nginx:
              binary: \(nginx)
              timeout: 20
              validate: ["/bin/sh", "-c", "\(script)"]

            """)
    }

    static func env(_ setup: CLIReferenceNginx) -> [String: String] {
        ["XDG_STATE_HOME": setup.nginx.directory.file("state"), "XDG_CONFIG_HOME": setup.nginx.directory.file("state")]
    }

    static func outcomes(_ setup: CLIReferenceNginx) -> [String] {
        setup.journalLines().compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["outcome"] as? String
        }
    }

    @Test(arguments: [SIGTERM, SIGHUP, SIGINT])
    func aSignalDuringASlowValidationRevertsJournalsAndThenEndsTheProcess(signal: Int32) throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let before = try setup.routingText()
        let workers = setup.workers()
        let marker = setup.nginx.directory.file("validating")
        let settings = try Self.slowSettings(setup, marker: marker)
        let child = try SpawnedCutover(["set", "orders", "--percent", "100", "--yes", "--config", setup.routingPath, "--settings", settings],
                                       env: Self.env(setup), outputDir: setup.nginx.directory, name: "set")
        try #require(awaitFile(marker), "validation never started: \(child.stderr)")
        #expect(try setup.routingText() != before, "the new text is in place while nginx -t runs")
        kill(child.pid, signal)
        let raw = try #require(child.wait(), "cutover did not end after the signal")
        #expect(SpawnedCutover.signal(raw) == signal, "ends by the signal once the change is reverted: \(raw) \(child.stderr)")
        #expect(try setup.routingText() == before, "reverted before any reload")
        #expect(Self.outcomes(setup) == ["interrupted"], "\(setup.journalLines())")
        #expect(child.stdout.contains("interrupted"), "the report was printed first: \(child.stdout)")
        #expect(setup.workers() == workers, "nginx was not reloaded")
        #expect(!FileManager.default.fileExists(atPath: setup.nginx.directory.file(".cutover.intent.json")))
    }

    @Test func aSIGKILLMidChangeIsRecoveredByTheNextCommand() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let before = try setup.routingText()
        let marker = setup.nginx.directory.file("validating")
        let settings = try Self.slowSettings(setup, marker: marker, sleep: "0.5")
        let child = try SpawnedCutover(["set", "orders", "--percent", "100", "--yes", "--config", setup.routingPath, "--settings", settings],
                                       env: Self.env(setup), outputDir: setup.nginx.directory, name: "set")
        try #require(awaitFile(marker))
        kill(child.pid, SIGKILL)
        _ = child.wait()
        // The dead process left the new text, not validated, not journaled, and its intent.
        #expect(try setup.routingText() != before)
        #expect(FileManager.default.fileExists(atPath: setup.nginx.directory.file(".cutover.intent.json")))
        #expect(setup.journalLines().isEmpty)
        // Any command recovers first, loudly.
        let routes = try runCutover(["routes", "--config", setup.routingPath, "--settings", settings], cwd: setup.nginx.prefix,
                                    env: Self.env(setup))
        #expect(routes.exitCode == 0, "\(routes)")
        #expect(routes.stderr.contains("RECOVERED"), "\(routes)")
        #expect(try setup.routingText() == before)
        #expect(Self.outcomes(setup) == ["recovered"])
        #expect(!FileManager.default.fileExists(atPath: setup.nginx.directory.file(".cutover.intent.json")))
        // And undo/history keep working.
        let history = try setup.cutover(["history", "--config", setup.routingPath])
        #expect(history.exitCode == 0 && history.stdout.contains("recovered"), "\(history)")
    }

    @Test func aHandEditWhileNginxTRunsIsKeptAndReportedAsAConflict() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let before = try setup.routingText()
        let marker = setup.nginx.directory.file("validating")
        let settings = try Self.slowSettings(setup, marker: marker, sleep: "1")
        let child = try SpawnedCutover(["set", "orders", "--percent", "100", "--yes", "--config", setup.routingPath, "--settings", settings],
                                       env: Self.env(setup), outputDir: setup.nginx.directory, name: "set")
        try #require(awaitFile(marker))
        // An operator's edit lands while validation runs; it breaks the syntax, so nginx -t refuses.
        let hand = before + "\nmap $uri $broken {\n"
        try hand.write(toFile: setup.routingPath, atomically: true, encoding: .utf8)
        let raw = try #require(child.wait())
        #expect(SpawnedCutover.exitCode(raw) == 6, "\(child.stdout)\n\(child.stderr)")
        #expect(try setup.routingText() == hand, "the hand edit is not overwritten")
        #expect(child.stdout.contains("REVERT WITHHELD"), "\(child.stdout)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: setup.nginx.directory.file("conf.d")).filter { $0.contains("cutover-previous") }
        #expect(kept.count == 1)
        #expect(try kept.first.map { try String(contentsOfFile: setup.nginx.directory.file("conf.d/\($0)"), encoding: .utf8) } == before)
        #expect(Self.outcomes(setup) == ["revert-withheld"])
    }

    @Test func aStalePidFileNamingAnotherProcessIsNeverSignalled() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let before = try setup.routingText()
        setup.nginx.stop()
        // A process that SIGHUP would kill (default disposition, nothing blocked), as a stale pid file may name.
        let sleeper = try CleanChild(["sleep", "30"])
        defer { sleeper.stop() }
        try "\(sleeper.pid)\n".write(toFile: setup.nginx.pidFile, atomically: true, encoding: .utf8)
        let result = try setup.cutover(["set", "orders", "--percent", "100", "--yes", "--config", setup.routingPath])
        #expect(result.exitCode == 4, "\(result)")
        #expect(result.stdout.contains("not an nginx master"), "\(result)")
        #expect(sleeper.isRunning, "the sleep named by the stale pid file got no signal")
        #expect(try setup.routingText() == before)
    }

    @Test func relativePidAndErrorLogResolveAgainstThePrefixAndNginxsEmergIsShown() throws {
        let setup = try CLIReferenceNginx(mainConfigEdit: { text, harness in
            text.replacingOccurrences(of: "pid \(harness.pidFile);", with: "pid nginx.pid;")
                .replacingOccurrences(of: "error_log \(harness.errorLog) notice;", with: "error_log error.log notice;")
        })
        defer { setup.nginx.stop() }
        #expect(try setup.nginx.directory.read("nginx.conf").contains("pid nginx.pid;"))
        let client = HTTPTestClient(port: setup.frontPort)
        let applied = try setup.cutoverReloading(["set", "orders", "--percent", "100", "--yes", "--config", setup.routingPath], client: client)
        #expect(applied.exitCode == 0, "a relative pid is the prefix's: \(applied)")
        #expect(try setup.newShare(client, path: "/v2/orders/7", count: 20) == 20)

        // A reload the master refuses (a busy port passes nginx -t): nginx's own [emerg] line from the relative error_log.
        let busy = try FreePort.one()
        let holder = try BusyPort(busy)
        defer { holder.close() }
        try (try setup.routingText() + "server { listen 127.0.0.1:\(busy); return 200 \"x\"; }\n")
            .write(toFile: setup.routingPath, atomically: true, encoding: .utf8)
        let refused = try setup.cutover(["set", "orders", "--percent", "50", "--yes", "--config", setup.routingPath])
        #expect(refused.exitCode == 4, "\(refused)")
        #expect(refused.stdout.contains("[emerg]") && refused.stdout.contains("Address already in use"), "\(refused)")
    }

    @Test func helpPrintsTheExitCodeTable() throws {
        let dir = try TempDir()
        let help = try runCutover(["--help"], cwd: dir.path)
        #expect(help.exitCode == 0, "\(help)")
        for status in ExitStatus.allCases { #expect(help.stdout.contains("\(status.rawValue) \(status.meaning.prefix(20))"), "\(status)") }
    }

    @Test func terminalEscapesInARequestPathNeverReachTheTerminal() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let client = HTTPTestClient(port: setup.frontPort)
        for _ in 0..<3 { _ = try client.get("/v2/evil%1B%5D2;PWNED%07%9B") }
        _ = try client.get("/v2/status/ping")
        let status = try setup.cutover(["status", "--from-start", "--config", setup.routingPath])
        #expect(status.exitCode == 0, "\(status)")
        #expect(status.stdout.contains("PWNED"), "the path is shown: \(status.stdout)")
        for control in ["\u{1B}", "\u{07}", "\u{9B}"] {
            #expect(!status.stdout.contains(control) && !status.stderr.contains(control), "a raw control character reached the terminal")
        }
        #expect(status.stdout.contains("\\x1B]2;PWNED\\x07"), "\(status.stdout)")
        let check = try setup.cutover(["check", "--config-only", "--config", setup.routingPath])
        for control in ["\u{1B}", "\u{07}"] { #expect(!check.stdout.contains(control) && !check.stderr.contains(control)) }
    }

    @Test func aFIFOOrADirectoryAsLogOrConfigGetsAClearProblemInBoundedTime() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let fifo = setup.nginx.directory.file("logs/fifo.log")
        #expect(mkfifo(fifo, 0o644) == 0)
        let directory = setup.nginx.directory.file("logs/adir")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let started = ContinuousClock.now
        let status = try setup.cutover(["status", "--config", setup.routingPath, "--main-log", fifo, "--migration-log", directory],
                                       timeout: .seconds(20))
        #expect(!status.timedOut, "status hung on a FIFO")
        #expect(status.stdout.contains("\(fifo) is a FIFO"), "\(status)")
        #expect(status.stdout.contains("\(directory) is a directory"), "\(status)")
        let check = try setup.cutover(["check", "--config-only", "--config", setup.routingPath, "--main-log", fifo], timeout: .seconds(20))
        #expect(!check.timedOut, "check hung on a FIFO")
        #expect(check.exitCode == 2, "\(check)")
        #expect(check.stdout.contains("not a regular file"), "\(check)")
        let config = try setup.cutover(["routes", "--config", fifo], timeout: .seconds(20))
        #expect(!config.timedOut && config.exitCode == 1, "\(config)")
        #expect(config.stderr.contains("is a FIFO (named pipe), not an nginx config file"), "\(config)")
        let dirConfig = try setup.cutover(["routes", "--config", directory], timeout: .seconds(20))
        #expect(dirConfig.exitCode == 1 && dirConfig.stderr.contains("is a directory"), "\(dirConfig)")
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test func theDefaultJournalIsPerConfigAndHistoryShowsOnlyItsRecords() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        // Settings without `journal:`.
        let settings = try setup.nginx.write("nojournal.yaml", """
            main_config: \(setup.nginx.mainConfig)
            nginx:
              binary: \(CLIReferenceNginx.nginxBinary)

            """)
        let other = try setup.nginx.write("other/routing.conf", try setup.routingText())
        func run(_ args: [String]) throws -> CutoverBinary.Result {
            try runCutover(args + ["--settings", settings], cwd: setup.nginx.prefix, env: Self.env(setup))
        }
        let set = try run(["set", "orders", "--percent", "100", "--yes", "--config", setup.routingPath])
        #expect(set.exitCode == 0, "\(set)")
        let beside = setup.nginx.directory.file("conf.d/.routing.conf.cutover-journal.jsonl")
        #expect(FileManager.default.fileExists(atPath: beside), "the journal lives beside its config")
        #expect(!FileManager.default.fileExists(atPath: setup.nginx.directory.file("state/cutover/journal.jsonl")))
        let mine = try run(["history", "--json", "--config", setup.routingPath])
        let theirs = try run(["history", "--json", "--config", other])
        let changes = { (r: CutoverBinary.Result) in
            ((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["changes"] as? [[String: Any]])?.count
        }
        #expect(changes(mine) == 1, "\(mine)")
        #expect(changes(theirs) == 0, "another config's history is not this one's: \(theirs)")
    }

    @Test func rollbackAllGoesThroughAnUnwritableJournalAndSaysWhereTheRecordWent() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        try setup.nginx.write("blocker", "")
        let settings = try setup.nginx.write("blocked.yaml", """
            main_config: \(setup.nginx.mainConfig)
            journal: \(setup.nginx.directory.file("blocker/journal.jsonl"))
            nginx:
              binary: \(CLIReferenceNginx.nginxBinary)

            """)
        let result = try runCutover(["rollback", "--all", "--yes", "--config", setup.routingPath, "--settings", settings],
                                    cwd: setup.nginx.prefix, env: Self.env(setup))
        #expect(result.exitCode == 8, "\(result)")
        let fallback = setup.nginx.directory.file("state/cutover/fallback-journal.jsonl")
        #expect(result.stderr.contains("WARNING") && result.stderr.contains(fallback), "\(result)")
        let routing = try setup.routingText()
        #expect(CLIApplyTests.splitClientsEntries(routing).allSatisfy { $0 == ["* \"current_service\";"] }, "every group is at 0%: \(routing)")
        let text = try String(contentsOfFile: fallback, encoding: .utf8)
        #expect(text.contains("\"rollback-all\""))
        // An ordinary change is still refused before anything is written.
        let set = try runCutover(["set", "orders", "--percent", "100", "--yes", "--config", setup.routingPath, "--settings", settings],
                                 cwd: setup.nginx.prefix, env: Self.env(setup))
        #expect(set.exitCode == 1, "\(set)")
    }

    /// Sends requests to `path` from a background thread until stopped.
    final class Traffic: @unchecked Sendable {
        private let stopped = Mutex(false)
        private let done = DispatchSemaphore(value: 0)
        init(port: Int, path: String) {
            Thread { [self] in
                let client = HTTPTestClient(port: port)
                var sent = 0
                while !stopped.withLock({ $0 }) && sent < 20_000 {
                    _ = try? client.get(path)
                    sent += 1
                    usleep(5_000)
                }
                done.signal()
            }.start()
        }
        func stop() {
            stopped.withLock { $0 = true }
            _ = done.wait(timeout: .now() + 10)
        }
    }

    @Test func rollbackIsConfirmedByTheTrafficOrExits7WhenNewServiceTrafficGoesOn() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let traffic = Traffic(port: setup.frontPort, path: "/v2/status/ping")
        defer { traffic.stop() }
        // A copy of the routing that nginx does not load: the rollback is accepted, nginx routes as before.
        let decoy = try setup.nginx.write("decoy/routing.conf", try setup.routingText())
        let lie = try setup.cutover(["rollback", "ping", "--yes", "--confirm-traffic", "1.5", "--config", decoy,
                                     "--main-log", setup.mainLog, "--migration-log", setup.migrationLog], timeout: .seconds(30))
        #expect(lie.exitCode == 7, "\(lie)")
        #expect(lie.stderr.contains("TRAFFIC DOES NOT CONFIRM THE ROLLBACK"), "\(lie)")

        let real = try setup.cutover(["rollback", "ping", "--yes", "--confirm-traffic", "1.5", "--config", setup.routingPath],
                                     timeout: .seconds(30))
        #expect(real.exitCode == 0, "\(real)")
        #expect(real.stdout.contains("traffic confirms the rollback: 0 new-service requests for ping"), "\(real)")
        #expect(real.stdout.contains("old workers drained at"), "\(real)")
    }

    @Test func aLoweredShareIsConfirmedByTheTrafficOrExits7WhenItIsClearlyAbove() throws {
        let setup = try CLIReferenceNginx()
        defer { setup.nginx.stop() }
        let traffic = Traffic(port: setup.frontPort, path: "/v2/status/ping")
        defer { traffic.stop() }
        // ping is in group3 at 100%. Lowered to 20% in a copy nginx does not load: nginx keeps sending it all.
        let decoy = try setup.nginx.write("decoy/routing.conf", try setup.routingText())
        let lie = try setup.cutover(["group", "group3_routing", "--percent", "20", "--yes", "--confirm-traffic", "1.5", "--config", decoy,
                                     "--main-log", setup.mainLog, "--migration-log", setup.migrationLog], timeout: .seconds(30))
        #expect(lie.exitCode == 7, "\(lie)")
        #expect(lie.stderr.contains("TRAFFIC DOES NOT CONFIRM THE CHANGE"), "\(lie)")
        #expect(lie.stderr.contains("clearly above its new 20%"), "\(lie)")
        // Lowered to 50% in the config nginx loads: the share seen is consistent with it.
        let real = try setup.cutover(["group", "group3_routing", "--percent", "50", "--yes", "--confirm-traffic", "1.5",
                                      "--config", setup.routingPath], timeout: .seconds(30))
        #expect(real.exitCode == 0, "\(real)")
        #expect(real.stdout.contains("traffic confirms the change: ping "), "\(real)")
        #expect(real.stdout.contains("consistent with its new 50%"), "\(real)")
        #expect(real.stdout.contains("old workers drained at"), "\(real)")
        // Raising a share lowers nothing: there is nothing to confirm.
        let raised = try setup.cutover(["group", "group3_routing", "--percent", "60", "--yes", "--confirm-traffic", "1",
                                        "--config", setup.routingPath], timeout: .seconds(30))
        #expect(raised.exitCode == 0 && raised.stdout.contains("nothing to confirm"), "\(raised)")
    }
}
