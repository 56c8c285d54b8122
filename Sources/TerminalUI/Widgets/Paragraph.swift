/// How a `Paragraph` handles lines wider than its area.
public enum Wrap: Hashable, Sendable {
    /// Cut long lines, ending them in `…`.
    case truncate
    /// Break long lines at spaces (or mid-word when a word is wider than the area).
    case word
}

/// Styled text, optionally inside a block, truncated or wrapped to its area and scrollable vertically.
public struct Paragraph: Widget {
    public var text: Text
    public var block: Block?
    public var style: Style
    public var alignment: Alignment
    public var wrap: Wrap
    /// Lines (after wrapping) skipped from the top.
    public var scroll: Int

    public init(_ text: Text, block: Block? = nil, style: Style = .plain, alignment: Alignment = .left, wrap: Wrap = .truncate, scroll: Int = 0) {
        self.text = text
        self.block = block
        self.style = style
        self.alignment = alignment
        self.wrap = wrap
        self.scroll = scroll
    }

    /// The lines as they will be laid out in `width` columns.
    public func layoutLines(width: Int) -> [Line] {
        switch wrap {
        case .truncate: return text.lines
        case .word: return text.lines.flatMap { Paragraph.wrap($0, width: width) }
        }
    }

    /// Breaks a line into lines no wider than `width`, at spaces where possible; spaces at a break are dropped.
    public static func wrap(_ line: Line, width: Int) -> [Line] {
        guard width > 0, line.width > width else { return [line] }
        // Flatten to (grapheme, style, width) so breaks can fall inside spans.
        var glyphs: [(Character, Style, Int)] = []
        for span in line.spans {
            for ch in span.content { glyphs.append((ch, span.style, DisplayWidth.of(ch) ?? 1)) }
        }
        var out: [Line] = []
        var start = 0
        while start < glyphs.count {
            while start < glyphs.count && glyphs[start].0 == " " && !out.isEmpty { start += 1 }
            var used = 0
            var end = start
            var lastSpace: Int?
            while end < glyphs.count && used + glyphs[end].2 <= width {
                if glyphs[end].0 == " " { lastSpace = end }
                used += glyphs[end].2
                end += 1
            }
            if end < glyphs.count, let space = lastSpace, space > start, glyphs[end].0 != " " { end = space }
            if end == start { end = start + 1 }  // a single glyph wider than the area
            var spans: [Span] = []
            for g in glyphs[start..<end] {
                if let last = spans.last, last.style == g.1 {
                    spans[spans.count - 1].content.append(g.0)
                } else {
                    spans.append(Span(String(g.0), style: g.1))
                }
            }
            out.append(Line(spans, style: line.style, alignment: line.alignment))
            start = end
        }
        return out
    }

    public func render(in area: Rect, buffer: inout Buffer) {
        var inner = area
        if let block {
            block.render(in: area, buffer: &buffer)
            inner = block.inner(area)
        }
        guard !inner.isEmpty else { return }
        buffer.patchStyle(style, in: inner)
        let lines = layoutLines(width: inner.width)
        let first = min(max(0, scroll), lines.count)
        for (row, index) in (first..<lines.count).enumerated() where row < inner.height {
            var line = lines[index]
            line.style = style.patched(with: line.style)
            line.render(in: Rect(x: inner.x, y: inner.y + row, width: inner.width, height: 1), buffer: &buffer, defaultAlignment: alignment)
        }
    }
}
