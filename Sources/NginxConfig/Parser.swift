/// A syntax error in an nginx config file, positioned at file:line:column.
public struct ConfigSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    /// What was found and what was expected, in nginx's own wording where it has one.
    public var message: String

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Parses nginx config text into a lossless tree, following the tokenisation rules of `ngx_conf_read_token`.
///
/// Bounded by design: blocks nest at most `maxDepth` levels (a clear error beyond), and a token or comment
/// of `maxTokenBytes` bytes or more is refused as nginx refuses it (its read buffer is 4,096 bytes).
public struct ConfigParser {
    /// The deepest block nesting Cutover reads; real configs use fewer than 10 levels.
    public static let maxDepth = 100
    /// nginx's `NGX_CONF_BUFFER`: a token (or `#` comment) this long or longer makes `nginx -t` fail.
    public static let maxTokenBytes = 4096

    private let bytes: [UInt8]
    private let path: String
    private var pos = 0
    private var line = 1
    private var lineStart = 0
    /// Set by `trivia()` when it passed a comment nginx would refuse as too long (its offset).
    private var tooLong: Int?

    /// Parses `text` (the content of the file at `path`) into a tree that prints back byte for byte.
    public static func parse(_ text: String, path: String) throws(ConfigSyntaxError) -> ConfigFile {
        var parser = ConfigParser(bytes: ConfigText.encode(text), path: path)
        return try parser.parseFile()
    }

    private init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    private static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
    private static let semicolon = UInt8(ascii: ";"), openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")
    private static let hash = UInt8(ascii: "#"), backslash = UInt8(ascii: "\\"), dollar = UInt8(ascii: "$")
    private static let dquote = UInt8(ascii: "\""), squote = UInt8(ascii: "'"), closeParen = UInt8(ascii: ")")

    private static func isSpace(_ b: UInt8) -> Bool { b == space || b == tab || b == cr || b == lf }

    private func error(_ message: String, at offset: Int? = nil) -> ConfigSyntaxError {
        let at = offset ?? pos
        // Recompute the line and column for `at` (errors are rare, so a scan is fine).
        var l = 1, start = 0
        var i = 0
        while i < at && i < bytes.count {
            if bytes[i] == ConfigParser.lf { l += 1; start = i + 1 }
            i += 1
        }
        return ConfigSyntaxError(file: path, line: l, column: at - start + 1, message: message)
    }

    private func text(_ from: Int, _ to: Int) -> String {
        if from == to { return "" }
        return bytes.withUnsafeBufferPointer { ConfigText.decode(UnsafeBufferPointer(rebasing: $0[from..<to])) }
    }

    private mutating func advance() {
        if bytes[pos] == ConfigParser.lf { line += 1; lineStart = pos + 1 }
        pos += 1
    }

    /// Consumes whitespace and `#` comments; returns them as written.
    private mutating func trivia() -> String {
        let start = pos
        while pos < bytes.count {
            let b = bytes[pos]
            if ConfigParser.isSpace(b) {
                advance()
            } else if b == ConfigParser.hash {
                let commentStart = pos
                while pos < bytes.count && bytes[pos] != ConfigParser.lf { pos += 1 }
                if pos - commentStart >= ConfigParser.maxTokenBytes && pos < bytes.count {
                    tooLong = commentStart
                }
            } else {
                break
            }
        }
        return text(start, pos)
    }

    private mutating func parseFile() throws(ConfigSyntaxError) -> ConfigFile {
        let (children, trailing) = try parseDirectives(inBlock: false, depth: 0)
        return ConfigFile(path: path, children: children, trailing: trailing)
    }

    /// Consumes trivia and refuses a `#` comment nginx finds too long.
    private mutating func checkedTrivia() throws(ConfigSyntaxError) -> String {
        let text = trivia()
        if let at = tooLong {
            throw error("too long parameter \"\(self.text(at, min(at + 10, bytes.count)))...\" started (nginx reads at most \(ConfigParser.maxTokenBytes - 1) bytes per token or comment); split or shorten it", at: at)
        }
        return text
    }

    /// Parses directives until `}` (in a block, consumed) or the end of the file (at top level).
    private mutating func parseDirectives(inBlock: Bool, depth: Int) throws(ConfigSyntaxError) -> ([Directive], String) {
        var children: [Directive] = []
        while true {
            let prefix = try checkedTrivia()
            guard pos < bytes.count else {
                if inBlock { throw error("unexpected end of file, expecting \"}\"") }
                return (children, prefix)
            }
            let b = bytes[pos]
            if b == ConfigParser.closeBrace {
                if !inBlock { throw error("unexpected \"}\"") }
                pos += 1
                return (children, prefix)
            }
            if b == ConfigParser.semicolon || b == ConfigParser.openBrace {
                throw error("unexpected \"\(Character(UnicodeScalar(b)))\"")
            }
            children.append(try parseDirective(prefix: prefix, depth: depth))
        }
    }

    private mutating func parseDirective(prefix: String, depth: Int) throws(ConfigSyntaxError) -> Directive {
        var words: [Word] = [try parseWord(prefix: prefix)]
        while true {
            let gapStart = pos
            // After a quoted word nginx needs a space, ";", "{" or ")" next: a `#` right after the quote is no comment.
            if pos < bytes.count, bytes[pos] == ConfigParser.hash, let last = words.last, last.isQuoted {
                throw error("unexpected \"#\" right after a quoted string; put a space before the comment")
            }
            let gap = try checkedTrivia()
            guard pos < bytes.count else {
                throw error("unexpected end of file, expecting \";\" or \"}\"")
            }
            let b = bytes[pos]
            switch b {
            case ConfigParser.semicolon:
                pos += 1
                return makeDirective(words, beforeTerminator: gap, block: nil)
            case ConfigParser.openBrace:
                if depth + 1 > ConfigParser.maxDepth {
                    throw error("blocks are nested more than \(ConfigParser.maxDepth) levels deep here; Cutover reads at most \(ConfigParser.maxDepth) (real configs use a handful) — look for unbalanced `{`")
                }
                pos += 1
                let (children, trailing) = try parseDirectives(inBlock: true, depth: depth + 1)
                return makeDirective(words, beforeTerminator: gap, block: Block(children: children, trailing: trailing))
            case ConfigParser.closeBrace:
                throw error("unexpected \"}\", expecting \";\" after \"\(words[0].value)\"")
            default:
                // After a quoted word nginx needs a space, ";", "{" or ")" before the next word.
                if gapStart == pos, let last = words.last, last.isQuoted, b != ConfigParser.closeParen {
                    throw error("unexpected \"\(Character(UnicodeScalar(b)))\" after a quoted string; put a space before it")
                }
                words.append(try parseWord(prefix: gap))
            }
        }
    }

    private func makeDirective(_ words: [Word], beforeTerminator: String, block: Block?) -> Directive {
        Directive(name: words[0], args: Array(words.dropFirst()), beforeTerminator: beforeTerminator, block: block)
    }

    private mutating func parseWord(prefix: String) throws(ConfigSyntaxError) -> Word {
        let start = pos
        let wordLine = line
        let column = pos - lineStart + 1
        let first = bytes[pos]
        if first == ConfigParser.dquote || first == ConfigParser.squote {
            pos += 1
            while true {
                guard pos < bytes.count else {
                    throw error("unexpected end of file inside a quoted string started here; add the closing \(Character(UnicodeScalar(first)))", at: start)
                }
                let b = bytes[pos]
                if b == ConfigParser.backslash {
                    advance()
                    if pos < bytes.count { advance() }
                    continue
                }
                advance()
                if b == first { break }
            }
        } else {
            var variable = false
            while pos < bytes.count {
                let b = bytes[pos]
                if b == ConfigParser.openBrace && variable { pos += 1; continue }
                variable = false
                if b == ConfigParser.backslash {
                    pos += 1
                    if pos < bytes.count { advance() }
                    continue
                }
                if b == ConfigParser.dollar { variable = true; pos += 1; continue }
                if ConfigParser.isSpace(b) || b == ConfigParser.semicolon || b == ConfigParser.openBrace { break }
                pos += 1
            }
        }
        // nginx counts a token from its first byte (after an opening quote) and fails once its 4 KiB buffer is full.
        let counted = pos - start - (first == ConfigParser.dquote || first == ConfigParser.squote ? 1 : 0)
        if counted >= ConfigParser.maxTokenBytes && pos < bytes.count {
            let from = start + (first == ConfigParser.dquote || first == ConfigParser.squote ? 1 : 0)
            throw error("too long parameter \"\(text(from, min(from + 10, bytes.count)))...\" started (nginx reads at most \(ConfigParser.maxTokenBytes - 1) bytes per token); shorten it", at: start)
        }
        return Word(prefix: prefix, raw: text(start, pos), line: wordLine, column: column)
    }
}

/// Prints trees back to text; an unedited tree prints exactly the bytes it was parsed from.
public enum ConfigPrinter {
    /// The text of a whole file.
    public static func print(_ file: ConfigFile, capacity: Int = 0) -> String {
        var out = ""
        out.reserveCapacity(capacity)
        for child in file.children { write(child, to: &out) }
        out += file.trailing
        return out
    }

    /// The text of one directive, its leading trivia included.
    public static func print(_ directive: Directive) -> String {
        var out = ""
        write(directive, to: &out)
        return out
    }

    private static func write(_ d: Directive, to out: inout String) {
        out += d.name.prefix
        out += d.name.raw
        for arg in d.args {
            out += arg.prefix
            out += arg.raw
        }
        out += d.beforeTerminator
        if let block = d.block {
            out += "{"
            for child in block.children { write(child, to: &out) }
            out += block.trailing
            out += "}"
        } else {
            out += ";"
        }
    }
}
