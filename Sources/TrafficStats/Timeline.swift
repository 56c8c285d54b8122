/// One endpoint's figures over its window, bucket by bucket, for the dashboard's charts: requests and 5xx of
/// both services per count bucket, and p99 of both per latency slice.
///
/// A one-minute window has one-second count buckets and 15-second latency slices; longer windows (and `all`,
/// shown as its last 15 minutes) have ten-second buckets and one-minute slices: what the rings hold.
public struct EndpointTimeline: Sendable, Hashable {
    /// The log second the first count bucket starts at.
    public var start: Int64
    /// The length of a count bucket in seconds.
    public var bucketSeconds: Int64
    /// Requests to the current service per bucket, oldest first.
    public var currentRequests: [Int]
    /// Requests to the new service per bucket.
    public var newRequests: [Int]
    /// 5xx responses of the current service per bucket.
    public var currentErrors: [Int]
    /// 5xx responses of the new service per bucket.
    public var newErrors: [Int]
    /// The log second the first latency slice starts at.
    public var latencyStart: Int64
    /// The length of a latency slice in seconds.
    public var latencySliceSeconds: Int64
    /// The current service's p99 per slice (nil: no requests with a latency).
    public var currentP99: [Double?]
    /// The new service's p99 per slice.
    public var newP99: [Double?]

    /// Creates a timeline from its buckets.
    public init(start: Int64, bucketSeconds: Int64, currentRequests: [Int], newRequests: [Int], currentErrors: [Int],
                newErrors: [Int], latencyStart: Int64, latencySliceSeconds: Int64, currentP99: [Double?], newP99: [Double?]) {
        self.start = start
        self.bucketSeconds = bucketSeconds
        self.currentRequests = currentRequests
        self.newRequests = newRequests
        self.currentErrors = currentErrors
        self.newErrors = newErrors
        self.latencyStart = latencyStart
        self.latencySliceSeconds = latencySliceSeconds
        self.currentP99 = currentP99
        self.newP99 = newP99
    }

    /// The log second just after the last count bucket.
    public var end: Int64 { start + bucketSeconds * Int64(currentRequests.count) }

    static func make(window: TrafficWindow, to: Int64, current: WindowedStats, new: WindowedStats) -> EndpointTimeline {
        let seconds = window.seconds ?? 900
        let fine = seconds <= 60
        let bucket: Int64 = fine ? 1 : 10
        // The buckets the window's figures are summed from: from the one holding the window's first second.
        let lastBucket = floorDiv(to, bucket) * bucket
        let start = floorDiv(to - seconds + 1, bucket) * bucket
        let count = Int((lastBucket - start) / bucket) + 1
        let slice: Int64 = fine ? WindowedStats.fineSliceSeconds : WindowedStats.coarseSliceSeconds
        let lastSlice = floorDiv(to, slice) * slice
        let latencyStart = floorDiv(to - seconds + 1, slice) * slice
        let sliceCount = Int((lastSlice - latencyStart) / slice) + 1
        let c = current.buckets(from: start, count: count, bucketSeconds: bucket)
        let n = new.buckets(from: start, count: count, bucketSeconds: bucket)
        return EndpointTimeline(start: start, bucketSeconds: bucket, currentRequests: c.map(\.requests), newRequests: n.map(\.requests),
                                currentErrors: c.map(\.errors), newErrors: n.map(\.errors), latencyStart: latencyStart,
                                latencySliceSeconds: slice,
                                currentP99: current.p99Slices(from: latencyStart, count: sliceCount, sliceSeconds: slice),
                                newP99: new.p99Slices(from: latencyStart, count: sliceCount, sliceSeconds: slice))
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
}
