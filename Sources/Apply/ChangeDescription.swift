import NginxConfig
import Rollout

/// What a change does, in the operator's terms: recorded in the journal and shown by `history`.
public struct ChangeDescription: Sendable, Equatable, Codable {
    /// The action's name, e.g. "set-percent", "rollback", "undo".
    public var action: String
    /// The endpoints the change touches, by their short names (for display).
    public var endpoints: [String]
    /// The identities (map keys) of the endpoints the change touches: what anything matching a record against
    /// the config keys on. Empty in records written before they were journaled (`endpointIDs(in:)` resolves those).
    public var endpointIDs: [EndpointID]
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
                reason: String? = nil, endpointIDs: [EndpointID] = []) {
        self.action = action
        self.endpoints = endpoints
        self.endpointIDs = endpointIDs
        self.groups = groups
        self.percentsBefore = percentsBefore
        self.percentsAfter = percentsAfter
        self.reason = reason
    }

    private enum CodingKeys: String, CodingKey {
        case action, endpoints, endpointIDs = "endpoint_ids", groups, percentsBefore, percentsAfter, reason
    }

    /// Reads a record's change; one journaled before `endpoint_ids` existed reads with none (migration on read:
    /// the file is never rewritten).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        action = try c.decode(String.self, forKey: .action)
        endpoints = try c.decodeIfPresent([String].self, forKey: .endpoints) ?? []
        endpointIDs = try c.decodeIfPresent([EndpointID].self, forKey: .endpointIDs) ?? []
        groups = try c.decodeIfPresent([String].self, forKey: .groups) ?? []
        percentsBefore = try c.decodeIfPresent([String: Double].self, forKey: .percentsBefore) ?? [:]
        percentsAfter = try c.decodeIfPresent([String: Double].self, forKey: .percentsAfter) ?? [:]
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
    }

    /// The identities of the endpoints this change touches in `model`: the journaled ones, or, for a record from
    /// before they were journaled, the model's endpoints it names (see `touches`).
    public func endpointIDs(in model: RolloutModel) -> [EndpointID] {
        if !endpointIDs.isEmpty { return endpointIDs }
        return model.endpoints.filter(touches).map(\.id)
    }

    /// Whether this change touched `endpoint`: by identity; for a record from before the identities were
    /// journaled, when it names the endpoint's key, its short name, or its one-segment short name (names grow
    /// a segment when two endpoints share one, so an old `ping` may mean either `v1/status/ping` or
    /// `v2/status/ping`: the old record cannot tell them apart and matches both).
    public func touches(_ endpoint: Endpoint) -> Bool {
        guard endpointIDs.isEmpty else { return endpointIDs.contains(endpoint.id) }
        return endpoints.contains(endpoint.name) || endpoints.contains(endpoint.pattern)
            || endpoints.contains(Discovery.shortName(for: endpoint.pattern))
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

/// How an attempted change ended; each case maps to one row of the exit-code table (`ExitStatus`).
public enum ApplyOutcome: String, Sendable, Codable, CaseIterable {
    /// The change is live: validated, swapped in, reloaded and verified.
    case applied
    /// `nginx -t` refused the new text; the files were put back and nginx was not reloaded.
    case validationRefused = "validation-refused"
    /// The validate command could not be started at all; the files were put back, nginx was not reloaded.
    case validationNotRun = "validation-not-run"
    /// The reload or its verification failed; the previous files were put back and nginx reloaded.
    case reloadFailedReverted = "reload-failed-reverted"
    /// Another writer holds the lock, or a file changed since the change was prepared; nothing written.
    case conflict
    /// The change had to be put back, but a file no longer held Cutover's text (a hand edit arrived while
    /// the change was in flight): it was left alone and the previous text kept aside; both are named.
    case revertWithheld = "revert-withheld"
    /// A SIGINT, SIGTERM or SIGHUP arrived before the reload: the previous files were put back, nginx
    /// was not reloaded.
    case interrupted
    /// A later Cutover command found the intent of a change whose process died mid-way (SIGKILL, power
    /// loss) and put the previous files back.
    case recovered
    /// A fleet change could not reach a host (or write there) before any reload: every host it had written
    /// was put back and nothing was reloaded.
    case hostUnreachable = "host-unreachable"
    /// An emergency rollback from the dashboard cancelled the change before the reload: nothing was written,
    /// or the previous files were put back; nginx never read the change.
    case cancelled

    /// Where this outcome sits in the exit-code table.
    public var exitStatus: ExitStatus {
        switch self {
        case .applied, .recovered: return .success
        case .hostUnreachable: return .error
        case .validationRefused: return .refused
        case .validationNotRun: return .validationNotRun
        case .reloadFailedReverted: return .reloadFailedReverted
        case .conflict, .cancelled: return .conflict
        case .revertWithheld: return .needsHands
        case .interrupted: return .interrupted
        }
    }

    /// The exit status the CLI uses: 0 applied, 3 validation refused, 4 reload failed and reverted,
    /// 5 conflict (or cancelled by a rollback), 6 revert withheld, 9 validation not run, 130 interrupted.
    public var exitCode: Int32 { exitStatus.rawValue }
}
