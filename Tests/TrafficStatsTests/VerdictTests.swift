import Foundation
import Testing
@testable import TrafficStats

/// The statistics behind the verdict: the time-uniform boundaries against reference values, and the
/// confidence sequences' coverage under continuous monitoring.
@Suite struct SequentialTests {
    @Test func boundariesMatchTheConfseqReferenceValues() {
        // confseq's tests (uniform_boundaries_test.cpp): v_opt = 100, alpha_opt = 0.05, alpha = 0.05.
        let twoSidedRho = Sequential.bestRho(vOpt: 100, alpha: 0.05, oneSided: false)
        #expect(abs(twoSidedRho - 12.60056) < 1e-4)
        #expect(abs(Sequential.twoSidedBoundary(v: 100, alpha: 0.05, rho: twoSidedRho) - 30.35209) < 1e-4)
        let oneSidedRho = Sequential.bestRho(vOpt: 100, alpha: 0.05)
        #expect(abs(Sequential.oneSidedBoundary(v: 100, alpha: 0.05, rho: oneSidedRho) - 27.66071) < 1e-4)
        #expect(abs(Sequential.logOneSidedMixture(s: 10, v: 100, rho: oneSidedRho) - -0.06502391) < 1e-6)
    }

    @Test func theTableIsWithinATenthOfAPercentOfTheExactMultiplier() {
        for alpha in [0.01, 0.005, 0.001] {
            for n in [1.0, 3, 17, 150, 999, 5_000, 20_000, 123_456, 2_000_000] {
                let exact = Sequential.exactMultiplier(n: n, alpha: alpha)
                #expect(abs(Sequential.multiplier(n: n, alpha: alpha) - exact) / exact < 1e-3, "n \(n) alpha \(alpha)")
            }
        }
        #expect(Sequential.multiplier(n: 0, alpha: 0.01) == .infinity)
    }

    /// How many of 400 fair-coin sequences of 4,000 flips, looked at after every flip from the 20th, ever have an
    /// upper bound (from `upper(heads, n)`) for the share of heads below 0.5.
    static func crossings(_ upper: (Int, Int) -> Double) -> Int {
        var random = VerdictLab.Random(seed: 42)
        var crossed = 0
        for _ in 0..<400 {
            var heads = 0
            for n in 1...4_000 {
                if random.uniform() < 0.5 { heads += 1 }
                if n >= 20, upper(heads, n) < 0.5 {
                    crossed += 1
                    break
                }
            }
        }
        return crossed
    }

    @Test func aOneSidedBoundIsCrossedRarelyHoweverOftenItIsLookedAt() {
        // The confidence sequence's upper bound must stay above 0.5 in at least 99% of the sequences.
        let crossed = Self.crossings { heads, n in Sequential.proportion(heads, of: n, alpha: 0.01)?.upper ?? 1 }
        #expect(crossed <= 4, "\(crossed) of 400 sequences crossed")
    }

    @Test func aFixedHorizonIntervalLookedAtEveryTimeWouldNotHold() {
        // The fixed-horizon 99% bound, looked at after every flip, is crossed far more often than 1%: why it is
        // not used.
        let crossed = Self.crossings { heads, n in Double(heads) / Double(n) + 2.326 * (0.25 / Double(n)).squareRoot() }
        #expect(crossed > 12, "\(crossed) of 400")
    }

    @Test func differenceAndSplitTests() throws {
        let d = try #require(Sequential.difference(400, of: 10_000, minus: 100, of: 10_000, alpha: 0.01))
        #expect(abs(d.estimate - 0.03) < 1e-12)
        #expect(d.lower > 0.02 && d.upper < 0.04)
        #expect(Sequential.difference(1, of: 0, minus: 0, of: 5, alpha: 0.01) == nil)
        // Counts past their totals (scaled estimates round up) are clamped, never a NaN bound.
        let clamped = try #require(Sequential.proportion(5, of: 4, alpha: 0.01))
        #expect(clamped.estimate == 1 && !clamped.lower.isNaN && clamped.upper == 1)
        #expect(Sequential.difference(7, of: 6, minus: 0, of: 6, alpha: 0.01).map { !$0.lower.isNaN } == true)
        // 75% configured: 7,500 of 10,000 matches; 7,200 does not.
        #expect(!Sequential.splitMismatch(newCount: 7_500, total: 10_000, configured: 0.75, alpha: 0.001))
        #expect(Sequential.splitMismatch(newCount: 7_200, total: 10_000, configured: 0.75, alpha: 0.001))
        #expect(Sequential.splitMismatch(newCount: 1, total: 10, configured: 0, alpha: 0.001))
    }
}

/// The verdict's state machine on evidence built by hand.
@Suite struct VerdictStateTests {
    static let utc = VerdictSettings(timeZone: TimeZone(identifier: "UTC") ?? .current)

    /// Evidence of `n` requests with `errors` 5xx (the first `nginxMade` of them nginx's 502s), `clientErrors`
    /// 4xx, and log-normal latencies (median 40 ms × `latency`, sigma 0.5; seeded) unless `latency` is nil.
    static func side(_ n: Int, errors: Int = 0, clientErrors: Int = 0, latency: Double? = 1, nginxMade: Int = 0, rate: Double = 0,
                     seed: UInt64 = 1) -> SideEvidence {
        var s = SideEvidence()
        var random = VerdictLab.Random(seed: seed)
        for i in 0..<n {
            let status = i < errors ? (i < nginxMade ? 502 : 500) : (i < errors + clientErrors ? 400 : 200)
            let ms = latency.map { Int((40 * $0 * exp(0.5 * random.normal())).rounded()) }
            s.record(status: status, latencyMs: ms, nginxMade: status >= 500 ? i < nginxMade : nil)
        }
        s.rate = rate
        return s
    }

    @Test func healthyNeedsEveryGuardedMetricInsideItsMargin() {
        let v = Verdict.judge(current: Self.side(40_000, errors: 400), new: Self.side(40_000, errors: 400, seed: 2),
                              configuredPercent: 50, since: nil, settings: Self.utc)
        #expect(v.state == .healthy, "\(v.reasons)")
        #expect(v.reasons.first == "5xx 1.0% vs 1.0% (+0.0 pp, margin 0.5 pp)")
        #expect(v.reasons.contains { $0.hasPrefix("p99 ") && $0.hasSuffix("margin 20%, at least 5 ms)") })
        #expect(v.neededRequests == nil)
        #expect(v.baseline == .concurrent)
    }

    @Test func badOnErrorsSaysByHowMuchAndWhoMadeThem() {
        let v = Verdict.judge(current: Self.side(30_000, errors: 300),
                              new: Self.side(3_000, errors: 123, nginxMade: 100, seed: 2),
                              configuredPercent: 10, since: 1_796_126_400, settings: Self.utc)
        #expect(v.state == .bad)
        #expect(v.reasons.first == "5xx 4.1% vs 1.0% (+3.1 pp, margin 0.5 pp)")
        #expect(v.reasons.contains { $0.hasPrefix("new-service 5xx: 100 made by nginx (502/504, no upstream answer") && $0.contains(", 23 from the application; current service: 0 by nginx, 300 from the application") })
        #expect(v.since == 1_796_126_400)
    }

    @Test func badOnLatency() {
        let v = Verdict.judge(current: Self.side(16_000, errors: 160), new: Self.side(4_000, errors: 40, latency: 1.6, seed: 2),
                              configuredPercent: 20, since: nil, settings: Self.utc)
        #expect(v.state == .bad, "\(v.reasons)")
        #expect(v.reasons.first == "p95 146 ms vs 91 ms (+60%, margin 20%, at least 5 ms)")
        #expect(v.reasons.contains { $0.hasPrefix("p99 ") && $0.contains("(+5") && $0.hasSuffix("margin 20%, at least 5 ms)") }, "\(v.reasons)")
    }

    @Test func fewRequestsAreNotEnoughDataWithAnEstimate() {
        let v = Verdict.judge(current: Self.side(5_000, errors: 50), new: Self.side(50, rate: 2, seed: 2),
                              configuredPercent: 1, since: nil, settings: Self.utc)
        #expect(v.state == .notEnoughData)
        let needed = try? #require(v.neededRequests)
        #expect((needed ?? 0) > 100)
        #expect(v.reasons.last?.hasPrefix("needs about ") == true)
        #expect(v.reasons.last?.hasSuffix("at the current rate") == true)
    }

    @Test func anEstimateBeyondTheMarginIsWatchBeforeItIsBad() {
        // 4% vs 1% on 800 new-service requests: worse with confidence, past the margin in estimate, not yet with
        // confidence.
        let v = Verdict.judge(current: Self.side(30_000, errors: 300), new: Self.side(800, errors: 32), configuredPercent: 2.6,
                              since: nil, settings: Self.utc)
        #expect(v.state == .watch, "\(v.reasons)")
        #expect(v.reasons.first?.hasPrefix("5xx 4.0% vs 1.0% (+3.0 pp") == true)
        // A handful of requests past the margin is not a reason to look: 1 error in 40 requests.
        let few = Verdict.judge(current: Self.side(30_000, errors: 300), new: Self.side(40, errors: 1), configuredPercent: 0.13,
                                since: nil, settings: Self.utc)
        #expect(few.state == .notEnoughData, "\(few.reasons)")
    }

    @Test func moreFourHundredsAndAShiftedSplitAreWatchReasons() {
        let v = Verdict.judge(current: Self.side(40_000, errors: 400, clientErrors: 400), new: Self.side(40_000, errors: 400, clientErrors: 2_000),
                              configuredPercent: 50, since: nil, settings: Self.utc)
        #expect(v.state == .watch)
        #expect(v.reasons.contains { $0.hasPrefix("4xx 5.0% vs 1.0% (+4.0 pp): the new service refuses requests") })
        let split = Verdict.judge(current: Self.side(40_000, errors: 400), new: Self.side(30_000, errors: 300), configuredPercent: 50,
                                  since: 1_796_126_400, settings: Self.utc)
        #expect(split.state == .watch)
        #expect(split.reasons.contains { $0.hasPrefix("split 42.9% observed vs 50% configured since 12:00:00: routing is not doing what the config says") })
        var quiet = Self.utc
        quiet.watchClientErrors = false
        #expect(Verdict.judge(current: Self.side(40_000, errors: 400, clientErrors: 400), new: Self.side(40_000, errors: 400, clientErrors: 2_000),
                              configuredPercent: 50, since: nil, settings: quiet).state == .healthy)
    }

    @Test func nothingToCompareIsNoBaseline() {
        #expect(Verdict.judge(current: Self.side(100), new: Self.side(0), configuredPercent: 0, since: nil, settings: Self.utc).state == .noBaseline)
        let at100 = Verdict.judge(current: Self.side(0), new: Self.side(500), configuredPercent: 100, since: nil, settings: Self.utc)
        #expect(at100.state == .noBaseline)
        #expect(at100.reasons.first?.hasPrefix("at 100%") == true)
        #expect(Verdict.judge(current: Self.side(10), new: Self.side(0), configuredPercent: 50, since: nil, settings: Self.utc).reasons == ["no new-service requests"])
    }

    @Test func marginsComeFromTheSettings() {
        var loose = Self.utc
        loose.errorMargin = 0.05
        let current = Self.side(27_000, errors: 270), new = Self.side(3_000, errors: 123, seed: 2)
        #expect(Verdict.judge(current: current, new: new, configuredPercent: 10, since: nil, settings: Self.utc).state == .bad)
        let v = Verdict.judge(current: current, new: new, configuredPercent: 10, since: nil, settings: loose)
        #expect(v.state == .healthy)
        #expect(v.reasons.first == "5xx 4.1% vs 1.0% (+3.1 pp, margin 5.0 pp)")
    }
}
