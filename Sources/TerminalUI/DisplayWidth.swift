/// Display-width rules for terminal cells, in the spirit of `wcwidth`, computed in Swift from Unicode data.
///
/// Wide: East Asian Wide and Fullwidth code points (table generated from Python's `unicodedata` 14.0,
/// `east_asian_width in ("W", "F")`, assigned code points plus the CJK planes 2 and 3). Zero: combining marks
/// (general categories Mn, Me), format characters (Cf, e.g. ZWJ), variation selectors. Everything else printable,
/// including box drawing and block elements, is 1. Control characters are reported as `nil`.
public enum DisplayWidth {
    /// Inclusive ranges of code points that take two cells.
    static let wideRanges: [(UInt32, UInt32)] = [
        (0x1100, 0x115F), (0x231A, 0x231B), (0x2329, 0x232A), (0x23E9, 0x23EC), (0x23F0, 0x23F0),
        (0x23F3, 0x23F3), (0x25FD, 0x25FE), (0x2614, 0x2615), (0x2648, 0x2653), (0x267F, 0x267F),
        (0x2693, 0x2693), (0x26A1, 0x26A1), (0x26AA, 0x26AB), (0x26BD, 0x26BE), (0x26C4, 0x26C5),
        (0x26CE, 0x26CE), (0x26D4, 0x26D4), (0x26EA, 0x26EA), (0x26F2, 0x26F3), (0x26F5, 0x26F5),
        (0x26FA, 0x26FA), (0x26FD, 0x26FD), (0x2705, 0x2705), (0x270A, 0x270B), (0x2728, 0x2728),
        (0x274C, 0x274C), (0x274E, 0x274E), (0x2753, 0x2755), (0x2757, 0x2757), (0x2795, 0x2797),
        (0x27B0, 0x27B0), (0x27BF, 0x27BF), (0x2B1B, 0x2B1C), (0x2B50, 0x2B50), (0x2B55, 0x2B55),
        (0x2E80, 0x303E), (0x3041, 0x3247), (0x3250, 0x4DBF), (0x4E00, 0xA4C6), (0xA960, 0xA97C),
        (0xAC00, 0xD7A3), (0xF900, 0xFAD9), (0xFE10, 0xFE19), (0xFE30, 0xFE6B), (0xFF01, 0xFF60),
        (0xFFE0, 0xFFE6), (0x16FE0, 0x1B2FB), (0x1F004, 0x1F004), (0x1F0CF, 0x1F0CF), (0x1F18E, 0x1F18E),
        (0x1F191, 0x1F19A), (0x1F200, 0x1F320), (0x1F32D, 0x1F335), (0x1F337, 0x1F37C), (0x1F37E, 0x1F393),
        (0x1F3A0, 0x1F3CA), (0x1F3CF, 0x1F3D3), (0x1F3E0, 0x1F3F0), (0x1F3F4, 0x1F3F4), (0x1F3F8, 0x1F43E),
        (0x1F440, 0x1F440), (0x1F442, 0x1F4FC), (0x1F4FF, 0x1F53D), (0x1F54B, 0x1F54E), (0x1F550, 0x1F567),
        (0x1F57A, 0x1F57A), (0x1F595, 0x1F596), (0x1F5A4, 0x1F5A4), (0x1F5FB, 0x1F64F), (0x1F680, 0x1F6C5),
        (0x1F6CC, 0x1F6CC), (0x1F6D0, 0x1F6D2), (0x1F6D5, 0x1F6DF), (0x1F6EB, 0x1F6EC), (0x1F6F4, 0x1F6FC),
        (0x1F7E0, 0x1F7F0), (0x1F90C, 0x1F93A), (0x1F93C, 0x1F945), (0x1F947, 0x1F9FF), (0x1FA70, 0x1FAF6),
        (0x20000, 0x3FFFD),
    ]

    /// True when the code point is East Asian Wide or Fullwidth (binary search over `wideRanges`).
    public static func isWide(_ value: UInt32) -> Bool {
        if value < 0x1100 { return false }
        var lo = 0
        var hi = wideRanges.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let (a, b) = wideRanges[mid]
            if value < a { hi = mid - 1 } else if value > b { lo = mid + 1 } else { return true }
        }
        return false
    }

    /// The number of cells one scalar takes: 0, 1 or 2; nil for control characters (C0, DEL, C1).
    public static func of(_ scalar: Unicode.Scalar) -> Int? {
        let v = scalar.value
        if v < 0x20 || (0x7F..<0xA0).contains(v) { return nil }
        if v < 0x300 { return 1 }  // Latin-1 and Latin Extended: all single width (soft hyphen included)
        if (0x2500...0x25FC).contains(v) { return 1 }  // box drawing, block elements, shapes: the common case in frames
        if v == 0x200B || (0x1160...0x11FF).contains(v) { return 0 }  // zero width space, Hangul medial vowels
        if (0xFE00...0xFE0F).contains(v) || (0xE0100...0xE01EF).contains(v) { return 0 }  // variation selectors
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        case .lineSeparator, .paragraphSeparator: return nil
        default: break
        }
        return isWide(v) ? 2 : 1
    }

    /// The number of cells a grapheme cluster takes (0, 1 or 2); nil when it starts with a control character.
    ///
    /// A cluster is as wide as its widest scalar, so a base letter with combining marks stays 1, a ZWJ emoji
    /// sequence is 2, an emoji with the emoji-presentation selector U+FE0F is 2, and a flag (two regional
    /// indicators) is 2.
    public static func of(_ character: Character) -> Int? {
        if let ascii = character.asciiValue { return ascii < 0x20 || ascii == 0x7F ? nil : 1 }
        let scalars = character.unicodeScalars
        if scalars.count == 1, let only = scalars.first { return of(only) }
        guard let first = scalars.first else { return 0 }
        guard var width = of(first) else { return nil }
        var count = 0
        for scalar in scalars {
            count += 1
            if let w = of(scalar), w > width { width = w }
            if scalar.value == 0xFE0F, first.properties.isEmoji { width = 2 }
        }
        if count == 2, (0x1F1E6...0x1F1FF).contains(first.value) { width = 2 }  // regional indicator pair
        return width
    }

    /// The number of cells a string takes when printed, counting control characters as one replacement cell.
    public static func of(_ string: some StringProtocol) -> Int {
        var total = 0
        for ch in string { total += of(ch) ?? 1 }
        return total
    }

    /// The string cut to at most `width` cells; when cut, the last cell becomes `ellipsis` (default `…`).
    ///
    /// A wide character that would straddle the limit is dropped rather than split.
    public static func truncate(_ string: String, toWidth width: Int, ellipsis: String = "…") -> String {
        guard width > 0 else { return "" }
        if of(string) <= width { return string }
        let ellipsisWidth = of(ellipsis)
        let budget = width - ellipsisWidth
        if budget < 0 { return prefix(string, width: width) }
        return prefix(string, width: budget) + ellipsis
    }

    /// The longest prefix of `string` that fits in `width` cells.
    public static func prefix(_ string: String, width: Int) -> String {
        var used = 0
        var out = ""
        for ch in string {
            let w = of(ch) ?? 1
            if used + w > width { break }
            used += w
            out.append(ch)
        }
        return out
    }
}
