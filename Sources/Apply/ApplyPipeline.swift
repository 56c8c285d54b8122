import Foundation
import NginxConfig
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the pipeline keeps its lock and journal, and how it talks to nginx.
public struct ApplyConfiguration: Sendable {
    /// The validate/reload commands and reload checks.
    public var nginx: NginxControl
    /// The advisory lock file (one writer at a time), beside the config by default.
    public var lockFile: String
    /// How long a second writer waits for the lock before giving up.
    public var lockWait: Duration
    /// The journal of attempted changes.
    public var journal: Journal
    /// The user recorded in the journal.
    public var user: String
    /// The host recorded in the journal.
    public var host: String
    /// The /proc root used by the worker-generation check (tests point it elsewhere).
    public var procRoot: String

    /// Creates a configuration; `lockFile` defaults to `.cutover.lock` beside `mainConfig`.
    public init(nginx: NginxControl, mainConfig: String, lockFile: String? = nil, lockWait: Duration = .seconds(3),
                journal: Journal = Journal(path: Journal.defaultPath()),
                user: String = ApplyConfiguration.currentUser(), host: String = ApplyConfiguration.currentHost(),
                procRoot: String = "/proc") {
        self.nginx = nginx
        self.lockFile = lockFile ?? ApplyConfiguration.lockFile(besideConfig: mainConfig)
        self.lockWait = lockWait
        self.journal = journal
        self.user = user
        self.host = host
        self.procRoot = procRoot
    }

    /// The default lock file for a main config: `.cutover.lock` in its directory.
    public static func lockFile(besideConfig config: String) -> String {
        AtomicFiles.directory(of: config) + "/.cutover.lock"
    }

    /// The user running this process ($USER, else the passwd entry, else the uid).
    public static func currentUser() -> String {
        if let user = ProcessInfo.processInfo.environment["USER"], !user.isEmpty { return user }
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return "uid \(geteuid())"
    }

    /// This machine's host name (gethostname, no DNS lookup).
    public static func currentHost() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// How long each stage of an apply took.
public struct ApplyTimings: Sendable, Equatable {
    /// Waiting for and taking the lock.
    public var lock: Duration = .zero
    /// Computing the change (the edit closure, run under the lock).
    public var edit: Duration = .zero
    /// Re-reading the files to check they still match.
    public var read: Duration = .zero
    /// Writing temp files, keeping backups and renaming into place.
    public var write: Duration = .zero
    /// Running validation.
    public var validate: Duration = .zero
    /// Running the reload command.
    public var reload: Duration = .zero
    /// Waiting for the reload checks.
    public var verify: Duration = .zero
    /// Putting the previous files back and reloading again, after a failure.
    public var revert: Duration = .zero
    /// Building the journal record (diff, hashes) and appending it.
    public var journal: Duration = .zero
    /// From the call to its return.
    public var total: Duration = .zero

    /// Creates zero timings.
    public init() {}
}

/// What an apply did: its outcome, a message for the operator, the journal record and the timings.
public struct ApplyReport: Sendable {
    /// How the change ended.
    public var outcome: ApplyOutcome
    /// What happened, in words an operator can act on (nginx's own message included on failure).
    public var message: String
    /// The record appended to the journal (nil when there was nothing to change).
    public var record: JournalRecord?
    /// The stage durations.
    public var timings: ApplyTimings
    /// The validation command's result, when it ran.
    public var validation: CommandResult?
    /// The reload command's result, when it ran.
    public var reload: CommandResult?

    /// The exit status the CLI uses for this report.
    public var exitCode: Int32 { outcome.exitCode }
}

/// The candidate change found by `ApplyPipeline.planUndo`: the reverting edits and the record they undo.
public struct UndoPlan: Sendable, Equatable {
    /// The journal record being undone.
    public var target: JournalRecord
    /// The reverting change.
    public var planned: PlannedChange
}

/// The one path every routing change takes: lock, fresh read, write beside, swap with backup, validate,
/// reload, verify, revert on failure, journal.
///
/// Validation runs on the new text in place: the files are swapped in (previous ones kept as hard-link
/// backups) and `nginx -t` reads them; if it refuses, the backups are renamed back before any reload, so
/// the running nginx, which reads files only on reload, never sees the refused text.
public struct ApplyPipeline: Sendable {
    /// The lock, journal and nginx commands.
    public let configuration: ApplyConfiguration
    /// Runs validate, reload and verify commands.
    public let runner: CommandRunner
    /// Time for the journal, timings and deadlines.
    public let clock: ApplyClock

    /// Creates a pipeline.
    public init(configuration: ApplyConfiguration, runner: CommandRunner = ProcessRunner(), clock: ApplyClock = .system) {
        self.configuration = configuration
        self.runner = runner
        self.clock = clock
    }

    /// Applies precomputed whole-file changes; each file must still hold its `before` text, else the
    /// outcome is `.conflict`. Throws only for I/O trouble (and `revertFailed`, the one case needing hands).
    public func apply(changes: [FileChange], description: ChangeDescription) throws -> ApplyReport {
        try run(description: description) { _ in (changes, nil) }
    }

    /// Applies the change that `edit` computes under the lock, so concurrent writers never lose each
    /// other's updates: `edit` should read the files itself (they are current once the lock is held) and
    /// may refine the description (e.g. the percentages it found).
    public func apply(description: ChangeDescription,
                      edit: (inout ChangeDescription) throws -> [FileChange]) throws -> ApplyReport {
        try run(description: description) { description in (try edit(&description), nil) }
    }

    /// Applies an edit of whole file texts, run under the lock on the files' current texts: `edit` gets
    /// each path's text and returns the new text of the paths it changes (others stay as they are).
    public func apply(editing paths: [String], description: ChangeDescription,
                      edit: (_ current: [String: String]) throws -> [String: String]) throws -> ApplyReport {
        try apply(description: description) { _ in
            var current: [String: String] = [:]
            for path in paths { current[path] = try AtomicFiles.readText(path) }
            let edited = try edit(current)
            return try edited.keys.sorted().map { path in
                guard let before = current[path], let after = edited[path] else {
                    throw ApplyError.invalidChange("the edit returned \(path), which is not among the files it was given")
                }
                return FileChange(path: path, before: before, after: after)
            }
        }
    }

    /// Applies an edit of one file's text, run under the lock on its current text.
    public func apply(editing path: String, description: ChangeDescription,
                      edit: (_ current: String) throws -> String) throws -> ApplyReport {
        try apply(editing: [path], description: description) { current in
            [path: try edit(current[path] ?? "")]
        }
    }

    /// The journal, oldest record first, for `history`.
    public func history() throws -> [JournalRecord] {
        try configuration.journal.records()
    }

    /// Builds the change that reverts the last applied (and not yet undone) change; throws
    /// `nothingToUndo` when there is none or a touched file no longer matches that change's result.
    public func planUndo(reason: String? = nil) throws -> UndoPlan {
        guard let target = try configuration.journal.lastUndoable() else {
            throw ApplyError.nothingToUndo("the journal \(configuration.journal.path) has no applied change left to undo")
        }
        var changes: [FileChange] = []
        for file in target.files {
            let current = try AtomicFiles.readText(file.path)
            guard SHA256.hex(current) == file.hashAfter else {
                throw ApplyError.nothingToUndo("\(file.path) changed after the change of \(Self.timestamp(target.time)) "
                    + "(\(target.change.action)); undo would overwrite those edits, so revert it by hand")
            }
            let previous: String
            do {
                previous = try ReversePatch.oldText(fromNew: current, diff: file.diff)
            } catch {
                throw ApplyError.nothingToUndo("the journaled diff of \(file.path) does not reverse cleanly (\(error))")
            }
            guard SHA256.hex(previous) == file.hashBefore else {
                throw ApplyError.nothingToUndo("reversing the journaled diff of \(file.path) does not give the recorded previous text")
            }
            changes.append(FileChange(path: file.path, before: current, after: previous))
        }
        let t = target.change
        let description = ChangeDescription(action: "undo", endpoints: t.endpoints, groups: t.groups,
                                            percentsBefore: t.percentsAfter, percentsAfter: t.percentsBefore,
                                            reason: reason ?? "undo \(t.action) of \(Self.timestamp(target.time))")
        return UndoPlan(target: target, planned: PlannedChange(changes: changes, description: description))
    }

    /// Reverts the last applied change as a new journaled change (planned under the lock).
    public func undo(reason: String? = nil) throws -> ApplyReport {
        let preview = try planUndo(reason: reason)
        return try run(description: preview.planned.description) { description in
            let plan = try planUndo(reason: reason)
            description = plan.planned.description
            return (plan.planned.changes, plan.target.id)
        }
    }

    // MARK: - The pipeline

    private static func timestamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }

    private func run(description initial: ChangeDescription,
                     edit: (inout ChangeDescription) throws -> (changes: [FileChange], undoes: String?)) throws -> ApplyReport {
        let start = clock.monotonic()
        var timings = ApplyTimings()
        var description = initial
        func lap(_ from: Duration) -> Duration { clock.monotonic() - from }

        // 1. Lock.
        let lock: FileLock
        do {
            lock = try FileLock.acquire(path: configuration.lockFile, wait: configuration.lockWait, clock: clock)
        } catch let error as ApplyError {
            guard case .lockHeld = error else { throw error }
            timings.lock = lap(start)
            timings.total = timings.lock
            return finish(.conflict, error.description, description: description, changes: [], undoes: nil,
                          timings: timings)
        }
        defer { lock.release() }
        timings.lock = lap(start)

        // Compute the change under the lock.
        var t = clock.monotonic()
        let (allChanges, undoes) = try edit(&description)
        timings.edit = lap(t)
        try checkWellFormed(allChanges)
        let changes = allChanges.filter { !$0.isNoOp }

        // 2. Fresh read.
        t = clock.monotonic()
        for change in changes {
            let current = try AtomicFiles.readText(change.path)
            if current != change.before {
                timings.read = lap(t)
                timings.total = lap(start)
                let error = ApplyError.fileChanged(path: change.path, diff: Self.shortDiff(from: change.before, to: current, path: change.path))
                return finish(.conflict, error.description, description: description, changes: changes,
                              undoes: undoes, timings: timings)
            }
        }
        timings.read = lap(t)
        if changes.isEmpty {
            timings.total = lap(start)
            return ApplyReport(outcome: .applied, message: "nothing to change: the files already hold this configuration",
                               record: nil, timings: timings, validation: nil, reload: nil)
        }

        // 3 and 5. Write beside, keep backups, swap in (only once the change can be journaled).
        t = clock.monotonic()
        try configuration.journal.checkWritable()
        var swapped: [(path: String, backup: String)] = []
        do {
            var temps: [(path: String, temp: String)] = []
            defer { for entry in temps { unlink(entry.temp) } }
            for change in changes {
                temps.append((change.path, try AtomicFiles.writeTemp(beside: change.path, text: change.after)))
            }
            for entry in temps {
                let backup = AtomicFiles.backupPath(for: entry.path)
                try AtomicFiles.makeBackup(of: entry.path, at: backup)
                try AtomicFiles.renameFile(entry.temp, to: entry.path)
                swapped.append((entry.path, backup))
            }
            temps.removeAll()
            for directory in Set(changes.map { AtomicFiles.directory(of: $0.path) }) { AtomicFiles.fsyncDirectory(directory) }
        } catch {
            try revert(swapped)
            throw error
        }
        timings.write = lap(t)

        // 4. Validate the new text in place.
        let control = configuration.nginx
        let verifier = ReloadVerifier(checks: control.verify, runner: runner, clock: clock, timeout: control.verifyTimeout,
                                      errorLogSettle: control.errorLogSettle, procRoot: configuration.procRoot)
        let beforeValidation = verifier.snapshot()
        t = clock.monotonic()
        let validation: CommandResult
        do {
            validation = try runner.run(control.validateArgv, timeout: control.validateTimeout)
        } catch {
            try revert(swapped)
            throw error
        }
        timings.validate = lap(t)
        let validateStep = Self.step(validation)
        if !validation.succeeded {
            t = clock.monotonic()
            try revert(swapped)
            timings.revert = lap(t)
            timings.total = lap(start)
            let message = "refused by validation, nothing changed: \(validation.summary); nginx was not reloaded and "
                + "the files are as they were. nginx said:\n"
                + verifier.nginxMessage(validation.message, since: beforeValidation)
            return finish(.validationRefused, message, description: description, changes: changes, undoes: undoes,
                          timings: timings, validate: validateStep, validation: validation)
        }

        // 6. Reload.
        let snapshot = verifier.snapshot()
        t = clock.monotonic()
        let reload = performReload()
        timings.reload = lap(t)
        let reloadStep = Self.step(reload)

        // 7. Verify.
        var verifyStep: StepRecord?
        var failure: String?
        if !reload.succeeded {
            failure = "the reload failed: \(reload.summary). nginx said:\n"
                + verifier.nginxMessage(reload.message, since: snapshot)
        } else {
            t = clock.monotonic()
            let problem = verifier.verify(since: snapshot)
            timings.verify = lap(t)
            verifyStep = StepRecord(command: control.verify.map(Self.describe), succeeded: problem == nil, exitCode: nil,
                                    durationMs: timings.verify.millisecondsDouble, message: problem ?? "")
            if let problem { failure = "the reload did not take effect: \(problem)" }
        }

        // 8. On failure put the previous files back and reload again.
        if let failure {
            t = clock.monotonic()
            try revert(swapped)
            let again = reloadAfterRevert(verifier: verifier, firstReloadRan: reload.succeeded)
            timings.revert = lap(t)
            timings.total = lap(start)
            let message = "reload failed and reverted: \(failure)\nThe previous files are back in place; \(again)"
            return finish(.reloadFailedReverted, message, description: description, changes: changes, undoes: undoes,
                          timings: timings, validate: validateStep, reloadStep: reloadStep, verify: verifyStep,
                          validation: validation, reload: reload)
        }
        timings.total = lap(start)
        let files = changes.map(\.path).joined(separator: ", ")
        return finish(.applied, "applied: \(files) validated, swapped in and nginx reloaded", description: description,
                      changes: changes, undoes: undoes, timings: timings, validate: validateStep,
                      reloadStep: reloadStep, verify: verifyStep, validation: validation, reload: reload)
    }

    /// Reloads after a revert and says how that went.
    private func reloadAfterRevert(verifier: ReloadVerifier, firstReloadRan: Bool) -> String {
        let snapshot = verifier.snapshot()
        let result = performReload()
        guard result.succeeded else {
            if !firstReloadRan {
                return "the reload after reverting also failed (\(result.summary)); nginx never took up the change and "
                    + "still runs the configuration from before it, which the files on disk hold again"
            }
            return "the reload after reverting failed (\(result.summary)): nginx may be running the refused change; "
                + "the files on disk hold the previous configuration, so reload nginx by hand (\(result.message))"
        }
        if let problem = verifier.verify(since: snapshot) {
            return "nginx was reloaded on the previous files but the check reports: \(problem)"
        }
        return "nginx was reloaded on them and serves the previous configuration"
    }

    /// Runs the reload command (or signals the master, when so configured); never throws, a command
    /// that cannot start is a failed reload.
    private func performReload() -> CommandResult {
        let control = configuration.nginx
        let start = clock.monotonic()
        if let pidFile = control.reloadSignalPidFile {
            let argv = ["kill", "-HUP", "(master in \(pidFile))"]
            guard let pid = ProcessTable.readPid(pidFile), pid > 0 else {
                return CommandResult(argv: argv, exitCode: 1, stderr: "no nginx master pid in \(pidFile); is nginx running?",
                                     duration: clock.monotonic() - start)
            }
            let code: Int32 = kill(pid, SIGHUP) == 0 ? 0 : 1
            let message = code == 0 ? "" : "kill -HUP \(pid): \(String(cString: strerror(errno)))"
            return CommandResult(argv: ["kill", "-HUP", "\(pid)"], exitCode: code, stderr: message,
                                 duration: clock.monotonic() - start)
        }
        do {
            return try runner.run(control.reloadArgv, timeout: control.reloadTimeout)
        } catch {
            return CommandResult(argv: control.reloadArgv, exitCode: 127, stderr: "\(error)", duration: clock.monotonic() - start)
        }
    }

    /// Renames each backup back over its file, newest first.
    private func revert(_ swapped: [(path: String, backup: String)]) throws {
        for entry in swapped.reversed() {
            do {
                try AtomicFiles.renameFile(entry.backup, to: entry.path)
            } catch {
                throw ApplyError.revertFailed(path: entry.path, backup: entry.backup, reason: "\(error)")
            }
        }
        for directory in Set(swapped.map { AtomicFiles.directory(of: $0.path) }) { AtomicFiles.fsyncDirectory(directory) }
    }

    private func checkWellFormed(_ changes: [FileChange]) throws {
        var seen = Set<String>()
        for change in changes {
            guard change.path.hasPrefix("/") else {
                throw ApplyError.invalidChange("\(change.path) is not an absolute path")
            }
            guard seen.insert(change.path).inserted else {
                throw ApplyError.invalidChange("\(change.path) appears twice in one change; merge the edits")
            }
        }
    }

    /// Appends the journal record and builds the report.
    private func finish(_ outcome: ApplyOutcome, _ message: String, description: ChangeDescription, changes: [FileChange],
                        undoes: String?, timings: ApplyTimings, validate: StepRecord? = nil, reloadStep: StepRecord? = nil,
                        verify: StepRecord? = nil, validation: CommandResult? = nil,
                        reload: CommandResult? = nil) -> ApplyReport {
        let journalStart = clock.monotonic()
        let files = changes.map { change in
            FileRecord(path: change.path, hashBefore: SHA256.hex(change.before), hashAfter: SHA256.hex(change.after),
                       diff: unifiedDiff(old: change.before, new: change.after, oldName: "a" + change.path, newName: "b" + change.path))
        }
        let record = JournalRecord(
            id: UUID().uuidString.lowercased(), time: clock.now(), user: configuration.user, host: configuration.host,
            change: description, outcome: outcome, message: message, files: files,
            configHashBefore: Self.configHash(changes.map { ($0.path, $0.before) }),
            configHashAfter: Self.configHash(changes.map { ($0.path, $0.after) }),
            validate: validate, reload: reloadStep, verify: verify, undoes: undoes)
        var message = message
        do {
            try configuration.journal.append(record)
        } catch {
            // The change already happened (or was already put back): report it rather than lose the outcome.
            message += "\nWARNING: the journal record could not be written (\(error)); this change is missing from history."
        }
        var timings = timings
        timings.journal = clock.monotonic() - journalStart
        timings.total += timings.journal
        return ApplyReport(outcome: outcome, message: message, record: record, timings: timings,
                           validation: validation, reload: reload)
    }

    /// SHA-256 over the files' paths and texts, in path order.
    static func configHash(_ files: [(String, String)]) -> String {
        var bytes: [UInt8] = []
        for (path, text) in files.sorted(by: { $0.0 < $1.0 }) {
            bytes += Array(path.utf8) + [0] + Array(text.utf8) + [0]
        }
        return SHA256.hex(bytes: bytes)
    }

    private static func step(_ result: CommandResult) -> StepRecord {
        StepRecord(command: result.argv, succeeded: result.succeeded, exitCode: result.timedOut ? nil : result.exitCode,
                   durationMs: result.duration.millisecondsDouble, message: result.message)
    }

    private static func describe(_ check: VerifyCheck) -> String {
        switch check {
        case .newWorkers(let pidFile): return "new-workers:\(pidFile)"
        case .errorLog(let path): return "error-log:\(path)"
        case .command(let argv): return argv.joined(separator: " ")
        }
    }

    /// A diff of at most 40 lines with one line of context.
    static func shortDiff(from old: String, to new: String, path: String) -> String {
        let diff = unifiedDiff(old: old, new: new, oldName: "\(path) (expected)", newName: "\(path) (on disk)", context: 1)
        let lines = diff.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.count <= 40 { return diff }
        return lines.prefix(40).joined(separator: "\n") + "\n... (\(lines.count - 40) more lines)\n"
    }
}
