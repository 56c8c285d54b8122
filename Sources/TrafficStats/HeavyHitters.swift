/// A bounded top-k counter of keys (Metwally's space-saving algorithm) with a label per key.
///
/// Keeps at most `capacity` keys; a new key replaces the least counted one and inherits its count (as an
/// over-estimate error), so every key with more than `total / capacity` occurrences is kept. Not thread-safe.
public struct HeavyHitters: Sendable {
    /// How many keys are monitored at most.
    public let capacity: Int
    private var keys: [UInt64] = []
    private var counts: [UInt64] = []
    private var errors: [UInt64] = []
    private var labels: [String] = []
    // Min-heap of slot indices by count, and each slot's position in the heap.
    private var heap: [Int] = []
    private var heapPosition: [Int] = []
    private var slotOfKey: KeyIndex
    /// Occurrences counted in total.
    public private(set) var total: UInt64 = 0

    /// Creates an empty counter.
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        slotOfKey = KeyIndex(capacity: self.capacity)
    }

    /// Keys monitored now (never more than `capacity`).
    public var count: Int { keys.count }

    /// Whether the key is monitored.
    public func contains(_ key: UInt64) -> Bool { slotOfKey.find(key) >= 0 }

    /// Counts one occurrence of a monitored key; returns false when the key is not monitored (call `insert`).
    @inline(__always)
    public mutating func increment(_ key: UInt64) -> Bool {
        let slot = slotOfKey.find(key)
        guard slot >= 0 else { return false }
        counts[slot] &+= 1
        total &+= 1
        siftDown(heapPosition[slot])
        return true
    }

    /// Counts one occurrence of a key not yet monitored, replacing the least counted key when full.
    public mutating func insert(_ key: UInt64, label: String) {
        if increment(key) { return }
        total &+= 1
        if keys.count < capacity {
            let slot = keys.count
            keys.append(key)
            counts.append(1)
            errors.append(0)
            labels.append(label)
            heapPosition.append(heap.count)
            heap.append(slot)
            slotOfKey.insert(key, slot: slot)
            siftUp(heap.count - 1)
            return
        }
        let slot = heap[0]
        slotOfKey.remove(keys[slot])
        errors[slot] = counts[slot]
        counts[slot] &+= 1
        keys[slot] = key
        labels[slot] = label
        slotOfKey.insert(key, slot: slot)
        siftDown(0)
    }

    /// The `limit` most counted keys' labels and counts, most first.
    public func top(_ limit: Int) -> [(label: String, count: UInt64, error: UInt64)] {
        let order = keys.indices.sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : labels[$0] < labels[$1] }
        return order.prefix(limit).map { (labels[$0], counts[$0], errors[$0]) }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        heapPosition[heap[a]] = a
        heapPosition[heap[b]] = b
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            if counts[heap[i]] >= counts[heap[parent]] { break }
            swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        while true {
            let left = 2 * i + 1
            if left >= n { break }
            var smallest = left
            let right = left + 1
            if right < n, counts[heap[right]] < counts[heap[left]] { smallest = right }
            if counts[heap[smallest]] >= counts[heap[i]] { break }
            swapAt(i, smallest)
            i = smallest
        }
    }
}

/// A fixed-size open-addressing map from already-hashed 64-bit keys to slot numbers (linear probing with
/// backward-shift deletion), sized at least twice the number of keys it will hold.
struct KeyIndex: Sendable {
    private var keys: [UInt64]
    private var slots: [Int32]
    private let mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = Array(repeating: 0, count: size)
        slots = Array(repeating: -1, count: size)
        mask = size - 1
    }

    @inline(__always)
    private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: key ^ (key >> 29)) & mask }

    /// The slot stored for a key, or -1.
    @inline(__always)
    func find(_ key: UInt64) -> Int {
        var i = home(key)
        while true {
            let slot = slots[i]
            if slot < 0 { return -1 }
            if keys[i] == key { return Int(slot) }
            i = (i + 1) & mask
        }
    }

    mutating func insert(_ key: UInt64, slot: Int) {
        var i = home(key)
        while slots[i] >= 0, keys[i] != key { i = (i + 1) & mask }
        keys[i] = key
        slots[i] = Int32(slot)
    }

    mutating func remove(_ key: UInt64) {
        var i = home(key)
        while true {
            if slots[i] < 0 { return }
            if keys[i] == key { break }
            i = (i + 1) & mask
        }
        // Backward-shift the following entries of the cluster so lookups never stop early.
        var hole = i
        var j = (i + 1) & mask
        while slots[j] >= 0 {
            let want = home(keys[j])
            let between = hole <= j ? (want <= hole || want > j) : (want <= hole && want > j)
            if between {
                keys[hole] = keys[j]
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        slots[hole] = -1
    }
}
