#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The state of cutting a stream of reads into lines: the unfinished last line carried to the next read, and an
/// over-long line being skipped.
///
/// The follower and the backfill's range reader share it, so a line is delivered or reported the same way
/// wherever the reads fall: a line longer than `maxLineLength` is always reported (length and first 256 bytes),
/// never delivered.
public struct LineSplitter: Sendable {
    /// The unfinished last line (without a newline yet).
    public private(set) var pending: [UInt8] = []
    private var discarding = false
    private var discardReport = true
    private var discardedCount = 0
    private var discardHead: [UInt8] = []

    /// Bytes of an over-long line kept for its report.
    public static let oversizedHeadBytes = 256

    /// Creates a splitter at a line start.
    public init() {}

    /// Whether the next byte starts a line (nothing carried, nothing being skipped).
    public var isAtLineStart: Bool { pending.isEmpty && !discarding }

    /// Forgets the carried and skipped state (the file was truncated and is read again from its start).
    public mutating func reset() {
        pending.removeAll(keepingCapacity: true)
        discarding = false
        discardReport = true
        discardedCount = 0
        discardHead.removeAll()
    }

    /// Drops the bytes up to the next newline without reporting them (reading started in the middle of a line).
    public mutating func skipRestOfLine() {
        discarding = true
        discardReport = false
    }

    /// Copies the carried bytes to the front of `buffer` (which must hold `maxLineLength` bytes more than a read)
    /// and returns their count; the next read goes after them.
    public func moveCarried(to buffer: UnsafeMutableRawPointer) -> Int {
        let carried = pending.count
        if carried > 0 {
            pending.withUnsafeBytes { if let source = $0.baseAddress { buffer.copyMemory(from: source, byteCount: carried) } }
        }
        return carried
    }

    /// Hands out the complete lines in `buffer[0..<end]`, whose first `carried` bytes are the ones `moveCarried`
    /// put there, and keeps the unfinished rest; returns the number of over-long lines reported.
    @inline(__always)
    public mutating func split(_ buffer: UnsafeMutableRawPointer, carried: Int, end: Int, maxLineLength: Int,
                               onOversized: (UnsafeRawBufferPointer, Int) -> Void,
                               onLine: (UnsafeRawBufferPointer) -> Void) -> Int {
        var oversized = 0
        var start = 0
        // Bytes before `scanFrom` were already searched for newlines in an earlier read.
        var scanFrom = carried
        while scanFrom < end, let hit = memchr(buffer + scanFrom, 0x0A, end - scanFrom) {
            let nl = UnsafeMutableRawPointer(hit) - buffer
            if discarding {
                let length = discardedCount + (nl - start)
                if discardReport {
                    oversized += 1
                    discardHead.withUnsafeBytes { onOversized($0, length) }
                }
                discarding = false
                discardReport = true
                discardedCount = 0
                discardHead.removeAll()
            } else if nl - start > maxLineLength {
                oversized += 1
                onOversized(UnsafeRawBufferPointer(start: buffer + start, count: min(nl - start, Self.oversizedHeadBytes)), nl - start)
            } else {
                onLine(UnsafeRawBufferPointer(start: buffer + start, count: nl - start))
            }
            start = nl + 1
            scanFrom = start
        }
        let rest = end - start
        pending.removeAll(keepingCapacity: true)
        if discarding {
            discardedCount += rest
        } else if rest > maxLineLength {
            discarding = true
            discardedCount = rest
            discardHead = Array(UnsafeRawBufferPointer(start: buffer + start, count: min(rest, Self.oversizedHeadBytes)))
        } else {
            pending.append(contentsOf: UnsafeRawBufferPointer(start: buffer + start, count: rest))
        }
        return oversized
    }
}

/// A reader of the complete lines in one byte range of a log file, for a backfill thread of its own.
///
/// It cuts lines exactly as `LogFollower` does (same `LineSplitter`, same longest line), so reading a file in
/// ranges hands out the same lines as following it from the start. Not thread-safe: one per thread; many readers
/// may `pread` the same file descriptor at once.
public final class LogRangeReader {
    private let chunkSize: Int
    /// Longest line delivered (as the follower's `maxLineLength`).
    public let maxLineLength: Int
    private let buffer: UnsafeMutableRawPointer
    private let capacity: Int

    /// Creates a reader with its own buffer.
    public init(chunkSize: Int = 1 << 20, maxLineLength: Int = 64 * 1024) {
        self.chunkSize = max(4096, chunkSize)
        self.maxLineLength = max(16, min(maxLineLength, self.chunkSize))
        capacity = self.chunkSize + self.maxLineLength + 1
        buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Hands out the lines of `fd` in `start..<end` (`start` a line start, `end` just past a newline) and reports
    /// over-long ones; returns the bytes read and the over-long lines.
    @inline(__always)
    public func read(_ fd: Int32, from start: Int64, to end: Int64,
                     onOversized: (UnsafeRawBufferPointer, Int) -> Void,
                     onLine: (UnsafeRawBufferPointer) -> Void) -> (bytes: Int64, oversized: Int) {
        var splitter = LineSplitter()
        var offset = start
        var oversized = 0
        while offset < end {
            let carried = splitter.moveCarried(to: buffer)
            let want = Int(min(Int64(chunkSize), end - offset))
            let n = pread(fd, buffer + carried, want, off_t(offset))
            if n <= 0 { break }
            offset += Int64(n)
            oversized += splitter.split(buffer, carried: carried, end: carried + n, maxLineLength: maxLineLength,
                                        onOversized: onOversized, onLine: onLine)
        }
        // A range ends after a newline, so nothing is left unfinished unless the file was cut shorter meanwhile
        // (copytruncate): the follower then notices the truncation and reads the new start.
        return (offset - start, oversized)
    }

    /// The offset of the first line starting at or after `offset` (just past the first newline at `offset - 1`
    /// or later), at most `end`.
    public func lineStart(_ fd: Int32, atOrAfter offset: Int64, end: Int64) -> Int64 {
        guard offset > 0 else { return 0 }
        var at = offset - 1
        while at < end {
            let want = Int(min(Int64(chunkSize), end - at))
            let n = pread(fd, buffer, want, off_t(at))
            if n <= 0 { return end }
            if let hit = memchr(buffer, 0x0A, n) { return min(end, at + Int64(UnsafeMutableRawPointer(hit) - buffer) + 1) }
            at += Int64(n)
        }
        return end
    }
}
