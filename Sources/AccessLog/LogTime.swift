/// Hand-written parsers for the times nginx writes (`$time_local`, `$time_iso8601`, `$msec`), returning Unix seconds.
public enum LogTime {
    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    @inlinable
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    @inline(__always)
    static func digits(_ p: UnsafeRawBufferPointer, _ at: Int, _ count: Int) -> Int? {
        var value = 0
        var i = at
        while i < at + count {
            let d = Int(p[i]) &- 48
            if d < 0 || d > 9 { return nil }
            value = value * 10 + d
            i += 1
        }
        return value
    }

    @inline(__always)
    static func month(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int? {
        // Lower-case the three letters and compare them packed into one integer.
        let key = (UInt32(a | 0x20) << 16) | (UInt32(b | 0x20) << 8) | UInt32(c | 0x20)
        switch key {
        case 0x6A616E: return 1   // jan
        case 0x666562: return 2   // feb
        case 0x6D6172: return 3   // mar
        case 0x617072: return 4   // apr
        case 0x6D6179: return 5   // may
        case 0x6A756E: return 6   // jun
        case 0x6A756C: return 7   // jul
        case 0x617567: return 8   // aug
        case 0x736570: return 9   // sep
        case 0x6F6374: return 10  // oct
        case 0x6E6F76: return 11  // nov
        case 0x646563: return 12  // dec
        default: return nil
        }
    }

    @inline(__always)
    static func epoch(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, offsetSeconds: Int) -> Int64? {
        guard month >= 1, month <= 12, day >= 1, day <= 31, hour <= 23, minute <= 59, second <= 60 else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return Int64(days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds)
    }

    /// Parses `$time_local`, e.g. `10/Oct/2000:13:55:36 -0700`.
    public static func parseLocal(_ p: UnsafeRawBufferPointer) -> Int64? {
        guard p.count == 26, p[2] == 0x2F, p[6] == 0x2F, p[11] == 0x3A, p[14] == 0x3A, p[17] == 0x3A, p[20] == 0x20,
              let day = digits(p, 0, 2), let month = month(p[3], p[4], p[5]), let year = digits(p, 7, 4),
              let hour = digits(p, 12, 2), let minute = digits(p, 15, 2), let second = digits(p, 18, 2),
              let offH = digits(p, 22, 2), let offM = digits(p, 24, 2)
        else { return nil }
        let sign: Int
        switch p[21] {
        case 0x2B: sign = 1
        case 0x2D: sign = -1
        default: return nil
        }
        return epoch(year: year, month: month, day: day, hour: hour, minute: minute, second: second,
                     offsetSeconds: sign * (offH * 3600 + offM * 60))
    }

    /// Parses `$time_iso8601`, e.g. `2000-10-10T13:55:36-07:00` or `2000-10-10T13:55:36Z`.
    public static func parseISO8601(_ p: UnsafeRawBufferPointer) -> Int64? {
        guard p.count >= 20, p[4] == 0x2D, p[7] == 0x2D, p[10] == 0x54 || p[10] == 0x20, p[13] == 0x3A, p[16] == 0x3A,
              let year = digits(p, 0, 4), let month = digits(p, 5, 2), let day = digits(p, 8, 2),
              let hour = digits(p, 11, 2), let minute = digits(p, 14, 2), let second = digits(p, 17, 2)
        else { return nil }
        var offset = 0
        if p.count == 20 {
            guard p[19] == 0x5A else { return nil }
        } else {
            guard p.count == 25, p[22] == 0x3A, let offH = digits(p, 20, 2), let offM = digits(p, 23, 2) else { return nil }
            switch p[19] {
            case 0x2B: offset = offH * 3600 + offM * 60
            case 0x2D: offset = -(offH * 3600 + offM * 60)
            default: return nil
            }
        }
        return epoch(year: year, month: month, day: day, hour: hour, minute: minute, second: second, offsetSeconds: offset)
    }

    /// Parses `$msec`, e.g. `1700000000.123`, returning whole seconds.
    public static func parseMsec(_ p: UnsafeRawBufferPointer) -> Int64? {
        guard !p.isEmpty, p.count <= 24 else { return nil }
        var value: Int64 = 0
        var i = 0
        while i < p.count, p[i] != 0x2E {
            let d = Int64(p[i]) &- 48
            if d < 0 || d > 9 { return nil }
            value = value * 10 + d
            i += 1
        }
        if i == 0 { return nil }
        if i < p.count {
            var j = i + 1
            while j < p.count {
                if p[j] < 0x30 || p[j] > 0x39 { return nil }
                j += 1
            }
        }
        return value
    }
}

/// Hand-written parsers for the numbers nginx writes (seconds with milliseconds, statuses, lists of upstream values).
public enum LogNumber {
    /// Parses a duration in seconds with up to three decimals (`0.123`) into milliseconds; nil for `-` or junk.
    @inline(__always)
    public static func milliseconds(_ p: UnsafeRawBufferPointer) -> Int? {
        milliseconds(p, from: 0, to: p.count)
    }

    @inline(__always)
    static func milliseconds(_ p: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var i = start
        var whole = 0
        var any = false
        while i < end {
            let d = Int(p[i]) &- 48
            if d < 0 || d > 9 { break }
            whole = whole &* 10 &+ d
            any = true
            i += 1
            if whole > 100_000_000 { return nil }
        }
        var millis = 0
        var scale = 100
        if i < end, p[i] == 0x2E {
            i += 1
            while i < end {
                let d = Int(p[i]) &- 48
                if d < 0 || d > 9 { break }
                millis += d * scale
                scale /= 10
                any = true
                i += 1
            }
        }
        guard any, i == end else { return nil }
        return whole * 1000 + millis
    }

    /// Parses an HTTP status (three digits); nil otherwise.
    @inline(__always)
    public static func status(_ p: UnsafeRawBufferPointer) -> Int? {
        guard p.count == 3 else { return nil }
        let a = Int(p[0]) &- 48, b = Int(p[1]) &- 48, c = Int(p[2]) &- 48
        guard a >= 1, a <= 9, b >= 0, b <= 9, c >= 0, c <= 9 else { return nil }
        return a * 100 + b * 10 + c
    }

    /// Sums an upstream time list (`0.010, 0.020 : 0.030`, `-` for an attempt without a response) into milliseconds.
    ///
    /// Returns nil when no attempt has a time (all `-`, or empty), or when an element is not a number.
    public static func upstreamTotalMilliseconds(_ p: UnsafeRawBufferPointer) -> Int? {
        var total = 0
        var any = false
        var i = 0
        let n = p.count
        while i < n {
            while i < n, p[i] == 0x20 || p[i] == 0x2C || p[i] == 0x3A { i += 1 }
            if i >= n { break }
            var j = i
            while j < n, p[j] != 0x20, p[j] != 0x2C { j += 1 }
            if !(j == i + 1 && p[i] == 0x2D) {
                guard let ms = milliseconds(p, from: i, to: j) else { return nil }
                total += ms
                any = true
            }
            i = j
        }
        return any ? total : nil
    }

    /// The last element of an upstream list (`a, b : c` gives `c`): the attempt whose answer the client got.
    @inline(__always)
    public static func lastListElement(_ p: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard let base = p.baseAddress else { return p }
        // One attempt (the usual case): no separator at all, found eight bytes at a time.
        if LogLineParser.find(0x20, or: 0x2C, base, from: 0, to: p.count) < 0 { return p }
        var end = p.count
        while end > 0, base.load(fromByteOffset: end - 1, as: UInt8.self) == 0x20 { end -= 1 }
        var start = end
        while start > 0 {
            let byte = base.load(fromByteOffset: start - 1, as: UInt8.self)
            if byte == 0x20 || byte == 0x2C { break }
            start -= 1
        }
        return UnsafeRawBufferPointer(start: base + start, count: end - start)
    }
}
