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
    /// The config Cutover operates on, recorded in every journal record (so a shared journal reads per config).
    public var configPath: String?
    /// Where a change's intent is kept while it is in flight (beside the lock file by default).
    public var intentFile: String
    /// Where a record goes when the journal cannot take it (tried in order, loudly).
    public var fallbackJournals: [Journal]
    /// Whether the pipeline ends the process by a SIGINT/SIGTERM/SIGHUP that arrived during a change,
    /// right after journaling it; the CLI turns this off to print the report first (`ApplyReport.signal`).
    public var raisePendingSignal: Bool
    /// Called with each stage's name as the pipeline enters it ("validating", "reloading", ...), from the
    /// applying thread; the dashboard shows it on its applying line.
    public var onStage: (@Sendable (String) -> Void)?
    /// Asked by another thread (the dashboard's emergency rollback) to stop a non-emergency change before the
    /// reload; checked before the swap, after it and after validation (see `ApplyCancellation`).
    public var cancellation: ApplyCancellation?

    /// Creates a configuration; `lockFile` defaults to `.cutover.lock` beside `mainConfig`.
    public init(nginx: NginxControl, mainConfig: String, lockFile: String? = nil, lockWait: Duration = .seconds(3),
                journal: Journal = Journal(path: Journal.defaultPath()),
                user: String = ApplyConfiguration.currentUser(), host: String = ApplyConfiguration.currentHost(),
                procRoot: String = "/proc", configPath: String? = nil, intentFile: String? = nil,
                fallbackJournals: [Journal]? = nil, raisePendingSignal: Bool = true) {
        self.nginx = nginx
        self.lockFile = lockFile ?? ApplyConfiguration.lockFile(besideConfig: mainConfig)
        self.configPath = configPath
        self.intentFile = intentFile ?? ApplyIntent.path(besideLock: self.lockFile)
        self.fallbackJournals = (fallbackJournals ?? Journal.fallbackPaths().map(Journal.init(path:))).filter { $0.path != journal.path }
        self.raisePendingSignal = raisePendingSignal
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
    /// Where the record was written: the journal, a fallback journal, or nil when nowhere.
    public var journalPath: String?
    /// Why the record is not in the configured journal, when it is not (said loudly by the CLI).
    public var journalProblem: String?
    /// The held signal that arrived during the change (the CLI ends by it after printing).
    public var signal: Int32?
    /// For a fleet change, how it ended on each host (hosts needing hands first); empty for a single nginx.
    public var hosts: [HostRecord] = []

    /// Creates a report.
    public init(outcome: ApplyOutcome, message: String, record: JournalRecord?, timings: ApplyTimings,
                validation: CommandResult? = nil, reload: CommandResult? = nil, journalPath: String? = nil,
                journalProblem: String? = nil, signal: Int32? = nil) {
        self.outcome = outcome
        self.message = message
        self.record = record
        self.timings = timings
        self.validation = validation
        self.reload = reload
        self.journalPath = journalPath
        self.journalProblem = journalProblem
        self.signal = signal
    }

    /// Where this report sits in the exit-code table: the outcome's row, except that a change that
    /// happened without reaching the configured journal is `notJournaled`.
    public var exitStatus: ExitStatus {
        if journalProblem != nil && outcome.exitStatus == .success { return .notJournaled }
        return outcome.exitStatus
    }

    /// The exit status the CLI uses for this report.
    public var exitCode: Int32 { exitStatus.rawValue }
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
    public func apply(changes: [FileChange], description: ChangeDescription, emergency: Bool = false) throws -> ApplyReport {
        try run(description: description, emergency: emergency) { _ in (changes, nil) }
    }

    /// Applies the change that `edit` computes under the lock, so concurrent writers never lose each
    /// other's updates: `edit` should read the files itself (they are current once the lock is held) and
    /// may refine the description (e.g. the percentages it found). An `emergency` change (a rollback) is
    /// never blocked by bookkeeping: an unwritable journal sends its record to a fallback journal, loudly.
    public func apply(description: ChangeDescription, emergency: Bool = false,
                      edit: (inout ChangeDescription) throws -> [FileChange]) throws -> ApplyReport {
        try run(description: description, emergency: emergency) { description in (try edit(&description), nil) }
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

    /// The journal's records of this config (all of them when no config is set), oldest first, for `history`.
    public func history() throws -> [JournalRecord] {
        let records = try configuration.journal.records()
        guard let config = configuration.configPath else { return records }
        return records.filter { $0.belongs(toConfig: config) }
    }

    /// Builds the change that reverts the last applied (and not yet undone) change; throws
    /// `nothingToUndo` when there is none or a touched file no longer matches that change's result.
    public func planUndo(reason: String? = nil) throws -> UndoPlan {
        try planUndo(reason: reason) { try AtomicFiles.readText($0) }
    }

    /// `planUndo` reading the current files with `read` (a fleet reads them on its reference host).
    func planUndo(reason: String?, read: (String) throws -> String) throws -> UndoPlan {
        guard let target = try configuration.journal.lastUndoable(forConfig: configuration.configPath) else {
            throw ApplyError.nothingToUndo("the journal \(configuration.journal.path) has no applied change left to undo")
        }
        if target.change.action == "sync" {
            throw ApplyError.nothingToUndo("the last change is a `cutover sync` (\(target.change.reason ?? "")), which made the hosts "
                + "identical; undo cannot give each host back its own earlier text: sync again from a host, or edit")
        }
        var changes: [FileChange] = []
        for file in target.files {
            let current = try read(file.path)
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
        let description = t.reversed(action: "undo", reason: reason ?? "undo \(t.action) of \(Self.timestamp(target.time))")
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

    static func timestamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }

    /// One file swapped in: the path the change names, the file written (symlinks resolved), its backup and
    /// the hash of the text Cutover put there.
    private struct Swapped {
        var path: String
        var target: String
        var backup: String
        var hashAfter: String
    }

    /// A file the revert left alone because it no longer held Cutover's text.
    private struct Withheld {
        var path: String
        var kept: String
    }

    private func run(description initial: ChangeDescription, emergency: Bool = false,
                     edit: (inout ChangeDescription) throws -> (changes: [FileChange], undoes: String?)) throws -> ApplyReport {
        let start = clock.monotonic()
        var timings = ApplyTimings()
        var description = initial
        func lap(_ from: Duration) -> Duration { clock.monotonic() - from }
        let stage = configuration.onStage ?? { _ in }

        // 1. Lock.
        stage("waiting for the lock")
        let lock: FileLock
        switch try acquireLock() {
        case .success(let held): lock = held
        case .failure(let error):
            timings.lock = lap(start)
            timings.total = timings.lock
            return finish(.conflict, error.description, description: description, changes: [], undoes: nil,
                          timings: timings)
        }
        defer { lock.release() }
        timings.lock = lap(start)

        // A change a dead process left half-way is put back before anything else.
        _ = try recoverUnderLock()

        // Compute the change under the lock.
        var t = clock.monotonic()
        let (allChanges, undoes) = try edit(&description)
        timings.edit = lap(t)
        try checkWellFormed(allChanges)
        let changes = allChanges.filter { !$0.isNoOp }

        // 2. Fresh read.
        stage("re-reading the files")
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
        /// Why this change is to stop before the reload (never for an emergency change).
        func cancelled() -> String? { emergency ? nil : configuration.cancellation?.requested }
        if let reason = cancelled() {
            timings.total = lap(start)
            return finish(.cancelled, "cancelled before anything was written (\(reason)); the files and nginx are as they were",
                          description: description, changes: [], undoes: undoes, timings: timings)
        }

        // 3 and 5. Write beside, keep backups, swap in (only once the change can be journaled, except for an
        // emergency change, which goes through and journals wherever it can).
        t = clock.monotonic()
        let journalWarning = try configuration.journal.checkWritable(emergency: emergency)
        let targets = try changes.map { try AtomicFiles.resolveSymlinks($0.path) }
        let id = UUID().uuidString.lowercased()
        let intent = ApplyIntent(
            id: id, time: clock.now(), pid: getpid(), user: configuration.user, host: configuration.host, change: description,
            files: zip(changes, targets).map { change, target in
                ApplyIntent.File(path: change.path, target: target, backup: AtomicFiles.backupPath(for: target),
                                 hashBefore: SHA256.hex(change.before), hashAfter: SHA256.hex(change.after))
            })
        // From the intent on, SIGINT/SIGTERM/SIGHUP are only noted: the change is reverted or completed first.
        SignalGuard.hold()
        var released = false
        func releaseSignals() -> Int32? {
            guard !released else { return nil }
            released = true
            return SignalGuard.release()
        }
        defer { if !released { _ = SignalGuard.release() } }
        try intent.save(to: configuration.intentFile)
        var swapped: [Swapped] = []
        do {
            var temps: [(change: FileChange, target: String, temp: String)] = []
            defer { for entry in temps { unlink(entry.temp) } }
            for (change, target) in zip(changes, targets) {
                temps.append((change, target, try AtomicFiles.writeTemp(beside: target, text: change.after)))
            }
            for entry in temps {
                let backup = AtomicFiles.backupPath(for: entry.target)
                try AtomicFiles.makeBackup(of: entry.target, at: backup)
                try AtomicFiles.renameFile(entry.temp, to: entry.target)
                swapped.append(Swapped(path: entry.change.path, target: entry.target, backup: backup,
                                       hashAfter: SHA256.hex(entry.change.after)))
            }
            temps.removeAll()
            for directory in Set(targets.map { AtomicFiles.directory(of: $0) }) { AtomicFiles.fsyncDirectory(directory) }
        } catch {
            _ = try revert(swapped, id: id)
            ApplyIntent.remove(at: configuration.intentFile)
            throw error
        }
        timings.write = lap(t)

        /// Journals the outcome, removes the intent, stops holding signals (ending the process by one that
        /// arrived, when so configured, after the record is safe).
        func conclude(_ outcome: ApplyOutcome, _ message: String, validate: StepRecord? = nil, reloadStep: StepRecord? = nil,
                      verify: StepRecord? = nil, validation: CommandResult? = nil, reload: CommandResult? = nil) -> ApplyReport {
            var report = finish(outcome, message, description: description, changes: changes, undoes: undoes, timings: timings,
                                validate: validate, reloadStep: reloadStep, verify: verify, validation: validation, reload: reload,
                                id: id, journalWarning: journalWarning)
            ApplyIntent.remove(at: configuration.intentFile)
            report.signal = releaseSignals() ?? report.signal
            if configuration.raisePendingSignal { SignalGuard.raisePending(report.signal) }
            return report
        }

        /// Puts the previous files back after `why`, or withholds that for files a hand edit reached.
        func revertOrWithhold(_ outcome: ApplyOutcome, _ message: String, validate: StepRecord? = nil,
                              reloadStep: StepRecord? = nil, verify: StepRecord? = nil, validation: CommandResult? = nil,
                              reload: CommandResult? = nil, reloadAfter: Bool = false, firstReloadRan: Bool = false,
                              verifier: ReloadVerifier? = nil) throws -> ApplyReport {
            stage("reverting")
            let revertStart = clock.monotonic()
            let withheld = try revert(swapped, id: id)
            var message = message
            if reloadAfter, let verifier {
                let again = reloadAfterRevert(verifier: verifier, firstReloadRan: firstReloadRan)
                message += withheld.isEmpty ? "\nThe previous files are back in place; \(again)" : "\nAfter the revert: \(again)"
            }
            timings.revert = lap(revertStart)
            timings.total = lap(start)
            guard withheld.isEmpty else {
                let list = withheld.map { "\($0.path) holds an edit made while the change was in flight (kept as it is); "
                    + "the text from before Cutover's change is in \($0.kept)" }
                message += "\nREVERT WITHHELD: " + list.joined(separator: "; ")
                    + ". Merge the two texts by hand, then run `nginx -t` and reload nginx."
                return conclude(.revertWithheld, message, validate: validate, reloadStep: reloadStep, verify: verify,
                                validation: validation, reload: reload)
            }
            return conclude(outcome, message, validate: validate, reloadStep: reloadStep, verify: verify,
                            validation: validation, reload: reload)
        }

        func interruptedMessage(_ signal: Int32, stage: String) -> String {
            "interrupted by \(SignalGuard.name(signal)) \(stage): the previous files were put back before any reload; "
                + "nginx still runs the configuration from before the change"
        }

        if let signal = SignalGuard.pending {
            return try revertOrWithhold(.interrupted, interruptedMessage(signal, stage: "while swapping the files in"))
        }
        func cancelledMessage(_ reason: String, stage: String) -> String {
            "cancelled \(stage) (\(reason)): the previous files were put back before any reload; nginx still runs the "
                + "configuration from before the change"
        }
        if let reason = cancelled() {
            return try revertOrWithhold(.cancelled, cancelledMessage(reason, stage: "once the files were swapped in"))
        }

        // 4. Validate the new text in place.
        stage("validating (nginx -t)")
        let control = configuration.nginx
        let verifier = ReloadVerifier(checks: control.verify, runner: runner, clock: clock, timeout: control.verifyTimeout,
                                      errorLogSettle: control.errorLogSettle, procRoot: configuration.procRoot)
        let beforeValidation = verifier.snapshot()
        t = clock.monotonic()
        let validation: CommandResult
        do {
            validation = try runner.run(control.validateArgv, timeout: control.validateTimeout)
        } catch {
            timings.validate = lap(t)
            let step = StepRecord(command: control.validateArgv, succeeded: false, exitCode: nil,
                                  durationMs: timings.validate.millisecondsDouble, message: "\(error)")
            return try revertOrWithhold(.validationNotRun, "validation could not run, nothing changed: \(error); nginx was "
                                        + "not reloaded and the files are as they were", validate: step)
        }
        timings.validate = lap(t)
        let validateStep = Self.step(validation)
        if let signal = SignalGuard.pending {
            return try revertOrWithhold(.interrupted, interruptedMessage(signal, stage: "during validation"),
                                        validate: validateStep, validation: validation)
        }
        if let reason = cancelled() {
            return try revertOrWithhold(.cancelled, cancelledMessage(reason, stage: "after validation"),
                                        validate: validateStep, validation: validation)
        }
        if !validation.succeeded {
            let message = "refused by validation, nothing changed: \(validation.summary); nginx was not reloaded and "
                + "the files are as they were. nginx said:\n"
                + verifier.nginxMessage(validation.message, since: beforeValidation)
            return try revertOrWithhold(.validationRefused, message, validate: validateStep, validation: validation)
        }

        // 6. Reload. From here on the change is completed even if a signal arrives.
        stage("reloading nginx")
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
            stage("verifying the reload")
            t = clock.monotonic()
            let problem = verifier.verify(since: snapshot)
            timings.verify = lap(t)
            verifyStep = StepRecord(command: control.verify.map(Self.describe), succeeded: problem == nil, exitCode: nil,
                                    durationMs: timings.verify.millisecondsDouble, message: problem ?? "")
            if let problem { failure = "the reload did not take effect: \(problem)" }
        }

        // 8. On failure put the previous files back and reload again.
        if let failure {
            return try revertOrWithhold(.reloadFailedReverted, "reload failed and reverted: \(failure)", validate: validateStep,
                                        reloadStep: reloadStep, verify: verifyStep, validation: validation, reload: reload,
                                        reloadAfter: true, firstReloadRan: reload.succeeded, verifier: verifier)
        }
        timings.total = lap(start)
        let files = changes.map(\.path).joined(separator: ", ")
        return conclude(.applied, "applied: \(files) validated, swapped in and nginx reloaded", validate: validateStep,
                        reloadStep: reloadStep, verify: verifyStep, validation: validation, reload: reload)
    }

    /// Takes the one-writer lock, waiting up to `lockWait`; a lock another writer keeps is a failure (the
    /// change is then a conflict), any other trouble is thrown.
    func acquireLock() throws -> Result<FileLock, ApplyError> {
        do {
            return .success(try FileLock.acquire(path: configuration.lockFile, wait: configuration.lockWait, clock: clock))
        } catch let error as ApplyError {
            guard case .lockHeld = error else { throw error }
            return .failure(error)
        }
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
    /// that cannot start is a failed reload. The pid file's process must be an nginx master before any
    /// signal is sent or `nginx -s reload` runs (a stale pid file may name an unrelated process).
    private func performReload() -> CommandResult {
        NginxControl.reloadLocally(configuration.nginx, runner: runner, clock: clock, procRoot: configuration.procRoot)
    }

    /// Renames each backup back over its file, newest first, unless the file no longer holds the text
    /// Cutover wrote (a hand edit arrived meanwhile): that file is left alone and its backup is kept
    /// under a name no later change reuses; returns those.
    private func revert(_ swapped: [Swapped], id: String) throws -> [Withheld] {
        var withheld: [Withheld] = []
        for entry in swapped.reversed() {
            let current = try? AtomicFiles.readBytes(entry.target)
            if let current, SHA256.hex(bytes: current) != entry.hashAfter {
                let kept = AtomicFiles.beside(entry.target, "previous-" + id.prefix(8))
                do {
                    try AtomicFiles.renameFile(entry.backup, to: kept)
                } catch {
                    throw ApplyError.revertFailed(path: entry.path, backup: entry.backup, reason: "\(error)")
                }
                withheld.append(Withheld(path: entry.path, kept: kept))
                continue
            }
            do {
                try AtomicFiles.renameFile(entry.backup, to: entry.target)
            } catch {
                throw ApplyError.revertFailed(path: entry.path, backup: entry.backup, reason: "\(error)")
            }
        }
        for directory in Set(swapped.map { AtomicFiles.directory(of: $0.target) }) { AtomicFiles.fsyncDirectory(directory) }
        return withheld.reversed()
    }

    func checkWellFormed(_ changes: [FileChange]) throws {
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

    // MARK: - Recovery

    /// Finishes what a Cutover process that died mid-change (SIGKILL, power loss) left: when its intent
    /// has no journaled outcome, puts the previous files back (leaving any file a hand edit reached since),
    /// validates and reloads nginx on them, and journals that as `recovered`. Returns nil when there was
    /// nothing to recover or another writer holds the lock (it is alive, so nothing is left behind).
    public func recoverInterrupted() throws -> ApplyReport? {
        try underRecoveryLock { try recoverUnderLock() }
    }

    /// Runs `recover` holding the lock, taken without waiting; nil when another writer holds it (it is alive, so
    /// nothing is left behind) or no lock can be made where there is no intent either.
    func underRecoveryLock(_ recover: () throws -> ApplyReport?) throws -> ApplyReport? {
        let lock: FileLock
        do {
            lock = try FileLock.acquire(path: configuration.lockFile, wait: .zero, clock: clock)
        } catch let error as ApplyError {
            if case .lockHeld = error { return nil }
            // No lock file can be made here (read-only directory): nothing can have been swapped by Cutover.
            if case .io = error, !FileManager.default.fileExists(atPath: configuration.intentFile) { return nil }
            throw error
        }
        defer { lock.release() }
        return try recover()
    }

    /// The intent a dead process left without an outcome; nil when there is none, or when its outcome is
    /// journaled after all (the intent is removed then).
    func unfinishedIntent() throws -> ApplyIntent? {
        guard let intent = try ApplyIntent.read(from: configuration.intentFile) else { return nil }
        if let journaled = try? allRecords().contains(where: { $0.id == intent.id }), journaled {
            ApplyIntent.remove(at: configuration.intentFile)
            return nil
        }
        return intent
    }

    private func recoverUnderLock() throws -> ApplyReport? {
        // A fleet change's intent is the fleet pipeline's to recover (it reaches every host).
        guard let intent = try unfinishedIntent(), intent.hosts == nil else { return nil }
        let start = clock.monotonic()
        var restored: [FileChange] = []
        var notes: [String] = []
        var withheld: [String] = []
        for file in intent.files {
            guard let bytes = try? AtomicFiles.readBytes(file.target) else {
                notes.append("\(file.path) is unreadable; left as it is")
                continue
            }
            let hash = SHA256.hex(bytes: bytes)
            if hash == file.hashBefore {
                notes.append("\(file.path) already holds its previous text")
                continue
            }
            guard hash == file.hashAfter else {
                withheld.append("\(file.path) was edited since (kept as it is); the text from before the change is in \(file.backup)")
                continue
            }
            guard let backup = try? AtomicFiles.readText(file.backup), SHA256.hex(backup) == file.hashBefore else {
                withheld.append("\(file.path) holds the interrupted change's text but its backup \(file.backup) is missing "
                    + "or differs; left as it is")
                continue
            }
            let current = String(decoding: bytes, as: UTF8.self)
            try AtomicFiles.renameFile(file.backup, to: file.target)
            AtomicFiles.fsyncDirectory(AtomicFiles.directory(of: file.target))
            restored.append(FileChange(path: file.path, before: current, after: backup))
        }
        var message = "recovered an interrupted change: \(intent.change.action) started \(Self.timestamp(intent.time)) by "
            + "\(intent.user)@\(intent.host) (pid \(intent.pid)) left no outcome"
        if !restored.isEmpty { message += "; put the previous text back in " + restored.map(\.path).joined(separator: ", ") }
        if !notes.isEmpty { message += "; " + notes.joined(separator: "; ") }
        var validateStep: StepRecord?, reloadStep: StepRecord?
        var validation: CommandResult?, reload: CommandResult?
        if !restored.isEmpty {
            // nginx may have been reloaded on the interrupted text: validate and reload on the restored files.
            let control = configuration.nginx
            if let result = try? runner.run(control.validateArgv, timeout: control.validateTimeout) {
                validation = result
                validateStep = Self.step(result)
                if result.succeeded {
                    let r = performReload()
                    reload = r
                    reloadStep = Self.step(r)
                    message += r.succeeded ? "; nginx was reloaded on them"
                        : "; the reload failed (\(r.summary): \(r.message)); reload nginx by hand"
                } else {
                    message += "; `nginx -t` refuses the restored files (\(result.message)); nginx was not reloaded"
                }
            } else {
                message += "; the validate command could not run, so nginx was not reloaded: reload it by hand"
            }
        }
        let outcome: ApplyOutcome = withheld.isEmpty ? .recovered : .revertWithheld
        if !withheld.isEmpty { message += "\nREVERT WITHHELD: " + withheld.joined(separator: "; ") + ". Merge by hand." }
        var timings = ApplyTimings()
        timings.revert = clock.monotonic() - start
        timings.total = timings.revert
        let description = intent.change.reversed(action: "recover", reason: "recovery of the interrupted \(intent.change.action) \(intent.id.prefix(8))")
        let report = finish(outcome, message, description: description, changes: restored, undoes: nil, timings: timings,
                            validate: validateStep, reloadStep: reloadStep, validation: validation, reload: reload)
        ApplyIntent.remove(at: configuration.intentFile)
        return report
    }

    /// The records of the journal and of the fallback journals (an intent's outcome may be in either).
    private func allRecords() throws -> [JournalRecord] {
        var out = try configuration.journal.records()
        for fallback in configuration.fallbackJournals { out += (try? fallback.records()) ?? [] }
        return out
    }

    /// Appends the journal record (to the journal, else a fallback journal) and builds the report.
    func finish(_ outcome: ApplyOutcome, _ message: String, description: ChangeDescription, changes: [FileChange],
                undoes: String?, timings: ApplyTimings, validate: StepRecord? = nil, reloadStep: StepRecord? = nil,
                verify: StepRecord? = nil, validation: CommandResult? = nil,
                reload: CommandResult? = nil, id: String? = nil, journalWarning: String? = nil,
                hosts: [HostRecord]? = nil) -> ApplyReport {
        let journalStart = clock.monotonic()
        let files = changes.map { change in
            FileRecord(path: change.path, hashBefore: SHA256.hex(change.before), hashAfter: SHA256.hex(change.after),
                       diff: unifiedDiff(old: change.before, new: change.after, oldName: "a" + change.path, newName: "b" + change.path))
        }
        let record = JournalRecord(
            id: id ?? UUID().uuidString.lowercased(), time: clock.now(), user: configuration.user, host: configuration.host,
            change: description, outcome: outcome, message: message, files: files,
            configHashBefore: Self.configHash(changes.map { ($0.path, $0.before) }),
            configHashAfter: Self.configHash(changes.map { ($0.path, $0.after) }),
            validate: validate, reload: reloadStep, verify: verify, undoes: undoes, config: configuration.configPath, hosts: hosts)
        var message = message
        var journalPath: String?
        var problem: String? = journalWarning
        do {
            try configuration.journal.append(record)
            journalPath = configuration.journal.path
        } catch {
            // The change already happened (or was already put back): keep the record somewhere and say so.
            problem = "the journal record could not be written to \(configuration.journal.path) (\(error))"
            for fallback in configuration.fallbackJournals {
                do {
                    try fallback.append(record)
                    journalPath = fallback.path
                    break
                } catch {
                    problem? += "; nor to the fallback \(fallback.path) (\(error))"
                }
            }
        }
        if let problem {
            if let journalPath, journalPath != configuration.journal.path {
                message += "\nWARNING: \(problem); the record was written to the fallback journal \(journalPath) — copy it "
                    + "into the journal once it is writable, or `history` and `undo` will not see this change."
            } else if journalPath == nil {
                message += "\nWARNING: \(problem); this change is missing from history. The record:\n"
                    + (Journal.line(record) ?? "(unencodable)")
            }
        }
        var timings = timings
        timings.journal = clock.monotonic() - journalStart
        timings.total += timings.journal
        let inJournal = journalPath == configuration.journal.path
        return ApplyReport(outcome: outcome, message: message, record: record, timings: timings,
                           validation: validation, reload: reload, journalPath: journalPath,
                           journalProblem: inJournal ? nil : (problem ?? "the record was not journaled"))
    }

    /// SHA-256 over the files' paths and texts, in path order.
    static func configHash(_ files: [(String, String)]) -> String {
        var bytes: [UInt8] = []
        for (path, text) in files.sorted(by: { $0.0 < $1.0 }) {
            bytes += Array(path.utf8) + [0] + Array(text.utf8) + [0]
        }
        return SHA256.hex(bytes: bytes)
    }

    static func step(_ result: CommandResult) -> StepRecord {
        StepRecord(command: result.argv, succeeded: result.succeeded, exitCode: result.timedOut ? nil : result.exitCode,
                   durationMs: result.duration.millisecondsDouble, message: result.message)
    }

    static func describe(_ check: VerifyCheck) -> String {
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
