import Apply
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One transition of a plan as the plan log records it: what happened, the plan as it is after, the evidence.
public struct PlanRecord: Sendable, Equatable, Codable {
    /// When.
    public var time: Date
    /// The transition (`created`, `isolated`, `step`, `paused`, `resumed`, `promote`, `completed`, `aborted`).
    public var event: String
    /// The plan after the transition.
    public var plan: RampPlan
    /// The verdict's reasons and numbers that triggered it, or the operator's words.
    public var evidence: [String]
    /// The id of the journal record of the config change it made, if any.
    public var journal: String?
    /// Who: `user@host pid N`.
    public var by: String

    /// Creates a record.
    public init(time: Date, event: String, plan: RampPlan, evidence: [String] = [], journal: String? = nil, by: String) {
        self.time = time
        self.event = event
        self.plan = plan
        self.evidence = evidence
        self.journal = journal
        self.by = by
    }
}

/// The ramp plans of one config, kept beside its journal as an append-only JSON-lines log of transitions (each
/// line holds the whole plan after it, so the newest line per id is the plan's state and a torn last line loses
/// at most the transition being written). Changes are made under the store's lock, so the executor and
/// `cutover plan` never interleave a decision with an operator's command.
public struct PlanStore: Sendable {
    /// The plan log.
    public let path: String

    /// The store of the journal at `journalPath`: `….cutover-plans.jsonl` beside `….cutover-journal.jsonl`.
    public init(journalPath: String) {
        let directory = (journalPath as NSString).deletingLastPathComponent
        var name = (journalPath as NSString).lastPathComponent
        if name.hasSuffix("-journal.jsonl") {
            name = String(name.dropLast("-journal.jsonl".count)) + "-plans.jsonl"
        } else {
            name = (name.hasSuffix(".jsonl") ? String(name.dropLast(6)) : name) + ".plans.jsonl"
        }
        path = (directory.isEmpty ? "" : directory + "/") + name
    }

    /// The store at an explicit path.
    public init(path: String) { self.path = path }

    /// The lock file serialising changes to the plans.
    public var lockPath: String { path + ".lock" }

    /// The executor lease file.
    public var leasePath: String { path.hasSuffix("-plans.jsonl") ? String(path.dropLast("-plans.jsonl".count)) + "-autopilot.lease" : path + ".lease" }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }

    private static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// Every transition, oldest first; a missing log reads as empty, a torn last line is skipped.
    public func records() throws(PlanStoreError) -> [PlanRecord] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PlanStoreError(path: path, message: "cannot read the plan log; run as a user who can read it")
        }
        let lines = data.split(separator: 0x0a, omittingEmptySubsequences: false)
        let decoder = Self.decoder()
        var out: [PlanRecord] = []
        for (index, line) in lines.enumerated() where !line.isEmpty {
            do {
                out.append(try decoder.decode(PlanRecord.self, from: Data(line)))
            } catch {
                if index == lines.count - 1 && data.last != 0x0a { continue }
                throw PlanStoreError(path: path, message: "line \(index + 1) is not a plan record (\(error)); move the file aside to start over")
            }
        }
        return out
    }

    /// The plans, each as its newest record says, oldest first.
    public func plans() throws(PlanStoreError) -> [RampPlan] {
        var latest: [PlanID: RampPlan] = [:]
        var order: [PlanID] = []
        for record in try records() {
            if latest[record.plan.id] == nil { order.append(record.plan.id) }
            latest[record.plan.id] = record.plan
        }
        return order.compactMap { latest[$0] }
    }

    /// The plan with `id` (or a unique prefix of it).
    public func plan(_ query: String) throws(PlanStoreError) -> RampPlan? {
        let all = try plans()
        if let exact = all.first(where: { $0.id.raw == query }) { return exact }
        let matches = all.filter { $0.id.raw.hasPrefix(query) }
        return matches.count == 1 ? matches[0] : nil
    }

    /// Appends one transition with a single write, synced.
    public func append(_ record: PlanRecord) throws(PlanStoreError) {
        var data: Data
        do {
            data = try Self.encoder().encode(record)
        } catch {
            throw PlanStoreError(path: path, message: "cannot encode the plan record: \(error)")
        }
        data.append(0x0a)
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o664)
        guard fd >= 0 else { throw PlanStoreError(path: path, message: "cannot open the plan log: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        var size = fstat(fd, &st) == 0 ? st.st_size : 0
        // A torn last line (a crash mid-write: a transition never completed) is cut off, so this record starts
        // on its own line and the log never holds a broken line in the middle.
        var last: UInt8 = 0
        if size > 0, pread(fd, &last, 1, size - 1) == 1, last != 0x0a, let existing = FileManager.default.contents(atPath: path) {
            let start = existing.lastIndex(of: 0x0a).map { off_t($0 - existing.startIndex + 1) } ?? 0
            if ftruncate(fd, start) == 0 { size = start }
        }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 || errno == EINVAL else {
            let saved = errno
            _ = ftruncate(fd, size)
            throw PlanStoreError(path: path, message: "cannot append to the plan log: \(String(cString: strerror(written < 0 ? saved : ENOSPC)))")
        }
    }

    /// The executor's latest view of the active plans (gate status, what each waits for), for `cutover plans`.
    public var progressPath: String { path + ".progress.json" }

    /// What the executor saw, and when.
    public struct ProgressFile: Sendable, Codable, Equatable {
        public var updated: Date
        public var plans: [PlanProgress]
    }

    /// Replaces the progress file (temp file and rename: readers see the old one or the new one).
    public func saveProgress(_ plans: [PlanProgress], at time: Date) throws(PlanStoreError) {
        let temp = progressPath + ".tmp-\(getpid())"
        do {
            let data = try Self.encoder().encode(ProgressFile(updated: time, plans: plans.sorted { $0.plan < $1.plan }))
            try data.write(to: URL(fileURLWithPath: temp))
        } catch {
            throw PlanStoreError(path: progressPath, message: "cannot write the plans' progress: \(error)")
        }
        guard rename(temp, progressPath) == 0 else {
            unlink(temp)
            throw PlanStoreError(path: progressPath, message: "cannot write the plans' progress: \(String(cString: strerror(errno)))")
        }
    }

    /// The executor's latest progress, nil when there is none.
    public func progress() -> ProgressFile? {
        guard let data = FileManager.default.contents(atPath: progressPath) else { return nil }
        return try? Self.decoder().decode(ProgressFile.self, from: data)
    }

    /// Runs `body` holding the store's lock (waiting up to `wait`).
    public func withLock<T>(wait: Duration = .seconds(10), _ body: () throws -> T) throws -> T {
        let lock = try FileLock.acquire(path: lockPath, wait: wait)
        defer { lock.release() }
        return try body()
    }
}

/// The plan log cannot be read or written.
public struct PlanStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The plan log.
    public var path: String
    /// What went wrong and what to do.
    public var message: String
    public var description: String { "\(path): \(message)" }
}
