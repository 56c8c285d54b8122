import NginxConfig

/// What a change does, in the operator's terms: recorded in the journal and shown by `history`.
public struct ChangeDescription: Sendable, Equatable, Codable {
    /// The action's name, e.g. "set-percent", "rollback", "undo".
    public var action: String
    /// The endpoints (URI patterns) the change touches.
    public var endpoints: [String]
    /// The split_clients groups the change touches.
    public var groups: [String]
    /// The new-service percentage of each touched group before the change.
    public var percentsBefore: [String: Double]
    /// The new-service percentage of each touched group after the change.
    public var percentsAfter: [String: Double]
    /// Why the operator made the change, when given.
    public var reason: String?

    /// Creates a description.
    public init(action: String, endpoints: [String] = [], groups: [String] = [],
                percentsBefore: [String: Double] = [:], percentsAfter: [String: Double] = [:],
                reason: String? = nil) {
        self.action = action
        self.endpoints = endpoints
        self.groups = groups
        self.percentsBefore = percentsBefore
        self.percentsAfter = percentsAfter
        self.reason = reason
    }
}

/// A change ready to apply: the whole-file edits and what they mean.
public struct PlannedChange: Sendable, Equatable {
    /// The file edits; each `before` is the text the edit was computed from.
    public var changes: [FileChange]
    /// What the edits do.
    public var description: ChangeDescription

    /// Creates a planned change.
    public init(changes: [FileChange], description: ChangeDescription) {
        self.changes = changes
        self.description = description
    }
}

/// How an attempted change ended; each case has a stable exit code for the CLI.
public enum ApplyOutcome: String, Sendable, Codable, CaseIterable {
    /// The change is live: validated, swapped in, reloaded and verified.
    case applied
    /// `nginx -t` refused the new text; the files were put back and nginx was not reloaded.
    case validationRefused = "validation-refused"
    /// The reload or its verification failed; the previous files were put back and nginx reloaded.
    case reloadFailedReverted = "reload-failed-reverted"
    /// Another writer holds the lock, or a file changed since the change was prepared; nothing written.
    case conflict

    /// The exit status the CLI uses: 0 applied, 3 validation refused, 4 reload failed and reverted, 5 conflict.
    public var exitCode: Int32 {
        switch self {
        case .applied: return 0
        case .validationRefused: return 3
        case .reloadFailedReverted: return 4
        case .conflict: return 5
        }
    }
}
