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

    /// Creates a record.
    public init(id: String, time: Date, user: String, host: String, change: ChangeDescription,
                outcome: ApplyOutcome, message: String, files: [FileRecord], configHashBefore: String,
                configHashAfter: String, validate: StepRecord? = nil, reload: StepRecord? = nil,
                verify: StepRecord? = nil, undoes: String? = nil) {
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
        return parts.joined(separator: "  ")
    }
}

/// The append-only JSON-lines journal of attempted changes: one record per line, written with a single
/// `write` on an O_APPEND descriptor, never rewritten; a torn last line (a crash mid-write) is skipped
/// when reading.
public struct Journal: Sendable {
    /// The journal file's path.
    public let path: String

    /// Opens (lazily) the journal at `path`.
    public init(path: String) {
        self.path = path
    }

    /// The default journal path: `$XDG_STATE_HOME/cutover/journal.jsonl`, else
    /// `~/.local/state/cutover/journal.jsonl`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            return state + "/cutover/journal.jsonl"
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/cutover/journal.jsonl"
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// Checks the journal can be appended to (creating its directory and file), so a change is never
    /// made that cannot be journaled.
    public func checkWritable() throws {
        let fd = try openForAppend()
        close(fd)
    }

    /// Appends `record` as one line with one write; creates the file and its directory when missing.
    public func append(_ record: JournalRecord) throws {
        var data = try Journal.encoder().encode(record)
        data.append(0x0a)
        let fd = try openForAppend()
        defer { close(fd) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else {
            throw ApplyError.io(operation: "append to journal", path: path, errno: written < 0 ? errno : EIO)
        }
        _ = fsync(fd)
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
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
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
    public func lastUndoable() throws -> JournalRecord? {
        var undone = Set<String>()
        for record in try records().reversed() where record.outcome == .applied {
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
