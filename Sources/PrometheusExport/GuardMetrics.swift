import Autopilot
import Foundation
import Prometheus
import Rollout
import TrafficStats

/// The guard's figures as Prometheus metrics, kept in a swift-prometheus registry: request counters and latency
/// histograms fed line by line by the ingest (as its `RequestObserver`), and gauges set once per round from the
/// traffic snapshot, the config and the plans.
///
/// Label values come from the config (the endpoints' identities, written as their map keys) and from the plan ids, never from request paths,
/// so the number of series is bounded by the config: per endpoint 2 services × 6 status classes counters and
/// 2 histograms, 2 percent gauges, 5 verdict gauges, and one step gauge per active plan and endpoint.
public final class GuardMetrics: RequestObserver, @unchecked Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    /// The endpoints' identities, in the order of the traffic rules (the observer's endpoint index).
    public let endpoints: [EndpointID]

    /// The `service` label values: index 0 the current service, 1 the new one.
    public static let services = ["current", "new"]
    /// The `status_class` label values: `1xx` … `5xx`, and `unknown` for a log line without a usable status.
    public static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx", "unknown"]
    /// The latency histogram's bucket bounds, in seconds.
    public static let durationBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    // Indexed [endpoint * 2 + service][status class]; made up front so the ingest's path takes no lock.
    private let requests: [[Counter]]
    private let durations: [ValueHistogram]
    private let configured: [Gauge]
    private let observed: [Gauge]
    private let verdicts: [[VerdictState: Gauge]]
    private let automaticRollbacks: Counter
    private let logLag: Gauge
    private let lock = NSLock()
    private var planSteps: [String: Gauge] = [:]

    private static func name(_ metric: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "cutover", metricName: metric, unitName: "", helpText: help)
    }

    private static var planStepName: MetricNameDescriptor {
        name("plan_step", "The live step of each active ramp plan (1 for the first, 0 before it), per endpoint it moves.")
    }

    /// The `endpoint` label value of an endpoint: its map key as written (`id` of `routes --json`; the same text
    /// as `pattern` for every key but an escaped exact one, `\\~^/a$`, which would read like the regex `~^/a$`).
    public static func label(_ id: EndpointID) -> String { id.description }

    /// Creates the metrics of `endpoints` (in the traffic rules' order), every series at zero.
    public init(endpoints: [EndpointID]) {
        self.endpoints = endpoints
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        let requestsName = Self.name("requests_total", "Requests read from the access logs, per endpoint, service and status class.")
        let durationName = Self.name("request_duration_seconds", "Request latency from the access logs, per endpoint and service.")
        let configuredName = Self.name("configured_percent", "The share of the endpoint's requests the config sends to the new service (0-100).")
        let observedName = Self.name("observed_percent", "The share of the endpoint's requests the new service answered over the last minute (0-100; NaN without requests).")
        let verdictName = Self.name("verdict", "The endpoint's verdict: 1 for its current state, 0 for the others.")
        var requests: [[Counter]] = []
        var durations: [ValueHistogram] = []
        var configured: [Gauge] = []
        var observed: [Gauge] = []
        var verdicts: [[VerdictState: Gauge]] = []
        for id in endpoints {
            let endpoint = Self.label(id)
            for service in Self.services {
                requests.append(Self.statusClasses.map { status in
                    registry.makeCounter(descriptor: requestsName, labels: [("endpoint", endpoint), ("service", service), ("status_class", status)])
                })
                durations.append(registry.makeValueHistogram(descriptor: durationName, labels: [("endpoint", endpoint), ("service", service)],
                                                             buckets: Self.durationBuckets))
            }
            configured.append(registry.makeGauge(descriptor: configuredName, labels: [("endpoint", endpoint)]))
            let observedGauge = registry.makeGauge(descriptor: observedName, labels: [("endpoint", endpoint)])
            observedGauge.set(to: Double.nan)
            observed.append(observedGauge)
            var byState: [VerdictState: Gauge] = [:]
            for state in VerdictState.allCases {
                byState[state] = registry.makeGauge(descriptor: verdictName, labels: [("endpoint", endpoint), ("state", state.rawValue)])
            }
            verdicts.append(byState)
        }
        self.requests = requests
        self.durations = durations
        self.configured = configured
        self.observed = observed
        self.verdicts = verdicts
        automaticRollbacks = registry.makeCounter(descriptor: Self.name("automatic_rollbacks_total",
            "Rollbacks the autopilot made by itself: guardrail rollbacks and plans aborted by a bad verdict."))
        logLag = registry.makeGauge(descriptor: Self.name("log_lag_seconds",
            "Seconds between now and the newest log line read (NaN before the first)."))
        logLag.set(to: Double.nan)
    }

    // MARK: - Fed by the ingest

    /// The status class label index of an HTTP status (5 for none or out of range).
    public static func statusClassIndex(_ status: Int) -> Int {
        (100...599).contains(status) ? status / 100 - 1 : 5
    }

    public func observe(endpoint: Int, newService: Bool, status: Int, latencyMilliseconds: Int?) {
        let series = endpoint * 2 + (newService ? 1 : 0)
        guard endpoint >= 0, series < requests.count else { return }
        requests[series][Self.statusClassIndex(status)].increment()
        if let latencyMilliseconds, latencyMilliseconds >= 0 { durations[series].record(Double(latencyMilliseconds) / 1000) }
    }

    // MARK: - Set once per round

    /// Sets the gauges: percents and verdicts from `snapshot` (the one-minute window) and the config's `model`,
    /// the log lag at `now`, and the step of every active plan in `plans` (the steps of plans no longer active
    /// are removed).
    public func update(snapshot: TrafficSnapshot?, model: RolloutModel?, plans: [RampPlan], now: Date) {
        let traffic = Dictionary((snapshot?.endpoints ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let configuredByKey = Dictionary((model?.endpoints ?? []).map { ($0.id, $0.percent.value) }, uniquingKeysWith: { a, _ in a })
        for (i, key) in endpoints.enumerated() {
            if let percent = configuredByKey[key] { configured[i].set(to: percent) }
            let entry = traffic[key]
            observed[i].set(to: entry?.stats.observedPercent ?? Double.nan)
            let state = entry?.verdict.state ?? Verdict.unknown.state
            for (candidate, gauge) in verdicts[i] { gauge.set(to: candidate == state ? 1.0 : 0.0) }
        }
        if let logTime = snapshot?.logTime {
            logLag.set(to: max(0, now.timeIntervalSince1970 - Double(logTime)))
        }
        setPlanSteps(plans, model: model)
    }

    /// Counts the automatic rollbacks among `events`.
    public func note(_ events: [AutopilotEvent]) {
        for event in events where Self.isAutomaticRollback(event) { automaticRollbacks.increment() }
    }

    /// Whether an event is a rollback the autopilot made by itself (a guardrail's, or a plan aborted by a bad
    /// verdict whose rollback reached the journal).
    public static func isAutomaticRollback(_ event: AutopilotEvent) -> Bool {
        switch event.kind {
        case .automaticRollback: return true
        case .planAborted: return event.verdict == .bad && event.journal != nil
        default: return false
        }
    }

    private func setPlanSteps(_ plans: [RampPlan], model: RolloutModel?) {
        var live: [String: (plan: String, endpoint: String, step: Double)] = [:]
        for plan in plans where plan.state.isActive {
            let members: [String]
            switch plan.target {
            case .endpoint(let key): members = [Self.label(key)]
            case .group(let name): members = (model?.endpoints ?? []).filter { $0.groupName == name }.map { Self.label($0.id) }
            }
            for endpoint in members {
                live[plan.id.raw + "\u{0}" + endpoint] = (plan.id.raw, endpoint, Double(plan.step.map { $0 + 1 } ?? 0))
            }
        }
        lock.lock()
        defer { lock.unlock() }
        for (key, gauge) in planSteps where live[key] == nil {
            registry.unregisterGauge(gauge)
            planSteps[key] = nil
        }
        for (key, value) in live {
            let gauge = planSteps[key] ?? registry.makeGauge(descriptor: Self.planStepName, labels: [("plan", value.plan), ("endpoint", value.endpoint)])
            planSteps[key] = gauge
            gauge.set(to: value.step)
        }
    }

    /// The exposition text (what `/metrics` serves).
    public func render() -> [UInt8] { registry.emitToBuffer() }
}
