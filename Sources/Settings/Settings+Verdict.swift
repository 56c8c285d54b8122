import Apply
import Foundation
import Rollout
import TrafficStats
import Yams

extension Settings {
    /// The keys of the `verdict:` mapping, in the order the README lists them.
    static let verdictKeys = "confidence, error_margin_pp, latency_margin_percent, latency_margin_min_ms, watch_4xx, split_confidence"

    /// Reads the `verdict:` mapping; a wrong key or value is an error at its line saying what is allowed.
    static func parseVerdict(_ value: Node, file: String, at: Int) throws(SettingsError) -> VerdictSettings {
        guard let mapping = value.mapping else {
            throw SettingsError(file: file, line: at, message: "verdict must be a mapping (\(verdictKeys))")
        }
        var v = VerdictSettings()
        for (k, node) in mapping {
            let key = k.string ?? "?"
            let number = node.scalar.flatMap { Double($0.string) }
            func need(_ ok: Bool, _ what: String) throws(SettingsError) -> Double {
                guard ok, let number else { throw SettingsError(file: file, line: line(k), message: "verdict.\(key) must be \(what)") }
                return number
            }
            switch key {
            case "confidence":
                v.confidence = try need((number ?? 0) >= 0.5 && (number ?? 1) < 1, "a number from 0.5 to 1 (exclusive), e.g. 0.99")
            case "error_margin_pp":
                v.errorMargin = try need((number ?? 0) > 0 && (number ?? 100) < 100, "a number of percentage points above 0, e.g. 0.5") / 100
            case "latency_margin_percent":
                v.latencyMargin = try need((number ?? 0) > 0, "a percent above 0, e.g. 20") / 100
            case "latency_margin_min_ms":
                v.latencyMarginMinMs = try need((number ?? -1) >= 0, "a number of milliseconds, 0 or more, e.g. 5")
            case "split_confidence":
                v.splitConfidence = try need((number ?? 0) >= 0.5 && (number ?? 1) < 1, "a number from 0.5 to 1 (exclusive), e.g. 0.999")
            case "watch_4xx":
                guard let b = node.scalar.flatMap({ Bool($0.string) }) else {
                    throw SettingsError(file: file, line: line(k), message: "verdict.watch_4xx must be true or false")
                }
                v.watchClientErrors = b
            default:
                throw SettingsError(file: file, line: line(k), message: "unknown key verdict.\(key); expected \(verdictKeys)")
            }
        }
        return v
    }

    /// The routing changes the journal records (applied ones, oldest first) for the traffic figures, each for an
    /// endpoint of `model` by identity (records from before the identities were journaled are matched by short
    /// name or key). A change is a rollback when its action is one, or when it sent every endpoint it moved to 0%
    /// (the typed endpoint percents; an old record's `endpoint:NAME` entries and group percents otherwise).
    public static func routingChanges(journal records: [JournalRecord], model: RolloutModel) -> [RoutingChange] {
        let known = Set(model.endpoints.map(\.id))
        var out: [RoutingChange] = []
        for record in records.sorted(by: { $0.time < $1.time }) where record.outcome == .applied {
            let change = record.change
            let endpointPercents = change.endpointPercents(in: model)
            let after = Array(change.percentsAfter.values) + Array(endpointPercents.after.values) + Array(change.legacyEndpointPercentsAfter.values)
            let before = Array(change.percentsBefore.values) + Array(endpointPercents.before.values) + Array(change.legacyEndpointPercentsBefore.values)
            let rollback = change.action == "rollback" || change.action == "rollback-all"
                || (!after.isEmpty && after.allSatisfy { $0 <= 0 } && before.contains { $0 > 0 })
            let time = Int64(record.time.timeIntervalSince1970.rounded(.down))
            for id in change.endpointIDs(in: model) where known.contains(id) {
                out.append(RoutingChange(endpoint: id, time: time, rollback: rollback))
            }
        }
        return out
    }
}
