import Apply
import Foundation
import Rollout
import TrafficStats

/// The guardrails (the `guard:` key of `cutover.yaml`): automatic rollback of endpoints whose verdict turns
/// `bad`, the cooldown after one, and the command notified of every automatic action.
public struct GuardSettings: Sendable, Equatable {
    /// Roll back an endpoint whose verdict becomes `bad` (off unless set).
    public var autoRollback: Bool
    /// The endpoints guarded (short names or map keys); nil means all.
    public var endpoints: [String]?
    /// Seconds an endpoint is held after an automatic rollback before another one may act on it.
    public var cooldownSeconds: Double
    /// The argv run for every plan step, abort, automatic rollback and failed apply, the event on its stdin.
    public var notify: [String]
    /// Seconds the notify command may take.
    public var notifyTimeoutSeconds: Double

    /// Creates settings; the defaults are the documented ones (off, all endpoints, 10 minutes, no command).
    public init(autoRollback: Bool = false, endpoints: [String]? = nil, cooldownSeconds: Double = 600, notify: [String] = [],
                notifyTimeoutSeconds: Double = 10) {
        self.autoRollback = autoRollback
        self.endpoints = endpoints
        self.cooldownSeconds = cooldownSeconds
        self.notify = notify
        self.notifyTimeoutSeconds = notifyTimeoutSeconds
    }

    /// Whether `endpoint` is guarded: listed by its short name or by its map key (compared as nginx compares
    /// keys: an exact key case-insensitively, `\\~…` as the exact key it is, never as the regex it reads like).
    public func guards(_ endpoint: Endpoint) -> Bool {
        guard let endpoints else { return true }
        return endpoints.contains { $0 == endpoint.name || EndpointID(raw: $0) == endpoint.id }
    }
}

/// What happened, for the stdout line, the notify command and the tests.
public struct AutopilotEvent: Sendable, Equatable {
    /// The kinds of event.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case planCreated = "plan-created"
        case planIsolated = "plan-isolated"
        case planStep = "plan-step"
        case planPaused = "plan-paused"
        case planResumed = "plan-resumed"
        case planPromoted = "plan-promoted"
        case planCompleted = "plan-completed"
        case planAborted = "plan-aborted"
        case automaticRollback = "automatic-rollback"
        case breach
        case guardHeld = "guard-held"
        case guardCancelled = "guard-cancelled"
        case applyFailed = "apply-failed"
        case notifyFailed = "notify-failed"
        case rollbackConfirmed = "rollback-confirmed"
        case rollbackNotConfirmed = "rollback-not-confirmed"
        case lease

        /// Whether the notify command hears of it (plan steps, aborts, automatic rollbacks, failed applies).
        public var notifies: Bool {
            switch self {
            case .planStep, .planCompleted, .planAborted, .automaticRollback, .applyFailed, .rollbackNotConfirmed: return true
            default: return false
            }
        }
    }

    /// The kind.
    public var kind: Kind
    /// When.
    public var time: Date
    /// The plan, if one is concerned.
    public var plan: PlanID?
    /// The endpoint (map key) or group concerned.
    public var endpoint: String?
    public var group: String?
    /// The percents before and after a change.
    public var percentBefore: Double?
    public var percentAfter: Double?
    /// The verdict that triggered it.
    public var verdict: VerdictState?
    /// The evidence: the verdict's reasons and numbers, or the operator's words.
    public var evidence: [String]
    /// How an apply ended (`applied`, `validation-refused`, …).
    public var outcome: String?
    /// The journal record of the change.
    public var journal: String?
    /// One sentence saying what happened.
    public var message: String

    /// Creates an event.
    public init(_ kind: Kind, time: Date, plan: PlanID? = nil, endpoint: String? = nil, group: String? = nil,
                percentBefore: Double? = nil, percentAfter: Double? = nil, verdict: VerdictState? = nil, evidence: [String] = [],
                outcome: String? = nil, journal: String? = nil, message: String) {
        self.kind = kind
        self.time = time
        self.plan = plan
        self.endpoint = endpoint
        self.group = group
        self.percentBefore = percentBefore
        self.percentAfter = percentAfter
        self.verdict = verdict
        self.evidence = evidence
        self.outcome = outcome
        self.journal = journal
        self.message = message
    }

    /// The event as one JSON object (the notify command's stdin), keys sorted.
    public var json: String {
        var fields: [String: Any] = ["event": kind.rawValue, "time": ISO8601DateFormatter().string(from: time), "message": message,
                                     "evidence": evidence, "host": ApplyConfiguration.currentHost()]
        if let plan { fields["plan"] = plan.raw }
        if let endpoint { fields["endpoint"] = endpoint }
        if let group { fields["group"] = group }
        if let percentBefore { fields["percent_before"] = percentBefore }
        if let percentAfter { fields["percent_after"] = percentAfter }
        if let verdict { fields["verdict"] = verdict.rawValue }
        if let outcome { fields["outcome"] = outcome }
        if let journal { fields["journal"] = journal }
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The event as one line for stdout (journald-friendly): the kind, what, the message, the first evidence.
    public var line: String {
        var parts = [kind.rawValue]
        if let plan { parts.append("plan=\(plan.raw)") }
        if let endpoint { parts.append("endpoint=\(endpoint)") }
        if let group { parts.append("group=\(group)") }
        if let before = percentBefore, let after = percentAfter { parts.append("percent=\(Self.plain(before))->\(Self.plain(after))") }
        if let verdict { parts.append("verdict=\(verdict.rawValue)") }
        if let outcome { parts.append("outcome=\(outcome)") }
        parts.append(message)
        if let first = evidence.first { parts.append("[\(first)\(evidence.count > 1 ? "; +\(evidence.count - 1) more" : "")]") }
        return parts.joined(separator: " ")
    }

    static func plain(_ v: Double) -> String { v == v.rounded() ? "\(Int(v))%" : String(format: "%g%%", v) }
}

/// Runs the `notify` argv for an event, its JSON on stdin, on a queue of its own: the action it reports is done
/// before it runs and never waits for it; a failure or a timeout is reported back as a `notify-failed` event.
public final class Notifier: @unchecked Sendable {
    /// The argv.
    public let argv: [String]
    private let runner: CommandRunner
    private let timeout: Duration
    private let queue = DispatchQueue(label: "cutover.notify")
    private let group = DispatchGroup()
    private let report: @Sendable (AutopilotEvent) -> Void
    private let clock: ApplyClock

    /// Creates a notifier; `report` receives the `notify-failed` events (from the notifier's queue), timed by `clock`.
    public init(argv: [String], runner: CommandRunner, timeout: Duration, clock: ApplyClock,
                report: @escaping @Sendable (AutopilotEvent) -> Void) {
        self.argv = argv
        self.runner = runner
        self.timeout = timeout
        self.clock = clock
        self.report = report
    }

    /// Queues a notification of `event` (nothing when the argv is empty or the kind is not notified).
    public func notify(_ event: AutopilotEvent) {
        guard !argv.isEmpty, event.kind.notifies else { return }
        let input = Array((event.json + "\n").utf8)
        let argv = argv, runner = runner, timeout = timeout, report = report, clock = clock
        group.enter()
        queue.async { [group] in
            defer { group.leave() }
            let failure: String?
            do {
                let result = try runner.run(argv, input: input, timeout: timeout)
                failure = result.succeeded ? nil : result.summary + (result.message.isEmpty ? "" : ": " + result.message)
            } catch {
                failure = "\(error)"
            }
            if let failure {
                report(AutopilotEvent(.notifyFailed, time: clock.now(), plan: event.plan, endpoint: event.endpoint,
                                      message: "the notify command failed for \(event.kind.rawValue) (the action stands): \(failure)"))
            }
        }
    }

    /// Waits until every queued notification has run (at most `limit`); true when they all have.
    @discardableResult
    public func waitUntilIdle(limit: Duration) -> Bool {
        group.wait(timeout: .now() + .milliseconds(max(0, limit.milliseconds))) == .success
    }
}
