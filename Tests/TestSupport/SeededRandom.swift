import TrafficStats

/// The seeded generator randomised tests draw from (every run draws the same values, so a failure can be replayed
/// from its seed): the core's `SplitMix64`.
public typealias SeededRandom = SplitMix64
