#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What stopped the apply pipeline, the journal or undo, worded so an operator knows what to do next.
public enum ApplyError: Error, CustomStringConvertible, Equatable {
    /// A system call on a file failed.
    case io(operation: String, path: String, errno: Int32)
    /// Another writer holds the lock.
    case lockHeld(path: String, holderPid: Int32?, waited: Duration)
    /// A file no longer holds the text the change was computed from; `diff` shows how it differs.
    case fileChanged(path: String, diff: String)
    /// A change is malformed (relative path, the same file twice, ...): a caller's mistake.
    case invalidChange(String)
    /// A file is not UTF-8 text, so Cutover will not edit it.
    case notUTF8(path: String)
    /// The config could not be read again under the lock (it became unreadable or unparsable meanwhile).
    case configUnreadable(path: String, reason: String)
    /// The edit no longer applies to the files as they now stand (Cutover refuses it; nothing written).
    case editRefused(String)
    /// Putting the previous file back failed: the live file may hold the new text.
    case revertFailed(path: String, backup: String, reason: String)
    /// A journal line in the middle of the file could not be read.
    case journalCorrupt(path: String, line: Int, reason: String)
    /// There is no applied change to undo, or it cannot be undone as the files stand.
    case nothingToUndo(String)

    /// The message shown to the operator: what went wrong and what to do.

    public var description: String {
        switch self {
        case let .io(operation, path, code):
            return "\(operation) failed for \(path): \(String(cString: strerror(code))); check the path and its permissions"
        case let .lockHeld(path, pid, waited):
            let who = pid.map { "process \($0)" } ?? "another process (pid unknown)"
            return "another change is in progress: \(who) holds the lock \(path) (waited \(waited.milliseconds) ms); "
                + "wait for it to finish and try again, or check that process if it seems stuck"
        case let .fileChanged(path, diff):
            return "\(path) changed since the change was prepared (edited by hand or by another tool); "
                + "nothing was written. Reload the view and redo the change. What changed:\n\(diff)"
        case let .invalidChange(message):
            return "invalid change: \(message)"
        case let .notUTF8(path):
            return "\(path) is not UTF-8 text; Cutover edits only UTF-8 configs: convert it (iconv) and try again"
        case let .configUnreadable(path, reason):
            return "cannot re-read the config \(path) under the lock (\(reason)); nothing was written: fix it and try again"
        case let .editRefused(message):
            return "refused: \(message); nothing was written"
        case let .revertFailed(path, backup, reason):
            return "could not put the previous \(path) back (\(reason)); the previous text is in \(backup): "
                + "copy it over \(path) by hand and reload nginx"
        case let .journalCorrupt(path, line, reason):
            return "journal \(path) line \(line) is unreadable (\(reason)); move the file aside to start a new journal"
        case let .nothingToUndo(message):
            return "nothing to undo: \(message)"
        }
    }

    /// Where this failure sits in the exit-code table.
    public var exitStatus: ExitStatus {
        switch self {
        case .io, .invalidChange, .notUTF8, .configUnreadable, .journalCorrupt, .nothingToUndo: return .error
        case .editRefused: return .refused
        case .lockHeld, .fileChanged: return .conflict
        case .revertFailed: return .needsHands
        }
    }

    /// The exit status the CLI uses for this failure (see `ExitStatus`).
    public var exitCode: Int32 { exitStatus.rawValue }
}
