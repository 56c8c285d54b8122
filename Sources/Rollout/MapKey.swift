
/// A `map` key read once as nginx reads it: an exact string (matched case-insensitively, as nginx's map hash
/// lowercases keys) or a regular expression (`~` case-sensitive, `~*` caseless), with the raw text kept.
///
/// Two keys are equal when nginx treats them as the same key: exact keys compare ASCII-case-insensitively,
/// regex keys by their marker and pattern; an exact key never equals a regex (the exact key `\~^/a$` reads
/// `~^/a$` once unescaped, like the regex `~^/a$`, but nginx compares it as text).
public struct MapKey: Sendable, Hashable, CustomStringConvertible {
    /// The key word's value as written (after quotes and escapes), e.g. `~^/v2/x$` or `\\default`.
    public let raw: String
    /// The key as nginx matches it: the regex with its marker, or the exact text without a leading backslash.
    public let key: String
    /// The regular expression without `~`/`~*`, nil for an exact key.
    public let pattern: String?
    /// Whether matching ignores case: `~*` regexes and every exact key (nginx lowercases both sides).
    public let caseless: Bool
    /// What nginx compares: an exact key ASCII-lowercased, a regex key as written (computed once).
    public let identity: String

    /// Reads a key word's value the way `ngx_http_map` does: `~` first, then a leading `\\` escape.
    public init(raw: String) {
        self.raw = raw
        if raw.hasPrefix("~*") {
            key = raw; pattern = String(raw.dropFirst(2)); caseless = true; identity = raw
        } else if raw.hasPrefix("~") {
            key = raw; pattern = String(raw.dropFirst()); caseless = false; identity = raw
        } else {
            let exact = raw.hasPrefix("\\") ? String(raw.dropFirst()) : raw
            key = exact; pattern = nil; caseless = true; identity = MapKey.asciiLowercased(exact)
        }
    }

    /// A key from its matched form (as `MapEntry.key` holds it); a leading `~` means a regex.
    public init(_ key: String) {
        self.init(raw: key)
    }

    /// Whether the key is a regular expression.
    public var isRegex: Bool { pattern != nil }


    /// Whether the key is one of `ngx_http_map`'s parameters rather than a key (`default`, `include`, and
    /// `hostnames`/`volatile`, which are parameters when written alone).
    public var isSpecialParameter: Bool {
        pattern == nil && !raw.hasPrefix("\\") && MapKey.specialParameters.contains(raw)
    }

    /// The words `ngx_http_map` reads as parameters.
    public static let specialParameters: Set<String> = ["default", "include", "hostnames", "volatile"]

    public var description: String { raw }

    public static func == (a: MapKey, b: MapKey) -> Bool { a.identity == b.identity && a.isRegex == b.isRegex }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(identity)
        hasher.combine(isRegex)
    }

    /// `s` with ASCII letters lowercased, as `ngx_hash_strlow` does.
    public static func asciiLowercased(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return s }
        return String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// The key's regex marker (`~` or `~*`), empty for exact keys.
    public var marker: String { pattern == nil ? "" : caseless ? "~*" : "~" }

    /// The pattern's bytes as (offset, character, escaped, insideClass) tokens, so callers can skip escapes and classes.
    private var scanned: [(offset: Int, ch: Character, escaped: Bool, inClass: Bool)] {
        guard let pattern else { return [] }
        var out: [(Int, Character, Bool, Bool)] = []
        var escaping = false
        var inClass = false
        for (i, ch) in pattern.enumerated() {
            if escaping {
                out.append((i, ch, true, inClass)); escaping = false; continue
            }
            if ch == "\\" { escaping = true; continue }
            if inClass {
                if ch == "]" { inClass = false }
                out.append((i, ch, false, true)); continue
            }
            if ch == "[" { inClass = true; out.append((i, ch, false, false)); continue }
            out.append((i, ch, false, false))
        }
        return out
    }

    /// Offsets of `.` that match any character although they sit between literal text (not `.*`, `.+`, `.?`, `.{n}`).
    public var unescapedDots: [Int] {
        let tokens = scanned
        var out: [Int] = []
        for (k, t) in tokens.enumerated() where t.ch == "." && !t.escaped && !t.inClass {
            let next = k + 1 < tokens.count ? tokens[k + 1] : nil
            if let next, !next.escaped, !next.inClass, "*+?{".contains(next.ch) { continue }
            out.append(t.offset)
        }
        return out
    }

    /// The key with every flagged dot escaped (`\.`), as it should be written.
    public var escapingDots: String {
        guard let pattern else { return key }
        let dots = Set(unescapedDots)
        var out = ""
        for (i, ch) in pattern.enumerated() {
            if dots.contains(i) { out += "\\." } else { out.append(ch) }
        }
        return marker + out
    }

    /// Whether the regex ends with an end anchor (`$`, `\z`, `\Z`) so it cannot match longer paths.
    public var hasEndAnchor: Bool {
        guard pattern != nil else { return true }
        let tokens = scanned
        guard let last = tokens.last else { return false }
        if !last.escaped && last.ch == "$" { return true }
        if last.escaped && (last.ch == "z" || last.ch == "Z") { return true }
        return false
    }

    /// The key with an end anchor added.
    public var anchored: String {
        guard let pattern, !hasEndAnchor else { return key }
        if scanned.contains(where: { $0.ch == "|" && !$0.escaped && !$0.inClass }) { return marker + "(?:" + pattern + ")$" }
        return marker + pattern + "$"
    }

    /// Capture groups in PCRE numbering order: their number and, when named, their name.
    public var captures: [(number: Int, name: String?)] {
        guard let pattern else { return [] }
        let chars = Array(pattern)
        var out: [(Int, String?)] = []
        for t in scanned where t.ch == "(" && !t.escaped && !t.inClass {
            let rest = chars[(t.offset + 1)...]
            if rest.first != "?" {
                out.append((out.count + 1, nil))
                continue
            }
            let afterQ = rest.dropFirst()
            var nameStart: ArraySlice<Character>?
            if afterQ.starts(with: ["<"]), let c = afterQ.dropFirst().first, c != "=" && c != "!" {
                nameStart = afterQ.dropFirst()
            } else if afterQ.starts(with: ["P", "<"]) {
                nameStart = afterQ.dropFirst(2)
            } else if afterQ.starts(with: ["'"]) {
                nameStart = afterQ.dropFirst()
            }
            if let nameStart {
                let name = String(nameStart.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
                out.append((out.count + 1, name))
            }
        }
        return out
    }

    /// The first part of the pattern, outside any capture group, that matches variable text (`\d+`, `[^/]+`, `.*`);
    /// nil when every variable part is captured or there is none.
    public var uncapturedVariablePart: String? {
        guard let pattern else { return nil }
        let chars = Array(pattern)
        let tokens = scanned
        var captureDepth: [Bool] = []
        var k = 0
        while k < tokens.count {
            let t = tokens[k]
            let insideCapture = captureDepth.contains(true)
            if !t.escaped && !t.inClass {
                if t.ch == "(" {
                    let next = t.offset + 1 < chars.count ? chars[t.offset + 1] : " "
                    let isCapture = next != "?" || (t.offset + 2 < chars.count && ["<", "P", "'"].contains(chars[t.offset + 2])
                        && !(t.offset + 3 < chars.count && chars[t.offset + 2] == "<" && ["=", "!"].contains(chars[t.offset + 3])))
                    captureDepth.append(isCapture)
                    k += 1
                    continue
                }
                if t.ch == ")" {
                    if !captureDepth.isEmpty { captureDepth.removeLast() }
                    k += 1
                    continue
                }
            }
            if insideCapture { k += 1; continue }
            // An atom: a class, an escape class, or a dot followed by a quantifier.
            var atomEnd = k
            var isVariable = false
            if t.ch == "[" && !t.escaped && !t.inClass {
                while atomEnd + 1 < tokens.count && tokens[atomEnd + 1].inClass { atomEnd += 1 }
                isVariable = true
            } else if t.escaped && "dDwWsSSh".contains(t.ch) {
                isVariable = true
            } else if t.ch == "." && !t.escaped {
                isVariable = false
            }
            var quantified = false
            if atomEnd + 1 < tokens.count {
                let q = tokens[atomEnd + 1]
                if !q.escaped && !q.inClass && "*+{".contains(q.ch) { quantified = true }
            }
            if isVariable || quantified {
                var end = atomEnd + 1
                while end < tokens.count, !tokens[end].escaped, !tokens[end].inClass, "*+?{},0123456789".contains(tokens[end].ch) { end += 1 }
                let from = tokens[k].offset - (tokens[k].escaped ? 1 : 0)
                let to = end < tokens.count ? tokens[end].offset - (tokens[end].escaped ? 1 : 0) : chars.count
                return String(chars[from..<max(from, to)])
            }
            k = atomEnd + 1
        }
        return nil
    }

    /// A path the key matches, built from the pattern (first branch of alternations, one repetition of `+`,
    /// none of `*`); nil for patterns too unusual to sample. Callers confirm it with PCRE2.
    public var witness: String? {
        guard let pattern else { return key }
        var sampler = Sampler(Array(pattern))
        guard let text = sampler.sequence(), sampler.index == sampler.chars.count else { return nil }
        return text
    }
}

/// Builds one string a regex matches, walking the pattern once.
private struct Sampler {
    let chars: [Character]
    var index = 0

    init(_ chars: [Character]) { self.chars = chars }

    /// A sequence up to `)` or the end; alternations keep their first branch.
    mutating func sequence() -> String? {
        var out = ""
        while index < chars.count {
            let ch = chars[index]
            if ch == ")" { return out }
            if ch == "|" {
                // Skip the other branches up to the closing parenthesis of this group.
                var depth = 0
                while index < chars.count {
                    let c = chars[index]
                    if c == "\\" { index += 2; continue }
                    if c == "[" { skipClass(); continue }
                    if c == "(" { depth += 1 }
                    if c == ")" { if depth == 0 { return out }; depth -= 1 }
                    index += 1
                }
                return out
            }
            guard let atom = self.atom() else { return nil }
            out += repeatAtom(atom)
        }
        return out
    }

    mutating func skipClass() {
        index += 1
        if index < chars.count && chars[index] == "^" { index += 1 }
        if index < chars.count && chars[index] == "]" { index += 1 }
        while index < chars.count && chars[index] != "]" {
            if chars[index] == "\\" { index += 1 }
            index += 1
        }
        index += 1
    }

    /// One atom's sample text.
    mutating func atom() -> String? {
        let ch = chars[index]
        switch ch {
        case "^", "$":
            index += 1
            return ""
        case ".":
            index += 1
            return "."
        case "\\":
            guard index + 1 < chars.count else { return nil }
            let e = chars[index + 1]
            index += 2
            switch e {
            case "d": return "1"
            case "w": return "a"
            case "s": return " "
            case "D", "W", "S": return "-"
            case "z", "Z", "A", "b", "B": return ""
            default: return e.isLetter ? nil : String(e)
            }
        case "[":
            let start = index + 1
            var negated = false
            var i = start
            if i < chars.count && chars[i] == "^" { negated = true; i += 1 }
            var members: [Character] = []
            var first = true
            while i < chars.count && (chars[i] != "]" || first) {
                first = false
                if chars[i] == "\\", i + 1 < chars.count {
                    let e = chars[i + 1]
                    members.append(e == "d" ? "1" : e == "w" ? "a" : e)
                    i += 2
                    continue
                }
                members.append(chars[i])
                i += 1
            }
            guard i < chars.count else { return nil }
            index = i + 1
            if negated {
                for candidate in ["a", "1", "x", "z"] as [Character] where !members.contains(candidate) { return String(candidate) }
                return nil
            }
            return members.first.map { String($0) }
        case "(":
            index += 1
            var lookaround = false
            if index < chars.count && chars[index] == "?" {
                index += 1
                guard index < chars.count else { return nil }
                let kind = chars[index]
                if kind == ":" {
                    index += 1
                } else if kind == "<" && index + 1 < chars.count && (chars[index + 1] == "=" || chars[index + 1] == "!") {
                    lookaround = true
                } else if kind == "=" || kind == "!" {
                    lookaround = true
                } else if kind == "<" || kind == "'" || kind == "P" {
                    while index < chars.count && chars[index] != ">" && !(kind == "'" && chars[index] == "'" && index > 0 && chars[index - 1] != "?") { index += 1 }
                    index += 1
                } else {
                    // Inline flags like (?i): no text.
                    while index < chars.count && chars[index] != ")" { index += 1 }
                    index += 1
                    return ""
                }
            }
            guard let inner = sequence(), index < chars.count, chars[index] == ")" else { return nil }
            index += 1
            return lookaround ? "" : inner
        case "*", "+", "?", "{", "|", ")":
            return nil
        default:
            index += 1
            return String(ch)
        }
    }

    /// Applies a quantifier after an atom, if any: `*` and `{0,...}` drop it, `+`, `?` and `{n,...}` keep n ≥ 1 copies.
    mutating func repeatAtom(_ atom: String) -> String {
        guard index < chars.count else { return atom }
        var result = atom
        switch chars[index] {
        case "*":
            index += 1; result = ""
        case "+", "?":
            index += 1
        case "{":
            var j = index + 1
            var digits = ""
            while j < chars.count && chars[j].isNumber { digits.append(chars[j]); j += 1 }
            guard let n = Int(digits), j < chars.count, chars[j] == "}" || chars[j] == "," else { return atom }
            while j < chars.count && chars[j] != "}" { j += 1 }
            index = j + 1
            result = String(repeating: atom, count: min(n, 8))
        default:
            return atom
        }
        // Lazy or possessive suffix.
        if index < chars.count && (chars[index] == "?" || chars[index] == "+") { index += 1 }
        return result
    }
}

