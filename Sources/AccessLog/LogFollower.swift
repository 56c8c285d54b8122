#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The role of an access log: which service its lines went to.
public enum LogRole: String, Sendable, Hashable, CaseIterable {
    /// The main log: requests served by the current (legacy) service.
    case main
    /// The migration log: requests proxied to the new service.
    case migration
}

/// One access log file to follow, with its role and format.
public struct LogSource: Sendable, Hashable {
    /// The file's path (as nginx writes it, or a rotated part such as `access.log.1`).
    public var path: String
    /// Which service the lines went to.
    public var role: LogRole
    /// The compiled format the lines are written in.
    public var format: LogFormat
    /// The fleet host whose lines the file holds (a `{host}` path), nil for this machine's own log.
    public var host: String?

    /// Creates a source.
    public init(path: String, role: LogRole, format: LogFormat = .combined, host: String? = nil) {
        self.path = path
        self.role = role
        self.format = format
        self.host = host
    }
}

/// A log file that exists but cannot be opened, or is no regular file (a directory, a FIFO, a device).
public struct LogFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file's path.
    public let path: String
    /// The `errno` of the failed open (EISDIR, or EINVAL for another kind of non-regular file).
    public let code: Int32
    /// What the path is when it is no regular file ("a directory", "a FIFO (named pipe)", ...).
    public var kind: String? = nil

    public var description: String {
        if let kind {
            return "\(path) is \(kind), not a log file: Cutover reads the regular files nginx appends to; "
                + "point the log option (or the config's access_log) at the file itself"
        }
        let reason = String(cString: strerror(code))
        if code == EACCES {
            return "cannot read \(path): \(reason); run with a user in the log files' group (often adm) or adjust their permissions"
        }
        return "cannot open \(path): \(reason); check the path and the file"
    }
}

/// Where following starts in each file.
public enum LogStart: Sendable, Hashable {
    /// Read whole files from their first byte.
    case beginning
    /// Start at the end; with a look-back, first re-read the lines whose log time is within that many seconds
    /// of the newest line across all files.
    case end(lookBackSeconds: Int64?)
}

/// A source of monotonic seconds, injected so that following can be tested without sleeping.
public typealias MonotonicClock = @Sendable () -> Double

/// The system's monotonic clock in seconds.
public let systemMonotonicClock: MonotonicClock = {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A reader that follows access log files through appends and rotations and hands out complete lines.
///
/// Each `poll` reads what was appended since the last one, in big chunks, and calls the handler once per
/// complete line (without its newline). Rotation by rename (the old file is drained until it stays idle,
/// then closed), by copytruncate (reading restarts at the start) and by delete-and-create are handled; a last
/// line without its newline waits for it; lines longer than `maxLineLength` are reported, not delivered.
/// Not thread-safe: one task polls.
public final class LogFollower {
    /// The files followed, in the order given.
    public let sources: [LogSource]

    private struct Cursor {
        var fd: Int32
        var device: UInt64
        var inode: UInt64
        var offset: Int64
        var lines = LineSplitter()
        var lastByte: UInt8 = 0x0A
        var lastActivity: Double
    }

    private final class FileState {
        var current: Cursor?
        var retiring: [Cursor] = []
        init() {}
    }

    private let files: [FileState]
    private let clock: MonotonicClock
    private let chunkSize: Int
    /// Longest line delivered; longer lines are reported through `onOversized`.
    public let maxLineLength: Int
    private let retireAfter: Double
    private let buffer: UnsafeMutableRawPointer
    private let bufferCapacity: Int

    /// Lines dropped for being longer than `maxLineLength`, per source index.
    public private(set) var oversizedLines: [Int]
    /// Why a source's file cannot be opened (other than not existing yet), per source index; nil when fine.
    public private(set) var fileErrors: [LogFileError?]

    /// Opens the sources and positions each at its start.
    ///
    /// - Parameters:
    ///   - retireAfter: seconds a renamed or deleted file must stay idle before it is closed.
    public init(sources: [LogSource], start: LogStart = .end(lookBackSeconds: nil), clock: @escaping MonotonicClock = systemMonotonicClock,
                chunkSize: Int = 1 << 20, maxLineLength: Int = 64 * 1024, retireAfter: Double = 5) {
        self.sources = sources
        self.clock = clock
        self.chunkSize = max(4096, chunkSize)
        self.maxLineLength = max(16, min(maxLineLength, self.chunkSize))
        self.retireAfter = retireAfter
        bufferCapacity = self.chunkSize + self.maxLineLength + 1
        buffer = .allocate(byteCount: bufferCapacity, alignment: 16)
        files = sources.map { _ in FileState() }
        oversizedLines = Array(repeating: 0, count: sources.count)
        let now = clock()
        fileErrors = Array(repeating: nil, count: sources.count)
        for index in sources.indices {
            if let cursor = open(index, now: now) {
                files[index].current = cursor
            }
        }
        position(start)
    }

    deinit {
        for file in files {
            if let fd = file.current?.fd { close(fd) }
            for cursor in file.retiring { close(cursor.fd) }
        }
        buffer.deallocate()
    }

    private func open(_ index: Int, now: Double) -> Cursor? {
        let path = sources[index].path
        #if canImport(Glibc)
        // Non-blocking, so a FIFO's open returns at once (and is refused below) instead of waiting for a writer.
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        #else
        let fd = Darwin.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        #endif
        guard fd >= 0 else {
            let code = errno
            // A missing file is normal (not yet created, or between delete and create); anything else is reported.
            fileErrors[index] = code == ENOENT ? nil : LogFileError(path: path, code: code)
            return nil
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            fileErrors[index] = LogFileError(path: path, code: errno)
            close(fd)
            return nil
        }
        if let kind = Self.nonRegularKind(st.st_mode) {
            fileErrors[index] = LogFileError(path: path, code: kind == "a directory" ? EISDIR : EINVAL, kind: kind)
            close(fd)
            return nil
        }
        fileErrors[index] = nil
        return Cursor(fd: fd, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), offset: 0, lastActivity: now)
    }

    /// What a file of `mode` is when it is no regular file; nil for a regular file.
    static func nonRegularKind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR, S_IFBLK: return "a device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }

    private func fileSize(_ fd: Int32) -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return 0 }
        return Int64(st.st_size)
    }

    // MARK: Start position

    private func position(_ start: LogStart) {
        guard case .end(let lookBack) = start else { return }
        var target: Int64?
        if let lookBack {
            var newest: Int64?
            for (index, file) in files.enumerated() {
                guard let cursor = file.current else { continue }
                let parser = LogLineParser(format: sources[index].format)
                if let time = lastLineTime(cursor.fd, parser: parser) { newest = max(newest ?? time, time) }
            }
            if let newest { target = newest - lookBack }
        }
        for (index, file) in files.enumerated() {
            guard var cursor = file.current else { continue }
            let size = fileSize(cursor.fd)
            if let target, sources[index].format.hasTime {
                let parser = LogLineParser(format: sources[index].format)
                cursor.offset = firstOffset(cursor.fd, size: size, atOrAfter: target, parser: parser)
            } else {
                cursor.offset = size
                if size > 0 {
                    var byte: UInt8 = 0
                    if pread(cursor.fd, &byte, 1, off_t(size - 1)) == 1, byte != 0x0A {
                        // Mid-line: drop the rest of that line silently, it started before we did.
                        cursor.lines.skipRestOfLine()
                    }
                    cursor.lastByte = byte
                }
            }
            if cursor.offset > 0 {
                var byte: UInt8 = 0x0A
                _ = pread(cursor.fd, &byte, 1, off_t(cursor.offset - 1))
                cursor.lastByte = byte
            }
            file.current = cursor
        }
    }

    /// Reads up to `count` bytes at `offset` into the shared buffer; returns the byte count read.
    private func readAt(_ fd: Int32, _ offset: Int64, _ count: Int) -> Int {
        let n = pread(fd, buffer, min(count, bufferCapacity), off_t(offset))
        return max(0, n)
    }

    private func lastLineTime(_ fd: Int32, parser: LogLineParser) -> Int64? {
        let size = fileSize(fd)
        guard size > 0 else { return nil }
        let window = Int64(min(Int64(chunkSize), size))
        let n = readAt(fd, size - window, Int(window))
        let bytes = UnsafeRawBufferPointer(start: buffer, count: n)
        var end = n
        // Walk back over lines from the end until one parses.
        while end > 0 {
            if bytes[end - 1] == 0x0A { end -= 1 }
            var start = end
            while start > 0, bytes[start - 1] != 0x0A { start -= 1 }
            if start == 0, size > window { return nil }
            if parser.parse(UnsafeRawBufferPointer(rebasing: bytes[start..<end])), let time = parser.time { return time }
            end = start
        }
        return nil
    }

    /// The time of the first complete line starting at or after `offset`, and that line's offset.
    private func lineTime(after offset: Int64, _ fd: Int32, size: Int64, parser: LogLineParser,
                          atLineStart: Bool = false) -> (offset: Int64, time: Int64?)? {
        let n = readAt(fd, offset, min(probeWindow, Int(size - offset)))
        let bytes = UnsafeRawBufferPointer(start: buffer, count: n)
        var start = 0
        if offset > 0, !atLineStart {
            guard let nl = bytes.firstIndex(of: 0x0A) else { return nil }
            start = nl + 1
        }
        guard let end = bytes[start...].firstIndex(of: 0x0A) else { return nil }
        let ok = parser.parse(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        return (offset + Int64(start), ok ? parser.time : nil)
    }

    /// Bytes read around a probe offset: enough for two of the longest lines.
    private var probeWindow: Int { min(bufferCapacity, max(64 * 1024, maxLineLength * 2 + 2)) }

    private func firstOffset(_ fd: Int32, size: Int64, atOrAfter target: Int64, parser: LogLineParser) -> Int64 {
        // Binary search on byte offsets (logs are nearly sorted by time), then a short linear scan.
        var lo: Int64 = 0
        var hi = size
        var steps = 0
        while hi - lo > Int64(probeWindow), steps < 64 {
            steps += 1
            let mid = (lo + hi) / 2
            guard let probe = lineTime(after: mid, fd, size: size, parser: parser) else { hi = mid; continue }
            if let time = probe.time, time >= target { hi = mid } else { lo = mid }
        }
        var offset = lo
        if lo > 0 {
            guard let first = lineTime(after: lo - 1, fd, size: size, parser: parser) else { return size }
            offset = first.offset
        }
        // Linear scan from there, a window of lines at a time.
        var windows = 0
        while offset < size, windows < 100_000 {
            windows += 1
            let n = readAt(fd, offset, min(probeWindow, Int(size - offset)))
            let bytes = UnsafeRawBufferPointer(start: buffer, count: n)
            var start = 0
            while start < n, let nl = bytes[start...].firstIndex(of: 0x0A) {
                if parser.parse(UnsafeRawBufferPointer(rebasing: bytes[start..<nl])), let time = parser.time, time >= target {
                    return offset + Int64(start)
                }
                start = nl + 1
            }
            // The unfinished last line waits for its newline; a window without a newline inside the file holds
            // part of an over-long line: skip past it.
            if start == 0, offset + Int64(n) >= size { return offset }
            offset += Int64(start > 0 ? start : n)
        }
        return offset
    }

    // MARK: Polling

    /// Reads everything appended since the last poll and hands out each complete line.
    ///
    /// - Parameters:
    ///   - maxBytesPerFile: stop reading a file after this many bytes in one poll (the rest waits for the next).
    ///   - onLine: called with the source index and the line's bytes (valid only during the call).
    ///   - onOversized: called with the source index, the line's first bytes and its length when a line is too long.
    /// - Returns: the number of bytes read.
    @discardableResult
    public func poll(maxBytesPerFile: Int = Int.max,
                     onOversized: (Int, UnsafeRawBufferPointer, Int) -> Void = { _, _, _ in },
                     onLine: (Int, UnsafeRawBufferPointer) -> Void) -> Int {
        let now = clock()
        var total = 0
        for index in files.indices {
            let file = files[index]
            let path = sources[index].path
            var st = stat()
            let exists = stat(path, &st) == 0
            // Drain and retire files that were renamed or deleted.
            if var current = file.current {
                let replaced = exists && (UInt64(st.st_ino) != current.inode || UInt64(st.st_dev) != current.device)
                if replaced {
                    total += drain(&current, index: index, budget: Int.max, now: now, onOversized: onOversized, onLine: onLine)
                    file.retiring.append(current)
                    file.current = nil
                } else if exists {
                    let size = Int64(st.st_size)
                    if size < current.offset || (current.offset > 0 && size >= current.offset && !lastByteMatches(current)) {
                        // Truncated in place (copytruncate): start again from the top.
                        current.offset = 0
                        current.lines.reset()
                        current.lastByte = 0x0A
                    }
                    file.current = current
                }
            }
            if file.current == nil, exists, let cursor = open(index, now: now) {
                file.current = cursor
            }
            var r = 0
            while r < file.retiring.count {
                var cursor = file.retiring[r]
                let read = drain(&cursor, index: index, budget: maxBytesPerFile, now: now, onOversized: onOversized, onLine: onLine)
                total += read
                if read == 0, now - cursor.lastActivity >= retireAfter {
                    if !cursor.lines.pending.isEmpty {
                        cursor.lines.pending.withUnsafeBytes { onLine(index, $0) }
                    }
                    close(cursor.fd)
                    file.retiring.remove(at: r)
                } else {
                    file.retiring[r] = cursor
                    r += 1
                }
            }
            if var current = file.current {
                total += drain(&current, index: index, budget: maxBytesPerFile, now: now, onOversized: onOversized, onLine: onLine)
                file.current = current
            }
        }
        return total
    }

    private func lastByteMatches(_ cursor: Cursor) -> Bool {
        var byte: UInt8 = 0
        guard pread(cursor.fd, &byte, 1, off_t(cursor.offset - 1)) == 1 else { return false }
        return byte == cursor.lastByte
    }

    /// Reads a cursor to its end of file (or the budget) and delivers its complete lines.
    private func drain(_ cursor: inout Cursor, index: Int, budget: Int, now: Double,
                       onOversized: (Int, UnsafeRawBufferPointer, Int) -> Void,
                       onLine: (Int, UnsafeRawBufferPointer) -> Void) -> Int {
        var readTotal = 0
        while readTotal < budget {
            let carried = cursor.lines.moveCarried(to: buffer)
            let want = min(chunkSize, budget - readTotal)
            let n = pread(cursor.fd, buffer + carried, want, off_t(cursor.offset))
            if n <= 0 { break }
            readTotal += n
            cursor.offset += Int64(n)
            cursor.lastActivity = now
            cursor.lastByte = buffer.load(fromByteOffset: carried + n - 1, as: UInt8.self)
            let oversized = cursor.lines.split(buffer, carried: carried, end: carried + n, maxLineLength: maxLineLength,
                                               onOversized: { onOversized(index, $0, $1) }, onLine: { onLine(index, $0) })
            oversizedLines[index] += oversized
            if n < want { break }
        }
        return readTotal
    }

    // MARK: Backlog (read by other threads)

    /// The bytes of one source's current file that are already written and not read yet, up to its last complete
    /// line: what a backfill reads in parallel before following goes on from `end`.
    public struct Backlog: Sendable, Hashable {
        /// The source's index.
        public var source: Int
        /// The open file (valid while the follower lives; read it with `pread` only).
        public var fd: Int32
        /// The first byte not read yet (a line start).
        public var start: Int64
        /// Just past the last newline in the file now (`start` when it holds no complete line yet).
        public var end: Int64
    }

    /// Every source's backlog, in source order (sources whose file is missing, or is positioned mid-line, have none).
    public func backlog() -> [Backlog] {
        var out: [Backlog] = []
        for (index, file) in files.enumerated() {
            guard let cursor = file.current, cursor.lines.isAtLineStart, file.retiring.isEmpty else { continue }
            let size = fileSize(cursor.fd)
            guard size > cursor.offset else { continue }
            let end = lastLineEnd(cursor.fd, from: cursor.offset, size: size)
            if end > cursor.offset { out.append(Backlog(source: index, fd: cursor.fd, start: cursor.offset, end: end)) }
        }
        return out
    }

    /// Marks a backlog as read by someone else: following goes on from its `end`, and `oversized` lines it held are
    /// counted as dropped.
    public func skip(_ backlog: Backlog, oversized: Int) {
        let file = files[backlog.source]
        guard var cursor = file.current, cursor.fd == backlog.fd, cursor.offset == backlog.start, cursor.lines.isAtLineStart else { return }
        cursor.offset = backlog.end
        cursor.lastByte = 0x0A
        file.current = cursor
        oversizedLines[backlog.source] += oversized
    }

    /// The offset just past the last newline in `from..<size`, or `from` when there is none.
    private func lastLineEnd(_ fd: Int32, from: Int64, size: Int64) -> Int64 {
        var end = size
        while end > from {
            let count = Int(min(Int64(chunkSize), end - from))
            let n = readAt(fd, end - Int64(count), count)
            guard n == count else { return from }
            let bytes = UnsafeRawBufferPointer(start: buffer, count: n)
            if let last = bytes.lastIndex(of: 0x0A) { return end - Int64(count) + Int64(last) + 1 }
            end -= Int64(count)
        }
        return from
    }
}
