import Foundation
import NginxConfig
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Applies one change to several nginx hosts, all or none, in two phases.
///
/// Phase 1, on every host: write the candidate beside the live file and validate it there, without touching
/// the live file: `nginx -t -c` a candidate main config whose includes name the candidates (`CandidateConfig`),
/// so nginx, and any reload someone else triggers meanwhile, still reads the live files. A validate command
/// that names no main config (`-c`) can only check the live paths; on such a host the candidate is swapped in
/// (the previous file kept as a hard-link backup) and validated in place, still before any reload.
/// Phase 2, only when every host validated: swap every candidate in, then reload and verify each host. Any
/// failure (a host unreachable, a validation, swap, reload or verify failure) puts the previous files back on
/// every host that was written and reloads those that had been reloaded. A host where that fails is
/// `needsHands`: reported first, exit 6.
///
/// The lock, the intent and the journal are this machine's (beside the journal), one record per change with
/// the per-host outcome in `JournalRecord.hosts`. The intent names every host's files before any is swapped:
/// if this process dies mid-change, the next command puts every host back (`recoverInterrupted`).
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

        // A change a dead process left half-way is put back on every host before anything else.
        _ = try recoverUnderLock()

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
            ApplyIntent.remove(at: configuration.intentFile)
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

        // Phase 1, every host (in parallel unless `parallelHosts` is off): the candidates beside the live files,
        // the intent naming every host's files, then validation of the candidates. Nothing is reloaded yet.
        stage("writing the candidates on every host")
        t = clock.monotonic()
        if let (outcome, message) = eachHost(&runs, { run in write(&run, id: id) }) { return revertAll(outcome, message) }
        do {
            try intent(runs, id: id, description: description).save(to: configuration.intentFile)
        } catch {
            return revertAll(.hostUnreachable, "the change's intent could not be written, so every host was put back and none was "
                             + "reloaded: \(error)")
        }
        timings.write = lap(t)
        stage("validating on every host")
        t = clock.monotonic()
        let validated = eachHost(&runs) { run in validate(&run, id: id) }
        timings.validate = lap(t)
        if let (outcome, message) = validated { return revertAll(outcome, message) }
        if let signal = SignalGuard.pending {
            return revertAll(.interrupted, "interrupted by \(SignalGuard.name(signal)) before the reload: every host was put back "
                             + "before any reload; nginx still runs the configuration from before the change everywhere")
        }

        // Phase 2, only now: every candidate swapped in, then every host reloaded and verified.
        stage("swapping in on every host")
        t = clock.monotonic()
        if let (outcome, message) = eachHost(&runs, { run in swap(&run) }) { return revertAll(outcome, message) }
        timings.write += lap(t)
        stage("reloading every host")
        let committed = eachHost(&runs) { run in commit(&run) }
        timings.reload = runs.compactMap { $0.record.reload.map { Duration.milliseconds(Int64($0.durationMs.rounded())) } }.max() ?? .zero
        timings.verify = runs.compactMap { $0.record.verify.map { Duration.milliseconds(Int64($0.durationMs.rounded())) } }.max() ?? .zero
        if let (outcome, message) = committed { return revertAll(outcome, message) }
        let files = changes.map(\.path).joined(separator: ", ")
        return conclude(.applied, "applied: \(files) validated, swapped in and reloaded on \(runs.count) host\(runs.count == 1 ? "" : "s") ("
                        + runs.map(\.target.name).joined(separator: ", ") + ")")
    }

    /// The intent of the change: every host's files, as they will be swapped.
    private func intent(_ runs: [HostRun], id: String, description: ChangeDescription) -> ApplyIntent {
        ApplyIntent(id: id, time: clock.now(), pid: getpid(), user: configuration.user, host: configuration.host, change: description,
                    files: [], hosts: runs.map { run in
                        ApplyIntent.HostFiles(host: run.target.name, files: run.files.map { file in
                            ApplyIntent.File(path: file.change.path, target: file.target, backup: file.backup,
                                             hashBefore: SHA256.hex(file.change.before), hashAfter: file.hashAfter)
                        })
                    })
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

    /// Phase 1 on one host, first half: each candidate written beside its live file (symlinks resolved, so a
    /// link survives the swap); the failure, if any, as the outcome it makes.
    private func write(_ run: inout HostRun, id: String) -> (ApplyOutcome, String)? {
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
        return nil
    }

    /// Phase 1 on one host, second half: the candidates validated beside the live files (a candidate main
    /// config including them, written for `nginx -t -c` and removed afterwards), or, when the validate command
    /// names no main config or the main config does not include a changed file, swapped in and validated in
    /// place; the failure, if any, as the outcome it makes.
    private func validate(_ run: inout HostRun, id: String) -> (ApplyOutcome, String)? {
        let target = run.target
        // The candidate tree and the validate command pointed at it; nil: validated in place.
        var beside: (candidate: CandidateConfig, argv: [String])?
        if let main = target.control.validatedMainConfig {
            let changed = run.files.compactMap { file in
                file.temp.map { CandidateConfig.Changed(path: file.change.path, resolved: file.target, candidate: $0, text: file.change.after) }
            }
            do {
                let plan = try CandidateConfig.plan(mainConfig: main, changed: changed, store: target.store,
                                                    resolve: { target.resolveSymlinks($0) }, id: id)
                if plan.missing.isEmpty, let argv = target.control.validateArgv(candidateMain: plan.main) {
                    beside = (plan, argv)
                }
            } catch {
                run.record.failure = "\(error)"
                return (.hostUnreachable, "host-unreachable: the configuration on \(target.name) could not be read to validate the "
                        + "change beside it, so every host was put back and none was reloaded: \(error)")
            }
        }
        let validation: CommandResult
        if let (candidate, argv) = beside {
            var written: [String] = []
            defer { for path in written { target.remove(path) } }
            for copy in candidate.copies {
                do {
                    try target.writeFile(copy.path, text: copy.text, like: copy.live)
                    written.append(copy.path)
                } catch {
                    run.record.failure = "\(error)"
                    return (.hostUnreachable, "host-unreachable: writing the candidate main config on \(target.name) failed, so every "
                            + "host was put back and none was reloaded: \(error)")
                }
            }
            var result = target.run(argv, timeout: target.control.validateTimeout)
            result.stderr = candidate.translate(result.stderr)
            result.stdout = candidate.translate(result.stdout)
            validation = result
        } else {
            if let failure = swap(&run) { return failure }
            validation = target.validate()
        }
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

    /// Swaps each written candidate in over its live file (the live file kept as the backup); the failure, if
    /// any, as the outcome it makes. Files already swapped are left as they are.
    private func swap(_ run: inout HostRun) -> (ApplyOutcome, String)? {
        let target = run.target
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
                target.remove(file.temp ?? NginxTarget.remoteTemp(beside: file.target, id: id))
            }
        }
        for file in run.files.reversed() where file.swapped {
            if let current = try? target.read(file.target), SHA256.hex(current) != file.hashAfter {
                let kept = AtomicFiles.beside(file.target, "previous-" + id.prefix(8))
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

    // MARK: - Recovery

    /// Finishes what a Cutover process that died mid-change (SIGKILL, power loss) left on the fleet: when its
    /// intent has no journaled outcome, puts the previous files back on every host where the change's text
    /// is (leaving any file a hand edit reached since), validates and reloads those hosts, and journals that
    /// as `recovered` with the per-host outcome. Returns nil when there was nothing to recover or another
    /// writer holds the lock.
    public func recoverInterrupted() throws -> ApplyReport? {
        try journaling.underRecoveryLock { try recoverUnderLock() }
    }

    private func recoverUnderLock() throws -> ApplyReport? {
        guard let intent = try journaling.unfinishedIntent(), let hosts = intent.hosts else { return nil }
        let start = clock.monotonic()
        var records: [HostRecord] = []
        var restored: [FileChange] = []
        for entry in hosts {
            var record = HostRecord(host: entry.host, state: .untouched)
            guard let target = targets.first(where: { $0.name == entry.host }) else {
                record.state = .needsHands
                record.failure = "the host is no longer in `hosts:`; check its files by hand: "
                    + entry.files.map { "\($0.path) (previous text in \($0.backup))" }.joined(separator: ", ")
                records.append(record)
                continue
            }
            var problems: [String] = []
            var put = false
            for file in entry.files {
                guard let current = try? target.read(file.target) else {
                    problems.append("\(file.path) cannot be read; if it holds the change, its previous text is in \(file.backup)")
                    continue
                }
                let hash = SHA256.hex(current)
                if hash == file.hashBefore { continue }
                guard hash == file.hashAfter else {
                    problems.append("\(file.path) was edited since (kept as it is); the text from before the change is in \(file.backup)")
                    continue
                }
                guard let backup = try? target.read(file.backup), SHA256.hex(backup) == file.hashBefore else {
                    problems.append("\(file.path) holds the interrupted change's text but its backup \(file.backup) is missing or differs")
                    continue
                }
                do {
                    try target.rename(file.backup, to: file.target)
                    put = true
                    if !restored.contains(where: { $0.path == file.path }) {
                        restored.append(FileChange(path: file.path, before: current, after: backup))
                    }
                } catch {
                    problems.append("could not put \(file.path) back (\(error)); its previous text is in \(file.backup)")
                }
            }
            if put {
                record.state = .reverted
                // nginx may have been reloaded on the interrupted text: validate and reload on the restored files.
                let validation = target.validate()
                record.validate = ApplyPipeline.step(validation)
                if validation.succeeded {
                    let reload = target.reload(clock: clock)
                    record.reload = ApplyPipeline.step(reload)
                    if !reload.succeeded { problems.append("the reload after putting the files back failed (\(reload.summary)); reload nginx there by hand") }
                } else {
                    problems.append("`nginx -t` refuses the restored files (\(validation.summary)); nginx there was not reloaded")
                }
            }
            if !problems.isEmpty {
                record.state = .needsHands
                record.failure = problems.joined(separator: "; ")
            }
            records.append(record)
        }
        var message = "recovered an interrupted change: \(intent.change.action) started \(ApplyPipeline.timestamp(intent.time)) by "
            + "\(intent.user)@\(intent.host) (pid \(intent.pid)) left no outcome"
        let reverted = records.filter { $0.state == .reverted }.map(\.host)
        message += reverted.isEmpty ? "; no host held its text" : "; put the previous files back and reloaded nginx on " + reverted.joined(separator: ", ")
        let hands = records.filter { $0.state == .needsHands }
        if !hands.isEmpty {
            message = "NEEDS HANDS on " + hands.map(\.host).joined(separator: ", ") + ": "
                + hands.map { "\($0.host): \($0.failure ?? "")" }.joined(separator: "; ") + "\n" + message
        }
        var timings = ApplyTimings()
        timings.revert = clock.monotonic() - start
        timings.total = timings.revert
        let description = ChangeDescription(action: "recover", endpoints: intent.change.endpoints, groups: intent.change.groups,
                                            percentsBefore: intent.change.percentsAfter, percentsAfter: intent.change.percentsBefore,
                                            reason: "recovery of the interrupted \(intent.change.action) \(intent.id.prefix(8))",
                                            endpointIDs: intent.change.endpointIDs)
        var report = journaling.finish(hands.isEmpty ? .recovered : .revertWithheld, message, description: description,
                                       changes: restored, undoes: nil, timings: timings, hosts: records)
        report.hosts = hands + records.filter { $0.state != .needsHands }
        ApplyIntent.remove(at: configuration.intentFile)
        return report
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
