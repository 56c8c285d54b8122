/// The lossless bridge between a config file's bytes and the `String`s the tree holds.
///
/// nginx reads its config as bytes, so a Latin-1 comment or value is as valid as UTF-8. Valid UTF-8 decodes as
/// itself; every byte that is not part of a valid UTF-8 sequence becomes one private-use scalar
/// (U+10FF80 + (byte − 0x80)) and `encode` turns it back into that byte. The rare valid sequences that spell
/// those scalars are themselves decoded byte by byte, so `encode(decode(bytes)) == bytes` for every input.
public enum ConfigText {
    /// The first scalar of the escape range: U+10FF00 + byte for bytes 0x80...0xFF.
    static let escapeBase: UInt32 = 0x10FF00

    /// The text of `bytes`, every byte kept (see the type's documentation).
    public static func decode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
        let b = Array(bytes)
        if !containsEscapeLookalike(b), let valid = String(validating: b, as: UTF8.self) { return valid }
        var out = String.UnicodeScalarView()
        var i = 0
        while i < b.count {
            let lead = b[i]
            if lead < 0x80 { out.append(Unicode.Scalar(lead)); i += 1; continue }
            if let (scalar, length) = sequence(b, at: i), scalar.value < escapeBase + 0x80 {
                out.append(scalar)
                i += length
                continue
            }
            // Not valid UTF-8 (or a sequence that spells an escape scalar): one escape per byte.
            if let escaped = Unicode.Scalar(escapeBase + UInt32(lead)) { out.append(escaped) }
            i += 1
        }
        return String(out)
    }

    /// The bytes `text` stands for: UTF-8, with every escape scalar turned back into its byte.
    public static func encode(_ text: String) -> [UInt8] {
        let utf8 = text.utf8
        guard utf8.contains(0xF4) else { return Array(utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        for scalar in text.unicodeScalars {
            if scalar.value >= escapeBase + 0x80 && scalar.value <= escapeBase + 0xFF {
                out.append(UInt8(scalar.value - escapeBase))
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        return out
    }

    /// Whether `text` holds bytes that are not UTF-8 (escape scalars).
    public static func hasNonUTF8(_ text: String) -> Bool {
        guard text.utf8.contains(0xF4) else { return false }
        return text.unicodeScalars.contains { $0.value >= escapeBase + 0x80 && $0.value <= escapeBase + 0xFF }
    }

    /// F4 8F BE/BF: the start of a valid sequence for U+10FF80...U+10FFFF.
    private static func containsEscapeLookalike(_ b: [UInt8]) -> Bool {
        guard b.count >= 3 else { return false }
        for i in 0..<(b.count - 2) where b[i] == 0xF4 && b[i + 1] == 0x8F && b[i + 2] >= 0xBE { return true }
        return false
    }

    /// The valid UTF-8 sequence at `i` (shortest form, no surrogates, at most U+10FFFF) and its length.
    private static func sequence(_ b: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        let lead = b[i]
        let length: Int, minimum: UInt32
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; value = UInt32(lead & 0x1F); minimum = 0x80
        case 0xE0...0xEF: length = 3; value = UInt32(lead & 0x0F); minimum = 0x800
        case 0xF0...0xF4: length = 4; value = UInt32(lead & 0x07); minimum = 0x10000
        default: return nil
        }
        guard i + length <= b.count else { return nil }
        for k in 1..<length {
            let c = b[i + k]
            guard c & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(c & 0x3F)
        }
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}
