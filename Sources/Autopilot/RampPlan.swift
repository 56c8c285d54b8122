import Foundation
import Rollout
import TrafficStats

/// A ramp plan's identity: `p-` and eight hex digits, printed by `cutover ramp` and taken by `cutover plan`.
public struct PlanID: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    /// The id as printed.
    public var raw: String

    /// Wraps an id.
    public init(raw: String) { self.raw = raw }

    /// A fresh random id.
    public static func random() -> PlanID {
        PlanID(raw: "p-" + String(format: "%08x", UInt32.random(in: 0...UInt32.max)))
    }

    public var description: String { raw }
    public static func < (a: PlanID, b: PlanID) -> Bool { a.raw < b.raw }

    public init(from decoder: Decoder) throws { raw = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(raw)
    }
}

/// What a plan ramps: one endpoint (by its map key) or a whole group (by its name).
public enum PlanTarget: Sendable, Hashable, Codable, CustomStringConvertible {
    /// An endpoint, by its map key as nginx reads it.
    case endpoint(String)
    /// A group, by its name without `$`.
    case group(String)

    public var description: String {
        switch self {
        case .endpoint(let key): return key
        case .group(let name): return "group " + name
        }
    }
}

/// What must hold for a step to advance once its bake time is over.
public enum PlanGate: String, Sendable, Hashable, Codable, CaseIterable {
    /// The verdict is `healthy`.
    case healthy
    /// The verdict is anything but `bad`.
    case notBad = "not-bad"

    /// Whether `state` lets a step advance.
    public func holds(_ state: VerdictState) -> Bool {
        switch self {
        case .healthy: return state == .healthy
        case .notBad: return state != .bad
        }
    }
}

/// Where a plan is in its life.
public enum PlanState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Created; no step applied yet (the executor isolates the endpoint and applies the first step).
    case pending
    /// A step is live and baking.
    case running
    /// Held by the operator (or after a failed apply or a hand change); `resume` continues the bake.
    case paused
    /// Every step is done.
    case completed
    /// Stopped: rolled back by a `bad` verdict or by `cutover plan abort`.
    case aborted

    /// Whether the plan still has work to do.
    public var isActive: Bool { self == .pending || self == .running || self == .paused }
}

/// A ramp plan: the percent ladder an endpoint (or group) climbs, each step held for a bake time and advanced
/// only when the gate holds over enough new-service requests since the step began.
public struct RampPlan: Sendable, Hashable, Codable {
    /// The plan's id.
    public var id: PlanID
    /// What it ramps.
    public var target: PlanTarget
    /// The percents, increasing.
    public var steps: [Percent]
    /// How long each step bakes, in seconds.
    public var bakeSeconds: Double
    /// What must hold to advance.
    public var gate: PlanGate
    /// New-service requests each step needs since it began.
    public var minRequests: Int
    /// Why (recorded in the journal with every step).
    public var reason: String?
    /// When it was created and by whom.
    public var created: Date
    public var createdBy: String
    /// Where it is.
    public var state: PlanState
    /// The group the steps set (the endpoint's own group once isolated; the target for a group plan).
    public var group: String?
    /// The index into `steps` of the live step; nil before the first one.
    public var step: Int?
    /// When the live step began (its journal record's time).
    public var stepStarted: Date?
    /// Bake seconds the live step has already served before the current pause.
    public var bakedBeforePause: Double = 0
    /// When the bake last resumed after a pause (nil: it has run since the step began).
    public var bakeResumed: Date?
    /// When the current pause began.
    public var pausedAt: Date?
    /// Why the plan is paused, aborted or completed, in the operator's words.
    public var note: String?
    /// The next advance skips the rest of the bake and the gate (`cutover plan promote`).
    public var promote = false
    /// The hosts every change of the plan goes to (`cutover ramp --hosts`, a canary first); nil: every host.
    public var hosts: [String]?

    /// Creates a pending plan.
    public init(id: PlanID = .random(), target: PlanTarget, steps: [Percent], bakeSeconds: Double, gate: PlanGate = .healthy,
                minRequests: Int = 500, reason: String? = nil, created: Date, createdBy: String) {
        self.id = id
        self.target = target
        self.steps = steps
        self.bakeSeconds = bakeSeconds
        self.gate = gate
        self.minRequests = minRequests
        self.reason = reason
        self.created = created
        self.createdBy = createdBy
        self.state = .pending
    }

    /// The percent of the live step, nil before the first.
    public var percent: Percent? { step.map { steps[$0] } }

    /// Seconds of bake the live step has served at `now` (pauses excluded).
    public func baked(at now: Date) -> Double {
        guard let stepStarted else { return 0 }
        return bakedBeforePause + max(0, (pausedAt ?? now).timeIntervalSince(bakeResumed ?? stepStarted))
    }

    /// Seconds of bake left at `now`.
    public func bakeLeft(at now: Date) -> Double { max(0, bakeSeconds - baked(at: now)) }

    /// Checks a plan's parameters, saying what to fix.
    public static func validate(steps: [Percent], bakeSeconds: Double, minRequests: Int) throws(PlanError) {
        guard !steps.isEmpty else { throw PlanError("--steps needs at least one percent, e.g. 1,5,10,25,50,100") }
        guard steps.allSatisfy({ $0.hundredths > 0 && $0.hundredths <= 10000 }) else {
            throw PlanError("--steps must be percents above 0 and at most 100 (e.g. 1,5,10,25,50,100)")
        }
        guard zip(steps, steps.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw PlanError("--steps must increase (e.g. 1,5,10,25,50,100)")
        }
        guard bakeSeconds >= 0 else { throw PlanError("--bake must be a duration such as 10m, 90s or 2h") }
        guard minRequests >= 0 else { throw PlanError("--min-requests must be 0 or more") }
    }
}

/// A plan request that cannot be carried out, with what to do instead.
public struct PlanError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Durations as operators write them: `90s`, `10m`, `2h`, `1d`, or plain seconds.
public enum DurationText {
    /// The seconds `text` means, nil when it is no duration.
    public static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let last = t.last else { return nil }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        let (number, unit) = units[last].map { (String(t.dropLast()), $0) } ?? (t, 1)
        guard let value = Double(number), value >= 0, value.isFinite else { return nil }
        return value * unit
    }

    /// A short rendering (`45s`, `9m30s`, `2h05m`, `3d`).
    public static func format(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.up))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return s % 60 == 0 ? "\(s / 60)m" : "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        return "\(s / 86400)d\(String(format: "%02d", (s % 86400) / 3600))h"
    }
}
