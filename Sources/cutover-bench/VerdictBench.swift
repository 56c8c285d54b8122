import Foundation
import TrafficStats

/// `cutover-bench verdict`: the verdict's false-alarm rate and detection time on the lab's synthetic traffic
/// (eight endpoints at their configured split, 600 req/s, a look every 15 s of log time for 10 minutes), written
/// as log lines and read by the real parser and aggregator.
///
/// Options: `--runs N` (runs of each kind, default 40), `--direct` (record into the evidence without log lines:
/// faster, the same verdicts), `--seed S` (the first seed, default 1).
func runVerdictBenchmark(_ arguments: [String]) throws {
    func option(_ name: String) -> String? { arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil } }
    let runs = Int(option("--runs") ?? "") ?? 40
    let firstSeed = UInt64(option("--seed") ?? "") ?? 1
    let throughLines = !arguments.contains("--direct")
    let endpoints = VerdictLab.endpoints
    let degraded = 3
    let clock = ContinuousClock()
    var lines = 0
    let started = clock.now

    // Under the null: both services the same (5xx 1%, one latency distribution).
    var everBad = Array(repeating: 0, count: endpoints.count)
    var everWatch = Array(repeating: 0, count: endpoints.count)
    var finalStates = Array(repeating: [VerdictState: Int](), count: endpoints.count)
    var large = 0, largeHealthy = 0
    var firstHealthy: [[Int]] = Array(repeating: [], count: endpoints.count)
    for r in 0..<runs {
        var plan = VerdictLab.Plan(seed: firstSeed + UInt64(r))
        plan.throughLogLines = throughLines
        let run = try VerdictLab.run(plan)
        lines += run.lines
        for i in endpoints.indices {
            if run.everBad(i) { everBad[i] += 1 }
            if run.looks[i].contains(where: { $0.state == .watch }) { everWatch[i] += 1 }
            finalStates[i][run.final[i].state, default: 0] += 1
            if let last = run.looks[i].last, last.currentRequests >= 20_000, last.newRequests >= 20_000 {
                large += 1
                if run.final[i].state == .healthy { largeHealthy += 1 }
            }
            if let look = run.looks[i].first(where: { $0.state == .healthy }) { firstHealthy[i].append(min(look.newRequests, look.currentRequests)) }
        }
    }
    // One endpoint (25%) worse: 5xx 4% instead of 1%, 1.6 times slower.
    var detectedAt: [Int] = [], detectedAfter: [Int64] = [], missed = 0, otherBad = 0
    for r in 0..<runs {
        var plan = VerdictLab.Plan(seed: firstSeed + 10_000 + UInt64(r), new: [degraded: VerdictLab.Service().degraded(latency: 1.6, errorShare: 0.04)])
        plan.throughLogLines = throughLines
        let run = try VerdictLab.run(plan)
        lines += run.lines
        if let look = run.firstBad(degraded) {
            detectedAt.append(look.newRequests)
            detectedAfter.append(look.time - VerdictLab.start + 1)
        } else {
            missed += 1
        }
        otherBad += endpoints.indices.filter { $0 != degraded && run.everBad($0) }.count
    }
    let elapsed = clock.now - started
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18

    func quantile(_ xs: [Int], _ q: Double) -> Int {
        guard !xs.isEmpty else { return 0 }
        let sorted = xs.sorted()
        return sorted[min(sorted.count - 1, Int((q * Double(sorted.count - 1)).rounded()))]
    }
    let endpointRuns = runs * endpoints.count
    let falseAlarms = everBad.reduce(0, +)
    print("verdict benchmark: \(runs) null runs and \(runs) runs with \(endpoints[degraded].name) worse, 600 req/s, 40 looks over 10 min each")
    print("  input: \(throughLines ? "log lines through the parser and aggregator" : "evidence recorded directly"), \(lines) requests in \(String(format: "%.1f", seconds)) s (\(String(format: "%.0f", Double(lines) / seconds)) req/s)")
    print("  false alarms (null): \(falseAlarms) of \(endpointRuns) endpoint-runs ever bad at a look (\(String(format: "%.2f", 100 * Double(falseAlarms) / Double(endpointRuns)))%); ever watch: \(everWatch.reduce(0, +))")
    print("  endpoints with >= 20,000 requests per side at the end: \(largeHealthy) of \(large) healthy")
    print("  per endpoint (null): configured %, ever bad, ever watch, final states, requests per side at the first healthy look (median, p90)")
    for (i, e) in endpoints.enumerated() {
        let states = VerdictState.allCases.compactMap { s in finalStates[i][s].map { "\(s.rawValue) \($0)" } }.joined(separator: ", ")
        let healthy = firstHealthy[i].isEmpty ? "never healthy" : "\(quantile(firstHealthy[i], 0.5)) / \(quantile(firstHealthy[i], 0.9)) (\(firstHealthy[i].count) runs)"
        print("    \(e.name.padding(toLength: 25, withPad: " ", startingAt: 0)) \(String(format: "%5.0f%%", e.percent))  bad \(everBad[i])  watch \(everWatch[i])  [\(states)]  \(healthy)")
    }
    print("  detection (\(endpoints[degraded].name), 5xx 4% vs 1%, latency x1.6): \(detectedAt.count) of \(runs) runs bad, \(missed) missed, \(otherBad) other endpoint-runs bad")
    if !detectedAt.isEmpty {
        print("    new-service requests at the first bad look: median \(quantile(detectedAt, 0.5)), p90 \(quantile(detectedAt, 0.9)), max \(detectedAt.max() ?? 0)")
        let times = detectedAfter.map { Int($0) }
        print("    log time to the first bad look: median \(quantile(times, 0.5)) s, max \(times.max() ?? 0) s")
    }
}
