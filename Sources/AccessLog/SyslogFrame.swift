import Foundation

/// One syslog message split into its header fields and the log line it carries, as byte ranges of the message.
///
/// Reads the RFC 3164 framing nginx writes (`src/core/ngx_syslog.c`: `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG: MSG`,
/// or without HOSTNAME under `nohostname`), the same framing as relays such as rsyslog forward it (`TAG[PID]:`),
/// and RFC 5424 (`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG`, APP-NAME read as the tag).
public struct SyslogFrame: Equatable, Sendable {
    /// The hostname field (empty when the message has none).
    public var hostname: Range<Int>
    /// The tag (RFC 3164) or APP-NAME (RFC 5424), without `[PID]` and the colon.
    public var tag: Range<Int>
    /// The log line: what follows the header, without a trailing newline or carriage return.
    public var message: Range<Int>

    /// Why a message is not a syslog message Cutover can read.
    public enum Failure: Error, Equatable, Sendable {
        case noPriority
        case noHeader
    }

    private static let months: [UInt32] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].map {
        let b = Array($0.utf8)
        return UInt32(b[0]) << 16 | UInt32(b[1]) << 8 | UInt32(b[2])
    }

    /// Splits one message (a datagram, or one frame of a TCP stream).
    @inline(__always)
    public static func parse(_ m: UnsafeRawBufferPointer) -> Result<SyslogFrame, Failure> {
        let n = m.count
        guard n >= 3, m[0] == UInt8(ascii: "<") else { return .failure(.noPriority) }
        var i = 1
        while i < n, i <= 4, m[i] >= 0x30, m[i] <= 0x39 { i += 1 }
        guard i > 1, i < n, m[i] == UInt8(ascii: ">") else { return .failure(.noPriority) }
        i += 1
        var end = n
        while end > i, m[end - 1] == 0x0A || m[end - 1] == 0x0D || m[end - 1] == 0 { end -= 1 }
        func token(from start: Int) -> Range<Int> {
            var j = start
            while j < end, m[j] != 0x20 { j += 1 }
            return start..<j
        }
        // RFC 5424: a version digit, then a space.
        if i + 1 < end, m[i] == UInt8(ascii: "1"), m[i + 1] == 0x20 {
            var fields: [Range<Int>] = []
            var j = i + 2
            for _ in 0..<5 {
                let t = token(from: j)
                guard t.upperBound < end || fields.count == 4 else { return .failure(.noHeader) }
                fields.append(t)
                j = min(end, t.upperBound + 1)
            }
            // fields: timestamp, hostname, app-name, procid, msgid; then structured data.
            if j < end, m[j] == UInt8(ascii: "[") {
                var depth = 0
                while j < end {
                    if m[j] == UInt8(ascii: "\\") { j += 2; continue }
                    if m[j] == UInt8(ascii: "[") { depth += 1 }
                    if m[j] == UInt8(ascii: "]") { depth -= 1; if depth == 0, j + 1 >= end || m[j + 1] != UInt8(ascii: "[") { j += 1; break } }
                    j += 1
                }
            } else {
                j = token(from: j).upperBound
            }
            if j < end, m[j] == 0x20 { j += 1 }
            // A UTF-8 byte order mark may open the message.
            if j + 2 < end, m[j] == 0xEF, m[j + 1] == 0xBB, m[j + 2] == 0xBF { j += 3 }
            let host = fields[1], app = fields[2]
            let nil1 = host.count == 1 && m[host.lowerBound] == UInt8(ascii: "-")
            let nil2 = app.count == 1 && m[app.lowerBound] == UInt8(ascii: "-")
            return .success(SyslogFrame(hostname: nil1 ? host.lowerBound..<host.lowerBound : host,
                                        tag: nil2 ? app.lowerBound..<app.lowerBound : app, message: min(j, end)..<end))
        }
        // RFC 3164: an optional `Mmm dd hh:mm:ss ` timestamp (day padded with a space).
        if i + 16 <= end, m[i + 3] == 0x20, m[i + 6] == 0x20, m[i + 9] == UInt8(ascii: ":"), m[i + 12] == UInt8(ascii: ":"), m[i + 15] == 0x20 {
            let word = UInt32(m[i]) << 16 | UInt32(m[i + 1]) << 8 | UInt32(m[i + 2])
            if months.contains(word) { i += 16 }
        }
        // HOSTNAME SP TAG ":" SP, or TAG ":" SP alone (nohostname).
        let first = token(from: i)
        guard first.upperBound < end, !first.isEmpty else { return .failure(.noHeader) }
        var hostname = first
        var tagStart = first.upperBound + 1
        if m[first.upperBound - 1] == UInt8(ascii: ":") {
            hostname = i..<i
            tagStart = i
        }
        let second = token(from: tagStart)
        guard !second.isEmpty, m[second.upperBound - 1] == UInt8(ascii: ":") else { return .failure(.noHeader) }
        var tagEnd = second.upperBound - 1
        if tagEnd > second.lowerBound, m[tagEnd - 1] == UInt8(ascii: "]") {
            var k = tagEnd - 1
            while k > second.lowerBound, m[k] != UInt8(ascii: "[") { k -= 1 }
            if m[k] == UInt8(ascii: "[") { tagEnd = k }
        }
        let messageStart = min(end, second.upperBound + 1)
        return .success(SyslogFrame(hostname: hostname, tag: second.lowerBound..<tagEnd, message: messageStart..<end))
    }
}

/// Splits a syslog TCP stream into messages: octet counting (RFC 6587 `LEN SP MSG`, what rsyslog and syslog-ng
/// send with `framing octet-counted`) when a frame starts with a digit, else one message per line (LF, or NUL).
///
/// nginx itself sends syslog over UDP only (one message per datagram, `SOCK_DGRAM` in `ngx_syslog.c`); TCP serves
/// relays and senders that must not lose lines. Bytes of an unfinished frame are kept for the next `feed`.
public struct SyslogStreamFramer: Sendable {
    private var carry: [UInt8] = []
    /// The largest message accepted; a longer frame is cut there and counted in `oversized`.
    public let maxMessage: Int
    /// Frames longer than `maxMessage` (their head is still delivered).
    public private(set) var oversized = 0
    private var skipping = 0
    private var skippingLine = false

    public init(maxMessage: Int = 64 * 1024) {
        self.maxMessage = maxMessage
    }

    /// Bytes of an unfinished frame held for the next `feed`.
    public var pendingBytes: Int { carry.count }

    /// Feeds the next bytes of the stream; calls `onMessage` with every complete message (valid during the call).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, onMessage: (UnsafeRawBufferPointer) -> Void) {
        if carry.isEmpty {
            let used = scan(bytes, onMessage: onMessage)
            if used < bytes.count { carry.append(contentsOf: bytes[used...]) }
        } else {
            carry.append(contentsOf: bytes)
            let joined = carry
            let used = joined.withUnsafeBytes { scan($0, onMessage: onMessage) }
            carry.removeFirst(used)
        }
    }

    /// Delivers what is left when the stream ends (a last line without newline).
    public mutating func finish(onMessage: (UnsafeRawBufferPointer) -> Void) {
        if !carry.isEmpty, !skippingLine, !(carry.first.map { $0 >= 0x30 && $0 <= 0x39 } ?? false) {
            carry.withUnsafeBytes { onMessage($0) }
        }
        carry.removeAll()
    }

    /// Consumes every complete frame of `b`; returns the bytes used.
    private mutating func scan(_ b: UnsafeRawBufferPointer, onMessage: (UnsafeRawBufferPointer) -> Void) -> Int {
        var i = 0
        let n = b.count
        while i < n {
            if skipping > 0 {
                let take = min(skipping, n - i)
                skipping -= take
                i += take
                continue
            }
            if skippingLine {
                guard let nl = indexOfTerminator(b, from: i) else { return n }
                skippingLine = false
                i = nl + 1
                continue
            }
            let c = b[i]
            if c == 0x0A || c == 0x0D || c == 0 || c == 0x20 { i += 1; continue }
            if c >= 0x31, c <= 0x39 {
                // Octet counting: digits, a space, then exactly that many bytes.
                var j = i
                var length = 0
                while j < n, b[j] >= 0x30, b[j] <= 0x39, j - i < 9 { length = length * 10 + Int(b[j] - 0x30); j += 1 }
                guard j < n else { return i }
                if b[j] == 0x20 {
                    let start = j + 1
                    if length > maxMessage {
                        guard n - start >= maxMessage else { return i }
                        onMessage(UnsafeRawBufferPointer(rebasing: b[start..<(start + maxMessage)]))
                        oversized += 1
                        skipping = length - maxMessage
                        i = start + maxMessage
                        continue
                    }
                    guard n - start >= length else { return i }
                    onMessage(UnsafeRawBufferPointer(rebasing: b[start..<(start + length)]))
                    i = start + length
                    continue
                }
                // Digits without a space: a line that starts with a digit.
            }
            guard let nl = indexOfTerminator(b, from: i) else {
                if n - i > maxMessage {
                    onMessage(UnsafeRawBufferPointer(rebasing: b[i..<(i + maxMessage)]))
                    oversized += 1
                    skippingLine = true
                    return n
                }
                return i
            }
            onMessage(UnsafeRawBufferPointer(rebasing: b[i..<min(nl, i + maxMessage)]))
            if nl - i > maxMessage { oversized += 1 }
            i = nl + 1
        }
        return n
    }

    @inline(__always)
    private func indexOfTerminator(_ b: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from < b.count, let base = b.baseAddress else { return nil }
        let count = b.count - from
        if let p = memchr(base + from, 0x0A, count) {
            let nl = base.distance(to: UnsafeRawPointer(p))
            // A NUL before the newline also ends a message (some relays use it).
            if let z = memchr(base + from, 0, nl - from) { return base.distance(to: UnsafeRawPointer(z)) }
            return nl
        }
        if let z = memchr(base + from, 0, count) { return base.distance(to: UnsafeRawPointer(z)) }
        return nil
    }
}
