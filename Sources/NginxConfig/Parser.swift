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
public struct ConfigParser {
    private let bytes: [UInt8]
    private let path: String
    private var pos = 0
    private var line = 1
    private var lineStart = 0

    /// Parses `text` (the content of the file at `path`) into a tree that prints back byte for byte.
    public static func parse(_ text: String, path: String) throws(ConfigSyntaxError) -> ConfigFile {
        var parser = ConfigParser(bytes: Array(text.utf8), path: path)
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
        return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[from..<to]), as: UTF8.self) }
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
                while pos < bytes.count && bytes[pos] != ConfigParser.lf { pos += 1 }
            } else {
                break
            }
        }
        return text(start, pos)
    }

    private mutating func parseFile() throws(ConfigSyntaxError) -> ConfigFile {
        let (children, trailing) = try parseDirectives(inBlock: false)
        return ConfigFile(path: path, children: children, trailing: trailing)
    }

    /// Parses directives until `}` (in a block, consumed) or the end of the file (at top level).
    private mutating func parseDirectives(inBlock: Bool) throws(ConfigSyntaxError) -> ([Directive], String) {
        var children: [Directive] = []
        while true {
            let prefix = trivia()
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
            children.append(try parseDirective(prefix: prefix))
        }
    }

    private mutating func parseDirective(prefix: String) throws(ConfigSyntaxError) -> Directive {
        var words: [Word] = [try parseWord(prefix: prefix)]
        while true {
            let gapStart = pos
            let gap = trivia()
            guard pos < bytes.count else {
                throw error("unexpected end of file, expecting \";\" or \"}\"")
            }
            let b = bytes[pos]
            switch b {
            case ConfigParser.semicolon:
                pos += 1
                return makeDirective(words, beforeTerminator: gap, block: nil)
            case ConfigParser.openBrace:
                pos += 1
                let (children, trailing) = try parseDirectives(inBlock: true)
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
