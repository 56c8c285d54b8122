import Foundation

/// The time source of the apply pipeline: wall time for journal records, a monotonic reading for
/// durations and deadlines, and a sleep for polling; tests inject a manual one.
public struct ApplyClock: Sendable {
    /// The current wall-clock time.
    public var now: @Sendable () -> Date
    /// A monotonic reading (from an arbitrary origin) used for durations and deadlines.
    public var monotonic: @Sendable () -> Duration
    /// Blocks the calling thread for about the given time.
    public var sleep: @Sendable (Duration) -> Void

    /// Creates a clock from its three functions.
    public init(now: @escaping @Sendable () -> Date,
                monotonic: @escaping @Sendable () -> Duration,
                sleep: @escaping @Sendable (Duration) -> Void) {
        self.now = now
        self.monotonic = monotonic
        self.sleep = sleep
    }

    /// The system clock: `Date()`, `ContinuousClock`, and `usleep`.
    public static let system: ApplyClock = {
        let origin = ContinuousClock.now
        return ApplyClock(
            now: { Date() },
            monotonic: { ContinuousClock.now - origin },
            sleep: { duration in
                let micros = max(0, duration.millisecondsDouble * 1000)
                usleep(UInt32(min(micros, Double(UInt32.max))))
            })
    }()
}

extension ApplyClock {
    /// The clock's monotonic reading in seconds, the form the log follower and the simulator pace with.
    public var monotonicSeconds: @Sendable () -> Double {
        let monotonic = self.monotonic
        return {
            let (seconds, attoseconds) = monotonic().components
            return Double(seconds) + Double(attoseconds) / 1e18
        }
    }

    /// The clock's wall time in whole Unix seconds, the form log times take.
    public var unixSeconds: @Sendable () -> Int64 {
        let now = self.now
        return { Int64(now().timeIntervalSince1970) }
    }
}
