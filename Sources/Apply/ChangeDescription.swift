import NginxConfig
import Rollout

/// What a change does, in the operator's terms: recorded in the journal and shown by `history`.
///
/// Record format: the group percents are `percentsBefore`/`percentsAfter` (`{GROUP: percent}`), the endpoint
/// percents `endpoint_percents_before`/`endpoint_percents_after` (`{MAP_KEY: percent}`, keyed by `EndpointID`).
/// Records written before that step kept the endpoint percents in the group maps as `endpoint:NAME` (the short
/// name at the time); they are read into `legacyEndpointPercentsBefore`/`After` and written back as they were.
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
    /// The new-service percentage of each touched endpoint before the change, by identity.
    public var endpointPercentsBefore: [EndpointID: Double]
    /// The new-service percentage of each touched endpoint after the change, by identity.
    public var endpointPercentsAfter: [EndpointID: Double]
    /// An old record's endpoint percents before the change, by the short name it was journaled under.
    public var legacyEndpointPercentsBefore: [String: Double]
    /// An old record's endpoint percents after the change, by the short name it was journaled under.
    public var legacyEndpointPercentsAfter: [String: Double]
    /// Why the operator made the change, when given.
    public var reason: String?

    /// Creates a description.
    public init(action: String, endpoints: [String] = [], groups: [String] = [],
                percentsBefore: [String: Double] = [:], percentsAfter: [String: Double] = [:],
                reason: String? = nil, endpointIDs: [EndpointID] = [],
                endpointPercentsBefore: [EndpointID: Double] = [:], endpointPercentsAfter: [EndpointID: Double] = [:]) {
        self.action = action
        self.endpoints = endpoints
        self.endpointIDs = endpointIDs
        self.groups = groups
        self.percentsBefore = percentsBefore
        self.percentsAfter = percentsAfter
        self.endpointPercentsBefore = endpointPercentsBefore
        self.endpointPercentsAfter = endpointPercentsAfter
        self.legacyEndpointPercentsBefore = [:]
        self.legacyEndpointPercentsAfter = [:]
        self.reason = reason
    }

    /// The prefix old records gave endpoint entries in the percent maps.
    static let legacyEndpointPrefix = "endpoint:"

    private enum CodingKeys: String, CodingKey {
        case action, endpoints, endpointIDs = "endpoint_ids", groups, percentsBefore, percentsAfter, reason
        case endpointPercentsBefore = "endpoint_percents_before", endpointPercentsAfter = "endpoint_percents_after"
    }

    /// Reads a record's change; one journaled before `endpoint_ids` existed reads with none, one journaled before
    /// the endpoint percents were typed has its `endpoint:NAME` entries moved out of the group maps (migration
    /// on read: the file is never rewritten).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        action = try c.decode(String.self, forKey: .action)
        endpoints = try c.decodeIfPresent([String].self, forKey: .endpoints) ?? []
        endpointIDs = try c.decodeIfPresent([EndpointID].self, forKey: .endpointIDs) ?? []
        groups = try c.decodeIfPresent([String].self, forKey: .groups) ?? []
        (percentsBefore, legacyEndpointPercentsBefore) = Self.split(try c.decodeIfPresent([String: Double].self, forKey: .percentsBefore) ?? [:])
        (percentsAfter, legacyEndpointPercentsAfter) = Self.split(try c.decodeIfPresent([String: Double].self, forKey: .percentsAfter) ?? [:])
        endpointPercentsBefore = Self.typed(try c.decodeIfPresent([String: Double].self, forKey: .endpointPercentsBefore) ?? [:])
        endpointPercentsAfter = Self.typed(try c.decodeIfPresent([String: Double].self, forKey: .endpointPercentsAfter) ?? [:])
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
    }

    /// Writes the record: the group maps (with an old record's `endpoint:NAME` entries as they were read), and
    /// the typed endpoint maps when there are any.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(action, forKey: .action)
        try c.encode(endpoints, forKey: .endpoints)
        try c.encode(endpointIDs, forKey: .endpointIDs)
        try c.encode(groups, forKey: .groups)
        try c.encode(Self.joined(percentsBefore, legacyEndpointPercentsBefore), forKey: .percentsBefore)
        try c.encode(Self.joined(percentsAfter, legacyEndpointPercentsAfter), forKey: .percentsAfter)
        if !endpointPercentsBefore.isEmpty { try c.encode(Self.raw(endpointPercentsBefore), forKey: .endpointPercentsBefore) }
        if !endpointPercentsAfter.isEmpty { try c.encode(Self.raw(endpointPercentsAfter), forKey: .endpointPercentsAfter) }
        try c.encodeIfPresent(reason, forKey: .reason)
    }

    private static func split(_ map: [String: Double]) -> (groups: [String: Double], legacy: [String: Double]) {
        var groups: [String: Double] = [:], legacy: [String: Double] = [:]
        for (key, value) in map {
            if key.hasPrefix(legacyEndpointPrefix) { legacy[String(key.dropFirst(legacyEndpointPrefix.count))] = value } else { groups[key] = value }
        }
        return (groups, legacy)
    }

    private static func joined(_ groups: [String: Double], _ legacy: [String: Double]) -> [String: Double] {
        var out = groups
        for (name, value) in legacy { out[legacyEndpointPrefix + name] = value }
        return out
    }

    private static func typed(_ map: [String: Double]) -> [EndpointID: Double] {
        Dictionary(map.map { (EndpointID(raw: $0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    private static func raw(_ map: [EndpointID: Double]) -> [String: Double] {
        Dictionary(map.map { ($0.key.key.raw, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    /// The same change read backwards (what an undo or a recovery journals): before and after swapped.
    public func reversed(action: String, reason: String?) -> ChangeDescription {
        var out = ChangeDescription(action: action, endpoints: endpoints, groups: groups, percentsBefore: percentsAfter,
                                    percentsAfter: percentsBefore, reason: reason, endpointIDs: endpointIDs,
                                    endpointPercentsBefore: endpointPercentsAfter, endpointPercentsAfter: endpointPercentsBefore)
        out.legacyEndpointPercentsBefore = legacyEndpointPercentsAfter
        out.legacyEndpointPercentsAfter = legacyEndpointPercentsBefore
        return out
    }

    /// The identities of the endpoints this change touches in `model`: the journaled ones, or, for a record from
    /// before they were journaled, the model's endpoints it names (see `touches`).
    public func endpointIDs(in model: RolloutModel) -> [EndpointID] {
        if !endpointIDs.isEmpty { return endpointIDs }
        return model.endpoints.filter(touches).map(\.id)
    }

    /// The endpoint percents before and after the change, by identity: the typed fields, or, for a record from
    /// before they were typed, its `endpoint:NAME` entries resolved against `model` (an entry whose name no
    /// endpoint of the model carries, or an ambiguous old name, is left out).
    public func endpointPercents(in model: RolloutModel) -> (before: [EndpointID: Double], after: [EndpointID: Double]) {
        if !endpointPercentsBefore.isEmpty || !endpointPercentsAfter.isEmpty || (legacyEndpointPercentsBefore.isEmpty && legacyEndpointPercentsAfter.isEmpty) {
            return (endpointPercentsBefore, endpointPercentsAfter)
        }
        func resolve(_ legacy: [String: Double]) -> [EndpointID: Double] {
            var out: [EndpointID: Double] = [:]
            for (name, value) in legacy {
                let exact = model.endpoints.filter { $0.name == name || $0.pattern == name }
                let matches = exact.isEmpty ? model.endpoints.filter { Discovery.shortName(for: $0.pattern) == name } : exact
                if matches.count == 1, let only = matches.first { out[only.id] = value }
            }
            return out
        }
        return (resolve(legacyEndpointPercentsBefore), resolve(legacyEndpointPercentsAfter))
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
