import Foundation
import Histogram
import Testing
@testable import TrafficStats

/// The latency histograms grown and emptied through `LatencyHistograms` (copies of empty ones, growth by adding)
/// hold exactly what the library's own auto-resizing histograms hold.
@Suite struct LatencyHistogramTests {
    static func libraryHistogram() -> Histogram<UInt32> {
        var histogram = Histogram<UInt32>(lowestDiscernibleValue: 1, highestTrackableValue: 1024, numberOfSignificantValueDigits: .two)
        histogram.autoResize = true
        return histogram
    }

    static func same(_ a: Histogram<UInt32>, _ b: Histogram<UInt32>) -> Bool {
        a == b && a.totalCount == b.totalCount && a.min == b.min && a.max == b.max
            && [0.0, 1, 10, 50, 90, 95, 99, 99.9, 100].allSatisfy { a.valueAtPercentile($0) == b.valueAtPercentile($0) }
    }

    @Test func recordingAndGrowingMatchTheLibrary() {
        var random = SplitMix64(seed: 0x1A7E_2C11)
        var ours = WindowedStats.latencyHistogram(), theirs = Self.libraryHistogram()
        var optional: Histogram<UInt32>? = WindowedStats.latencyHistogram()
        for i in 0..<20_000 {
            // Mostly tens of milliseconds, some seconds, a few minutes and beyond every template (about 10^12 ms).
            let roll = random.next() % 1000
            let value: UInt64 = roll < 900 ? random.next() % 300 : roll < 990 ? random.next() % 20_000
                : roll < 999 ? random.next() % 10_000_000 : 1 << 40 + random.next() % 1000
            LatencyHistograms.record(value, in: &ours)
            LatencyHistograms.record(value, in: &optional)
            theirs.record(value)
            if i % 4000 == 0 { #expect(Self.same(ours, theirs)) }
        }
        #expect(Self.same(ours, theirs))
        #expect(optional.map { Self.same($0, theirs) } == true)
        var none: Histogram<UInt32>?
        LatencyHistograms.record(5, in: &none)
        #expect(none == nil)
    }

    @Test func addingMatchesRecordingInOne() {
        var random = SplitMix64(seed: 0xADD5)
        var whole = Self.libraryHistogram()
        var parts = (0..<4).map { _ in WindowedStats.latencyHistogram() }
        for i in 0..<8000 {
            // Each part's values reach further, so adding a later part grows the sum.
            let value = random.next() % (UInt64(500) << UInt64(3 * (i % 4)))
            whole.record(value)
            LatencyHistograms.record(value, in: &parts[i % 4])
        }
        var sum = WindowedStats.latencyHistogram()
        for part in parts { LatencyHistograms.add(part, into: &sum) }
        #expect(Self.same(sum, whole))
        var optional: Histogram<UInt32>? = parts[0]
        for part in parts.dropFirst() { LatencyHistograms.add(part, into: &optional) }
        #expect(optional.map { Self.same($0, whole) } == true)
    }

    @Test func emptyCopiesAreEmptyAndCoverTheirRange() {
        for highest: UInt64 in [0, 1, 1024, 1025, 50_000, 1 << 30, .max] {
            let empty = LatencyHistograms.empty(covering: highest)
            #expect(empty.totalCount == 0)
            #expect(empty.highestTrackableValue >= min(highest, UInt64(1024) << 23))
        }
        // Recording into a copy leaves the shared empty one empty.
        var copy = LatencyHistograms.empty(covering: 5000)
        LatencyHistograms.record(4000, in: &copy)
        #expect(copy.totalCount == 1)
        #expect(LatencyHistograms.empty(covering: 5000).totalCount == 0)
    }
}
