import Apply
import Foundation
import NginxConfig
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The pipeline's cancellation points (an emergency rollback from the dashboard stops a change nginx has not
/// taken up) and the watch of nginx's old workers after a reload.
@Suite struct CancellationTests {
    static let validate = ["nginx", "-t"]
    static let reload = ["nginx", "-s", "reload"]
    static let before = PipelineTests.before
    static let after = PipelineTests.after

    struct Fixture {
        let dir: TempDir
        let file: String
        let runner: ScriptedRunner
        let cancellation = ApplyCancellation()
        let pipeline: ApplyPipeline
        var journal: Journal { pipeline.configuration.journal }

        init(_ expectations: [ScriptedRunner.Expectation]) throws {
            dir = try TempDir(prefix: "cutover-cancel")
            file = try dir.write("conf.d/routing.conf", CancellationTests.before)
            runner = ScriptedRunner(expectations)
            let control = NginxControl(validateArgv: CancellationTests.validate, reloadArgv: CancellationTests.reload)
            var configuration = ApplyConfiguration(nginx: control, mainConfig: dir.file("nginx.conf"), lockWait: .milliseconds(100),
                                                   journal: Journal(path: dir.file("journal.jsonl")), user: "ops", host: "edge-1")
            configuration.cancellation = cancellation
            pipeline = ApplyPipeline(configuration: configuration, runner: runner, clock: ManualClock().applyClock)
        }

        var change: FileChange { FileChange(path: file, before: CancellationTests.before, after: CancellationTests.after) }
        func text() throws -> String { try dir.read("conf.d/routing.conf") }
    }

    @Test func aCancelRequestedBeforeTheSwapWritesNothingAndIsJournaled() throws {
        let fx = try Fixture([])
        fx.cancellation.request("an emergency rollback takes precedence")
        let report = try fx.pipeline.apply(changes: [fx.change], description: PipelineTests.description)
        fx.runner.verifyAllRan()
        #expect(report.outcome == .cancelled)
        #expect(report.message.contains("cancelled before anything was written (an emergency rollback takes precedence)"), "\(report.message)")
        #expect(try fx.text() == Self.before)
        #expect(try fx.journal.records().map(\.outcome) == [.cancelled])
    }

    @Test func aCancelArrivingDuringValidationPutsThePreviousFilesBackBeforeAnyReload() throws {
        let cancellation = LockedBox<ApplyCancellation?>(nil)
        let fx = try Fixture([
            .init(Self.validate) {
                // The operator confirms the rollback while `nginx -t` runs.
                cancellation.value?.request("an emergency rollback takes precedence")
                return CommandResult(argv: Self.validate, exitCode: 0, stderr: "syntax is ok")
            },
        ])
        cancellation.value = fx.cancellation
        let report = try fx.pipeline.apply(changes: [fx.change], description: PipelineTests.description)
        fx.runner.verifyAllRan()  // no reload ran
        #expect(report.outcome == .cancelled)
        #expect(report.message.contains("cancelled after validation"), "\(report.message)")
        #expect(report.message.contains("the previous files were put back before any reload"))
        #expect(try fx.text() == Self.before)
        #expect(report.exitStatus == .conflict)
        let record = try #require(try fx.journal.records().last)
        #expect(record.outcome == .cancelled && record.validate?.succeeded == true && record.reload == nil)
    }

    @Test func aCancelArrivingDuringTheReloadIsTooLateAndTheChangeCompletes() throws {
        let cancellation = LockedBox<ApplyCancellation?>(nil)
        let fx = try Fixture([
            .init(Self.validate, stderr: "syntax is ok"),
            .init(Self.reload) {
                cancellation.value?.request("too late")
                return CommandResult(argv: Self.reload, exitCode: 0)
            },
        ])
        cancellation.value = fx.cancellation
        let report = try fx.pipeline.apply(changes: [fx.change], description: PipelineTests.description)
        fx.runner.verifyAllRan()
        #expect(report.outcome == .applied, "\(report.message)")
        #expect(try fx.text() == Self.after)
    }

    @Test func anEmergencyChangeIsNeverCancelled() throws {
        let fx = try Fixture([.init(Self.validate, stderr: "syntax is ok"), .init(Self.reload)])
        fx.cancellation.request("a stale request")
        let report = try fx.pipeline.apply(changes: [fx.change], description: PipelineTests.description, emergency: true)
        fx.runner.verifyAllRan()
        #expect(report.outcome == .applied, "\(report.message)")
    }

    @Test func theDrainWaitsForTheOldWorkersToExitBoundedByItsTimeout() throws {
        // Two real processes stand in for old workers; the drain is seen once both are gone.
        let first = try CleanChild(["/bin/sleep", "30"])
        let second = try CleanChild(["/bin/sleep", "30"])
        defer {
            first.stop()
            second.stop()
        }
        let drain = WorkerDrain(pids: [first.pid, second.pid])
        #expect(drain.remaining == [first.pid, second.pid])
        let clock = ApplyClock.system
        let started = clock.monotonic()
        #expect(drain.wait(timeout: .milliseconds(200), clock: clock) == nil, "still running: no drain time")
        #expect(clock.monotonic() - started < .seconds(5))
        kill(first.pid, SIGTERM)
        _ = first.wait(timeout: .seconds(5))
        #expect(drain.remaining == [second.pid])
        Thread.detachNewThread {
            usleep(100_000)
            kill(second.pid, SIGTERM)
        }
        let before = Date()
        let drainedAt = try #require(drain.wait(timeout: .seconds(10), clock: clock), "drained once both exited")
        #expect(drainedAt >= before && drainedAt.timeIntervalSince(before) < 5)
        _ = second.wait(timeout: .seconds(5))
        #expect(drain.remaining.isEmpty)
    }

    @Test func theOldWorkersAreTheMastersChildren() throws {
        // This test process as the "master": its pid file names it and a child of it is a "worker".
        let dir = try TempDir(prefix: "cutover-drain")
        let pidFile = try dir.write("nginx.pid", "\(getpid())\n")
        let worker = try CleanChild(["/bin/sleep", "30"])
        defer { worker.stop() }
        let drain = try #require(WorkerDrain.workers(ofMasterIn: pidFile))
        #expect(drain.pids.contains(worker.pid), "\(drain.pids)")
        #expect(WorkerDrain.workers(ofMasterIn: dir.file("missing.pid")) == nil, "no master known: nothing to watch")
        #expect(WorkerDrain.workers(ofMasterIn: nil) == nil)
    }
}
