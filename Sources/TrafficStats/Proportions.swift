import Foundation

/// Statistical tests on proportions: Wilson intervals, sample-ratio mismatch, two-proportion z-test.
public enum Proportions {
    /// The standard normal quantile for a two-sided 95% interval.
    public static let z95 = 1.959963984540054

    /// The Wilson score interval for `successes` out of `trials` (as fractions 0...1); nil when trials is 0.
    public static func wilson(successes: Int, trials: Int, z: Double = z95) -> (low: Double, high: Double)? {
        guard trials > 0 else { return nil }
        let n = Double(trials)
        let p = Double(successes) / n
        let z2 = z * z
        let denominator = 1 + z2 / n
        let centre = (p + z2 / (2 * n)) / denominator
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / denominator
        return (max(0, centre - half), min(1, centre + half))
    }

    /// The two-sided p-value of the exact binomial test of `successes` in `trials` against probability `p`.
    ///
    /// Sums the probabilities of all outcomes no more likely than the observed one (as R's `binom.test`).
    public static func binomialTestPValue(successes: Int, trials: Int, p: Double) -> Double {
        guard trials > 0 else { return 1 }
        if p <= 0 { return successes == 0 ? 1 : 0 }
        if p >= 1 { return successes == trials ? 1 : 0 }
        let logP = log(p), logQ = log1p(-p)
        let logRatio = logP - logQ
        // log P(X = k) for every k by the recurrence P(k+1) = P(k) * (n-k)/(k+1) * p/q.
        var logPMF = [Double](repeating: 0, count: trials + 1)
        logPMF[0] = Double(trials) * logQ
        for k in 0..<trials {
            logPMF[k + 1] = logPMF[k] + log(Double(trials - k) / Double(k + 1)) + logRatio
        }
        let threshold = logPMF[successes] + log1p(1e-7)
        var total = 0.0
        for value in logPMF where value <= threshold { total += exp(value) }
        return min(1, total)
    }

    /// The one-sided p-value P(X ≥ `successes`) for X ~ binomial(`trials`, `p`): how likely so many successes
    /// (or more) are when the true probability is `p`. Exact, summed in log space term by term (O(trials)).
    public static func binomialUpperTailPValue(successes: Int, trials: Int, p: Double) -> Double {
        guard trials > 0, successes > 0 else { return 1 }
        if successes > trials { return 0 }
        if p <= 0 { return 0 }
        if p >= 1 { return 1 }
        let logP = log(p), logQ = log1p(-p)
        // log P(X = successes) by lgamma, then the terms above it by the ratio recurrence.
        let k0 = Double(successes), n = Double(trials)
        var logTerm = lgamma(n + 1) - lgamma(k0 + 1) - lgamma(n - k0 + 1) + k0 * logP + (n - k0) * logQ
        var total = exp(logTerm)
        var k = successes
        while k < trials {
            logTerm += log(Double(trials - k) / Double(k + 1)) + logP - logQ
            let term = exp(logTerm)
            total += term
            k += 1
            // Past the mode the terms only shrink: stop once they no longer count.
            if Double(k) > n * p && term < total * 1e-17 { break }
        }
        return min(1, total)
    }

    /// The p-value of Pearson's chi-square goodness-of-fit test (1 degree of freedom) for a two-way split.
    public static func chiSquarePValue(successes: Int, trials: Int, p: Double) -> Double {
        guard trials > 0, p > 0, p < 1 else { return binomialTestPValue(successes: successes, trials: trials, p: p) }
        let n = Double(trials)
        let e1 = n * p, e2 = n * (1 - p)
        let o1 = Double(successes), o2 = n - o1
        let statistic = (o1 - e1) * (o1 - e1) / e1 + (o2 - e2) * (o2 - e2) / e2
        return erfc((statistic / 2).squareRoot())
    }

    /// The p-value of the sample-ratio-mismatch test: exact binomial up to `exactLimit` trials, chi-square above.
    public static func sampleRatioPValue(newCount: Int, total: Int, configuredFraction: Double, exactLimit: Int = 2000) -> Double {
        total <= exactLimit
            ? binomialTestPValue(successes: newCount, trials: total, p: configuredFraction)
            : chiSquarePValue(successes: newCount, trials: total, p: configuredFraction)
    }

    /// The two-sided p-value of the pooled two-proportion z-test comparing `x1/n1` with `x2/n2`; nil if undefined.
    public static func twoProportionPValue(x1: Int, n1: Int, x2: Int, n2: Int) -> Double? {
        guard n1 > 0, n2 > 0 else { return nil }
        let p1 = Double(x1) / Double(n1), p2 = Double(x2) / Double(n2)
        let pooled = Double(x1 + x2) / Double(n1 + n2)
        let variance = pooled * (1 - pooled) * (1 / Double(n1) + 1 / Double(n2))
        guard variance > 0 else { return p1 == p2 ? 1 : 0 }
        let z = (p1 - p2) / variance.squareRoot()
        return erfc(abs(z) / 2.0.squareRoot())
    }
}
