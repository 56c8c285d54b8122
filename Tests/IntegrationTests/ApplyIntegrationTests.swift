import Apply
import Foundation
import NginxConfig
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The apply pipeline against a real nginx in a temp prefix, with live traffic.
@Suite struct ApplyIntegrationTests {
    @Test func twentyChangesFollowedByTrafficWithNoFailedRequests() throws {
        var state = RoutingState(generation: 0, group1: 50, group2: 10)
        let setup = try ApplyRoutingSetup(initial: state)
        defer { setup.nginx.stop() }
        let pipeline = setup.pipeline()
        let traffic = TrafficLoop(port: setup.frontPort, path: "/v2/a")
        var trafficResult: (ok: Int, failures: [String], retries: Int)?
        defer { if trafficResult == nil { _ = traffic.stop() } }
        let sampler = HTTPTestClient(port: setup.frontPort)
        let percents = [0, 100, 10, 90, 50, 25, 75, 0, 100, 33, 66, 5, 95, 40, 60, 20, 80, 100, 0, 50]
        for (index, percent) in percents.enumerated() {
            let next = RoutingState(generation: index + 1, group1: percent, group2: state.group2)
            let report = try pipeline.apply(changes: [try setup.change(to: next)],
                                            description: ApplyRoutingSetup.description(state, next))
            try #require(report.outcome == .applied, "change \(index + 1): \(report.message)")
            state = next
            // 300 responses from the new generation: 4 standard deviations of a binomial is < 0.12.
            let observed = try setup.sample(sampler, path: "/v2/a", generation: next.generation, count: 300)
            #expect(observed.matched == 300, "change \(index + 1): only \(observed.matched) responses from the new config")
            let expected = Double(percent) / 100
            let tolerance = (percent == 0 || percent == 100) ? 0 : 0.12
            #expect(abs(observed.newFraction - expected) <= tolerance,
                    "change \(index + 1): \(percent)% configured, \(Int(observed.newFraction * 100))% observed")
        }
        let result = traffic.stop()
        trafficResult = result
        #expect(result.failures.isEmpty, "failed requests: \(result.failures.prefix(5))")
        #expect(result.ok > 0)
        print("traffic: \(result.ok) ok, \(result.failures.count) failed, \(result.retries + sampler.retries) retried after a reload closed the connection")
        let history = try pipeline.history()
        #expect(history.count == 20)
        #expect(history.allSatisfy { $0.outcome == .applied && $0.reload?.succeeded == true && $0.verify?.succeeded == true })
        #expect(Set(history.map(\.configHashAfter)).count >= 19)
    }

    @Test func aChangeThatFailsValidationChangesNothing() throws {
        let state = RoutingState(generation: 0, group1: 100, group2: 0)
        let setup = try ApplyRoutingSetup(initial: state)
        defer { setup.nginx.stop() }
        let before = try setup.currentText()
        let broken = setup.text(RoutingState(generation: 1, group1: 0, group2: 0)).replacingOccurrences(
            of: "* \"current_service\";", with: "250% \"current_service\";")
        let report = try setup.pipeline().apply(changes: [FileChange(path: setup.routingPath, before: before, after: broken)],
                                                description: ChangeDescription(action: "set-percent"))
        #expect(report.outcome == .validationRefused)
        #expect(report.message.contains("[emerg]") && report.message.contains("percent total is greater than 100%"), "\(report.message)")
        #expect(try setup.currentText() == before)
        let client = HTTPTestClient(port: setup.frontPort)
        let observed = try setup.sample(client, path: "/v2/a", generation: 0, count: 50, maxRequests: 50)
        #expect(observed.matched == 50)
        #expect(observed.newFraction == 1)
    }

    @Test func aFailingReloadCommandIsReverted() throws {
        let state = RoutingState(generation: 0, group1: 100, group2: 0)
        let setup = try ApplyRoutingSetup(initial: state)
        defer { setup.nginx.stop() }
        let before = try setup.currentText()
        let next = RoutingState(generation: 1, group1: 0, group2: 0)
        let report = try setup.pipeline(reloadArgv: ["false"]).apply(
            changes: [try setup.change(to: next)], description: ApplyRoutingSetup.description(state, next))
        #expect(report.outcome == .reloadFailedReverted)
        #expect(report.exitCode == 4)
        #expect(try setup.currentText() == before)
        let client = HTTPTestClient(port: setup.frontPort)
        let observed = try setup.sample(client, path: "/v2/a", generation: 0, count: 50, maxRequests: 50)
        #expect(observed.matched == 50 && observed.newFraction == 1)
    }

    @Test func aReloadNginxRejectsIsCaughtByVerificationAndReverted() throws {
        // `nginx -t` does not bind sockets, so a listen on a busy port passes validation and fails only
        // when the master reloads: the verification must notice and put the old file back.
        let state = RoutingState(generation: 0, group1: 100, group2: 0)
        let setup = try ApplyRoutingSetup(initial: state)
        defer { setup.nginx.stop() }
        let before = try setup.currentText()
        let busy = try FreePort.one()
        let holder = try BusyPort(busy)
        defer { holder.close() }
        let next = RoutingState(generation: 1, group1: 0, group2: 0)
        let after = setup.text(next) + "server { listen 127.0.0.1:\(busy); return 200 \"x\"; }\n"
        let report = try setup.pipeline().apply(changes: [FileChange(path: setup.routingPath, before: before, after: after)],
                                                description: ApplyRoutingSetup.description(state, next))
        #expect(report.outcome == .reloadFailedReverted)
        #expect(report.message.contains("Address already in use"), "\(report.message)")
        #expect(try setup.currentText() == before)
        let client = HTTPTestClient(port: setup.frontPort)
        let observed = try setup.sample(client, path: "/v2/a", generation: 0, count: 50, maxRequests: 50)
        #expect(observed.matched == 50 && observed.newFraction == 1)
    }

    @Test func twoConcurrentPipelinesLoseNoUpdate() throws {
        let state = RoutingState(generation: 0, group1: 10, group2: 10)
        let setup = try ApplyRoutingSetup(initial: state)
        defer { setup.nginx.stop() }
        let path = setup.routingPath
        let reports = LockedList<ApplyReport>()
        let errors = LockedList<String>()
        let group = DispatchGroup()
        for (name, percent) in [("group1", 70), ("group2", 30)] {
            let pipeline = setup.pipeline()
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let report = try pipeline.apply(description: ChangeDescription(action: "set-percent", groups: [name])) { _ in
                        // Re-read under the lock: the other writer's change must be kept.
                        let current = try String(contentsOfFile: path, encoding: .utf8)
                        guard var next = RoutingState(parsing: current) else { throw ApplyError.invalidChange("unparsable routing file") }
                        next.generation += 1
                        if name == "group1" { next.group1 = percent } else { next.group2 = percent }
                        return [FileChange(path: path, before: current, after: setup.text(next))]
                    }
                    reports.append(report)
                } catch {
                    errors.append("\(error)")
                }
            }.start()
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(errors.items.isEmpty, "\(errors.items)")
        #expect(reports.items.map(\.outcome) == [.applied, .applied])
        let final = try #require(RoutingState(parsing: try setup.currentText()))
        #expect(final == RoutingState(generation: 2, group1: 70, group2: 30))
        let client = HTTPTestClient(port: setup.frontPort)
        _ = try setup.sample(client, path: "/v2/a", generation: 2, count: 1)
    }

    @Test func aLockHeldByAnotherProcessIsAConflictNamingIt() throws {
        let state = RoutingState(generation: 0, group1: 10, group2: 10)
        let setup = try ApplyRoutingSetup(initial: state)
        defer { setup.nginx.stop() }
        let pipeline = setup.pipeline(lockWait: .milliseconds(300))
        let lockFile = pipeline.configuration.lockFile
        // flock(1) from util-linux holds the lock in another process.
        let finished = DispatchSemaphore(value: 0)
        Thread {
            _ = try? ProcessRunner().run(["flock", lockFile, "sleep", "5"], timeout: .seconds(10))
            finished.signal()
        }.start()
        var holder: Int32?
        let deadline = ContinuousClock.now + .seconds(5)
        while holder == nil && ContinuousClock.now < deadline {
            holder = ProcessTable.children(of: getpid()).first { pid in
                let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
                return String(decoding: cmdline, as: UTF8.self).hasPrefix("flock\0\(lockFile)")
            }
            usleep(5_000)
        }
        let flockPid = try #require(holder)
        defer {
            for child in ProcessTable.children(of: flockPid) { kill(child, SIGTERM) }
            kill(flockPid, SIGTERM)
            _ = finished.wait(timeout: .now() + 10)
        }
        // Wait until flock(1) really holds it, then name it as the holder (it does not write its pid).
        while ContinuousClock.now < deadline, let probe = try? FileLock.acquire(path: lockFile, wait: .zero) {
            probe.release()
            usleep(5_000)
        }
        try Data("\(flockPid)\n".utf8).write(to: URL(fileURLWithPath: lockFile))
        let before = try setup.currentText()
        let next = RoutingState(generation: 1, group1: 20, group2: 10)
        let report = try pipeline.apply(changes: [try setup.change(to: next)], description: ApplyRoutingSetup.description(state, next))
        #expect(report.outcome == .conflict)
        #expect(report.message.contains("process \(flockPid) holds the lock"), "\(report.message)")
        #expect(try setup.currentText() == before)
    }

    @Test func aHandEditBetweenReadAndWriteIsRefused() throws {
        let state = RoutingState(generation: 0, group1: 100, group2: 0)
        let setup = try ApplyRoutingSetup(initial: state)
        defer { setup.nginx.stop() }
        let path = setup.routingPath
        let handEdited = try setup.currentText().replacingOccurrences(of: "~^/v2/b", with: "~^/v2/b2")
        let report = try setup.pipeline().apply(description: ChangeDescription(action: "set-percent")) { _ in
            let current = try String(contentsOfFile: path, encoding: .utf8)
            let change = FileChange(path: path, before: current, after: setup.text(RoutingState(generation: 1, group1: 0, group2: 0)))
            // Someone edits the file by hand after the model was read.
            try Data(handEdited.utf8).write(to: URL(fileURLWithPath: path))
            return [change]
        }
        #expect(report.outcome == .conflict)
        #expect(report.message.contains(path))
        #expect(report.message.contains("+    ~^/v2/b2"), "\(report.message)")
        #expect(try setup.currentText() == handEdited)
        let client = HTTPTestClient(port: setup.frontPort)
        let observed = try setup.sample(client, path: "/v2/a", generation: 0, count: 20, maxRequests: 20)
        #expect(observed.matched == 20 && observed.newFraction == 1)
    }

    @Test func reloadBySignallingTheMasterTakesEffect() throws {
        let state = RoutingState(generation: 0, group1: 0, group2: 0)
        let setup = try ApplyRoutingSetup(initial: state)
        defer { setup.nginx.stop() }
        var control = NginxControl.standard(setup.nginx.location)
        control.reloadSignalPidFile = setup.nginx.pidFile
        let pipeline = ApplyPipeline(configuration: ApplyConfiguration(
            nginx: control, mainConfig: setup.nginx.mainConfig, journal: Journal(path: setup.nginx.directory.file("journal.jsonl"))))
        let next = RoutingState(generation: 1, group1: 100, group2: 0)
        let report = try pipeline.apply(changes: [try setup.change(to: next)], description: ApplyRoutingSetup.description(state, next))
        #expect(report.outcome == .applied, "\(report.message)")
        #expect(report.record?.reload?.command.first == "kill")
        let client = HTTPTestClient(port: setup.frontPort)
        let observed = try setup.sample(client, path: "/v2/a", generation: 1, count: 20)
        #expect(observed.matched == 20 && observed.newFraction == 1)
    }

    @Test func undoRestoresThePreviousRoutingOnALiveNginx() throws {
        let state = RoutingState(generation: 0, group1: 100, group2: 0)
        let setup = try ApplyRoutingSetup(initial: state)
        defer { setup.nginx.stop() }
        let pipeline = setup.pipeline()
        let next = RoutingState(generation: 1, group1: 0, group2: 0)
        #expect(try pipeline.apply(changes: [try setup.change(to: next)], description: ApplyRoutingSetup.description(state, next)).outcome == .applied)
        let report = try pipeline.undo(reason: "errors on the new service")
        #expect(report.outcome == .applied, "\(report.message)")
        #expect(try setup.currentText() == setup.text(state))
        let client = HTTPTestClient(port: setup.frontPort)
        let observed = try setup.sample(client, path: "/v2/a", generation: 0, count: 20)
        #expect(observed.matched == 20 && observed.newFraction == 1)
    }
}

/// A listening socket that keeps a port busy.
final class BusyPort {
    private var fd: Int32

    init(_ port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            Glibc.close(fd)
            throw HTTPTestClient.Failure(description: "could not hold port \(port)")
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

/// A list appended to from several threads.
final class LockedList<Element: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Element] = []
    func append(_ element: Element) { lock.withLock { storage.append(element) } }
    var items: [Element] { lock.withLock { storage } }
}
