import Foundation
import Testing
@testable import TrafficStats

/// The verdict's promises, proved on the lab's synthetic traffic: 600 req/s over the eight endpoints at their
/// configured split, an operator looking every 15 s of log time for 10 minutes (40 looks), four seeded runs.
@Suite struct VerdictSimulationTests {
    static let seeds: [UInt64] = [1, 2, 3, 4]
    /// The endpoint that gets a worse new service in the detection runs (25%).
    static let degraded = 3

    @Test func underTheNullAtMostOneEndpointRunIsEverBadAndLargeEndpointsEndHealthy() throws {
        var everBad = 0, runs = 0
        for seed in Self.seeds {
            var plan = VerdictLab.Plan(seed: seed)
            plan.throughLogLines = false
            let run = try VerdictLab.run(plan)
            #expect(run.looks.allSatisfy { $0.count == 40 })
            for (i, e) in VerdictLab.endpoints.enumerated() {
                runs += 1
                if run.everBad(i) { everBad += 1 }
                let last = try #require(run.looks[i].last)
                if last.currentRequests >= 20_000 && last.newRequests >= 20_000 {
                    #expect(run.final[i].state == .healthy, "seed \(seed): \(e.name) with \(last.currentRequests)|\(last.newRequests) requests ended \(run.final[i].summary)")
                }
            }
        }
        #expect(runs == 32)
        #expect(everBad <= 1, "\(everBad) of 32 endpoint-runs were bad at some look")
    }

    @Test func aWorseNewServiceIsBadByAbout3000NewServiceRequestsInEveryRun() throws {
        for seed in Self.seeds {
            let current = VerdictLab.Service()
            var plan = VerdictLab.Plan(seed: seed + 100, new: [Self.degraded: current.degraded(latency: 1.6, errorShare: 0.04)])
            plan.seconds = 300
            plan.throughLogLines = false
            let run = try VerdictLab.run(plan)
            let first = try #require(run.firstBad(Self.degraded), "seed \(seed): never bad; ended \(run.final[Self.degraded].summary)")
            #expect(first.newRequests <= 3_000)
        }
    }

    @Test func logLinesThroughTheParserAndAggregatorGiveTheSameVerdicts() throws {
        // Two minutes of the lab, written as log lines in the lab format and read by the real pipeline, judge
        // exactly as the evidence recorded directly (the fast path the claims above are proved on).
        var plan = VerdictLab.Plan(seed: 7, new: [Self.degraded: VerdictLab.Service().degraded(latency: 1.6, errorShare: 0.04)])
        plan.seconds = 120
        let lines = try VerdictLab.run(plan)
        plan.throughLogLines = false
        let direct = try VerdictLab.run(plan)
        #expect(lines.lines == 72_000)
        for i in VerdictLab.endpoints.indices {
            #expect(lines.looks[i] == direct.looks[i], "\(VerdictLab.endpoints[i].name)")
            // The "at the current rate" estimate differs: the aggregator's rate leaves out partial seconds.
            #expect(lines.final[i].neededRequests == direct.final[i].neededRequests)
            #expect(lines.final[i].reasons.filter { !$0.contains("current rate") } == direct.final[i].reasons.filter { !$0.contains("current rate") })
        }
        #expect(lines.everBad(Self.degraded))
    }
}
