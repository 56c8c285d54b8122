import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One external step of a change (validate, reload, verify) as the journal records it.
public struct StepRecord: Sendable, Equatable, Codable {
    /// The argv that ran, or a description of the check.
    public var command: [String]
    /// Whether the step succeeded.
    public var succeeded: Bool
    /// The exit status, when a command ran.
    public var exitCode: Int32?
    /// How long the step took, in milliseconds.
    public var durationMs: Double
    /// nginx's (or the check's) own words, trimmed.
    public var message: String

    /// Creates a step record.
    public init(command: [String], succeeded: Bool, exitCode: Int32?, durationMs: Double, message: String) {
        self.command = command
        self.succeeded = succeeded
        self.exitCode = exitCode
        self.durationMs = durationMs
        self.message = message
    }
}

/// The hashes of one file a change touched.
public struct FileRecord: Sendable, Equatable, Codable {
    /// The file's absolute path.
    public var path: String
    /// SHA-256 (hex) of the text before the change.
    public var hashBefore: String
    /// SHA-256 (hex) of the text after the change.
    public var hashAfter: String
    /// The unified diff of this file's change (what undo reverses).
    public var diff: String

    /// Creates a file record.
    public init(path: String, hashBefore: String, hashAfter: String, diff: String) {
        self.path = path
        self.hashBefore = hashBefore
        self.hashAfter = hashAfter
        self.diff = diff
    }
}

/// How one host of a fleet change ended, as the journal records it.
public struct HostRecord: Sendable, Equatable, Codable {
    /// Where the host ended.
    public enum State: String, Sendable, Codable, CaseIterable {
        /// The change is live on the host: swapped in, reloaded and verified.
        case applied
        /// The change was written on the host and put back (after a failure here or on another host).
        case reverted
        /// Nothing was written on the host.
        case untouched
        /// Putting the previous files back failed or was withheld: the host needs a person.
        case needsHands = "needs-hands"
    }

    /// The host's name.
    public var host: String
    /// Where it ended.
    public var state: State
    /// The failure that happened on this host, when one did (the one that stopped the change, or its revert).
    public var failure: String?
    /// The validation, reload and verify steps, when they ran on this host.
    public var validate: StepRecord?
    public var reload: StepRecord?
    public var verify: StepRecord?

    /// Creates a host record.
    public init(host: String, state: State, failure: String? = nil, validate: StepRecord? = nil,
                reload: StepRecord? = nil, verify: StepRecord? = nil) {
        self.host = host
        self.state = state
        self.failure = failure
        self.validate = validate
        self.reload = reload
        self.verify = verify
    }

    /// One line: the host, its state and what failed there.
    public var summary: String {
        "\(host): \(state.rawValue)" + (failure.map { " (\($0))" } ?? "")
    }
}

/// One line of the journal: an attempted change and how it ended.
public struct JournalRecord: Sendable, Equatable, Codable {
    /// A unique id for this record.
    public var id: String
    /// When the change was attempted (ISO 8601, UTC).
    public var time: Date
    /// The user who ran it.
    public var user: String
    /// The host it ran on.
    public var host: String
    /// What the change does.
    public var change: ChangeDescription
    /// How it ended.
    public var outcome: ApplyOutcome
    /// A human-readable account of what happened.
    public var message: String
    /// The files touched, with their hashes.
    public var files: [FileRecord]
    /// SHA-256 over all touched files' paths and texts before the change.
    public var configHashBefore: String
    /// SHA-256 over all touched files' paths and texts after the change.
    public var configHashAfter: String
    /// The validation step, when it ran.
    public var validate: StepRecord?
    /// The reload step, when it ran.
    public var reload: StepRecord?
    /// The verification step, when it ran.
    public var verify: StepRecord?
    /// The id of the record this change undoes, for undo changes.
    public var undoes: String?
    /// The config Cutover operated on (its path as given), so a shared journal can be read per config;
    /// nil in records written before it was recorded.
    public var config: String?
    /// For a change to a fleet (`hosts:`), how it ended on each host, in the order they are listed;
    /// nil for a single nginx and in records written before fleets.
    public var hosts: [HostRecord]?

    /// Creates a record.
    public init(id: String, time: Date, user: String, host: String, change: ChangeDescription,
                outcome: ApplyOutcome, message: String, files: [FileRecord], configHashBefore: String,
                configHashAfter: String, validate: StepRecord? = nil, reload: StepRecord? = nil,
                verify: StepRecord? = nil, undoes: String? = nil, config: String? = nil, hosts: [HostRecord]? = nil) {
        self.id = id
        self.time = time
        self.user = user
        self.host = host
        self.change = change
        self.outcome = outcome
        self.message = message
        self.files = files
        self.configHashBefore = configHashBefore
        self.configHashAfter = configHashAfter
        self.validate = validate
        self.reload = reload
        self.verify = verify
        self.undoes = undoes
        self.config = config
        self.hosts = hosts
    }

    /// Whether this record belongs to the config at `path`: recorded for it, or (older records without a
    /// config) touching it or a file beside it.
    public func belongs(toConfig path: String) -> Bool {
        if let config { return config == path }
        let directory = (path as NSString).deletingLastPathComponent
        return files.contains { $0.path == path || ($0.path as NSString).deletingLastPathComponent == directory }
    }

    /// The unified diff of the whole change, file after file.
    public var diff: String { files.map(\.diff).joined() }

    /// One line for `history`: when, who, what, the percentages, the outcome and the nginx step times.
    public var summary: String {
        let formatter = ISO8601DateFormatter()
        var parts = ["\(formatter.string(from: time))  \(user)@\(host)  \(change.action)"]
        if !change.endpoints.isEmpty { parts.append(change.endpoints.joined(separator: ",")) }
        let percents = change.groups.map { group -> String in
            func text(_ value: Double?) -> String {
                guard let value else { return "?" }
                return value == value.rounded() ? "\(Int(value))%" : "\(value)%"
            }
            return "\(group) \(text(change.percentsBefore[group]))->\(text(change.percentsAfter[group]))"
        }
        if !percents.isEmpty { parts.append(percents.joined(separator: ", ")) }
        parts.append(outcome.rawValue)
        var steps: [String] = []
        if let validate { steps.append("validate \(Int(validate.durationMs.rounded())) ms") }
        if let reload { steps.append("reload \(Int(reload.durationMs.rounded())) ms") }
        if let verify { steps.append("verify \(Int(verify.durationMs.rounded())) ms") }
        if !steps.isEmpty { parts.append("(" + steps.joined(separator: ", ") + ")") }
        if let reason = change.reason, !reason.isEmpty { parts.append("— \(reason)") }
        if let undoes { parts.append("[undoes \(undoes.prefix(8))]") }
        if let hosts, !hosts.isEmpty { parts.append("{" + hosts.map { "\($0.host) \($0.state.rawValue)" }.joined(separator: ", ") + "}") }
        return parts.joined(separator: "  ")
    }
}

/// The append-only JSON-lines journal of attempted changes: one record per line, written with a single
/// `write` on an O_APPEND descriptor, never rewritten. A torn last line (a crash or a full disk mid-write)
/// is skipped when reading, and set aside into `<journal>.torn` before the next append, so the next
/// record starts on its own line; a failed append is cut back to where it started.
public struct Journal: Sendable {
    /// The journal file's path.
    public let path: String

    /// Opens (lazily) the journal at `path`.
    public init(path: String) {
        self.path = path
    }

    /// The per-user journal path: `$XDG_STATE_HOME/cutover/journal.jsonl`, else
    /// `~/.local/state/cutover/journal.jsonl` (the fallback's directory; configs default to `besideConfig`).
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            return state + "/cutover/journal.jsonl"
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/cutover/journal.jsonl"
    }

    /// The default journal of a config: `.<name>.cutover-journal.jsonl` beside it (dot-named, so an
    /// `include dir/*` glob never reads it), shared by everyone who may edit that config.
    public static func besideConfig(_ config: String) -> String {
        AtomicFiles.beside(config, "journal.jsonl")
    }

    /// Where a record goes when the journal cannot take it: the per-user state directory, then /tmp.
    public static func fallbackPaths(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        let state = (defaultPath(environment: environment) as NSString).deletingLastPathComponent
        return [state + "/fallback-journal.jsonl", "/tmp/cutover-fallback-journal-\(geteuid()).jsonl"]
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// The record as the journal line it would be (without the newline).
    public static func line(_ record: JournalRecord) -> String? {
        (try? encoder().encode(record)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Checks the journal can be appended to (creating its directory and file), so a change is never
    /// made that cannot be journaled.
    public func checkWritable() throws {
        let fd = try openForAppend()
        close(fd)
    }

    /// Checks the journal before a change: throws when it cannot be written, except for an `emergency` change
    /// (a rollback), which bookkeeping never blocks: then it returns the warning the report carries instead.
    public func checkWritable(emergency: Bool) throws -> String? {
        do {
            try checkWritable()
            return nil
        } catch {
            guard emergency else { throw error }
            return "the journal \(path) cannot be written (\(error)); the rollback goes "
                + "through anyway and its record goes to a fallback journal"
        }
    }

    /// Appends `record` as one line with one write; creates the file and its directory when missing. A
    /// torn last line is set aside first; a write that fails midway (ENOSPC) is cut back, so the journal
    /// never ends in half a record, and the error is thrown.
    public func append(_ record: JournalRecord) throws {
        var data = try Journal.encoder().encode(record)
        data.append(0x0a)
        let fd = try openForAppend()
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ApplyError.io(operation: "stat journal", path: path, errno: errno) }
        var size = st.st_size
        if size > 0 { size = try setAsideTornTail(fd: fd, size: size) }
        var written = 0
        var failure: Int32 = 0
        while written < data.count {
            let n = data.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + written }, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            if n == 0 { failure = EIO; break }
            written += n
        }
        if failure == 0 && fsync(fd) != 0 && errno != EINVAL { failure = errno }
        if failure != 0 {
            _ = ftruncate(fd, size)
            throw ApplyError.io(operation: "append to journal", path: path, errno: failure)
        }
    }

    /// When the file does not end with a newline, moves its unfinished last line into `<path>.torn` and cuts
    /// it off; returns the size after that.
    private func setAsideTornTail(fd: Int32, size: off_t) throws -> off_t {
        var last: UInt8 = 0
        guard pread(fd, &last, 1, size - 1) == 1 else { throw ApplyError.io(operation: "read journal", path: path, errno: errno) }
        if last == 0x0a { return size }
        // Find the start of the torn line, reading backwards in chunks.
        var start: off_t = 0
        var end = size
        var buffer = [UInt8](repeating: 0, count: 65536)
        search: while end > 0 {
            let from = max(0, end - off_t(buffer.count))
            let count = Int(end - from)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, from) }
            guard n == count else { throw ApplyError.io(operation: "read journal", path: path, errno: n < 0 ? errno : EIO) }
            for index in stride(from: count - 1, through: 0, by: -1) where buffer[index] == 0x0a {
                start = from + off_t(index) + 1
                break search
            }
            end = from
        }
        var torn = [UInt8](repeating: 0, count: Int(size - start))
        let n = torn.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, start) }
        guard n == torn.count else { throw ApplyError.io(operation: "read journal", path: path, errno: n < 0 ? errno : EIO) }
        torn.append(0x0a)
        let aside = path + ".torn"
        let tornFD = open(aside, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard tornFD >= 0 else { throw ApplyError.io(operation: "set aside the torn journal line in", path: aside, errno: errno) }
        defer { close(tornFD) }
        let w = torn.withUnsafeBytes { write(tornFD, $0.baseAddress, $0.count) }
        guard w == torn.count, fsync(tornFD) == 0 || errno == EINVAL else {
            throw ApplyError.io(operation: "set aside the torn journal line in", path: aside, errno: w < 0 ? errno : EIO)
        }
        guard ftruncate(fd, start) == 0 else { throw ApplyError.io(operation: "cut the torn line off", path: path, errno: errno) }
        return start
    }

    private func openForAppend() throws -> Int32 {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
                let code = underlying?.domain == NSPOSIXErrorDomain ? Int32(underlying?.code ?? Int(EACCES)) : EACCES
                throw ApplyError.io(operation: "create journal directory", path: directory, errno: code)
            }
        }
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o664)
        guard fd >= 0 else { throw ApplyError.io(operation: "open journal", path: path, errno: errno) }
        return fd
    }

    /// Reads every record, oldest first; a missing journal reads as empty, an unreadable last line
    /// without its newline (a torn write) is skipped, any other unreadable line throws.
    public func records() throws -> [JournalRecord] {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw ApplyError.io(operation: "read journal", path: path, errno: EACCES)
            }
            return []
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let endsWithNewline = data.last == 0x0a
        let lines = data.split(separator: 0x0a, omittingEmptySubsequences: false)
        var out: [JournalRecord] = []
        for (index, line) in lines.enumerated() where !line.isEmpty {
            do {
                out.append(try decoder.decode(JournalRecord.self, from: Data(line)))
            } catch {
                let isTornTail = index == lines.count - 1 && !endsWithNewline
                if isTornTail { continue }
                throw ApplyError.journalCorrupt(path: path, line: index + 1, reason: "\(error)")
            }
        }
        return out
    }

    /// The applied change that `undo` would revert: the newest applied record not already undone by a
    /// later applied undo (so repeated undos walk back through history).
    public func lastUndoable(forConfig config: String? = nil) throws -> JournalRecord? {
        var undone = Set<String>()
        for record in try records().reversed() where record.outcome == .applied && (config.map(record.belongs(toConfig:)) ?? true) {
            if let target = record.undoes {
                undone.insert(target)
                continue
            }
            if undone.contains(record.id) { continue }
            return record
        }
        return nil
    }
}
