import Apply
import Foundation

/// A manual clock for pipeline tests: time moves only when the pipeline sleeps or a test advances it.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var elapsed: Duration = .zero
    private let start = Date(timeIntervalSince1970: 1_790_000_000)

    /// Moves time forward.
    func advance(_ by: Duration) {
        lock.withLock { elapsed += by }
    }

    /// The clock as the pipeline takes it.
    var applyClock: ApplyClock {
        ApplyClock(
            now: { [self] in start.addingTimeInterval(lock.withLock { elapsed }.millisecondsDouble / 1000) },
            monotonic: { [self] in lock.withLock { elapsed } },
            sleep: { [self] duration in advance(duration) })
    }
}
