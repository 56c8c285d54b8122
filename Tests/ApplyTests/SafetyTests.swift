import Apply
import Foundation
import NginxConfig
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted in a test's temp dir, for full-disk tests (needs root or CAP_SYS_ADMIN).
final class SmallTmpfs: @unchecked Sendable {
    let path: String

    /// Whether this process may mount a tmpfs (tried once, on a throwaway directory).
    static let available: Bool = {
        guard let probe = try? TempDir(prefix: "cutover-tmpfs-probe") else { return false }
        guard let mounted = try? SmallTmpfs(at: probe.file("m"), bytes: 4096) else { return false }
        mounted.unmount()
        return true
    }()

    /// Mounts a tmpfs of `bytes` at `path` (created).
    init(at path: String, bytes: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let result = try ProcessRunner().run(["mount", "-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", path], timeout: .seconds(10))
        guard result.succeeded else { throw NginxHarness.Failure(description: "mount tmpfs: \(result.summary): \(result.message)") }
    }

    /// Fills the tmpfs until writes fail with ENOSPC.
    func fill() {
        let fd = open(path + "/filler", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        let chunk = [UInt8](repeating: 0x41, count: 4096)
        for _ in 0..<100_000 { if chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) <= 0 { break } }
        var one: UInt8 = 0x41
        for _ in 0..<8192 { if write(fd, &one, 1) <= 0 { break } }
        close(fd)
    }

    func unmount() {
        _ = try? ProcessRunner().run(["umount", path], timeout: .seconds(10))
    }
}

/// The apply pipeline under faults: symlinks, torn and full journals, hand edits during validation, stale
/// pid files, commands that cannot start, interrupted changes left behind.
@Suite struct FaultTests {
    static let validate = PipelineTests.validate
    static let reload = PipelineTests.reload

    static func pipeline(_ dir: TempDir, runner: CommandRunner, control: NginxControl? = nil, journal: String? = nil,
                         fallbacks: [Journal] = []) -> ApplyPipeline {
        let control = control ?? NginxControl(validateArgv: validate, reloadArgv: reload)
        let configuration = ApplyConfiguration(nginx: control, mainConfig: dir.file("nginx.conf"), lockWait: .milliseconds(100),
                                               journal: Journal(path: journal ?? dir.file("journal.jsonl")), user: "ops", host: "edge-1",
                                               fallbackJournals: fallbacks)
        return ApplyPipeline(configuration: configuration, runner: runner, clock: ManualClock().applyClock)
    }

    @Test func aSymlinkedConfigIsWrittenThroughToItsTargetAndStaysALink() throws {
        let dir = try TempDir()
        let target = try dir.write("sites-available/api", PipelineTests.before)
        try FileManager.default.createDirectory(atPath: dir.file("sites-enabled"), withIntermediateDirectories: true)
        let link = dir.file("sites-enabled/api")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "../sites-available/api")
        let runner = ScriptedRunner([.init(Self.validate), .init(Self.reload)])
        let report = try Self.pipeline(dir, runner: runner).apply(
            changes: [FileChange(path: link, before: PipelineTests.before, after: PipelineTests.after)], description: PipelineTests.description)
        runner.verifyAllRan()
        #expect(report.outcome == .applied)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "../sites-available/api", "the link survives")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == PipelineTests.after, "the real file holds the change")
        // The backup sits beside the target; nothing was left in the link's directory.
        #expect(FileManager.default.fileExists(atPath: dir.file("sites-available/.api.cutover-backup")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("sites-enabled")) == ["api"])
        // Undo goes through the link too.
        _ = ScriptedRunner()
        let undoRunner = ScriptedRunner([.init(Self.validate), .init(Self.reload)])
        _ = try Self.pipeline(dir, runner: undoRunner).undo()
        #expect(try String(contentsOfFile: target, encoding: .utf8) == PipelineTests.before)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == "../sites-available/api")
    }

    @Test func anAppendAfterATornLineStartsOnItsOwnLineAndKeepsTheFragment() throws {
        let dir = try TempDir()
        let journal = Journal(path: dir.file("journal.jsonl"))
        let runner = ScriptedRunner([.init(Self.validate), .init(Self.reload), .init(Self.validate), .init(Self.reload)])
        let pipeline = Self.pipeline(dir, runner: runner)
        let file = try dir.write("routing.conf", PipelineTests.before)
        _ = try pipeline.apply(changes: [FileChange(path: file, before: PipelineTests.before, after: PipelineTests.after)],
                               description: PipelineTests.description)
        // A crash mid-write leaves half a record without its newline.
        let handle = try #require(FileHandle(forWritingAtPath: journal.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"id":"torn","ti"#.utf8))
        try handle.close()
        let report = try pipeline.undo()
        #expect(report.outcome == .applied)
        let records = try journal.records()
        #expect(records.map(\.change.action) == ["set-percent", "undo"], "the next record is not glued to the fragment")
        #expect(try dir.read("journal.jsonl.torn") == #"{"id":"torn","ti"# + "\n", "the fragment is set aside, not lost")
        // history and undo keep working for good.
        #expect(try pipeline.history().count == 2)
    }

    @Test(.enabled(if: SmallTmpfs.available, "mounting a tmpfs needs root or CAP_SYS_ADMIN; the full-disk test cannot run here"))
    func aFullDiskDuringTheJournalWriteIsReportedNotSuccess() throws {
        let dir = try TempDir()
        let disk = try SmallTmpfs(at: dir.file("disk"), bytes: 64 * 1024)
        defer { disk.unmount() }
        let journalPath = disk.path + "/journal.jsonl"
        try Journal(path: journalPath).checkWritable()
        disk.fill()
        let file = try dir.write("routing.conf", PipelineTests.before)

        // No fallback writable: the change is live, the report says the record is lost, exit 8.
        let runner = ScriptedRunner([.init(Self.validate), .init(Self.reload)])
        let report = try Self.pipeline(dir, runner: runner, journal: journalPath).apply(
            changes: [FileChange(path: file, before: PipelineTests.before, after: PipelineTests.after)], description: PipelineTests.description)
        #expect(report.outcome == .applied)
        #expect(report.exitCode == ExitStatus.notJournaled.rawValue, "\(report.message)")
        #expect(report.exitCode == 8)
        #expect(report.journalProblem?.contains("No space left on device") == true, "\(report.journalProblem ?? "nil")")
        #expect(report.message.contains("WARNING"))
        let size = (try FileManager.default.attributesOfItem(atPath: journalPath)[.size] as? NSNumber)?.intValue
        #expect(size == 0, "a failed append is cut back, never left torn")

        // With a fallback journal the record lands there, said loudly, still exit 8.
        let fallback = Journal(path: dir.file("fallback/journal.jsonl"))
        let second = ScriptedRunner([.init(Self.validate), .init(Self.reload)])
        let back = try Self.pipeline(dir, runner: second, journal: journalPath, fallbacks: [fallback]).apply(
            changes: [FileChange(path: file, before: PipelineTests.after, after: PipelineTests.before)], description: PipelineTests.description)
        #expect(back.outcome == .applied)
        #expect(back.exitCode == 8)
        #expect(back.journalPath == fallback.path)
        #expect(back.message.contains("fallback journal \(fallback.path)"), "\(back.message)")
        #expect(try fallback.records().map(\.id) == [back.record?.id])
    }

    @Test func anEmergencyRollbackGoesThroughAnUnwritableJournal() throws {
        let dir = try TempDir()
        let file = try dir.write("routing.conf", PipelineTests.before)
        try dir.write("blocker", "")
        let fallback = Journal(path: dir.file("fallback.jsonl"))
        // An ordinary change is refused before anything is written...
        let refused = Self.pipeline(dir, runner: ScriptedRunner([]), journal: dir.file("blocker/journal.jsonl"), fallbacks: [fallback])
        #expect(throws: ApplyError.self) {
            _ = try refused.apply(changes: [FileChange(path: file, before: PipelineTests.before, after: PipelineTests.after)],
                                  description: PipelineTests.description)
        }
        #expect(try dir.read("routing.conf") == PipelineTests.before)
        // ...an emergency one goes through, journaled in the fallback.
        let runner = ScriptedRunner([.init(Self.validate), .init(Self.reload)])
        let report = try Self.pipeline(dir, runner: runner, journal: dir.file("blocker/journal.jsonl"), fallbacks: [fallback]).apply(
            changes: [FileChange(path: file, before: PipelineTests.before, after: PipelineTests.after)],
            description: ChangeDescription(action: "rollback-all"), emergency: true)
        runner.verifyAllRan()
        #expect(report.outcome == .applied)
        #expect(try dir.read("routing.conf") == PipelineTests.after)
        #expect(report.journalPath == fallback.path)
        #expect(report.message.contains("WARNING") && report.message.contains(fallback.path), "\(report.message)")
        #expect(try fallback.records().map(\.change.action) == ["rollback-all"])
    }

    @Test func aHandEditDuringValidationIsNeverOverwrittenByTheRevert() throws {
        let dir = try TempDir()
        let file = try dir.write("routing.conf", PipelineTests.before)
        let handEdit = PipelineTests.after + "# edited by hand while nginx -t ran\n"
        let runner = ScriptedRunner([
            .init(Self.validate) {
                try? handEdit.write(toFile: file, atomically: false, encoding: .utf8)
                return CommandResult(argv: Self.validate, exitCode: 1, stderr: "nginx: [emerg] unexpected \"}\"")
            },
        ])
        let report = try Self.pipeline(dir, runner: runner).apply(
            changes: [FileChange(path: file, before: PipelineTests.before, after: PipelineTests.after)], description: PipelineTests.description)
        runner.verifyAllRan()
        #expect(report.outcome == .revertWithheld)
        #expect(report.exitCode == 6)
        #expect(try dir.read("routing.conf") == handEdit, "the hand edit stays")
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("cutover-previous") }
        #expect(kept.count == 1)
        #expect(try kept.first.map { try dir.read($0) } == PipelineTests.before, "the previous text is kept")
        #expect(report.message.contains("REVERT WITHHELD") && report.message.contains(kept.first ?? "?"), "\(report.message)")
        #expect(try Journal(path: dir.file("journal.jsonl")).records().map(\.outcome) == [.revertWithheld])
    }

    @Test func aStalePidFileNamingAnotherProcessIsNeverSignalled() throws {
        let dir = try TempDir()
        let file = try dir.write("routing.conf", PipelineTests.before)
        // A process SIGHUP would kill (default disposition, nothing blocked), as a stale pid file may name.
        let sleeper = try CleanChild(["sleep", "30"])
        defer { sleeper.stop() }
        let pidFile = try dir.write("nginx.pid", "\(sleeper.pid)\n")

        // Reload by signal: no SIGHUP reaches the sleeper.
        var control = NginxControl(validateArgv: Self.validate, reloadArgv: Self.reload, reloadSignalPidFile: pidFile)
        let runner = ScriptedRunner([.init(Self.validate)])
        let report = try Self.pipeline(dir, runner: runner, control: control).apply(
            changes: [FileChange(path: file, before: PipelineTests.before, after: PipelineTests.after)], description: PipelineTests.description)
        #expect(report.outcome == .reloadFailedReverted)
        #expect(report.message.contains("not an nginx master"), "\(report.message)")
        #expect(report.message.contains("sleep"), "\(report.message)")
        #expect(sleeper.isRunning, "the unrelated process was not signalled")
        #expect(try dir.read("routing.conf") == PipelineTests.before)

        // `nginx -s reload` is not even run against a pid file naming something else.
        control = NginxControl(validateArgv: Self.validate, reloadArgv: ["nginx", "-s", "reload"], masterPidFile: pidFile)
        let second = ScriptedRunner([.init(Self.validate)])
        let again = try Self.pipeline(dir, runner: second, control: control).apply(
            changes: [FileChange(path: file, before: PipelineTests.before, after: PipelineTests.after)], description: PipelineTests.description)
        second.verifyAllRan()
        #expect(second.commands == [Self.validate], "no reload command ran")
        #expect(again.outcome == .reloadFailedReverted)
        #expect(sleeper.isRunning)
    }

    @Test func aValidateCommandThatCannotStartIsJournaledAndChangesNothing() throws {
        let dir = try TempDir()
        let file = try dir.write("routing.conf", PipelineTests.before)
        let control = NginxControl(validateArgv: ["/nonexistent/nginx", "-t"], reloadArgv: ["/nonexistent/nginx", "-s", "reload"])
        let report = try Self.pipeline(dir, runner: ProcessRunner(), control: control).apply(
            changes: [FileChange(path: file, before: PipelineTests.before, after: PipelineTests.after)], description: PipelineTests.description)
        #expect(report.outcome == .validationNotRun)
        #expect(report.exitCode == 9)
        #expect(report.message.contains("/nonexistent/nginx"), "\(report.message)")
        #expect(try dir.read("routing.conf") == PipelineTests.before)
        let records = try Journal(path: dir.file("journal.jsonl")).records()
        #expect(records.map(\.outcome) == [.validationNotRun])
        #expect(records.first?.validate?.succeeded == false)
        #expect(!FileManager.default.fileExists(atPath: dir.file(".cutover.intent.json")), "the intent is gone once journaled")
    }

    @Test func aChangeLeftBehindByADeadProcessIsPutBackAndJournaled() throws {
        let dir = try TempDir()
        let file = try dir.write("routing.conf", PipelineTests.after)
        let backup = ApplyIntent.backupPath(for: file)
        try PipelineTests.before.write(toFile: backup, atomically: true, encoding: .utf8)
        let intent = ApplyIntent(id: "dead-beef-0001", time: Date(timeIntervalSince1970: 1_790_000_000), pid: 99999, user: "ops",
                                 host: "edge-1", change: PipelineTests.description,
                                 files: [.init(path: file, target: file, backup: backup, hashBefore: SHA256.hex(PipelineTests.before),
                                               hashAfter: SHA256.hex(PipelineTests.after))])
        try intent.save(to: dir.file(".cutover.intent.json"))
        let runner = ScriptedRunner([.init(Self.validate), .init(Self.reload)])
        let pipeline = Self.pipeline(dir, runner: runner)
        let report = try #require(try pipeline.recoverInterrupted())
        runner.verifyAllRan()
        #expect(report.outcome == .recovered)
        #expect(try dir.read("routing.conf") == PipelineTests.before)
        #expect(report.message.contains("pid 99999"), "\(report.message)")
        #expect(!FileManager.default.fileExists(atPath: dir.file(".cutover.intent.json")))
        let records = try pipeline.history()
        #expect(records.map(\.outcome) == [.recovered])
        #expect(records.first?.change.action == "recover")
        // Nothing left: a second recovery does nothing.
        #expect(try pipeline.recoverInterrupted() == nil)
    }

    @Test func recoveryLeavesAFileEditedSinceAloneAndSaysSo() throws {
        let dir = try TempDir()
        let file = try dir.write("routing.conf", "# a hand edit after the crash\n")
        let backup = ApplyIntent.backupPath(for: file)
        try PipelineTests.before.write(toFile: backup, atomically: true, encoding: .utf8)
        let intent = ApplyIntent(id: "dead-beef-0002", time: Date(), pid: 99998, user: "ops", host: "edge-1",
                                 change: PipelineTests.description,
                                 files: [.init(path: file, target: file, backup: backup, hashBefore: SHA256.hex(PipelineTests.before),
                                               hashAfter: SHA256.hex(PipelineTests.after))])
        try intent.save(to: dir.file(".cutover.intent.json"))
        let report = try #require(try Self.pipeline(dir, runner: ScriptedRunner([])).recoverInterrupted())
        #expect(report.outcome == .revertWithheld)
        #expect(try dir.read("routing.conf") == "# a hand edit after the crash\n")
        #expect(try String(contentsOfFile: backup, encoding: .utf8) == PipelineTests.before)
    }

    @Test func failuresHaveTheirOwnExitCodesFromOneTable() {
        #expect(ApplyError.notUTF8(path: "/x").exitCode == 1, "a non-UTF-8 file is no validation refusal")
        #expect(ApplyError.io(operation: "read", path: "/x", errno: EIO).exitCode == 1)
        #expect(ApplyError.configUnreadable(path: "/x", reason: "r").exitCode == 1)
        #expect(ApplyError.editRefused("no such group").exitCode == 3)
        #expect(ApplyError.lockHeld(path: "/l", holderPid: 1, waited: .seconds(1)).exitCode == 5)
        #expect(ApplyError.revertFailed(path: "/x", backup: "/b", reason: "r").exitCode == 6)
        let codes = ExitStatus.allCases.map(\.rawValue)
        #expect(Set(codes).count == codes.count, "one meaning per code")
        #expect(ExitStatus.table.split(separator: "\n").count == ExitStatus.allCases.count)
        #expect(ExitStatus.table.contains("7 --confirm-traffic"))
    }
}

@Suite struct ExitCodeDocumentationTests {
    @Test func theReadmeDocumentsEveryExitCode() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../README.md").standardized
        let text = try String(contentsOf: readme, encoding: .utf8)
        for status in ExitStatus.allCases {
            #expect(text.contains("\n| \(status.rawValue) | "), "README's exit-code table lacks \(status.rawValue) (\(status))")
        }
    }
}
