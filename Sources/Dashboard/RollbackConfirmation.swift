import Foundation
import TrafficStats

/// What the live traffic says about the last rollback, for the status line: confirmed (no new-service
/// request for the rolled-back endpoints in any second of log time from the reload plus a drain margin on),
/// still to be seen, or loudly not confirmed (nginx accepted the change but does not route as the config says).
public struct RollbackConfirmation: Sendable, Equatable {
    /// The sentence shown.
    public var text: String
    /// true confirmed, false new-service traffic goes on, nil not enough log time yet.
    public var confirmed: Bool?

    /// Seconds after the reload during which the old workers may still finish requests routed before it.
    public static let drainMargin: Int64 = 2

    /// The confirmation for the state's last change, when it is an applied rollback and traffic is followed.
    public static func of(_ state: AppState) -> RollbackConfirmation? {
        guard let last = state.lastApply, last.succeeded, last.action.hasPrefix("rollback"), let finished = last.finishedAt,
              let snapshot = state.snapshot, let logTime = snapshot.logTime, let model = state.model else { return nil }
        let record = state.journal.last { $0.outcome == .applied && $0.change.action.hasPrefix("rollback") }
        let names = Set(record?.change.endpoints ?? [])
        let endpoints = model.endpoints.filter { last.action == "rollback-all" ? $0.percent == .zero : names.contains($0.name) }
        guard !endpoints.isEmpty else { return nil }
        let from = Int64(finished.timeIntervalSince1970) + drainMargin
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        let since = formatter.string(from: finished)
        guard logTime >= from else {
            return RollbackConfirmation(text: "confirming the rollback from traffic (reload at \(since), old workers draining)", confirmed: nil)
        }
        // The dashboard's traffic names endpoints as `EndpointNaming` does.
        let ruleNames = Dictionary(zip(model.endpoints.map(\.pattern), EndpointNaming.names(for: model.endpoints)),
                                   uniquingKeysWith: { a, _ in a })
        var still: [String] = []
        var seen = 0
        for endpoint in endpoints {
            guard let series = snapshot.endpoint(ruleNames[endpoint.pattern] ?? endpoint.name)?.newShareSeries else { continue }
            seen += 1
            let start = logTime - Int64(series.count) + 1
            let reached = series.enumerated().contains { offset, share in start + Int64(offset) >= from && (share ?? 0) > 0 }
            if reached { still.append(endpoint.name) }
        }
        guard seen > 0 else { return nil }
        if still.isEmpty {
            let what = endpoints.count == 1 ? endpoints[0].name : "the \(endpoints.count) rolled-back endpoints"
            return RollbackConfirmation(text: "traffic confirms the rollback: 0 new-service requests for \(what) since \(since) "
                                        + "(+\(drainMargin) s drain)", confirmed: true)
        }
        return RollbackConfirmation(text: "ROLLBACK NOT CONFIRMED BY TRAFFIC: the new service still answers "
                                    + still.prefix(3).joined(separator: ", ") + (still.count > 3 ? " (+\(still.count - 3))" : "")
                                    + " \(logTime - from + drainMargin) s after the reload", confirmed: false)
    }
}
