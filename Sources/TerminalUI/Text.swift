/// Horizontal placement of content inside its area.
public enum Alignment: Hashable, Sendable {
    case left, center, right
}

/// A run of text in one style.
public struct Span: Hashable, Sendable, ExpressibleByStringLiteral {
    public var content: String
    public var style: Style

    public init(_ content: String, style: Style = .plain) {
        self.content = content
        self.style = style
    }

    public init(stringLiteral value: String) { self.init(value) }

    /// The number of cells the span takes.
    public var width: Int { DisplayWidth.of(content) }
}

/// One line of text made of spans, with a base style under them and an optional alignment.
public struct Line: Hashable, Sendable, ExpressibleByStringLiteral {
    public var spans: [Span]
    public var style: Style
    public var alignment: Alignment?

    public init(_ spans: [Span], style: Style = .plain, alignment: Alignment? = nil) {
        self.spans = spans
        self.style = style
        self.alignment = alignment
    }

    public init(_ text: String, style: Style = .plain, alignment: Alignment? = nil) {
        self.init([Span(text)], style: style, alignment: alignment)
    }

    public init(stringLiteral value: String) { self.init(value) }

    /// The number of cells the line takes.
    public var width: Int { spans.reduce(0) { $0 + $1.width } }

    /// The text without styles.
    public var plainText: String { spans.map(\.content).joined() }

    /// The line cut to `width` cells, ending in `…` when something was cut.
    public func truncated(toWidth width: Int, ellipsis: String = "…") -> Line {
        guard self.width > width else { return self }
        guard width > 0 else { return Line([], style: style, alignment: alignment) }
        let ellipsisWidth = DisplayWidth.of(ellipsis)
        var budget = width - ellipsisWidth
        var out: [Span] = []
        for span in spans {
            if budget <= 0 { break }
            let part = DisplayWidth.prefix(span.content, width: budget)
            budget -= DisplayWidth.of(part)
            out.append(Span(part, style: span.style))
            if part.count < span.content.count { break }
        }
        let lastStyle = out.last?.style ?? spans.first?.style ?? .plain
        if budget >= 0 { out.append(Span(ellipsis, style: lastStyle)) }
        return Line(out, style: style, alignment: alignment)
    }

    /// Writes the line into `area`'s first row, aligned (its own alignment wins over `defaultAlignment`) and
    /// truncated with `…` when too wide.
    public func render(in area: Rect, buffer: inout Buffer, defaultAlignment: Alignment = .left, truncate: Bool = true) {
        guard !area.isEmpty else { return }
        let line = truncate ? truncated(toWidth: area.width) : self
        let w = Swift.min(line.width, area.width)
        let x: Int
        switch alignment ?? defaultAlignment {
        case .left: x = area.x
        case .center: x = area.x + (area.width - w) / 2
        case .right: x = area.x + area.width - w
        }
        buffer.set(line: line, at: x, area.y, clipWidth: area.right - x)
    }
}

/// Several lines of text.
public struct Text: Hashable, Sendable, ExpressibleByStringLiteral {
    public var lines: [Line]

    public init(_ lines: [Line]) { self.lines = lines }

    /// Text from a string, one `Line` per `\n`-separated line, all in `style`.
    public init(_ string: String, style: Style = .plain) {
        lines = string.split(separator: "\n", omittingEmptySubsequences: false).map { Line([Span(String($0), style: style)]) }
    }

    public init(stringLiteral value: String) { self.init(value) }

    /// The widest line's width.
    public var width: Int { lines.map(\.width).max() ?? 0 }
    /// The number of lines.
    public var height: Int { lines.count }
}

/// Text made safe to print on a terminal: what arrives from outside (a request path in a log, a file
/// name) may carry terminal escapes that would rewrite the operator's screen or title.
public enum TerminalText {
    /// `text` with every control character (C0 except newline and tab, DEL, C1, line and paragraph
    /// separators) replaced by a visible `\xNN` / `\u{NNNN}` escape, so it prints as inert text.
    public static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                let escape = scalar.value < 0x100 ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{\(hex)}"
                out.append(contentsOf: escape.unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Whether `scalar` would act on a terminal rather than print.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v == 0x0A || v == 0x09 { return false }
        return v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029
    }
}
