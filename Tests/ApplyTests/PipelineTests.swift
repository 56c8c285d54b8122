import Apply
import Foundation
import NginxConfig
import TestSupport
import Testing

/// Unit tests of the apply pipeline with scripted nginx commands and a manual clock.
@Suite struct PipelineTests {
    static let validate = ["nginx", "-t"]
    static let reload = ["nginx", "-s", "reload"]
    static let before = "split_clients \"${request_id}\" $group1_routing {\n    10% \"new_service\";\n    * \"current_service\";\n}\n"
    static let after = before.replacingOccurrences(of: "10%", with: "25%")
    static let description = ChangeDescription(action: "set-percent", endpoints: ["/v2/a"], groups: ["group1"],
                                               percentsBefore: ["group1": 10], percentsAfter: ["group1": 25], reason: "ramp up")

    struct Fixture {
        let dir: TempDir
        let file: String
        let runner: ScriptedRunner
        let clock = ManualClock()
        let pipeline: ApplyPipeline

        init(_ expectations: [ScriptedRunner.Expectation], verify: [VerifyCheck] = [], text: String = PipelineTests.before) throws {
            dir = try TempDir()
            file = try dir.write("conf.d/routing.conf", text)
            runner = ScriptedRunner(expectations)
            let control = NginxControl(validateArgv: PipelineTests.validate, reloadArgv: PipelineTests.reload, verify: verify,
                                       errorLogSettle: .milliseconds(50))
            let configuration = ApplyConfiguration(nginx: control, mainConfig: dir.file("nginx.conf"), lockWait: .milliseconds(100),
                                                   journal: Journal(path: dir.file("journal.jsonl")), user: "ops", host: "edge-1")
            pipeline = ApplyPipeline(configuration: configuration, runner: runner, clock: clock.applyClock)
        }

        func text() throws -> String { try dir.read("conf.d/routing.conf") }
        var change: FileChange { FileChange(path: file, before: PipelineTests.before, after: PipelineTests.after) }
    }

    @Test func appliesValidatesReloadsAndJournals() throws {
        let dirBox = LockedBox<String>("")
        let fx = try Fixture([
            .init(Self.validate) {
                // nginx -t must see the new text in place.
                dirBox.value = (try? String(contentsOfFile: dirBox.path, encoding: .utf8)) ?? ""
                return CommandResult(argv: Self.validate, exitCode: 0, stderr: "syntax is ok")
            },
            .init(Self.reload),
        ])
        dirBox.path = fx.file
        try fx.dir.write("conf.d/routing.conf", Self.before)
        chmod(fx.file, 0o640)
        let report = try fx.pipeline.apply(changes: [fx.change], description: Self.description)
        fx.runner.verifyAllRan()
        #expect(report.outcome == .applied)
        #expect(report.exitCode == 0)
        #expect(dirBox.value == Self.after)
        #expect(try fx.text() == Self.after)
        var st = stat()
        stat(fx.file, &st)
        #expect(st.st_mode & 0o777 == 0o640)
        // The previous file is kept as a dot-named backup, invisible to `include conf.d/*`.
        #expect(try fx.dir.read("conf.d/.routing.conf.cutover-backup") == Self.before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fx.dir.file("conf.d")).filter { !$0.hasPrefix(".") } == ["routing.conf"])
        let records = try fx.pipeline.history()
        #expect(records.count == 1)
        let record = try #require(records.first)
        #expect(record.outcome == .applied)
        #expect(record.user == "ops" && record.host == "edge-1")
        #expect(record.change == Self.description)
        #expect(record.files.first?.hashBefore == SHA256.hex(Self.before))
        #expect(record.files.first?.hashAfter == SHA256.hex(Self.after))
        #expect(record.diff.contains("-    10% \"new_service\";\n+    25% \"new_service\";"))
        #expect(record.validate?.succeeded == true)
        #expect(record.validate?.message == "syntax is ok")
        #expect(record.reload?.succeeded == true)
    }

    @Test func validationRefusalPutsTheFileBackWithoutReloading() throws {
        let fx = try Fixture([
            .init(Self.validate, exitCode: 1,
                  stderr: "nginx: [emerg] invalid percent value \"250%\" in routing.conf:2\nnginx: configuration file test failed"),
        ])
        let report = try fx.pipeline.apply(changes: [fx.change], description: Self.description)
        fx.runner.verifyAllRan()
        #expect(report.outcome == .validationRefused)
        #expect(report.exitCode == 3)
        #expect(report.message.contains("nothing changed"))
        #expect(report.message.contains("invalid percent value"))
        #expect(try fx.text() == Self.before)
        #expect(!FileManager.default.fileExists(atPath: fx.dir.file("conf.d/.routing.conf.cutover-backup")))
        #expect(try fx.pipeline.history().map(\.outcome) == [.validationRefused])
    }

    @Test func validationTimeoutIsARefusal() throws {
        let fx = try Fixture([.init(Self.validate, exitCode: -1, timedOut: true)])
        let report = try fx.pipeline.apply(changes: [fx.change], description: Self.description)
        #expect(report.outcome == .validationRefused)
        #expect(report.message.contains("timed out"))
        #expect(try fx.text() == Self.before)
    }

    @Test func failedReloadRevertsAndReloadsAgain() throws {
        let fx = try Fixture([
            .init(Self.validate),
            .init(Self.reload, exitCode: 1, stderr: "nginx: [error] invalid PID number \"\" in \"/run/nginx.pid\""),
            .init(Self.reload),
        ])
        let report = try fx.pipeline.apply(changes: [fx.change], description: Self.description)
        fx.runner.verifyAllRan()
        #expect(report.outcome == .reloadFailedReverted)
        #expect(report.exitCode == 4)
        #expect(report.message.contains("invalid PID number"))
        #expect(report.message.contains("serves the previous configuration"))
        #expect(try fx.text() == Self.before)
        let record = try #require(try fx.pipeline.history().last)
        #expect(record.outcome == .reloadFailedReverted)
        #expect(record.reload?.succeeded == false)
    }

    @Test func emergencyInTheErrorLogAfterReloadReverts() throws {
        let dir = try TempDir()
        let log = try dir.write("error.log", "2026/11/28 01:00:00 [notice] 1#1: start\n")
        let fx = try Fixture([
            .init(Self.validate),
            .init(Self.reload) {
                let handle = FileHandle(forWritingAtPath: log)
                _ = try? handle?.seekToEnd()
                try? handle?.write(contentsOf: Data("2026/11/28 01:00:01 [emerg] 1#1: bind() to 127.0.0.1:80 failed (98: Address already in use)\n".utf8))
                try? handle?.close()
                return CommandResult(argv: Self.reload, exitCode: 0)
            },
            .init(Self.reload),
        ], verify: [.errorLog(path: log)])
        let report = try fx.pipeline.apply(changes: [fx.change], description: Self.description)
        fx.runner.verifyAllRan()
        #expect(report.outcome == .reloadFailedReverted)
        #expect(report.message.contains("Address already in use"))
        #expect(try fx.text() == Self.before)
        #expect(try fx.pipeline.history().last?.verify?.succeeded == false)
    }

    @Test func verifyCommandMustSucceedWithinTheTimeout() throws {
        let fx = try Fixture([
            .init(Self.validate), .init(Self.reload),
            .init(["curl", "-fsS", "http://127.0.0.1/health"], exitCode: 22, stderr: "HTTP 502"),
            .init(["curl", "-fsS", "http://127.0.0.1/health"]),
        ], verify: [.command(["curl", "-fsS", "http://127.0.0.1/health"])])
        let report = try fx.pipeline.apply(changes: [fx.change], description: Self.description)
        fx.runner.verifyAllRan()
        #expect(report.outcome == .applied)
        #expect(try fx.text() == Self.after)
    }

    @Test func refusesWhenTheFileChangedUnderneath() throws {
        let fx = try Fixture([])
        try fx.dir.write("conf.d/routing.conf", Self.before.replacingOccurrences(of: "10%", with: "15%"))
        let report = try fx.pipeline.apply(changes: [fx.change], description: Self.description)
        fx.runner.verifyAllRan()
        #expect(report.outcome == .conflict)
        #expect(report.exitCode == 5)
        #expect(report.message.contains(fx.file))
        #expect(report.message.contains("-    10% \"new_service\";\n+    15% \"new_service\";"))
        #expect(try fx.text().contains("15%"))
        #expect(try fx.pipeline.history().map(\.outcome) == [.conflict])
    }

    @Test func aHeldLockIsAConflictNamingTheHolder() throws {
        let fx = try Fixture([])
        let held = try FileLock.acquire(path: fx.pipeline.configuration.lockFile, wait: .zero)
        defer { held.release() }
        let report = try fx.pipeline.apply(changes: [fx.change], description: Self.description)
        #expect(report.outcome == .conflict)
        #expect(report.message.contains("process \(getpid())"))
        #expect(try fx.text() == Self.before)
    }

    @Test func theEditClosureRunsUnderTheLockOnCurrentText() throws {
        let fx = try Fixture([.init(Self.validate), .init(Self.reload)])
        let file = fx.file
        let report = try fx.pipeline.apply(description: Self.description) { description in
            #expect(throws: ApplyError.self) {
                _ = try FileLock.acquire(path: fx.pipeline.configuration.lockFile, wait: .zero)
            }
            let current = try String(contentsOfFile: file, encoding: .utf8)
            description.percentsBefore = ["group1": 10]
            return [FileChange(path: file, before: current, after: current.replacingOccurrences(of: "10%", with: "40%"))]
        }
        #expect(report.outcome == .applied)
        #expect(try fx.text().contains("40%"))
    }

    @Test func textEditsRunOnTheCurrentText() throws {
        let fx = try Fixture([.init(Self.validate), .init(Self.reload)])
        try fx.dir.write("conf.d/routing.conf", Self.before.replacingOccurrences(of: "10%", with: "15%"))
        let report = try fx.pipeline.apply(editing: fx.file, description: Self.description) { current in
            #expect(current.contains("15%"))
            return current.replacingOccurrences(of: "15%", with: "35%")
        }
        #expect(report.outcome == .applied)
        #expect(try fx.text().contains("35%"))
        #expect(throws: ApplyError.self) {
            _ = try fx.pipeline.apply(editing: [fx.file], description: Self.description) { _ in ["/elsewhere.conf": "x"] }
        }
    }

    @Test func noOpChangesRunNothing() throws {
        let fx = try Fixture([])
        let report = try fx.pipeline.apply(changes: [FileChange(path: fx.file, before: Self.before, after: Self.before)],
                                           description: Self.description)
        #expect(report.outcome == .applied)
        #expect(report.record == nil)
        #expect(try fx.pipeline.history().isEmpty)
    }

    @Test func malformedChangesAreRejected() throws {
        let fx = try Fixture([])
        #expect(throws: ApplyError.invalidChange("conf.d/routing.conf is not an absolute path")) {
            _ = try fx.pipeline.apply(changes: [FileChange(path: "conf.d/routing.conf", before: "", after: "x")],
                                      description: Self.description)
        }
        #expect(throws: ApplyError.self) {
            _ = try fx.pipeline.apply(changes: [fx.change, fx.change], description: Self.description)
        }
    }

    @Test func multiFileChangesSwapAndRevertTogether() throws {
        let fx = try Fixture([.init(Self.validate, exitCode: 1, stderr: "nginx: [emerg] duplicate upstream")])
        let other = try fx.dir.write("conf.d/upstreams.conf", "upstream a { server 127.0.0.1:1; }\n")
        let report = try fx.pipeline.apply(changes: [
            fx.change,
            FileChange(path: other, before: "upstream a { server 127.0.0.1:1; }\n", after: "upstream a { server 127.0.0.1:2; }\n"),
        ], description: Self.description)
        #expect(report.outcome == .validationRefused)
        #expect(try fx.text() == Self.before)
        #expect(try fx.dir.read("conf.d/upstreams.conf") == "upstream a { server 127.0.0.1:1; }\n")
    }

    @Test func undoRevertsTheLastAppliedChangeAsANewChange() throws {
        let fx = try Fixture([.init(Self.validate), .init(Self.reload), .init(Self.validate), .init(Self.reload)])
        _ = try fx.pipeline.apply(changes: [fx.change], description: Self.description)
        let plan = try fx.pipeline.planUndo()
        #expect(plan.planned.changes == [FileChange(path: fx.file, before: Self.after, after: Self.before)])
        #expect(plan.planned.description.percentsAfter == ["group1": 10])
        let report = try fx.pipeline.undo(reason: "latency up")
        fx.runner.verifyAllRan()
        #expect(report.outcome == .applied)
        #expect(try fx.text() == Self.before)
        let history = try fx.pipeline.history()
        #expect(history.count == 2)
        #expect(history[1].undoes == history[0].id)
        #expect(history[1].change.action == "undo")
        #expect(history[1].change.reason == "latency up")
        #expect(throws: ApplyError.self) { _ = try fx.pipeline.planUndo() }
    }

    @Test func undoRefusesWhenTheFileWasEditedSince() throws {
        let fx = try Fixture([.init(Self.validate), .init(Self.reload)])
        _ = try fx.pipeline.apply(changes: [fx.change], description: Self.description)
        try fx.dir.write("conf.d/routing.conf", Self.after + "# hand edit\n")
        #expect {
            _ = try fx.pipeline.undo()
        } throws: { error in
            "\(error)".contains("changed after the change")
        }
        #expect(try fx.text() == Self.after + "# hand edit\n")
    }

    @Test func undoHandlesAFileWithoutFinalNewline() throws {
        let fx = try Fixture([.init(Self.validate), .init(Self.reload), .init(Self.validate), .init(Self.reload)],
                             text: "a\nb\nc")
        _ = try fx.pipeline.apply(changes: [FileChange(path: fx.file, before: "a\nb\nc", after: "a\nB\nc\nd\n")],
                                  description: Self.description)
        _ = try fx.pipeline.undo()
        #expect(try fx.text() == "a\nb\nc")
    }

    @Test func outcomesHaveStableExitCodes() {
        #expect(ApplyOutcome.allCases.map(\.exitCode) == [0, 3, 9, 4, 5, 6, 130, 0, 1, 5])
    }
}

/// A value shared with a scripted command's closure.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    private var storedPath = ""
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    var path: String {
        get { lock.withLock { storedPath } }
        set { lock.withLock { storedPath = newValue } }
    }
}

@Suite struct ValidationMessageTests {
    @Test func validationReportsWhatNginxLoggedButDidNotPrint() throws {
        let dir = try TempDir()
        let log = try dir.write("error.log", "")
        let fx = try PipelineTests.Fixture([
            .init(PipelineTests.validate) {
                let handle = FileHandle(forWritingAtPath: log)
                _ = try? handle?.seekToEnd()
                try? handle?.write(contentsOf: Data("2026/11/28 02:00:00 [emerg] 7#7: unknown directive \"spilt_clients\" in /x.conf:1\n2026/11/28 02:00:00 [emerg] 7#7: duplicate upstream \"a\" in /x.conf:9\n".utf8))
                try? handle?.close()
                return CommandResult(argv: PipelineTests.validate, exitCode: 1,
                                     stderr: "nginx: [emerg] duplicate upstream \"a\" in /x.conf:9\nnginx: configuration file test failed")
            },
        ], verify: [.errorLog(path: log)])
        let report = try fx.pipeline.apply(changes: [fx.change], description: PipelineTests.description)
        #expect(report.outcome == .validationRefused)
        #expect(report.message.contains("unknown directive \"spilt_clients\""))
        // A line nginx already printed is not repeated from the log.
        #expect(report.message.components(separatedBy: "duplicate upstream").count == 2)
    }
}

@Suite struct JournalSafetyTests {
    @Test func anUnwritableJournalStopsTheChangeBeforeAnythingIsWritten() throws {
        let dir = try TempDir()
        let file = try dir.write("routing.conf", PipelineTests.before)
        // The journal's directory is a regular file, so the journal cannot be created.
        try dir.write("blocker", "")
        let configuration = ApplyConfiguration(
            nginx: NginxControl(validateArgv: PipelineTests.validate, reloadArgv: PipelineTests.reload),
            mainConfig: dir.file("nginx.conf"), journal: Journal(path: dir.file("blocker/journal.jsonl")))
        let runner = ScriptedRunner([])
        let pipeline = ApplyPipeline(configuration: configuration, runner: runner, clock: ManualClock().applyClock)
        #expect(throws: ApplyError.self) {
            _ = try pipeline.apply(changes: [FileChange(path: file, before: PipelineTests.before, after: PipelineTests.after)],
                                   description: PipelineTests.description)
        }
        #expect(try dir.read("routing.conf") == PipelineTests.before)
        runner.verifyAllRan()
    }
}
