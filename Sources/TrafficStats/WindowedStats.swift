import Histogram

/// Request counts of one time bucket (one second or ten seconds) of one endpoint and backend.
struct CountBucket {
    var tag: Int64 = .min
    var requests: UInt32 = 0
    var s2xx: UInt32 = 0
    var s3xx: UInt32 = 0
    var s4xx: UInt32 = 0
    var s5xx: UInt32 = 0
    var maxMs: UInt32 = 0
    var hasLatency = false
}

/// Totals of counts over a window.
struct CountTotals {
    var requests = 0
    var s2xx = 0
    var s3xx = 0
    var s4xx = 0
    var s5xx = 0
    var maxMs: Int?

    mutating func add(_ b: CountBucket) {
        requests += Int(b.requests)
        s2xx += Int(b.s2xx)
        s3xx += Int(b.s3xx)
        s4xx += Int(b.s4xx)
        s5xx += Int(b.s5xx)
        if b.hasLatency { maxMs = max(maxMs ?? 0, Int(b.maxMs)) }
    }
}

/// A latency histogram covering one time slice, reused when the slice's ring position comes round again.
struct HistogramSlice {
    var tag: Int64 = .min
    var histogram: Histogram<UInt32>?
}

/// The sliding-window statistics of one endpoint on one backend, in bounded memory.
///
/// Counts live in per-second buckets for the last minute and ten-second buckets for the last 15+ minutes;
/// latencies in HdrHistograms (two significant digits, milliseconds) per 15-second slice for the last minute,
/// per minute for the last 15, and one for all time. Windows are computed at snapshot time by summing buckets
/// and merging histograms; a line older than a ring's reach only counts in the `all` figures.
final class WindowedStats {
    static let secondSlots = 64
    static let tenSecondSlots = 96
    static let fineSliceSeconds: Int64 = 15
    static let fineSlices = 5
    static let coarseSliceSeconds: Int64 = 60
    static let coarseSlices = 16

    // All mutable state sits behind pointers, so recording pays no exclusivity checks.
    private let seconds: UnsafeMutablePointer<CountBucket>
    private let tens: UnsafeMutablePointer<CountBucket>
    private let fine: UnsafeMutablePointer<HistogramSlice>
    private let coarse: UnsafeMutablePointer<HistogramSlice>
    private let allHistogram: UnsafeMutablePointer<Histogram<UInt32>>
    private let allStatus: UnsafeMutablePointer<CountTotals>

    init() {
        seconds = .allocate(capacity: Self.secondSlots)
        seconds.initialize(repeating: CountBucket(), count: Self.secondSlots)
        tens = .allocate(capacity: Self.tenSecondSlots)
        tens.initialize(repeating: CountBucket(), count: Self.tenSecondSlots)
        fine = .allocate(capacity: Self.fineSlices)
        fine.initialize(repeating: HistogramSlice(), count: Self.fineSlices)
        coarse = .allocate(capacity: Self.coarseSlices)
        coarse.initialize(repeating: HistogramSlice(), count: Self.coarseSlices)
        allHistogram = .allocate(capacity: 1)
        allHistogram.initialize(to: Self.latencyHistogram())
        allStatus = .allocate(capacity: 1)
        allStatus.initialize(to: CountTotals())
    }

    deinit {
        seconds.deallocate()
        tens.deallocate()
        fine.deinitialize(count: Self.fineSlices)
        fine.deallocate()
        coarse.deinitialize(count: Self.coarseSlices)
        coarse.deallocate()
        allHistogram.deinitialize(count: 1)
        allHistogram.deallocate()
        allStatus.deinitialize(count: 1)
        allStatus.deallocate()
    }

    /// An empty latency histogram (milliseconds, two significant digits) that grows as needed, sized for a
    /// second from the start (see `LatencyHistograms`).
    static func latencyHistogram() -> Histogram<UInt32> { LatencyHistograms.empty() }

    @inline(__always)
    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }

    @inline(__always)
    private static func slot(_ tag: Int64, _ count: Int) -> Int {
        Int(truncatingIfNeeded: UInt64(bitPattern: tag) % UInt64(count))
    }

    @inline(__always)
    private static func bump(_ b: inout CountBucket, status: Int, latency: Int?) {
        b.requests &+= 1
        switch status {
        case 200..<300: b.s2xx &+= 1
        case 300..<400: b.s3xx &+= 1
        case 400..<500: b.s4xx &+= 1
        case 500..<600: b.s5xx &+= 1
        default: break
        }
        if let latency {
            let ms = UInt32(clamping: latency)
            if !b.hasLatency || ms > b.maxMs { b.maxMs = ms }
            b.hasLatency = true
        }
    }

    /// Counts one request at log second `time` whose newest log second so far is `now`.
    @inline(__always)
    func record(time: Int64, now: Int64, status: Int, latency: Int?) {
        allStatus.pointee.requests &+= 1
        switch status {
        case 200..<300: allStatus.pointee.s2xx &+= 1
        case 300..<400: allStatus.pointee.s3xx &+= 1
        case 400..<500: allStatus.pointee.s4xx &+= 1
        case 500..<600: allStatus.pointee.s5xx &+= 1
        default: break
        }
        if let latency {
            allStatus.pointee.maxMs = max(allStatus.pointee.maxMs ?? 0, latency)
            LatencyHistograms.record(UInt64(max(0, latency)), in: &allHistogram.pointee)
        }
        if time > now - Int64(Self.secondSlots) {
            let i = Self.slot(time, Self.secondSlots)
            if seconds[i].tag != time { seconds[i] = CountBucket(tag: time) }
            Self.bump(&seconds[i], status: status, latency: latency)
        }
        let ten = Self.floorDiv(time, 10)
        if ten > Self.floorDiv(now, 10) - Int64(Self.tenSecondSlots) {
            let i = Self.slot(ten, Self.tenSecondSlots)
            if tens[i].tag != ten { tens[i] = CountBucket(tag: ten) }
            Self.bump(&tens[i], status: status, latency: latency)
        }
        guard let latency else { return }
        let value = UInt64(max(0, latency))
        let fineTag = Self.floorDiv(time, Self.fineSliceSeconds)
        if fineTag > Self.floorDiv(now, Self.fineSliceSeconds) - Int64(Self.fineSlices) {
            recordSlice(fine, Self.fineSlices, tag: fineTag, value: value)
        }
        let coarseTag = Self.floorDiv(time, Self.coarseSliceSeconds)
        if coarseTag > Self.floorDiv(now, Self.coarseSliceSeconds) - Int64(Self.coarseSlices) {
            recordSlice(coarse, Self.coarseSlices, tag: coarseTag, value: value)
        }
    }

    @inline(__always)
    private func recordSlice(_ ring: UnsafeMutablePointer<HistogramSlice>, _ count: Int, tag: Int64, value: UInt64) {
        let i = Self.slot(tag, count)
        if ring[i].tag != tag { startSlice(ring + i, tag: tag) }
        LatencyHistograms.record(value, in: &ring[i].histogram)
    }

    /// Empties a slice for a new tag: a copy of an empty histogram as large as the one it replaces (or, for the
    /// slot's first, as this backend's all-time one), never the library's element-by-element `reset`.
    @inline(never)
    private func startSlice(_ slice: UnsafeMutablePointer<HistogramSlice>, tag: Int64) {
        slice.pointee.tag = tag
        let range = slice.pointee.histogram?.highestTrackableValue ?? allHistogram.pointee.highestTrackableValue
        slice.pointee.histogram = LatencyHistograms.empty(covering: range)
    }

    /// Count totals over the log seconds `from...to`; ten-second buckets are used beyond the last minute, so
    /// such a window starts at the ten-second boundary at or before `from`.
    func counts(from: Int64, to: Int64?) -> CountTotals {
        guard let to else { return allStatus.pointee }
        var totals = CountTotals()
        if to - from < Int64(Self.secondSlots) {
            for i in 0..<Self.secondSlots where seconds[i].tag >= from && seconds[i].tag <= to {
                totals.add(seconds[i])
            }
        } else {
            let first = Self.floorDiv(from, 10), last = Self.floorDiv(to, 10)
            for i in 0..<Self.tenSecondSlots where tens[i].tag >= first && tens[i].tag <= last {
                totals.add(tens[i])
            }
        }
        return totals
    }

    /// Whether the per-second ring still holds log second `second` when the newest log second is `now`.
    static func holdsSecond(_ second: Int64, now: Int64) -> Bool {
        second <= now && second > now - Int64(secondSlots)
    }

    /// The requests counted in log second `second` (which `holdsSecond(_:now:)` must accept).
    func requests(atSecond second: Int64) -> Int {
        let bucket = seconds[Self.slot(second, Self.secondSlots)]
        return bucket.tag == second ? Int(bucket.requests) : 0
    }

    /// The first log second whose requests `counts(from:to:)` includes for a window `from...to` (ten-second
    /// buckets start at the boundary at or before `from`).
    static func countedFrom(_ from: Int64, to: Int64) -> Int64 {
        to - from < Int64(secondSlots) ? from : floorDiv(from, 10) * 10
    }

    /// Per-second request counts for `from...to` (at most the last minute), oldest first.
    func perSecond(from: Int64, to: Int64) -> [Int] {
        var out = [Int](repeating: 0, count: Int(max(0, to - from + 1)))
        for i in 0..<Self.secondSlots where seconds[i].tag >= from && seconds[i].tag <= to {
            out[Int(seconds[i].tag - from)] = Int(seconds[i].requests)
        }
        return out
    }

    /// Requests and 5xx per bucket of `bucketSeconds` (1: the per-second ring, 10: the ten-second ring) for the
    /// buckets starting at `from` (a multiple of `bucketSeconds`), `count` of them, oldest first.
    func buckets(from: Int64, count: Int, bucketSeconds: Int64) -> [(requests: Int, errors: Int)] {
        var out = [(requests: Int, errors: Int)](repeating: (0, 0), count: max(0, count))
        let ring = bucketSeconds == 1 ? seconds : tens
        let slots = bucketSeconds == 1 ? Self.secondSlots : Self.tenSecondSlots
        let first = Self.floorDiv(from, bucketSeconds)
        for i in 0..<slots {
            guard ring[i].tag != .min, ring[i].tag >= first, ring[i].tag - first < Int64(count) else { continue }
            out[Int(ring[i].tag - first)] = (Int(ring[i].requests), Int(ring[i].s5xx))
        }
        return out
    }

    /// The 99th-percentile latency of each latency slice (`sliceSeconds`: 15 for the fine ring, 60 for the
    /// coarse one) starting at `from` (a multiple of `sliceSeconds`), `count` of them, oldest first; nil where
    /// nothing was recorded.
    func p99Slices(from: Int64, count: Int, sliceSeconds: Int64) -> [Double?] {
        var out = [Double?](repeating: nil, count: max(0, count))
        let ring = sliceSeconds == Self.fineSliceSeconds ? fine : coarse
        let slots = sliceSeconds == Self.fineSliceSeconds ? Self.fineSlices : Self.coarseSlices
        let first = Self.floorDiv(from, sliceSeconds)
        for i in 0..<slots {
            guard ring[i].tag != .min, ring[i].tag >= first, ring[i].tag - first < Int64(count),
                  let histogram = ring[i].histogram, histogram.totalCount > 0 else { continue }
            out[Int(ring[i].tag - first)] = Double(histogram.valueAtPercentile(99))
        }
        return out
    }

    /// The latency histogram over `from...to` (merged slices: 15-second slices for up to a minute, one-minute
    /// slices beyond), or all time when `to` is nil; nil when no latency was recorded there.
    func latency(from: Int64, to: Int64?) -> Histogram<UInt32>? {
        guard let to else { return allHistogram.pointee.totalCount > 0 ? allHistogram.pointee : nil }
        let ring: UnsafeMutableBufferPointer<HistogramSlice>
        let size: Int64
        if to - from < 60 {
            ring = UnsafeMutableBufferPointer(start: fine, count: Self.fineSlices)
            size = Self.fineSliceSeconds
        } else {
            ring = UnsafeMutableBufferPointer(start: coarse, count: Self.coarseSlices)
            size = Self.coarseSliceSeconds
        }
        let first = Self.floorDiv(from, size), last = Self.floorDiv(to, size)
        var merged: Histogram<UInt32>?
        for slice in ring where slice.tag >= first && slice.tag <= last {
            guard let histogram = slice.histogram, histogram.totalCount > 0 else { continue }
            if merged == nil {
                merged = histogram
            } else {
                merged?.add(histogram)
            }
        }
        return merged
    }

    // MARK: Merging (the parallel backfill, Backfill.swift)

    /// Folds in the statistics of requests read after every request recorded here, recorded alone into `later`
    /// (from an empty state): afterwards this holds exactly what recording those requests here would have left.
    ///
    /// `now` is the newest log second of all the lines read before `later`'s (nil: none). A ring slot only ever
    /// moves to newer tags, and a request enters a ring only while its slot tag is within the ring's reach of the
    /// newest second so far; so a tag of `later` whose requests were all within reach of `later`'s own newest
    /// second counts here exactly when it is within reach of `now` too, and then it replaces an older tag or adds
    /// to the same one.
    func merge(_ later: WindowedStats, now: Int64?) {
        allStatus.pointee.requests += later.allStatus.pointee.requests
        allStatus.pointee.s2xx += later.allStatus.pointee.s2xx
        allStatus.pointee.s3xx += later.allStatus.pointee.s3xx
        allStatus.pointee.s4xx += later.allStatus.pointee.s4xx
        allStatus.pointee.s5xx += later.allStatus.pointee.s5xx
        if let maxMs = later.allStatus.pointee.maxMs { allStatus.pointee.maxMs = max(allStatus.pointee.maxMs ?? 0, maxMs) }
        if later.allHistogram.pointee.totalCount > 0 { LatencyHistograms.add(later.allHistogram.pointee, into: &allHistogram.pointee) }
        Self.mergeCounts(seconds, later.seconds, Self.secondSlots, reachFrom: now.map { $0 - Int64(Self.secondSlots) })
        Self.mergeCounts(tens, later.tens, Self.tenSecondSlots, reachFrom: now.map { Self.floorDiv($0, 10) - Int64(Self.tenSecondSlots) })
        Self.mergeSlices(fine, later.fine, Self.fineSlices,
                         reachFrom: now.map { Self.floorDiv($0, Self.fineSliceSeconds) - Int64(Self.fineSlices) })
        Self.mergeSlices(coarse, later.coarse, Self.coarseSlices,
                         reachFrom: now.map { Self.floorDiv($0, Self.coarseSliceSeconds) - Int64(Self.coarseSlices) })
    }

    /// Merges a count ring; tags at or below `reachFrom` were out of reach when `later`'s requests came.
    private static func mergeCounts(_ ring: UnsafeMutablePointer<CountBucket>, _ later: UnsafeMutablePointer<CountBucket>, _ count: Int,
                                    reachFrom: Int64?) {
        for i in 0..<count {
            let b = later[i]
            guard b.tag != .min, b.requests > 0, reachFrom.map({ b.tag > $0 }) ?? true else { continue }
            if ring[i].tag == b.tag {
                ring[i].requests &+= b.requests
                ring[i].s2xx &+= b.s2xx
                ring[i].s3xx &+= b.s3xx
                ring[i].s4xx &+= b.s4xx
                ring[i].s5xx &+= b.s5xx
                if b.hasLatency {
                    if !ring[i].hasLatency || b.maxMs > ring[i].maxMs { ring[i].maxMs = b.maxMs }
                    ring[i].hasLatency = true
                }
            } else if ring[i].tag == .min || b.tag > ring[i].tag {
                ring[i] = b
            }
        }
    }

    /// Merges a latency-slice ring, as `mergeCounts`.
    private static func mergeSlices(_ ring: UnsafeMutablePointer<HistogramSlice>, _ later: UnsafeMutablePointer<HistogramSlice>,
                                    _ count: Int, reachFrom: Int64?) {
        for i in 0..<count {
            guard later[i].tag != .min, let histogram = later[i].histogram, histogram.totalCount > 0,
                  reachFrom.map({ later[i].tag > $0 }) ?? true else { continue }
            if ring[i].tag == later[i].tag, ring[i].histogram != nil {
                LatencyHistograms.add(histogram, into: &ring[i].histogram)
            } else if ring[i].tag == later[i].tag || ring[i].tag == .min || later[i].tag > ring[i].tag {
                ring[i].tag = later[i].tag
                ring[i].histogram = histogram
            }
        }
    }

    /// Whether `other` holds the same figures in every bucket and slice, shown in a window or not (the
    /// backfill tests compare a merged state with a sequential one through it).
    func holdsSameFigures(as other: WindowedStats) -> Bool {
        func same(_ a: CountBucket, _ b: CountBucket) -> Bool {
            a.tag == b.tag && a.requests == b.requests && a.s2xx == b.s2xx && a.s3xx == b.s3xx && a.s4xx == b.s4xx
                && a.s5xx == b.s5xx && a.hasLatency == b.hasLatency && (!a.hasLatency || a.maxMs == b.maxMs)
        }
        func same(_ a: Histogram<UInt32>?, _ b: Histogram<UInt32>?) -> Bool {
            let x = (a?.totalCount ?? 0) > 0 ? a : nil, y = (b?.totalCount ?? 0) > 0 ? b : nil
            guard let x, let y else { return x == nil && y == nil }
            return x.totalCount == y.totalCount && x.max == y.max && x.min == y.min
                && [1.0, 10, 50, 90, 99, 99.9].allSatisfy { x.valueAtPercentile($0) == y.valueAtPercentile($0) }
        }
        func same(_ a: HistogramSlice, _ b: HistogramSlice) -> Bool {
            let aEmpty = (a.histogram?.totalCount ?? 0) == 0, bEmpty = (b.histogram?.totalCount ?? 0) == 0
            return aEmpty && bEmpty || (a.tag == b.tag && same(a.histogram, b.histogram))
        }
        let a = allStatus.pointee, b = other.allStatus.pointee
        guard a.requests == b.requests, a.s2xx == b.s2xx, a.s3xx == b.s3xx, a.s4xx == b.s4xx, a.s5xx == b.s5xx, a.maxMs == b.maxMs,
              same(allHistogram.pointee, other.allHistogram.pointee) else { return false }
        return (0..<Self.secondSlots).allSatisfy { same(seconds[$0], other.seconds[$0]) }
            && (0..<Self.tenSecondSlots).allSatisfy { same(tens[$0], other.tens[$0]) }
            && (0..<Self.fineSlices).allSatisfy { same(fine[$0], other.fine[$0]) }
            && (0..<Self.coarseSlices).allSatisfy { same(coarse[$0], other.coarse[$0]) }
    }

    /// Approximate bytes held (buckets and histogram counts).
    var footprint: Int {
        var bytes = (Self.secondSlots + Self.tenSecondSlots) * MemoryLayout<CountBucket>.stride
        for i in 0..<Self.fineSlices { bytes += fine[i].histogram?.estimatedFootprintInBytes ?? 0 }
        for i in 0..<Self.coarseSlices { bytes += coarse[i].histogram?.estimatedFootprintInBytes ?? 0 }
        return bytes + allHistogram.pointee.estimatedFootprintInBytes
    }
}

/// The latency histograms' storage: every new or emptied histogram is a copy of an empty one per range
/// (1,024 ms · 2^k), and one grows by being added into a larger empty copy.
///
/// The histogram library empties (`reset`) and grows (`autoResize`) element by element through generic code, about
/// 70,000 and 300,000 instructions a time: with a slice emptied every 15 seconds per endpoint and backend, and every
/// backfill range's histograms growing from empty, that cost more than recording the lines. A copy shares the
/// empty storage until its first record copies it (a `memcpy`); adding is the library's own loop, specialised
/// here. The counts, totals, minimum and maximum are exactly those the library's own resizing would hold.
enum LatencyHistograms {
    /// Empty histograms covering 1,024 ms · 2^k (k = 0 ..< 24); a larger value grows through the library.
    private static let templates: [Histogram<UInt32>] = (0..<24).map { k in
        var histogram = Histogram<UInt32>(lowestDiscernibleValue: 1, highestTrackableValue: UInt64(1024) << UInt64(k),
                                          numberOfSignificantValueDigits: .two)
        histogram.autoResize = true
        return histogram
    }

    /// An empty histogram covering at least 0...1,024 ms.
    static func empty() -> Histogram<UInt32> { templates[0] }

    /// An empty histogram covering at least `0...highest` (the largest template beyond that).
    static func empty(covering highest: UInt64) -> Histogram<UInt32> {
        var k = 0
        while k + 1 < templates.count, templates[k].highestTrackableValue < highest { k += 1 }
        return templates[k]
    }

    /// Records one value, growing the histogram first when the value is beyond its range.
    @inline(__always)
    static func record(_ value: UInt64, in histogram: inout Histogram<UInt32>) {
        histogram.recordLatency(value)
    }

    /// Records one value into a histogram if there is one (optional chaining works in place: nothing is copied).
    @inline(__always)
    static func record(_ value: UInt64, in histogram: inout Histogram<UInt32>?) {
        histogram?.recordLatency(value)
    }

    /// Adds `other` into `histogram`, growing it first when `other` holds larger values than it covers.
    static func add(_ other: Histogram<UInt32>, into histogram: inout Histogram<UInt32>) {
        if other.max > histogram.highestTrackableValue { grow(&histogram, covering: other.max) }
        histogram.add(other)
    }

    /// Adds `other` into `histogram` if there is one.
    static func add(_ other: Histogram<UInt32>, into histogram: inout Histogram<UInt32>?) {
        histogram?.addLatencies(other)
    }

    @inline(never)
    fileprivate static func grow(_ histogram: inout Histogram<UInt32>, covering value: UInt64) {
        var larger = empty(covering: value)
        guard larger.highestTrackableValue > histogram.highestTrackableValue else { return }
        larger.add(histogram)
        histogram = larger
    }

}

extension Histogram where Count == UInt32 {
    /// Records one latency, growing through `LatencyHistograms` when it is beyond the range (in place).
    @inline(__always)
    fileprivate mutating func recordLatency(_ value: UInt64) {
        if value > highestTrackableValue { LatencyHistograms.grow(&self, covering: value) }
        record(value)
    }

    /// Adds another histogram's latencies, growing through `LatencyHistograms` first when needed (in place).
    fileprivate mutating func addLatencies(_ other: Histogram<UInt32>) {
        LatencyHistograms.add(other, into: &self)
    }
}
