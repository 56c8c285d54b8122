/// The CLI's exit statuses: the one table that maps every failure (an `ApplyOutcome`, an `ApplyError`, a
/// CLI error) to the code a script sees; `cutover --help` and the README print this table.
public enum ExitStatus: Int32, Sendable, CaseIterable {
    /// Success: the change is live and journaled, or the command did what it was asked.
    case success = 0
    /// An error before anything changed: unreadable or non-UTF-8 config, bad settings, an I/O error, nothing to undo.
    case error = 1
    /// `cutover check` found errors (it exits 1 for warnings only).
    case checkFoundErrors = 2
    /// The change was refused: by nginx's validation, or by Cutover (unknown endpoint or group, an edit
    /// that no longer applies); nothing changed.
    case refused = 3
    /// The reload or its verification failed and the previous files were put back and reloaded.
    case reloadFailedReverted = 4
    /// Another writer holds the lock, a file changed since the change was prepared, or (with `hosts:`) the
    /// hosts' routing differs; nothing written.
    case conflict = 5
    /// Putting the previous files back failed or was withheld (a hand edit arrived while the change was in
    /// flight, or a host of the fleet could not be reverted): the files need a person; the message names
    /// both texts, and the hosts that need hands first.
    case needsHands = 6
    /// `--confirm-traffic`: after the reload's old workers drained, the new service still received requests
    /// for an endpoint put at 0%, or a lowered endpoint's new-service share is clearly above its new percent.
    case trafficNotConfirmed = 7
    /// The change is live (or was put back) but its record is not in the config's journal (full disk,
    /// unwritable journal); the message says where it went instead.
    case notJournaled = 8
    /// The validate command could not be started at all (missing binary, bad argv); nothing changed.
    case validationNotRun = 9
    /// A SIGINT, SIGTERM or SIGHUP arrived while a change was in flight: the change was reverted before
    /// the reload (or completed, if the reload had started) and journaled; the process then ends by that signal.
    case interrupted = 130
    /// A usage error (unknown flag, bad value).
    case usage = 64

    /// What the code means, one line, as `cutover --help` and the README print it.
    public var meaning: String {
        switch self {
        case .success: return "success"
        case .error: return "error before anything changed (unreadable or non-UTF-8 config, bad settings, I/O error, nothing to undo)"
        case .checkFoundErrors: return "`check` found errors (1: warnings only)"
        case .refused: return "refused by validation or by Cutover (unknown endpoint/group); nothing changed"
        case .reloadFailedReverted: return "reload failed and the change was reverted"
        case .conflict: return "conflict: another writer holds the lock, the file changed underneath, or the hosts differ; nothing written"
        case .needsHands: return "the revert failed or was withheld (a hand edit arrived meanwhile, a host could not be reverted): fix by hand, both texts are kept"
        case .trafficNotConfirmed: return "--confirm-traffic: new-service traffic did not stop at 0%, or is clearly above a lowered share"
        case .notJournaled: return "the change happened but its record is not in the config's journal (see the message)"
        case .validationNotRun: return "the validate command could not be started; nothing changed"
        case .interrupted: return "interrupted by a signal: the change was reverted (or completed) and journaled first"
        case .usage: return "usage error"
        }
    }

    /// The table as `cutover --help` prints it: `code meaning` per line, in code order.
    public static var table: String {
        allCases.sorted { $0.rawValue < $1.rawValue }.map { "\($0.rawValue) \($0.meaning)" }.joined(separator: "\n")
    }
}
