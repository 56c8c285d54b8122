import Foundation

/// A parser for the lines of one compiled `LogFormat`, driven by the literal text between variables.
///
/// `parse(_:)` reads one line (without its newline) and keeps byte ranges into it; the accessors are valid
/// until the next `parse` call and only while the line's memory is alive. Nothing is allocated per line.
/// Not thread-safe: use one parser per reading task.
public final class LogLineParser {
    /// The format this parser reads.
    public let format: LogFormat

    private let escape: LogEscape
    private let literals: UnsafeMutableRawPointer
    private let prefixCount: Int
    /// One field of the format: where its value's range goes and the literal that ends it.
    private struct Field {
        /// The variable's slot; a skipped variable writes to the spare slot `LogVariable.slotCount`.
        var slot: Int
        /// The literal after the value: its offset in `literals`, its length (0: the value runs to the end).
        var literalOffset: Int
        var literalCount: Int
        /// The literal's first byte, and its next (up to eight) bytes as one little-endian word with their mask.
        var first: UInt8
        var rest: UInt64
        var restMask: UInt64
        /// The first byte repeated over a word and over sixteen lanes, for `find`.
        var pattern: UInt64
        var splat: SIMD16<UInt8>

        init(slot: Int, literal: [UInt8], offset: Int) {
            self.slot = slot
            literalOffset = offset
            literalCount = literal.count
            first = literal.first ?? 0
            pattern = 0x0101_0101_0101_0101 &* UInt64(first)
            splat = SIMD16(repeating: first)
            var rest: UInt64 = 0, mask: UInt64 = 0
            for (i, byte) in literal.dropFirst().prefix(8).enumerated() {
                rest |= UInt64(byte) << UInt64(8 * i)
                mask |= 0xFF << UInt64(8 * i)
            }
            self.rest = rest
            restMask = mask
        }
    }

    private let fields: UnsafeMutablePointer<Field>
    private let fieldCount: Int
    private let starts: UnsafeMutablePointer<Int>
    private let ends: UnsafeMutablePointer<Int>
    private let presentSlots: UnsafeMutablePointer<Int>
    private let presentCount: Int
    private let timeSlot: Int

    /// The mutable per-line state, kept behind a pointer so the hot path pays no exclusivity checks.
    private struct State {
        var base: UnsafeRawPointer?
        var time: Int64?
        var status: Int?
        var requestTime: Int?
        var failure: Failure?
        var pathEscaped = false
        // The last time text's length and value: lines written in the same second share it.
        var timeCacheCount = 0
        var timeCacheValue: Int64 = 0
        var scratch: UnsafeMutableRawPointer
        var scratchCapacity: Int
    }

    private let state: UnsafeMutablePointer<State>
    private let timeCache: UnsafeMutableRawPointer

    /// Log time of the line in Unix seconds, nil when the format has no time variable.
    public var time: Int64? { state.pointee.time }
    /// HTTP status, nil when the format has no `$status`.
    public var status: Int? { state.pointee.status }
    /// `$request_time` in milliseconds, nil when absent or unset.
    public var requestTimeMilliseconds: Int? { state.pointee.requestTime }

    /// Creates a parser for a format.
    public init(format: LogFormat) {
        self.format = format
        escape = format.escape
        var literalBytes = format.prefix
        var slots: [Int] = []
        var offsets: [Int] = []
        var counts: [Int] = []
        var present = Set<Int>()
        for field in format.fields {
            let slot = field.variable?.slot ?? -1
            slots.append(slot)
            if slot >= 0 { present.insert(slot) }
            offsets.append(literalBytes.count)
            counts.append(field.literalAfter.count)
            literalBytes.append(contentsOf: field.literalAfter)
        }
        prefixCount = format.prefix.count
        let literalStorage = UnsafeMutableRawPointer.allocate(byteCount: max(1, literalBytes.count), alignment: 8)
        literalBytes.withUnsafeBytes { if let source = $0.baseAddress { literalStorage.copyMemory(from: source, byteCount: $0.count) } }
        literals = literalStorage
        fieldCount = slots.count
        fields = .allocate(capacity: max(1, slots.count))
        for i in 0..<slots.count {
            (fields + i).initialize(to: Field(slot: slots[i] >= 0 ? slots[i] : LogVariable.slotCount,
                                              literal: Array(literalBytes[offsets[i]..<(offsets[i] + counts[i])]), offset: offsets[i]))
        }
        starts = .allocate(capacity: LogVariable.slotCount + 1)
        ends = .allocate(capacity: LogVariable.slotCount + 1)
        starts.initialize(repeating: -1, count: LogVariable.slotCount + 1)
        ends.initialize(repeating: -1, count: LogVariable.slotCount + 1)
        let sortedSlots = present.sorted()
        presentSlots = .allocate(capacity: max(1, sortedSlots.count))
        for (i, slot) in sortedSlots.enumerated() { presentSlots[i] = slot }
        presentCount = sortedSlots.count
        if present.contains(LogVariable.timeLocal.slot) {
            timeSlot = LogVariable.timeLocal.slot
        } else if present.contains(LogVariable.timeISO8601.slot) {
            timeSlot = LogVariable.timeISO8601.slot
        } else if present.contains(LogVariable.msec.slot) {
            timeSlot = LogVariable.msec.slot
        } else {
            timeSlot = -1
        }
        timeCache = .allocate(byteCount: 32, alignment: 8)
        state = .allocate(capacity: 1)
        state.initialize(to: State(scratch: .allocate(byteCount: 4096, alignment: 8), scratchCapacity: 4096))
    }

    deinit {
        literals.deallocate()
        fields.deallocate()
        starts.deallocate()
        ends.deallocate()
        presentSlots.deallocate()
        timeCache.deallocate()
        state.pointee.scratch.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Why the last line failed to parse.
    public enum Failure: Sendable, Equatable {
        case literalMismatch
        case trailingBytes
        case badTime
        case badStatus
        case badRequestTime
    }

    /// The reason the last `parse` returned false.
    public var lastFailure: Failure? { state.pointee.failure }

    /// Parses one line (without newline); returns false and sets `lastFailure` when the line does not fit the format
    /// (then no value of it is available).
    @inline(__always)
    public func parse(_ line: UnsafeRawBufferPointer) -> Bool {
        guard let lineBase = line.baseAddress else {
            state.pointee.failure = .literalMismatch
            return fieldCount == 0 && prefixCount == 0
        }
        state.pointee.base = lineBase
        state.pointee.time = nil
        state.pointee.status = nil
        state.pointee.requestTime = nil
        let n = line.count
        if prefixCount > 0 {
            if n < prefixCount || !Self.same(lineBase, literals, prefixCount) { return fail(.literalMismatch) }
        }
        // The two escapings' loops apart, so neither tests which one it is per field.
        let pos = escape == .json ? scanFields(lineBase, n, JSONEscaping.self) : scanFields(lineBase, n, PlainEscaping.self)
        if pos < 0 { return fail(.literalMismatch) }
        if pos != n { return fail(.trailingBytes) }
        if timeSlot >= 0 {
            let value = UnsafeRawBufferPointer(start: lineBase + starts[timeSlot], count: ends[timeSlot] - starts[timeSlot])
            guard let parsed = parseTime(value) else { return fail(.badTime) }
            state.pointee.time = parsed
        }
        let statusSlot = LogVariable.status.slot
        if starts[statusSlot] >= 0 {
            let value = UnsafeRawBufferPointer(start: lineBase + starts[statusSlot], count: ends[statusSlot] - starts[statusSlot])
            guard let parsed = LogNumber.status(value) else { return fail(.badStatus) }
            state.pointee.status = parsed
        }
        let rtSlot = LogVariable.requestTime.slot
        if starts[rtSlot] >= 0 {
            let value = UnsafeRawBufferPointer(start: lineBase + starts[rtSlot], count: ends[rtSlot] - starts[rtSlot])
            if !isUnset(value) {
                guard let parsed = LogNumber.milliseconds(value) else { return fail(.badRequestTime) }
                state.pointee.requestTime = parsed
            }
        }
        state.pointee.failure = nil
        return true
    }

    /// Records why the line failed and forgets its values (every slot of the format unset again).
    @inline(never)
    private func fail(_ failure: Failure) -> Bool {
        state.pointee.failure = failure
        state.pointee.time = nil
        state.pointee.status = nil
        state.pointee.requestTime = nil
        for i in 0..<presentCount { starts[presentSlots[i]] = -1 }
        return false
    }

    /// Finds each field's end (its literal) from the prefix on and keeps the value ranges; returns the offset
    /// after the last literal, or -1 when a literal is missing. Specialised per escaping.
    private func scanFields<E: ScanEscaping>(_ base: UnsafeRawPointer, _ n: Int, _: E.Type) -> Int {
        var pos = prefixCount
        let starts = starts, ends = ends, literals = literals
        var field = fields
        let last = fields + fieldCount
        while field < last {
            let litCount = field.pointee.literalCount
            let valueStart = pos
            let valueEnd: Int
            if litCount == 0 {
                valueEnd = n
                pos = n
            } else {
                let first = field.pointee.first
                var q = pos
                var found = -1
                while q < n {
                    // The next candidate (with escape=json, or backslash: an escaped byte is never a delimiter).
                    let at = E.json ? Self.find(first, or: 0x5C, base, from: q, to: n)
                        : Self.find(first, pattern: field.pointee.pattern, splat: field.pointee.splat, base, from: q, to: n)
                    if at < 0 { break }
                    if E.json, first != 0x5C, base.load(fromByteOffset: at, as: UInt8.self) == 0x5C {
                        q = at &+ 2
                        continue
                    }
                    if at &+ litCount <= n {
                        if litCount == 1 {
                            found = at
                            break
                        }
                        // The rest of the literal: one masked word compare when the line has the bytes for it.
                        if litCount <= 9, at &+ 9 <= n {
                            if (base.loadUnaligned(fromByteOffset: at &+ 1, as: UInt64.self) ^ field.pointee.rest) & field.pointee.restMask == 0 {
                                found = at
                                break
                            }
                        } else if Self.same(base + (at &+ 1), literals + (field.pointee.literalOffset &+ 1), litCount &- 1) {
                            found = at
                            break
                        }
                    }
                    q = at &+ 1
                }
                if found < 0 { return -1 }
                valueEnd = found
                pos = found &+ litCount
            }
            let slot = field.pointee.slot
            starts[slot] = valueStart
            ends[slot] = valueEnd
            field += 1
        }
        return pos
    }

    /// The offset of the first `byte` in `from..<to`, or -1; sixteen bytes at a time (SIMD), then eight (SWAR), without a call.
    @inline(__always)
    static func find(_ byte: UInt8, _ base: UnsafeRawPointer, from: Int, to: Int) -> Int {
        find(byte, pattern: 0x0101_0101_0101_0101 &* UInt64(byte), splat: SIMD16(repeating: byte), base, from: from, to: to)
    }

    /// `find(_:_:from:to:)` with the byte already repeated over a word (`pattern`) and sixteen lanes (`splat`).
    @inline(__always)
    static func find(_ byte: UInt8, pattern: UInt64, splat: SIMD16<UInt8>, _ base: UnsafeRawPointer, from: Int, to: Int) -> Int {
        var i = from
        if i &+ 16 <= to {
            // Sixteen bytes at a time (one compare and mask) up to the block holding it, found eight bytes at a time.
            repeat {
                if any(base.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self) .== splat) { break }
                i &+= 16
            } while i &+ 16 <= to
        }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while i &+ 8 <= to {
            let x = base.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ pattern
            let t = (x &- ones) & ~x & highs
            if t != 0 { return i &+ (t.trailingZeroBitCount &>> 3) }
            i &+= 8
        }
        while i < to {
            if base.load(fromByteOffset: i, as: UInt8.self) == byte { return i }
            i &+= 1
        }
        return -1
    }

    /// The offset of the first `a` or `b` in `from..<to`, or -1; sixteen bytes at a time (SIMD), then eight (SWAR).
    @inline(__always)
    static func find(_ a: UInt8, or b: UInt8, _ base: UnsafeRawPointer, from: Int, to: Int) -> Int {
        var i = from
        if i &+ 16 <= to {
            let splatA = SIMD16<UInt8>(repeating: a), splatB = SIMD16<UInt8>(repeating: b)
            repeat {
                let bytes = base.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
                if any(bytes .== splatA .| bytes .== splatB) { break }
                i &+= 16
            } while i &+ 16 <= to
        }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let pa = ones &* UInt64(a), pb = ones &* UInt64(b)
        while i &+ 8 <= to {
            let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let x = word ^ pa, y = word ^ pb
            let t = ((x &- ones) & ~x | (y &- ones) & ~y) & highs
            if t != 0 { return i &+ (t.trailingZeroBitCount &>> 3) }
            i &+= 8
        }
        while i < to {
            let c = base.load(fromByteOffset: i, as: UInt8.self)
            if c == a || c == b { return i }
            i &+= 1
        }
        return -1
    }

    /// The offset of the last `byte` in `after + 1 ..< before`, or -1; eight bytes at a time from the end (an
    /// exact per-byte test, so the highest match of a word is the last one).
    @inline(__always)
    static func findLast(_ byte: UInt8, _ base: UnsafeRawPointer, after: Int, before: Int) -> Int {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let pattern = 0x0101_0101_0101_0101 &* UInt64(byte)
        var end = before
        while end &- 8 > after {
            let x = base.loadUnaligned(fromByteOffset: end &- 8, as: UInt64.self) ^ pattern
            let zero = ~(((x & low7) &+ low7) | x | low7)
            if zero != 0 { return end &- 8 &+ ((63 &- zero.leadingZeroBitCount) &>> 3) }
            end &-= 8
        }
        while end &- 1 > after {
            end &-= 1
            if base.load(fromByteOffset: end, as: UInt8.self) == byte { return end }
        }
        return -1
    }

    /// Whether `count` bytes at two addresses are equal (a byte loop: literals are short).
    @inline(__always)
    static func same(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        var i = 0
        while i &+ 8 <= count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i &+= 8
        }
        while i < count {
            if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
            i &+= 1
        }
        return true
    }

    @inline(__always)
    private func isUnset(_ value: UnsafeRawBufferPointer) -> Bool {
        value.isEmpty || (value.count == 1 && value[0] == 0x2D)
    }

    @inline(__always)
    private func parseTime(_ value: UnsafeRawBufferPointer) -> Int64? {
        if value.count == state.pointee.timeCacheCount, let start = value.baseAddress, Self.same(start, timeCache, value.count) {
            return state.pointee.timeCacheValue
        }
        let parsed: Int64?
        switch timeSlot {
        case LogVariable.timeLocal.slot: parsed = LogTime.parseLocal(value)
        case LogVariable.timeISO8601.slot: parsed = LogTime.parseISO8601(value)
        default: parsed = LogTime.parseMsec(value)
        }
        if let parsed, value.count <= 32, timeSlot != LogVariable.msec.slot, let start = value.baseAddress {
            timeCache.copyMemory(from: start, byteCount: value.count)
            state.pointee.timeCacheCount = value.count
            state.pointee.timeCacheValue = parsed
        }
        return parsed
    }

    /// The raw (still escaped) value of a variable in the last parsed line; nil when the format lacks it.
    @inline(__always)
    public func raw(_ variable: LogVariable) -> UnsafeRawBufferPointer? {
        let slot = variable.slot
        guard let base = state.pointee.base, starts[slot] >= 0 else { return nil }
        return UnsafeRawBufferPointer(start: base + starts[slot], count: ends[slot] - starts[slot])
    }

    /// The value of a variable, nil when the format lacks it or the variable was unset (`-` or empty).
    @inline(__always)
    public func value(_ variable: LogVariable) -> UnsafeRawBufferPointer? {
        guard let raw = raw(variable), !isUnset(raw) else { return nil }
        return raw
    }

    /// The total upstream time in milliseconds (sum over attempts), nil when unknown.
    public var upstreamResponseTimeMilliseconds: Int? {
        guard let raw = value(.upstreamResponseTime) else { return nil }
        return LogNumber.upstreamTotalMilliseconds(raw)
    }

    /// The status of the last upstream attempt, nil when unknown.
    public var upstreamStatus: Int? {
        guard let raw = value(.upstreamStatus) else { return nil }
        return LogNumber.status(LogNumber.lastListElement(raw))
    }

    /// The address of the last upstream attempt (the one that answered), still escaped; nil when unknown.
    public var upstreamAddress: UnsafeRawBufferPointer? {
        guard let raw = value(.upstreamAddr) else { return nil }
        let last = LogNumber.lastListElement(raw)
        return last.isEmpty ? nil : last
    }

    /// The request's original path as written (still escaped, query string stripped), nil when unknown.
    ///
    /// Taken from `$request_uri`, else from `$request` (between the method and the protocol), else `$uri`.
    @inline(__always)
    public func rawPath() -> UnsafeRawBufferPointer? {
        var start: UnsafeRawPointer
        var count: Int
        if let uri = value(.requestURI), let base = uri.baseAddress {
            start = base
            count = uri.count
        } else if let request = value(.request), let base = request.baseAddress {
            // "METHOD SP target SP protocol" (or without the protocol): the target is between the spaces.
            let first = Self.find(0x20, base, from: 0, to: request.count)
            guard first >= 0 else { return nil }
            let last = Self.findLast(0x20, base, after: first, before: request.count)
            let end = last >= 0 ? last : request.count
            start = base + first + 1
            count = end - first - 1
        } else if let uri = value(.uri), let base = uri.baseAddress {
            start = base
            count = uri.count
        } else {
            return nil
        }
        state.pointee.pathEscaped = false
        let stop = Self.find(0x3F, or: 0x5C, start, from: 0, to: count)
        if stop >= 0 {
            if start.load(fromByteOffset: stop, as: UInt8.self) == 0x3F {
                count = stop
            } else {
                state.pointee.pathEscaped = true
                let query = Self.find(0x3F, start, from: stop, to: count)
                if query >= 0 { count = query }
            }
        }
        guard count > 0 else { return nil }
        return UnsafeRawBufferPointer(start: start, count: count)
    }

    /// Whether the path last returned by `rawPath()` contains a backslash (an escape to remove with `unescape`).
    public var rawPathHasEscapes: Bool { state.pointee.pathEscaped }

    /// Removes nginx's escaping from a value of the last line; the result is valid until the next call.
    ///
    /// `escape=default` turns `\xHH` back into the byte; `escape=json` decodes JSON escapes (`\uXXXX` as UTF-8);
    /// `escape=none` returns the value unchanged.
    public func unescape(_ value: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard escape != .none, let start = value.baseAddress, memchr(start, 0x5C, value.count) != nil else { return value }
        if value.count * 2 > state.pointee.scratchCapacity {
            state.pointee.scratch.deallocate()
            state.pointee.scratchCapacity = value.count * 2
            state.pointee.scratch = .allocate(byteCount: value.count * 2, alignment: 8)
        }
        let out = LogUnescape.unescape(value, escape: escape, into: state.pointee.scratch)
        return UnsafeRawBufferPointer(start: state.pointee.scratch, count: out)
    }
}

/// Decoding of nginx's `escape=default` and `escape=json` value escapes.
enum LogUnescape {
    @inline(__always)
    static func hex(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b) - 0x30
        case 0x41...0x46: return Int(b) - 0x41 + 10
        case 0x61...0x66: return Int(b) - 0x61 + 10
        default: return nil
        }
    }

    /// Writes the decoded bytes into `out` (which holds at least twice the input) and returns their count.
    static func unescape(_ p: UnsafeRawBufferPointer, escape: LogEscape, into out: UnsafeMutableRawPointer) -> Int {
        var i = 0
        var o = 0
        let n = p.count
        func put(_ b: UInt8) {
            out.storeBytes(of: b, toByteOffset: o, as: UInt8.self)
            o += 1
        }
        while i < n {
            let b = p[i]
            if b != 0x5C || i + 1 >= n {
                put(b)
                i += 1
                continue
            }
            let next = p[i + 1]
            if escape == .default {
                if next == 0x78, i + 3 < n, let h = hex(p[i + 2]), let l = hex(p[i + 3]) {
                    put(UInt8(h * 16 + l))
                    i += 4
                } else {
                    put(b)
                    i += 1
                }
                continue
            }
            switch next {
            case 0x22, 0x5C, 0x2F: put(next); i += 2
            case 0x6E: put(0x0A); i += 2
            case 0x72: put(0x0D); i += 2
            case 0x74: put(0x09); i += 2
            case 0x62: put(0x08); i += 2
            case 0x66: put(0x0C); i += 2
            case 0x75:
                if i + 5 < n, let a = hex(p[i + 2]), let b2 = hex(p[i + 3]), let c = hex(p[i + 4]), let d = hex(p[i + 5]) {
                    let scalar = (a << 12) | (b2 << 8) | (c << 4) | d
                    if scalar < 0x80 {
                        put(UInt8(scalar))
                    } else if scalar < 0x800 {
                        put(UInt8(0xC0 | (scalar >> 6)))
                        put(UInt8(0x80 | (scalar & 0x3F)))
                    } else {
                        put(UInt8(0xE0 | (scalar >> 12)))
                        put(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
                        put(UInt8(0x80 | (scalar & 0x3F)))
                    }
                    i += 6
                } else {
                    put(b)
                    i += 1
                }
            default:
                put(b)
                i += 1
            }
        }
        return o
    }
}

/// Which escaping a parser's field scan is specialised for.
private protocol ScanEscaping {
    /// Whether values are JSON strings (a backslash escapes the byte after it).
    static var json: Bool { get }
}

private enum PlainEscaping: ScanEscaping {
    static var json: Bool { false }
}

private enum JSONEscaping: ScanEscaping {
    static var json: Bool { true }
}
