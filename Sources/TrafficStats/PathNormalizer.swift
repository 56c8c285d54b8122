/// Normalises a request path the way nginx turns the request URI into `$uri`.
///
/// Percent-decoding (one level; malformed `%` sequences are kept as written), merging of repeated slashes,
/// and resolution of `.` and `..` segments (never above the root). An absolute-form target
/// (`http://host/path`) is reduced to its path. The query string must already be stripped.
public enum PathNormalizer {
    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b &- 0x30
        case 0x41...0x46: return b &- 0x41 &+ 10
        case 0x61...0x66: return b &- 0x61 &+ 10
        default: return nil
        }
    }

    /// Writes the normalised path into `out` (capacity at least `input.count + 1`) and returns its length.
    public static func normalize(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) -> Int {
        var i = 0
        let n = input.count
        // Absolute-form request target: skip scheme and authority.
        if n > 7, input[0] | 0x20 == 0x68, input[1] | 0x20 == 0x74, input[2] | 0x20 == 0x74, input[3] | 0x20 == 0x70 {
            var j = 4
            if j < n, input[j] | 0x20 == 0x73 { j += 1 }
            if j + 2 < n, input[j] == 0x3A, input[j + 1] == 0x2F, input[j + 2] == 0x2F {
                j += 3
                while j < n, input[j] != 0x2F { j += 1 }
                i = j
                if i >= n {
                    out.storeBytes(of: 0x2F, as: UInt8.self)
                    return 1
                }
            }
        }
        var o = 0
        @inline(__always) func put(_ b: UInt8) {
            out.storeBytes(of: b, toByteOffset: o, as: UInt8.self)
            o += 1
        }
        @inline(__always) func byte(_ k: Int) -> UInt8 { out.load(fromByteOffset: k, as: UInt8.self) }
        // Handles the end of a segment (at a '/' or the end): drops "." and resolves ".." against the output.
        func endSegment() {
            var s = o
            while s > 0, byte(s - 1) != 0x2F { s -= 1 }
            let length = o - s
            if length == 1, byte(s) == 0x2E {
                o = s
            } else if length == 2, byte(s) == 0x2E, byte(s + 1) == 0x2E {
                o = s
                if o >= 2 {
                    // Remove the '/' before "..", then the segment before it, keeping its leading '/'.
                    o -= 1
                    while o > 0, byte(o - 1) != 0x2F { o -= 1 }
                    if o == 0 { put(0x2F) }
                }
            }
        }
        while i < n {
            var b = input[i]
            if b == 0x25, i + 2 < n, let h = hexValue(input[i + 1]), let l = hexValue(input[i + 2]) {
                b = h << 4 | l
                i += 3
                // Decoded '/' and '.' take part in the path structure, as in nginx; other bytes are plain.
                if b != 0x2F, b != 0x2E {
                    put(b)
                    continue
                }
            } else {
                i += 1
            }
            if b == 0x2F {
                if o > 0, byte(o - 1) == 0x2F { continue }
                endSegment()
                if o > 0, byte(o - 1) == 0x2F { continue }
                put(0x2F)
            } else {
                put(b)
            }
        }
        if o > 0, byte(o - 1) != 0x2F {
            let before = o
            endSegment()
            if o != before, o > 0, byte(o - 1) != 0x2F { put(0x2F) }
        }
        return o
    }

    /// Normalises a path given as a string (for tests and tools; the hot path uses the byte form).
    public static func normalize(_ path: String) -> String {
        var bytes = Array(path.utf8)
        let capacity = bytes.count + 2
        let out = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
        defer { out.deallocate() }
        let length = bytes.withUnsafeMutableBytes { normalize(UnsafeRawBufferPointer($0), into: out) }
        bytes = Array(UnsafeRawBufferPointer(start: out, count: length))
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A fast 64-bit hash of a byte string (8 bytes at a time, multiply-xorshift mixing); not cryptographic.
public enum ByteHash {
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The hash of the bytes.
    @inline(__always)
    public static func hash(_ p: UnsafeRawBufferPointer) -> UInt64 {
        guard let base = p.baseAddress else { return 0x9E37_79B9_7F4A_7C15 }
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(p.count)
        var i = 0
        let n = p.count
        while i + 8 <= n {
            h = mix(h ^ base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &+ 0x632B_E59B_D9B4_E019
            i += 8
        }
        if i < n {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                tail |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) << shift
                shift += 8
                i += 1
            }
            h = mix(h ^ tail)
        }
        return mix(h)
    }
}
