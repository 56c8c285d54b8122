import Foundation
import NginxConfig
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Applies one change to several nginx hosts, all or none, in two phases.
///
/// Phase 1, on every host: write the candidate beside the live file, swap it in (the previous file kept as
/// a hard-link backup) and run the validate command on it. No host is reloaded in this phase, so no running
/// nginx reads the new text (nginx reads its files only on reload); `nginx -t` can only check the files at
/// the paths the main config includes, which is why the candidate is validated in place.
/// Phase 2, only when every host validated: reload and verify each host. Any failure (a host unreachable,
/// a validation, reload or verify failure) puts the previous files back on every host that was written and
/// reloads those that had been reloaded. A host where that fails is `needsHands`: reported first, exit 6.
///
/// The lock and the journal are this machine's (beside the journal), one record per change with the
/// per-host outcome in `JournalRecord.hosts`.
public struct FleetPipeline: Sendable {
    /// The hosts the change goes to, in the order `hosts:` lists them.
    public var targets: [NginxTarget]
    /// The host whose file paths the changes name (its routing agrees with every target's).
    public var reference: NginxTarget
    /// The lock, journal, user and signal handling (its `nginx` is unused: each target has its own).
    public var configuration: ApplyConfiguration
    /// Time for the journal, timings and deadlines.
    public var clock: ApplyClock

    /// Creates a fleet pipeline.
    public init(targets: [NginxTarget], reference: NginxTarget, configuration: ApplyConfiguration, clock: ApplyClock = .system) {
        self.targets = targets
        self.reference = reference
        self.configuration = configuration
        self.clock = clock
    }

    /// The journaling half of the local pipeline (same journal, fallbacks and record format).
    private var journaling: ApplyPipeline { ApplyPipeline(configuration: configuration, clock: clock) }

    /// One file of one host: where it is written, its candidate and backup, whether it was swapped in.
    private struct HostFile {
        var change: FileChange
        var target: String
        var temp: String?
        var backup: String
        var swapped = false
        var hashAfter: String { SHA256.hex(change.after) }
    }

    /// Where one host stands during the change.
    private struct HostRun {
        var target: NginxTarget
        var files: [HostFile] = []
        var record: HostRecord
        var reloadRan = false
        var reloadSucceeded = false
    }

    /// Applies the change `edit` computes under the lock (paths as on `reference`) to every target.
    ///
    /// With `overwriting` (`cutover sync`), each host's own current text is the change's previous text: the
    /// hosts need not agree beforehand, and they hold the `after` texts afterwards.
    public func apply(description initial: ChangeDescription, emergency: Bool = false, overwriting: Bool = false,
                      edit: (inout ChangeDescription) throws -> (changes: [FileChange], undoes: String?)) throws -> ApplyReport {
        let start = clock.monotonic()
        var timings = ApplyTimings()
        var description = initial
        func lap(_ from: Duration) -> Duration { clock.monotonic() - from }
        let stage = configuration.onStage ?? { _ in }
        var runs = targets.map { HostRun(target: $0, record: HostRecord(host: $0.name, state: .untouched)) }

        stage("waiting for the lock")
        let lock: FileLock
        switch try journaling.acquireLock() {
        case .success(let held): lock = held
        case .failure(let error):
            timings.lock = lap(start)
            timings.total = timings.lock
            return journaling.finish(.conflict, error.description, description: description, changes: [], undoes: nil,
                                     timings: timings, hosts: runs.map(\.record))
        }
        defer { lock.release() }
        timings.lock = lap(start)

        var t = clock.monotonic()
        let (allChanges, undoes) = try edit(&description)
        timings.edit = lap(t)
        try journaling.checkWellFormed(allChanges)
        var changes = allChanges.filter { overwriting || !$0.isNoOp }
        if changes.isEmpty {
            timings.total = lap(start)
            return ApplyReport(outcome: .applied, message: "nothing to change: the files already hold this configuration",
                               record: nil, timings: timings)
        }

        func finish(_ outcome: ApplyOutcome, _ message: String, id: String? = nil, journalWarning: String? = nil) -> ApplyReport {
            timings.total = lap(start)
            let records = runs.map(\.record)
            let hands = records.filter { $0.state == .needsHands }
            var text = message
            if !hands.isEmpty {
                // The hosts that need a person come first and loudest.
                text = "NEEDS HANDS on " + hands.map(\.host).joined(separator: ", ") + ": "
                    + hands.map { "\($0.host): \($0.failure ?? "could not be reverted")" }.joined(separator: "; ")
                    + "\n" + message
            }
            let first = records.first { $0.validate != nil }
            var report = journaling.finish(hands.isEmpty ? outcome : .revertWithheld, text, description: description,
                                           changes: changes, undoes: undoes, timings: timings,
                                           validate: first?.validate, reloadStep: first?.reload, verify: first?.verify,
                                           id: id, journalWarning: journalWarning, hosts: records)
            report.hosts = hands + records.filter { $0.state != .needsHands }
            return report
        }

        // Fresh read on every host: each must hold exactly the text the change was computed from.
        stage("re-reading the files on every host")
        t = clock.monotonic()
        for index in runs.indices {
            let target = runs[index].target
            for change in changes {
                let path = target.path(change.path, from: reference)
                let current: String
                do {
                    current = try target.read(path)
                } catch {
                    runs[index].record.failure = "\(error)"
                    timings.read = lap(t)
                    return finish(.hostUnreachable, "host-unreachable: \(target.name) could not be read, nothing was written on any host: \(error)")
                }
                if overwriting {
                    if current != change.after {
                        runs[index].files.append(HostFile(change: FileChange(path: path, before: current, after: change.after),
                                                          target: path, backup: ""))
                    }
                    continue
                }
                if current != change.before {
                    timings.read = lap(t)
                    let error = ApplyError.fileChanged(path: "\(target.name):\(path)",
                                                       diff: ApplyPipeline.shortDiff(from: change.before, to: current, path: path))
                    runs[index].record.failure = "\(path) changed since the change was prepared"
                    return finish(.conflict, error.description)
                }
                runs[index].files.append(HostFile(change: FileChange(path: path, before: change.before, after: change.after),
                                                  target: path, backup: ""))
            }
        }
        timings.read = lap(t)
        if overwriting {
            // The record keeps the first changed host's previous texts; hosts already identical are left alone.
            changes = changes.compactMap { change in
                for run in runs {
                    if let file = run.files.first(where: { $0.change.after == change.after && run.target.path(change.path, from: reference) == $0.change.path }) {
                        return FileChange(path: change.path, before: file.change.before, after: change.after)
                    }
                }
                return nil
            }
            runs.removeAll { $0.files.isEmpty }
            if changes.isEmpty {
                timings.total = lap(start)
                return ApplyReport(outcome: .applied, message: "nothing to change: every host already holds this configuration",
                                   record: nil, timings: timings)
            }
        }

        var journalWarning: String?
        do {
            try configuration.journal.checkWritable()
        } catch {
            guard emergency else { throw error }
            journalWarning = "the journal \(configuration.journal.path) cannot be written (\(error)); the rollback goes "
                + "through anyway and its record goes to a fallback journal"
        }
        let id = UUID().uuidString.lowercased()

        // From here SIGINT/SIGTERM/SIGHUP are only noted: the change is reverted or completed first.
        SignalGuard.hold()
        var released = false
        defer { if !released { _ = SignalGuard.release() } }
        func conclude(_ outcome: ApplyOutcome, _ message: String) -> ApplyReport {
            var report = finish(outcome, message, id: id, journalWarning: journalWarning)
            released = true
            report.signal = SignalGuard.release() ?? report.signal
            if configuration.raisePendingSignal { SignalGuard.raisePending(report.signal) }
            return report
        }

        /// Puts the previous files back on every host that was written, reloads those that had been
        /// reloaded, and concludes with `outcome`.
        func revertAll(_ outcome: ApplyOutcome, _ message: String) -> ApplyReport {
            stage("reverting every host")
            let revertStart = clock.monotonic()
            for index in runs.indices { revert(&runs[index], id: id) }
            for index in runs.indices where runs[index].reloadRan && runs[index].record.state == .reverted {
                reloadAfterRevert(&runs[index])
            }
            timings.revert = lap(revertStart)
            return conclude(outcome, message)
        }

        // Phase 1a: the candidate beside the live file on every host.
        stage("writing the candidates on every host")
        t = clock.monotonic()
        for index in runs.indices {
            let target = runs[index].target
            for f in runs[index].files.indices {
                do {
                    let resolved = try target.resolveSymlinks(runs[index].files[f].change.path)
                    runs[index].files[f].target = resolved
                    runs[index].files[f].backup = AtomicFiles.backupPath(for: resolved)
                    runs[index].files[f].temp = try target.writeBeside(resolved, text: runs[index].files[f].change.after, id: id)
                } catch {
                    runs[index].record.failure = "\(error)"
                    timings.write = lap(t)
                    return revertAll(.hostUnreachable, "host-unreachable: writing the candidate on \(target.name) failed, so no host "
                                     + "was changed or reloaded: \(error)")
                }
            }
        }
        // Phase 1b: swapped in (with backups) and validated on every host; nothing is reloaded yet.
        for index in runs.indices {
            let target = runs[index].target
            for f in runs[index].files.indices {
                let file = runs[index].files[f]
                guard let temp = file.temp else { continue }
                do {
                    try target.swapIn(temp: temp, target: file.target, backup: file.backup)
                    runs[index].files[f].swapped = true
                    runs[index].files[f].temp = nil
                    runs[index].record.state = .reverted
                } catch {
                    runs[index].record.failure = "\(error)"
                    runs[index].record.state = .reverted
                    timings.write = lap(t)
                    return revertAll(.hostUnreachable, "host-unreachable: swapping the candidate in on \(target.name) failed, so "
                                     + "every host was put back and none was reloaded: \(error)")
                }
            }
        }
        timings.write = lap(t)
        if let signal = SignalGuard.pending {
            return revertAll(.interrupted, "interrupted by \(SignalGuard.name(signal)) while writing: every host was put back "
                             + "before any reload; nginx still runs the configuration from before the change everywhere")
        }

        t = clock.monotonic()
        for index in runs.indices {
            let target = runs[index].target
            stage("validating on \(target.name)")
            let validation = target.validate()
            let step = ApplyPipeline.step(validation)
            runs[index].record.validate = step
            guard validation.succeeded else {
                timings.validate = lap(t)
                let said = validation.message.isEmpty ? "" : ". nginx said:\n" + validation.message
                if validation.exitCode == 127 {
                    runs[index].record.failure = "validation could not run: \(validation.summary)"
                    return revertAll(.validationNotRun, "validation could not run on \(target.name) (\(validation.summary)); every "
                                     + "host was put back and none was reloaded" + said)
                }
                runs[index].record.failure = "refused by validation: \(validation.summary)"
                return revertAll(.validationRefused, "refused by validation on \(target.name), nothing changed on any host: "
                                 + "\(validation.summary); every host was put back and none was reloaded" + said)
            }
        }
        timings.validate = lap(t)
        if let signal = SignalGuard.pending {
            return revertAll(.interrupted, "interrupted by \(SignalGuard.name(signal)) during validation: every host was put "
                             + "back before any reload")
        }

        // Phase 2: reload and verify every host.
        var reloadTime = Duration.zero, verifyTime = Duration.zero
        for index in runs.indices {
            let target = runs[index].target
            stage("reloading \(target.name)")
            let verifier = target.verifier(clock: clock)
            let snapshot = verifier.snapshot()
            t = clock.monotonic()
            let reload = target.reload(clock: clock)
            reloadTime += lap(t)
            runs[index].reloadRan = true
            runs[index].reloadSucceeded = reload.succeeded
            runs[index].record.reload = ApplyPipeline.step(reload)
            var failure: String?
            if !reload.succeeded {
                failure = "the reload failed: \(reload.summary)" + (reload.message.isEmpty ? "" : ": \(reload.message)")
            } else {
                stage("verifying \(target.name)")
                t = clock.monotonic()
                let problem = verifier.verify(since: snapshot)
                verifyTime += lap(t)
                runs[index].record.verify = StepRecord(command: target.control.verify.map(ApplyPipeline.describe),
                                                       succeeded: problem == nil, exitCode: nil,
                                                       durationMs: lap(t).millisecondsDouble, message: problem ?? "")
                if let problem { failure = "the reload did not take effect: \(problem)" }
            }
            if let failure {
                timings.reload = reloadTime
                timings.verify = verifyTime
                runs[index].record.failure = failure
                return revertAll(.reloadFailedReverted, "reload failed on \(target.name) and every host was reverted: \(failure)")
            }
            runs[index].record.state = .applied
        }
        timings.reload = reloadTime
        timings.verify = verifyTime
        let files = changes.map(\.path).joined(separator: ", ")
        return conclude(.applied, "applied: \(files) validated, swapped in and reloaded on \(runs.count) host\(runs.count == 1 ? "" : "s") ("
                        + runs.map(\.target.name).joined(separator: ", ") + ")")
    }

    /// Puts `run`'s swapped files back (newest first) and removes its unswapped candidates; a file that no
    /// longer holds Cutover's text (a hand edit arrived meanwhile) or a host that cannot be written leaves
    /// the host `needsHands`, with the backup's place named.
    private func revert(_ run: inout HostRun, id: String) {
        let target = run.target
        for file in run.files { if let temp = file.temp { target.remove(temp) } }
        var problems: [String] = []
        for file in run.files.reversed() where file.swapped {
            if let current = try? target.read(file.target), SHA256.hex(current) != file.hashAfter {
                let kept = AtomicFiles.directory(of: file.target) + "/." + (file.target as NSString).lastPathComponent
                    + ".cutover-previous-" + id.prefix(8)
                if (try? target.rename(file.backup, to: kept)) != nil {
                    problems.append("\(file.change.path) holds an edit made while the change was in flight (kept as it is); the text "
                                    + "from before Cutover's change is in \(kept): merge by hand, then validate and reload nginx there")
                } else {
                    problems.append("\(file.change.path) holds an edit made while the change was in flight; the text from before "
                                    + "Cutover's change is in \(file.backup)")
                }
                continue
            }
            do {
                try target.rename(file.backup, to: file.target)
            } catch {
                problems.append("could not put the previous \(file.change.path) back (\(error)); the previous text is in "
                                + "\(file.backup): copy it over \(file.change.path) on \(target.name) and reload nginx there")
            }
        }
        guard run.files.contains(where: \.swapped) else { return }
        if problems.isEmpty {
            run.record.state = .reverted
        } else {
            run.record.state = .needsHands
            run.record.failure = problems.joined(separator: "; ") + (run.record.failure.map { " (after: \($0))" } ?? "")
        }
    }

    /// Reloads a reverted host; when that fails on a host whose first reload had taken up the change, the
    /// host may still serve it and needs a person.
    private func reloadAfterRevert(_ run: inout HostRun) {
        let verifier = run.target.verifier(clock: clock)
        let snapshot = verifier.snapshot()
        let result = run.target.reload(clock: clock)
        var problem: String?
        if !result.succeeded {
            problem = "the reload after reverting failed (\(result.summary)\(result.message.isEmpty ? "" : ": " + result.message))"
        } else if let failed = verifier.verify(since: snapshot) {
            problem = "after reverting, the reload check reports: \(failed)"
        }
        guard let problem else { return }
        if run.reloadSucceeded {
            run.record.state = .needsHands
            run.record.failure = problem + "; nginx there may still serve the change although its files hold the previous "
                + "configuration: reload nginx there by hand" + (run.record.failure.map { " (after: \($0))" } ?? "")
        } else {
            run.record.failure = (run.record.failure.map { $0 + "; " } ?? "") + problem
                + " (nginx there never took up the change)"
        }
    }

    /// One line per host: `  edge1: applied`, `  edge2: reverted (refused by validation: ...)`.
    static func perHost(_ records: [HostRecord]) -> String {
        records.map { "  " + $0.summary }.joined(separator: "\n")
    }
}
