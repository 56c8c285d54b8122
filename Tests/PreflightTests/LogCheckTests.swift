import Apply
import Foundation
import NginxConfig
@testable import Preflight
import Rollout
import TestSupport
import Testing

@Suite struct LogCheckTests {
    @Test func malformedRateAboveOnePercentIsReported() throws {
        var probe = try Fixture.healthy()
        probe.files[Fixture.mainLog] = FakeProbe.File(try Fixture.text("timed-malformed.log"))
        let findings = try Fixture.check(try Fixture.recommended, probe: probe)
        let hit = try #require(findings.with("malformed-rate").first, "\(findings.dump)")
        #expect(hit.severity == .warning)
        #expect(hit.file == Fixture.mainLog && hit.line == nil)
        #expect(hit.message.contains("2 of the last 102 lines"), "\(hit)")
        #expect(findings.with("malformed-rate").count == 1)
    }

    @Test func malformedRateUnderOnePercentIsNot() throws {
        var probe = try Fixture.healthy()
        probe.files[Fixture.mainLog] = FakeProbe.File(try Fixture.text("timed-under-threshold.log"))
        let findings = try Fixture.check(try Fixture.recommended, probe: probe)
        #expect(findings.with("malformed-rate").isEmpty, "\(findings.dump)")
    }

    @Test func onlyTheLastLinesCount() throws {
        // 300 bad lines followed by 100 good ones: with a 100-line tail the file is clean, with 400 it is not.
        let good = try Fixture.text("timed.log").split(separator: "\n").prefix(100).joined(separator: "\n")
        let log = String(repeating: "not a log line\n", count: 300) + good + "\n"
        var probe = try Fixture.healthy()
        probe.files[Fixture.mainLog] = FakeProbe.File(log)
        var inputs = Fixture.inputs
        inputs.tailLines = 100
        #expect(try Fixture.check(try Fixture.recommended, probe: probe, inputs: inputs).with("malformed-rate").isEmpty)
        inputs.tailLines = 400
        let hit = try Fixture.check(try Fixture.recommended, probe: probe, inputs: inputs).with("malformed-rate")
        #expect(hit.first?.message.contains("300 of the last 400 lines") == true, "\(hit)")
    }

    @Test func staleLogWhileNginxIsUp() throws {
        var probe = try Fixture.healthy()
        probe.clock = FakeProbe.epoch.addingTimeInterval(3 * 3600 + 120)
        probe.files[Fixture.migrationLog]?.modified = probe.clock.addingTimeInterval(-60)
        let findings = try Fixture.check(try Fixture.recommended, probe: probe)
        let stale = findings.with("log-stale")
        #expect(stale.count == 1, "\(findings.dump)")
        #expect(stale.first?.file == Fixture.mainLog)
        #expect(stale.first?.message.contains("3h2m") == true && stale.first?.message.contains("pid 4242") == true, "\(stale)")
    }

    @Test func oldLogIsNotStaleWhenNginxIsDown() throws {
        var probe = try Fixture.healthy()
        probe.clock = FakeProbe.epoch.addingTimeInterval(48 * 3600)
        probe.processes[4242] = nil
        let findings = try Fixture.check(try Fixture.recommended, probe: probe)
        #expect(findings.with("log-stale").isEmpty, "\(findings.dump)")
        #expect(findings.ids(.info).contains("nginx-not-running"))
    }

    @Test func missingAndUnreadableLogs() throws {
        var probe = try Fixture.healthy()
        probe.files[Fixture.mainLog] = nil
        probe.files[Fixture.migrationLog] = FakeProbe.File("x\n", readable: false)
        let findings = try Fixture.check(try Fixture.recommended, probe: probe)
        #expect(findings.with("log-missing").first?.file == Fixture.mainLog, "\(findings.dump)")
        #expect(findings.with("log-unreadable").first?.file == Fixture.migrationLog, "\(findings.dump)")
        #expect(findings.with("log-unreadable").first?.severity == .error)
    }

    @Test func migrationLogThatTheInternalLocationDoesNotWrite() throws {
        var probe = try Fixture.healthy()
        probe.files["/tmp/other.log"] = FakeProbe.File(try Fixture.text("timed.log"))
        var inputs = Fixture.inputs
        inputs.migrationLogs = ["/tmp/other.log"]
        let findings = try Fixture.check(try Fixture.recommended, probe: probe, inputs: inputs)
        let hit = try #require(findings.with("migration-log-missing").first, "\(findings.dump)")
        #expect(hit.fix?.contains("--migration-log /var/log/nginx/migration_traffic.log") == true)
        inputs.migrationLogs = [Fixture.migrationLog]
        #expect(try Fixture.check(try Fixture.recommended, inputs: inputs).with("migration-log-missing").isEmpty)
    }

    @Test func systemProbeTellsTheTimeOfTheClockItIsGiven() {
        // The one clock of the executable, not the system's: a probe given a clock in 2031 says 2031.
        let fixed = Date(timeIntervalSince1970: 1_937_000_000)
        let probe = SystemProbe(clock: ApplyClock(now: { fixed }, monotonic: { .zero }, sleep: { _ in }))
        #expect(probe.now() == fixed)
    }

    @Test func systemProbeReadsTheTailOfARealFile() throws {
        let dir = try TempDir(prefix: "preflight-tail")
        let good = try Fixture.text("timed.log")
        let path = try dir.write("access.log", String(repeating: "broken\n", count: 5000) + good)
        let probe = SystemProbe(clock: .system)
        let tail = try probe.readTail(path, maxBytes: 100)
        #expect(tail.count == 100)
        #expect(String(decoding: tail, as: UTF8.self).hasSuffix("req00199\n"))
        let status = try #require(probe.status(path))
        #expect(status.size == Int64(5000 * 7 + good.utf8.count))
        #expect(abs(status.modified.timeIntervalSinceNow) < 600)
        #expect(probe.access(path) == PathAccess(exists: true, readable: true, writable: true))
        #expect(probe.access(dir.path).isDirectory)
        #expect(probe.access(dir.file("nope")) == .missing)
        #expect(probe.process(getpid()) == .signalable)
        #expect(throws: ProbeReadError.self) { try probe.readTail(dir.file("nope"), maxBytes: 10) }

        // The last 200 lines of the real file are the good ones; a partial first line of a tail is dropped.
        let config = try Fixture.recommended.replacing("/var/log/nginx/access.log", path)
        var fake = try Fixture.healthy()
        fake.files[path] = FakeProbe.File(String(decoding: try probe.readTail(path, maxBytes: 1 << 20), as: UTF8.self))
        var inputs = Fixture.inputs
        inputs.tailLines = 200
        let set = try ConfigSet.fromTexts([(path: Fixture.configPath, text: config)])
        let findings = Preflight.run(config: set, model: Discovery.discover(set), inputs: inputs, probe: fake)
        #expect(findings.with("malformed-rate").isEmpty, "\(findings.dump)")
    }
}

@Suite struct LogTailTests {
    @Test func tailGrowsUntilItHoldsEnoughLines() throws {
        // Lines of 1,000 bytes: the first 256-bytes-a-line guess is too short and must grow.
        let long = String(repeating: "x", count: 999) + "\n"
        var probe = try Fixture.healthy()
        probe.files[Fixture.mainLog] = FakeProbe.File(String(repeating: long, count: 300))
        var inputs = Fixture.inputs
        inputs.tailLines = 100
        let findings = try Fixture.check(try Fixture.recommended, probe: probe, inputs: inputs)
        let hit = try #require(findings.with("malformed-rate").first, "\(findings.dump)")
        #expect(hit.message.contains("100 of the last 100 lines"), "\(hit)")
    }
}
