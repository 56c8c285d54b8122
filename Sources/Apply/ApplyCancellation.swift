import Foundation

/// A request, from another thread, that the change in flight stop before nginx takes it up.
///
/// The pipeline looks at it at its cancellation points: before the files are swapped in (nothing is
/// written), and after the swap and after validation, before the reload (the previous files are put back;
/// nginx, which reads files only on reload, never saw the change). From the reload on, the change completes
/// or reverts as usual. An emergency change (a rollback) is never cancelled: it is what cancels the others.
public final class ApplyCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var reason: String?

    /// Creates a cancellation that nothing has requested yet.
    public init() {}

    /// Asks the change in flight to stop at its next cancellation point, for `reason` (shown in its outcome).
    public func request(_ reason: String) {
        lock.withLock { self.reason = reason }
    }

    /// Forgets an earlier request (the applier calls it before each new change).
    public func reset() {
        lock.withLock { reason = nil }
    }

    /// Why the change in flight should stop, or nil when nothing asked it to.
    public var requested: String? {
        lock.withLock { reason }
    }
}
