/// A word of a directive: its text exactly as written (quotes and escapes included) and the trivia before it.
public struct Word: Sendable, Equatable {
    /// Whitespace and comments between the previous token and this word, exactly as written.
    public var prefix: String
    /// The word as written in the file, including any quotes and backslash escapes.
    public var raw: String {
        didSet { value = Word.unescape(raw) }
    }
    /// The value nginx sees: quotes removed and backslash escapes resolved the way nginx's lexer does.
    public private(set) var value: String
    /// The 1-based line where the word starts in its file (0 for words created by an edit).
    public var line: Int
    /// The 1-based column (in bytes) where the word starts (0 for words created by an edit).
    public var column: Int

    public init(prefix: String = " ", raw: String, line: Int = 0, column: Int = 0) {
        self.prefix = prefix
        self.raw = raw
        self.value = Word.unescape(raw)
        self.line = line
        self.column = column
    }

    /// A new word holding `value`, quoted with double quotes when nginx would otherwise split or misread it.
    public static func quoting(_ value: String, prefix: String = " ", force: Bool = false) -> Word {
        Word(prefix: prefix, raw: Word.quote(value, force: force))
    }

    /// Whether the word is written in single or double quotes.
    public var isQuoted: Bool {
        guard let first = raw.utf8.first else { return false }
        return first == UInt8(ascii: "\"") || first == UInt8(ascii: "'")
    }

    /// The quote character the word uses, if any.
    public var quoteCharacter: Character? { isQuoted ? raw.first : nil }

    /// Returns `value` written as nginx would read it back unchanged, double-quoted when needed or forced.
    public static func quote(_ value: String, force: Bool = false, quote: Character = "\"") -> String {
        let needs = force || value.isEmpty || value.contains(where: { " \t\r\n;{}\"'#\\".contains($0) })
        guard needs else { return value }
        var out = String(quote)
        for ch in value {
            switch ch {
            case "\\": out += "\\\\"
            case quote: out += "\\" + String(quote)
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        out.append(quote)
        return out
    }

    /// Resolves quotes and escapes in `raw` the way `ngx_conf_read_token` copies a word.
    public static func unescape(_ raw: String) -> String {
        let utf8 = raw.utf8
        if let first = utf8.first, first != UInt8(ascii: "\""), first != UInt8(ascii: "'") {
            let plain = utf8.withContiguousStorageIfAvailable { !$0.contains(UInt8(ascii: "\\")) } ?? !utf8.contains(UInt8(ascii: "\\"))
            if plain { return raw }
        }
        var bytes = Array(utf8)
        if let first = bytes.first, (first == UInt8(ascii: "\"") || first == UInt8(ascii: "'")),
           bytes.count >= 2, bytes.last == first {
            bytes = Array(bytes[1..<(bytes.count - 1)])
        }
        guard bytes.contains(UInt8(ascii: "\\")) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\\"), i + 1 < bytes.count {
                let next = bytes[i + 1]
                switch next {
                case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "\\"):
                    out.append(next); i += 2; continue
                case UInt8(ascii: "t"): out.append(9); i += 2; continue
                case UInt8(ascii: "r"): out.append(13); i += 2; continue
                case UInt8(ascii: "n"): out.append(10); i += 2; continue
                default: break
                }
            }
            out.append(b)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A directive: a name, its arguments, and either a `;` or a block of child directives.
public struct Directive: Sendable, Equatable {
    /// The directive's name word; its prefix holds the whitespace and comments before the directive.
    public var name: Word
    /// The arguments after the name.
    public var args: [Word]
    /// Trivia between the last word and the `;` or `{`.
    public var beforeTerminator: String
    /// The block's content for directives written with `{ ... }`, nil for those ending in `;`.
    public var block: Block?

    public init(name: Word, args: [Word], beforeTerminator: String = "", block: Block? = nil) {
        self.name = name
        self.args = args
        self.beforeTerminator = beforeTerminator
        self.block = block
    }

    /// The 1-based line of the directive's name.
    public var line: Int { name.line }
    /// The argument values as nginx reads them.
    public var values: [String] { args.map(\.value) }
}

/// The content of a `{ ... }` block: its directives and the trivia before the closing brace.
public struct Block: Sendable, Equatable {
    public var children: [Directive]
    /// Whitespace and comments after the last child, before `}`.
    public var trailing: String

    public init(children: [Directive] = [], trailing: String = "") {
        self.children = children
        self.trailing = trailing
    }
}

/// One parsed config file: its top-level directives and the trivia after the last one.
public struct ConfigFile: Sendable, Equatable {
    /// The file's absolute path.
    public var path: String
    public var children: [Directive]
    /// Whitespace and comments after the last directive, up to the end of the file.
    public var trailing: String

    public init(path: String, children: [Directive], trailing: String) {
        self.path = path
        self.children = children
        self.trailing = trailing
    }
}
