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
    /// Whether each phase runs on every host at once (the default: a rollback reaches 20 hosts in the time of
    /// one); off, hosts go one after another in list order and a phase stops at the first failure.
    public var parallelHosts: Bool

    /// Creates a fleet pipeline.
    public init(targets: [NginxTarget], reference: NginxTarget, configuration: ApplyConfiguration, clock: ApplyClock = .system,
                parallelHosts: Bool = true) {
        self.targets = targets
        self.reference = reference
        self.configuration = configuration
        self.clock = clock
        self.parallelHosts = parallelHosts
    }

    /// The journaling half of the local pipeline (same journal, fallbacks and record format).
    private var journaling: ApplyPipeline { ApplyPipeline(configuration: configuration, clock: clock) }

    /// One file of one host: where it is written, its candidate and backup, whether it was swapped in.
    fileprivate struct HostFile: Sendable {
        var change: FileChange
        var target: String
        var temp: String?
        var backup: String
        var swapped = false
        /// The swap command failed without saying how far it got (a connection lost mid-way).
        var uncertain = false
        var hashAfter: String { SHA256.hex(change.after) }
    }

    /// Where one host stands during the change.
    fileprivate struct HostRun: Sendable {
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

        let journalWarning = try configuration.journal.checkWritable(emergency: emergency)
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
            _ = eachHost(&runs) { run in
                revert(&run, id: id)
                if run.reloadRan && run.record.state == .reverted { reloadAfterRevert(&run) }
                return nil
            }
            timings.revert = lap(revertStart)
            return conclude(outcome, message)
        }

        // Phase 1, every host (in parallel unless `parallelHosts` is off): the candidate beside the live file,
        // swapped in with a backup, validated. Nothing is reloaded yet.
        stage("writing and validating on every host")
        t = clock.monotonic()
        let prepared = eachHost(&runs) { run in prepare(&run, id: id) }
        timings.validate = runs.compactMap { $0.record.validate.map { Duration.milliseconds(Int64($0.durationMs.rounded())) } }.max() ?? .zero
        timings.write = max(.zero, lap(t) - timings.validate)
        if let (outcome, message) = prepared { return revertAll(outcome, message) }
        if let signal = SignalGuard.pending {
            return revertAll(.interrupted, "interrupted by \(SignalGuard.name(signal)) before the reload: every host was put back "
                             + "before any reload; nginx still runs the configuration from before the change everywhere")
        }

        // Phase 2, only now: reload and verify every host.
        stage("reloading every host")
        let committed = eachHost(&runs) { run in commit(&run) }
        timings.reload = runs.compactMap { $0.record.reload.map { Duration.milliseconds(Int64($0.durationMs.rounded())) } }.max() ?? .zero
        timings.verify = runs.compactMap { $0.record.verify.map { Duration.milliseconds(Int64($0.durationMs.rounded())) } }.max() ?? .zero
        if let (outcome, message) = committed { return revertAll(outcome, message) }
        let files = changes.map(\.path).joined(separator: ", ")
        return conclude(.applied, "applied: \(files) validated, swapped in and reloaded on \(runs.count) host\(runs.count == 1 ? "" : "s") ("
                        + runs.map(\.target.name).joined(separator: ", ") + ")")
    }

    /// Runs `body` for every host: one after another (stopping at the first failure) when `parallelHosts` is
    /// off, else all at once; returns the failure of the first host (in list order) that failed.
    private func eachHost(_ runs: inout [HostRun],
                          _ body: @Sendable (inout HostRun) -> (ApplyOutcome, String)?) -> (ApplyOutcome, String)? {
        guard parallelHosts, runs.count > 1 else {
            for index in runs.indices { if let failure = body(&runs[index]) { return failure } }
            return nil
        }
        let results = HostResults(runs)
        DispatchQueue.concurrentPerform(iterations: runs.count) { index in
            var run = results.run(index)
            let failure = body(&run)
            results.set(index, run, failure)
        }
        runs = results.runs
        return results.firstFailure
    }

    /// Phase 1 on one host: each candidate written beside its live file, swapped in (the live file kept as the
    /// backup), then the host's validate command; the failure, if any, as the outcome it makes.
    private func prepare(_ run: inout HostRun, id: String) -> (ApplyOutcome, String)? {
        let target = run.target
        for f in run.files.indices {
            do {
                let resolved = try target.resolveSymlinks(run.files[f].change.path)
                run.files[f].target = resolved
                run.files[f].backup = AtomicFiles.backupPath(for: resolved)
                run.files[f].temp = try target.writeBeside(resolved, text: run.files[f].change.after, id: id)
            } catch {
                run.record.failure = "\(error)"
                return (.hostUnreachable, "host-unreachable: writing the candidate on \(target.name) failed, so every host was put "
                        + "back and none was reloaded: \(error)")
            }
        }
        for f in run.files.indices {
            let file = run.files[f]
            guard let temp = file.temp else { continue }
            do {
                try target.swapIn(temp: temp, target: file.target, backup: file.backup)
                run.files[f].swapped = true
                run.files[f].temp = nil
                run.record.state = .reverted
            } catch {
                run.record.failure = "\(error)"
                run.files[f].uncertain = !target.isLocal
                run.files[f].temp = nil
                return (.hostUnreachable, "host-unreachable: swapping the candidate in on \(target.name) failed, so every host was "
                        + "put back and none was reloaded: \(error)")
            }
        }
        let validation = target.validate()
        run.record.validate = ApplyPipeline.step(validation)
        guard validation.succeeded else {
            let said = validation.message.isEmpty ? "" : ". nginx said:\n" + validation.message
            if validation.exitCode == 127 {
                run.record.failure = "validation could not run: \(validation.summary)"
                return (.validationNotRun, "validation could not run on \(target.name) (\(validation.summary)); every host was put "
                        + "back and none was reloaded" + said)
            }
            run.record.failure = "refused by validation: \(validation.summary)"
            return (.validationRefused, "refused by validation on \(target.name), nothing changed on any host: \(validation.summary); "
                    + "every host was put back and none was reloaded" + said)
        }
        return nil
    }

    /// Phase 2 on one host: reload, then the reload checks; the failure, if any, as the outcome it makes.
    private func commit(_ run: inout HostRun) -> (ApplyOutcome, String)? {
        let target = run.target
        let verifier = target.verifier(clock: clock)
        let snapshot = verifier.snapshot()
        let reload = target.reload(clock: clock)
        run.reloadRan = true
        run.reloadSucceeded = reload.succeeded
        run.record.reload = ApplyPipeline.step(reload)
        var failure: String?
        if !reload.succeeded {
            failure = "the reload failed: \(reload.summary)" + (reload.message.isEmpty ? "" : ": \(reload.message)")
        } else {
            let t = clock.monotonic()
            let problem = verifier.verify(since: snapshot)
            run.record.verify = StepRecord(command: target.control.verify.map(ApplyPipeline.describe), succeeded: problem == nil,
                                           exitCode: nil, durationMs: (clock.monotonic() - t).millisecondsDouble, message: problem ?? "")
            if let problem { failure = "the reload did not take effect: \(problem)" }
        }
        guard let failure else {
            run.record.state = .applied
            return nil
        }
        run.record.failure = failure
        return (.reloadFailedReverted, "reload failed on \(target.name) and every host was reverted: \(failure)")
    }

    /// Puts `run`'s swapped files back (newest first) and removes its unswapped candidates; a file that no
    /// longer holds Cutover's text (a hand edit arrived meanwhile) or a host that cannot be written leaves
    /// the host `needsHands`, with the backup's place named.
    private func revert(_ run: inout HostRun, id: String) {
        let target = run.target
        for file in run.files { if let temp = file.temp { target.remove(temp) } }
        var problems: [String] = []
        var changed = run.files.contains(where: \.swapped)
        for file in run.files.reversed() where file.uncertain {
            // A remote swap that failed part-way: put the backup back only where the candidate did land.
            guard let current = try? target.read(file.target) else {
                changed = true
                problems.append("the swap of \(file.change.path) failed part-way and the file cannot be read now; it may hold the "
                                + "change: if so, its previous text is in \(file.backup), copy it back on \(target.name) and reload nginx there")
                continue
            }
            if SHA256.hex(current) == file.hashAfter {
                changed = true
                do { try target.rename(file.backup, to: file.target) } catch {
                    problems.append("could not put the previous \(file.change.path) back (\(error)); the previous text is in "
                                    + "\(file.backup): copy it over \(file.change.path) on \(target.name) and reload nginx there")
                }
            } else {
                target.remove(file.temp ?? AtomicFiles.directory(of: file.target) + "/." + (file.target as NSString).lastPathComponent
                              + ".cutover-tmp-" + id.prefix(8))
            }
        }
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
        guard changed else { return }
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

/// The hosts' states while a phase runs on all of them at once, behind a lock.
private final class HostResults: @unchecked Sendable {
    private let lock = NSLock()
    private var states: [FleetPipeline.HostRun]
    private var failures: [(ApplyOutcome, String)?]

    init(_ runs: [FleetPipeline.HostRun]) {
        states = runs
        failures = Array(repeating: nil, count: runs.count)
    }

    func run(_ index: Int) -> FleetPipeline.HostRun { lock.withLock { states[index] } }

    func set(_ index: Int, _ run: FleetPipeline.HostRun, _ failure: (ApplyOutcome, String)?) {
        lock.withLock {
            states[index] = run
            failures[index] = failure
        }
    }

    var runs: [FleetPipeline.HostRun] { lock.withLock { states } }
    var firstFailure: (ApplyOutcome, String)? { lock.withLock { failures.compactMap { $0 }.first } }
}
