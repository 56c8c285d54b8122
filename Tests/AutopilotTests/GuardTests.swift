import Apply
@testable import Autopilot
import Foundation
import Rollout
@testable import Settings
import TestSupport
import Testing
import TrafficStats

@Suite struct GuardTests {
    static let a = "~^/v2/a$", c = "~^/v2/c$"
    let on = GuardSettings(autoRollback: true, endpoints: nil, cooldownSeconds: 600, notify: [])

    func bad(_ w: World, _ key: String, since: Int64) -> Verdict {
        w.verdict(key, .bad, new: 3000, since: since, reasons: ["5xx 5.0% vs 0.2% (+4.8 pp, margin 0.5 pp)"])
    }

    @Test func aBadEndpointIsRolledBackAloneOnceWithTheEvidence() throws {
        let w = try World(guardSettings: on)
        w.expectApplies(1)
        w.expectNotifications(1)
        let events = try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: 100)])
        #expect(events.map(\.kind) == [.automaticRollback])
        // a alone: b shares its group and keeps its share.
        #expect(try w.percent("a") == 0 && w.percent("b") == 10)
        let record = try #require(try w.journal().last)
        #expect(record.outcome == .applied && record.change.action == "rollback")
        #expect(record.change.reason?.hasPrefix("autopilot: automatic rollback of a, verdict bad (3000 new-service and 27000 current-service requests): 5xx 5.0% vs 0.2%") == true)
        #expect(events[0].journal == record.id && events[0].evidence.count == 2)
        // The same breach is never acted on twice.
        w.clock.advance(5)
        #expect(try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: 100)]).isEmpty)
        w.autopilot.notifier?.waitUntilIdle(limit: .seconds(5))
        let sent = try JSONSerialization.jsonObject(with: Data(try #require(w.notifyRunner.inputs.first).input.utf8)) as? [String: Any]
        #expect(sent?["event"] as? String == "automatic-rollback" && sent?["endpoint"] as? String == Self.a && sent?["verdict"] as? String == "bad")
        #expect(sent?["percent_before"] as? Double == 10 && sent?["percent_after"] as? Double == 0 && sent?["journal"] as? String == record.id)
        w.nginx.verifyAllRan()
    }

    @Test func afterAnAutomaticRollbackTheEndpointIsHeldForTheCooldown() throws {
        let w = try World(guardSettings: on)
        w.expectApplies(1)
        w.expectNotifications(1)
        _ = try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: 100)])
        // The operator resumes it; the new verdict (since the resume) is bad again within the cooldown: held.
        w.clock.advance(60)
        try w.operatorApplies(.resume)
        #expect(try w.percent("a") == 10)
        let resumed = Int64(w.clock.now.timeIntervalSince1970)
        w.clock.advance(60)
        var events = try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: resumed)])
        #expect(events.map(\.kind) == [.guardHeld])
        #expect(events[0].message.contains("held 8m more"))
        // Reported once, not every tick.
        w.clock.advance(60)
        #expect(try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: resumed)]).isEmpty)
        #expect(try w.percent("a") == 10)
        // Once the cooldown is over, the breach (no hand change since it began) is acted on.
        w.clock.advance(420)
        w.expectApplies(1)
        w.expectNotifications(1)
        events = try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: resumed)])
        #expect(events.map(\.kind) == [.automaticRollback])
        #expect(try w.percent("a") == 0)
        w.nginx.verifyAllRan()
    }

    @Test func anOperatorsChangeSinceTheBreachCancelsTheAutomaticRollback() throws {
        let w = try World(guardSettings: on)
        w.expectApplies(1)
        w.expectNotifications(1)
        _ = try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: 100)])
        w.clock.advance(30)
        try w.operatorApplies(.resume)
        let resumed = Int64(w.clock.now.timeIntervalSince1970)
        w.clock.advance(30)
        #expect(try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: resumed)]).map(\.kind) == [.guardHeld])
        // The operator steps in (sets a to 5% by hand) while the breach is held: the automatic rollback is off.
        w.clock.advance(30)
        try w.operatorApplies(.assignPercent(endpoint: "a", percent: Percent(hundredths: 500)))
        w.clock.advance(900)
        let events = try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: resumed)])
        #expect(events.map(\.kind) == [.guardCancelled])
        #expect(try w.percent("a") == 5)
        #expect(try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: resumed)]).isEmpty)
        w.nginx.verifyAllRan()
    }

    @Test func withoutAutoRollbackABreachIsReportedAndNothingChanges() throws {
        let w = try World(guardSettings: GuardSettings(autoRollback: false))
        let events = try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: 100)])
        #expect(events.map(\.kind) == [.breach])
        #expect(try w.percent("a") == 10 && w.journal().isEmpty)
        #expect(try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: 100)]).isEmpty)
    }

    @Test func onlyTheListedEndpointsAreGuarded() throws {
        let w = try World(guardSettings: GuardSettings(autoRollback: true, endpoints: ["c"]))
        #expect(try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: 100)]).isEmpty)
        w.expectApplies(1)
        w.expectNotifications(1)
        #expect(try w.autopilot.tick(verdicts: [Self.c: bad(w, Self.c, since: 100)]).map(\.kind) == [.automaticRollback])
        #expect(try w.percent("a") == 10 && w.percent("c") == 0)
    }

    @Test func aFailingNotifyCommandIsReportedAndTheActionStands() throws {
        let w = try World(guardSettings: on)
        w.expectApplies(1)
        w.expectNotifications(1, exitCode: 22)
        _ = try w.autopilot.tick(verdicts: [Self.a: bad(w, Self.a, since: 100)])
        #expect(w.autopilot.notifier?.waitUntilIdle(limit: .seconds(5)) == true)
        #expect(try w.percent("a") == 0)
        #expect(w.failures.map(\.kind) == [.notifyFailed])
        #expect(w.failures.first?.message.contains("exited with status 22: hook said no") == true)
    }

    @Test func theRealNotifierFeedsTheEventOnStdinAndTimesOut() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let out = dir.file("event.json")
        let failed = Locked<[AutopilotEvent]>([])
        let notifier = Notifier(argv: ["/bin/sh", "-c", "cat > \(out)"], runner: ProcessRunner(), timeout: .seconds(5), clock: .system) { e in failed.mutate { $0.append(e) } }
        let event = AutopilotEvent(.automaticRollback, time: Date(timeIntervalSince1970: 1_790_000_000), endpoint: "~^/v2/a$", message: "a rolled back")
        notifier.notify(event)
        #expect(notifier.waitUntilIdle(limit: .seconds(10)))
        #expect(try dir.read("event.json") == event.json + "\n")
        let slow = Notifier(argv: ["/bin/sleep", "5"], runner: ProcessRunner(), timeout: .milliseconds(200), clock: .system) { e in failed.mutate { $0.append(e) } }
        slow.notify(event)
        #expect(slow.waitUntilIdle(limit: .seconds(10)))
        #expect(failed.value.map(\.kind) == [.notifyFailed] && failed.value[0].message.contains("timed out"))
        // The notify-failed event is timed by the clock the notifier was given (the executable's one clock).
        let fixed = Date(timeIntervalSince1970: 1_937_000_000)
        let timed = Notifier(argv: ["/bin/false"], runner: ProcessRunner(), timeout: .seconds(5),
                             clock: ApplyClock(now: { fixed }, monotonic: { .zero }, sleep: { _ in })) { e in failed.mutate { $0.append(e) } }
        timed.notify(event)
        #expect(timed.waitUntilIdle(limit: .seconds(10)))
        #expect(failed.value.last?.time == fixed, "\(failed.value)")
    }

    @Test func theLeaseHasOneHolderOthersSeeWhoAndItIsTakenOverWhenTheHolderIsGone() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = dir.file("lease")
        guard case .acquired(let first) = try ExecutorLease.acquire(path: path, role: "guard", clock: .system) else {
            Issue.record("the free lease was not acquired")
            return
        }
        #expect(first.tookOverFrom == nil && first.holder.pid == getpid())
        guard case .held(let holder) = try ExecutorLease.acquire(path: path, role: "dashboard", clock: .system) else {
            Issue.record("a held lease was acquired twice")
            return
        }
        #expect(holder?.pid == getpid() && holder?.role == "guard")
        #expect(ExecutorLease.currentHolder(path: path)?.role == "guard")
        first.release()
        #expect(ExecutorLease.currentHolder(path: path) == nil)
        // A holder that died without releasing: its file still names it, but nobody holds the lock.
        let dead = try deadPid()
        let stale = "{\"host\":\"h\",\"pid\":\(dead),\"role\":\"guard\",\"since\":\"2026-01-01T00:00:00Z\",\"user\":\"u\"}\n"
        try stale.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(ExecutorLease.currentHolder(path: path) == nil)
        guard case .acquired(let second) = try ExecutorLease.acquire(path: path, role: "dashboard", clock: .system) else {
            Issue.record("the lease of a dead holder was not taken over")
            return
        }
        #expect(second.tookOverFrom?.pid == dead)
        #expect(ExecutorLease.currentHolder(path: path)?.role == "dashboard")
        second.release()
    }

    /// The pid of a process that has exited (and been reaped).
    func deadPid() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    @Test func theGuardSettingsAreReadWithTheirNamesAndWrongOnesSayWhatToFix() throws {
        let s = try Settings.parse("""
        guard:
          auto_rollback: true
          endpoints: [book.get_chapter, "~^/v2/a$"]
          cooldown: 15m
          notify: [curl, -sS, -H, "Content-Type: application/json", --data-binary, "@-", https://hooks.example/cutover]
        """, file: "cutover.yaml")
        #expect(s.guardrails == GuardSettings(autoRollback: true, endpoints: ["book.get_chapter", "~^/v2/a$"], cooldownSeconds: 900,
                                              notify: ["curl", "-sS", "-H", "Content-Type: application/json", "--data-binary", "@-", "https://hooks.example/cutover"]))
        #expect(try Settings.parse("config: x.conf\n", file: "f").guardrails == GuardSettings())
        #expect(throws: SettingsError(file: "f", line: 2, message: "unknown key guard.auto_rolback; expected auto_rollback, endpoints, cooldown, notify")) {
            try Settings.parse("guard:\n  auto_rolback: true\n", file: "f")
        }
        #expect(throws: SettingsError(file: "f", line: 2, message: "guard.cooldown must be a duration such as 10m, 600s or 1h")) {
            try Settings.parse("guard:\n  cooldown: soon\n", file: "f")
        }
        #expect(throws: SettingsError.self) { try Settings.parse("guard:\n  notify: curl http://x\n", file: "f") }
        #expect(throws: SettingsError.self) { try Settings.parse("guard: true\n", file: "f") }
    }
}

/// A value behind a lock, for test callbacks.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.withLock { stored } }
    func mutate(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}
