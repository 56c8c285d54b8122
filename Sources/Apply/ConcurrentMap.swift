import Foundation

extension Array where Element: Sendable {
    /// The elements transformed by `transform`, all at once on the system's threads (each host of a fleet
    /// is read in the time of the slowest, not the sum), in the original order.
    public func concurrentMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        guard count > 1 else { return map(transform) }
        let results = ConcurrentSlots<T>(count: count)
        withoutActuallyEscaping(transform) { transform in
            let elements = self
            DispatchQueue.concurrentPerform(iterations: elements.count) { index in
                results.set(index, transform(elements[index]))
            }
        }
        return results.values
    }
}

/// The results of a concurrent map, one slot per element, behind a lock.
private final class ConcurrentSlots<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [T?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: T) { lock.withLock { slots[index] = value } }

    var values: [T] { lock.withLock { slots.compactMap { $0 } } }
}
