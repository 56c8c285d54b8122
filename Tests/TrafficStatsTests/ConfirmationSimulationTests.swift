import Foundation
import Testing
import TrafficStats

/// The traffic confirmation's share test, proved by seeded simulation: requests split by a binomial draw at a
/// true new-service share, as nginx's `split_clients` hash splits request ids.
@Suite struct ConfirmationSimulationTests {
    /// `count` watches of `requests` requests each at a true share `truth`; how many the test calls clearly above `percent`.
    static func alarms(truth: Double, percent: Double, requests: Int, count: Int, seed: UInt64) -> Int {
        var random = SplitMix64(seed: seed)
        var alarms = 0
        for _ in 0..<count {
            var new = 0
            for _ in 0..<requests where Double(random.next() >> 11) / Double(1 << 53) < truth { new += 1 }
            if case .clearlyAbove = TrafficConfirmation.finding(percentAfter: percent, new: new, current: requests - new) { alarms += 1 }
        }
        return alarms
    }

    @Test func atTheNewShareFalseAlarmsStayBelowTheThreshold() {
        // 3 x 2,000 watches at the configured share: the threshold is 0.001, so about 2 alarms are expected in
        // 6,000 at most; 12 would be a rate of 0.002, twice the promise.
        var total = 0
        for (index, (percent, requests)) in [(10.0, 300), (25.0, 1000), (50.0, 150)].enumerated() {
            total += Self.alarms(truth: percent / 100, percent: percent, requests: requests, count: 2000, seed: UInt64(index + 1))
        }
        #expect(total <= 12, "\(total) false alarms in 6,000 watches")
    }

    @Test func aShareStillAtTheOldPercentIsCaught() {
        // Lowered from 50% to 25% (or 10%), but nginx still routes 50%: caught in (almost) every watch of 200 requests.
        let missedFrom25 = 500 - Self.alarms(truth: 0.5, percent: 25, requests: 200, count: 500, seed: 7)
        let missedFrom10 = 500 - Self.alarms(truth: 0.5, percent: 10, requests: 200, count: 500, seed: 8)
        #expect(missedFrom25 <= 5, "\(missedFrom25) of 500 missed")
        #expect(missedFrom10 == 0, "\(missedFrom10) of 500 missed")
    }

    @Test func aSmallExcessIsNotAnAlarmButAtZeroEveryRequestIs() {
        // 27 of 100 at a new 25%: within the noise.
        guard case .consistent = TrafficConfirmation.finding(percentAfter: 25, new: 27, current: 73) else {
            Issue.record("27 of 100 at 25% is no alarm")
            return
        }
        #expect(TrafficConfirmation.finding(percentAfter: 0, new: 1, current: 500) == .stillReaching)
        #expect(TrafficConfirmation.finding(percentAfter: 0, new: 0, current: 0) == .stopped)
        #expect(TrafficConfirmation.finding(percentAfter: 25, new: 0, current: 0) == .noTraffic)
    }

    @Test func theUpperTailIsTheExactBinomialTail() {
        // P(X >= 3) for X ~ B(5, 0.5) = (10 + 5 + 1) / 32.
        #expect(abs(Proportions.binomialUpperTailPValue(successes: 3, trials: 5, p: 0.5) - 0.5) < 1e-12)
        // P(X >= 1) for B(10, 0.1) = 1 - 0.9^10.
        #expect(abs(Proportions.binomialUpperTailPValue(successes: 1, trials: 10, p: 0.1) - (1 - pow(0.9, 10))) < 1e-12)
        #expect(Proportions.binomialUpperTailPValue(successes: 0, trials: 10, p: 0.3) == 1)
        // Large n stays finite and tiny far in the tail.
        let far = Proportions.binomialUpperTailPValue(successes: 5000, trials: 10000, p: 0.25)
        #expect(far >= 0 && far < 1e-100)
    }
}
