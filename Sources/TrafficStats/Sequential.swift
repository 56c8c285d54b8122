import Foundation

/// Time-uniform boundaries and the confidence sequences built on them: intervals that stay valid however often
/// they are looked at.
///
/// Method: the one-sided normal-mixture uniform boundary of Howard, Ramdas, McAuliffe and Sekhon,
/// "Time-uniform, nonparametric, nonasymptotic confidence sequences" (Annals of Statistics 49(2), 2021,
/// Proposition 6 / eq. 52; the boundary the `confseq` library ships as `normal_mixture_bound`). For a process
/// `S` with intrinsic time (accumulated variance) `v`, the mixture
/// `M(s, v) = sqrt(4ρ / (v + ρ)) · exp(s² / (2(v + ρ))) · Φ(s / sqrt(v + ρ))` is a nonnegative supermartingale
/// under the null, so by Ville's inequality `S` ever crosses the `s` solving `M(s, v) = 1/α` with probability at
/// most `α`, at any number of looks. The two-sided form (GrowthBook's and PostHog's sequential intervals) is
/// `sqrt((v + ρ) · ln((v + ρ) / (ρ α²)))`. Means of requests are used through the central limit theorem with the
/// variance estimated from the data (the asymptotic confidence sequences of Waudby-Smith et al., 2021); a
/// pseudo-count keeps the variance away from zero when no errors have been seen yet.
public enum Sequential {
    /// The effective sample size the boundaries are tightest at (GrowthBook plans for 5,000 observations).
    public static let optimizedFor: Double = 5_000

    /// The mixture parameter ρ that makes a boundary tightest at intrinsic time `vOpt` for level `alpha`
    /// (Howard et al., Proposition 3(a); the one-sided form uses `2α`).
    public static func bestRho(vOpt: Double, alpha: Double, oneSided: Bool = true) -> Double {
        let a = oneSided ? min(0.5, 2 * alpha) : alpha
        let l = 2 * log(1 / a)
        return vOpt / (l + log(1 + l))
    }

    /// The log of the one-sided normal-mixture supermartingale at `s` and intrinsic time `v`.
    static func logOneSidedMixture(s: Double, v: Double, rho: Double) -> Double {
        let w = v + rho
        return 0.5 * log(4 * rho / w) + s * s / (2 * w) + logNormalCDF(s / w.squareRoot())
    }

    /// `ln Φ(x)`, accurate in the lower tail.
    static func logNormalCDF(_ x: Double) -> Double {
        if x > -5 { return log(0.5 * erfc(-x / 2.0.squareRoot())) }
        // Mills-ratio expansion: Φ(x) ≈ φ(x)/|x| · (1 - 1/x² + 3/x⁴).
        let x2 = x * x
        return -x2 / 2 - log(-x) - 0.5 * log(2 * Double.pi) + log(1 - 1 / x2 + 3 / (x2 * x2))
    }

    /// The one-sided uniform boundary: the `s` at which the process crosses with probability at most `alpha`
    /// over all times, at intrinsic time `v` (found by bisection; the mixture grows with `s` for `s ≥ 0`).
    public static func oneSidedBoundary(v: Double, alpha: Double, rho: Double) -> Double {
        let target = log(1 / alpha)
        var low = 0.0
        var high = max(1, (2 * (v + rho) * (target + 0.5 * log((v + rho) / rho) + 1)).squareRoot())
        while logOneSidedMixture(s: high, v: v, rho: rho) < target { high *= 2 }
        for _ in 0..<80 {
            let mid = (low + high) / 2
            if logOneSidedMixture(s: mid, v: v, rho: rho) < target { low = mid } else { high = mid }
        }
        return high
    }

    /// The two-sided normal-mixture boundary `sqrt((v + ρ) · ln((v + ρ) / (ρ α²)))`.
    public static func twoSidedBoundary(v: Double, alpha: Double, rho: Double) -> Double {
        ((v + rho) * log((v + rho) / (rho * alpha * alpha))).squareRoot()
    }

    /// How many standard errors a one-sided confidence sequence at level `alpha` lies from its estimate after
    /// `n` effective observations (tightest around `optimizedFor`); infinite without observations.
    ///
    /// Read from a table per level (computed once, 16 points per doubling of `n`, interpolated in `log n`), so a
    /// snapshot of many endpoints stays cheap.
    public static func multiplier(n: Double, alpha: Double) -> Double {
        guard n > 0 else { return .infinity }
        return MultiplierTables.shared.multiplier(n: max(1, n), alpha: alpha)
    }

    /// The multiplier computed directly (what the tables hold).
    public static func exactMultiplier(n: Double, alpha: Double) -> Double {
        guard n > 0 else { return .infinity }
        let rho = bestRho(vOpt: optimizedFor, alpha: alpha)
        return oneSidedBoundary(v: n, alpha: alpha, rho: rho) / n.squareRoot()
    }

    /// A proportion with its one-sided confidence-sequence bounds (each side holds at level `alpha`).
    public struct Bounds: Sendable, Hashable {
        /// The estimate.
        public var estimate: Double
        /// The lower bound.
        public var lower: Double
        /// The upper bound.
        public var upper: Double
    }

    /// A smoothed share for variance estimates: never exactly 0 or 1 (half a pseudo-count either way).
    static func smoothed(_ x: Int, _ n: Int) -> Double { (Double(x) + 0.5) / (Double(n) + 1) }

    /// The confidence sequence of a proportion `x` out of `n`, nil without observations.
    public static func proportion(_ x: Int, of n: Int, alpha: Double) -> Bounds? {
        guard n > 0 else { return nil }
        let x = min(max(0, x), n)
        let p = Double(x) / Double(n)
        let s = smoothed(x, n)
        let half = (s * (1 - s) / Double(n)).squareRoot() * multiplier(n: Double(n), alpha: alpha)
        return Bounds(estimate: p, lower: max(0, p - half), upper: min(1, p + half))
    }

    /// The confidence sequence of the difference `x1/n1 - x2/n2` of two proportions (two independent samples
    /// of any sizes: the standard error is `sqrt(p1(1-p1)/n1 + p2(1-p2)/n2)`, the effective sample size the
    /// harmonic `1/(1/n1 + 1/n2)`), nil when a side has no observations.
    public static func difference(_ x1: Int, of n1: Int, minus x2: Int, of n2: Int, alpha: Double) -> Bounds? {
        guard n1 > 0, n2 > 0 else { return nil }
        let x1 = min(max(0, x1), n1), x2 = min(max(0, x2), n2)
        let d = Double(x1) / Double(n1) - Double(x2) / Double(n2)
        let s1 = smoothed(x1, n1), s2 = smoothed(x2, n2)
        let se = (s1 * (1 - s1) / Double(n1) + s2 * (1 - s2) / Double(n2)).squareRoot()
        let nEff = 1 / (1 / Double(n1) + 1 / Double(n2))
        let half = se * multiplier(n: nEff, alpha: alpha)
        return Bounds(estimate: d, lower: d - half, upper: d + half)
    }

    /// The sequential sample-ratio-mismatch test: whether `newCount` out of `total` is incompatible with the
    /// configured share `p0` at level `alpha`, at any number of looks (a two-sided normal-mixture test with the
    /// null variance `p0(1-p0)` known; Lindon and Malek's sequential multinomial test plays the same role).
    public static func splitMismatch(newCount: Int, total: Int, configured p0: Double, alpha: Double) -> Bool {
        guard total > 0 else { return false }
        if p0 <= 0 { return newCount > 0 }
        if p0 >= 1 { return newCount < total }
        let n = Double(total)
        let s = (Double(newCount) - n * p0) / (p0 * (1 - p0)).squareRoot()
        let rho = bestRho(vOpt: optimizedFor, alpha: alpha, oneSided: false)
        return abs(s) > twoSidedBoundary(v: n, alpha: alpha, rho: rho)
    }
}

/// Tables of `Sequential.exactMultiplier` per level, shared by every caller.
final class MultiplierTables: @unchecked Sendable {
    static let shared = MultiplierTables()
    static let stepsPerDoubling = 16.0
    static let doublings = 48.0
    private let lock = NSLock()
    private var tables: [Double: [Double]] = [:]

    func multiplier(n: Double, alpha: Double) -> Double {
        let table = self.table(alpha)
        let position = log2(n) * Self.stepsPerDoubling
        let i = Int(position)
        guard i + 1 < table.count else { return Sequential.exactMultiplier(n: n, alpha: alpha) }
        let f = position - Double(i)
        // Smooth in log n: linear interpolation is within 0.1% of the exact value (tested).
        return table[i] + (table[i + 1] - table[i]) * f
    }

    private func table(_ alpha: Double) -> [Double] {
        lock.lock()
        if let table = tables[alpha] {
            lock.unlock()
            return table
        }
        lock.unlock()
        let count = Int(Self.stepsPerDoubling * Self.doublings) + 1
        let table = (0..<count).map { Sequential.exactMultiplier(n: pow(2, Double($0) / Self.stepsPerDoubling), alpha: alpha) }
        lock.lock()
        tables[alpha] = table
        lock.unlock()
        return table
    }
}
