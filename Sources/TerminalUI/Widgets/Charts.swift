/// A one-line-per-row chart of values in `0...1` drawn with the eight block elements ▁▂▃▄▅▆▇█.
///
/// The newest value is at the right; when there are more values than columns the oldest are dropped. `nil`
/// (no data) leaves the column blank. With more than one row, a value is stacked over the rows in eighths.
public struct Sparkline: Widget {
    /// The eight Unicode bars from lowest to full.
    public static let unicodeBars = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    /// An ASCII fallback with the same number of levels.
    public static let asciiBars = [".", ",", "-", "~", "=", "+", "#", "@"]

    public var values: [Double?]
    public var style: Style
    public var bars: [String]
    public var block: Block?

    public init(_ values: [Double?], style: Style = .plain, bars: [String] = Sparkline.unicodeBars, block: Block? = nil) {
        self.values = values
        self.style = style
        self.bars = bars.isEmpty ? Sparkline.unicodeBars : bars
        self.block = block
    }

    /// The number of eighths (1...rows*levels) a value fills in a chart `rows` high: 0 gives one eighth
    /// (the lowest bar, so zero differs from no data), 1 fills every row; out-of-range values are clamped.
    public static func level(of value: Double, rows: Int, levels: Int = 8) -> Int {
        let steps = max(1, rows * levels)
        let v = value.isNaN ? 0 : min(1, max(0, value))
        return Int((v * Double(steps - 1)).rounded()) + 1
    }

    /// The bar symbol for a single-row chart.
    public func symbol(for value: Double) -> String {
        bars[Sparkline.level(of: value, rows: 1, levels: bars.count) - 1]
    }

    public func render(in area: Rect, buffer: inout Buffer) {
        var inner = area
        if let block {
            block.render(in: area, buffer: &buffer)
            inner = block.inner(area)
        }
        guard !inner.isEmpty else { return }
        let shown = values.suffix(inner.width)
        let startX = inner.right - shown.count
        let levels = bars.count
        for (i, value) in shown.enumerated() {
            guard let value else { continue }
            let filled = Sparkline.level(of: value, rows: inner.height, levels: levels)
            for row in 0..<inner.height {
                let y = inner.bottom - 1 - row
                let inRow = filled - row * levels
                guard inRow > 0 else { break }
                buffer.set(string: bars[min(levels, inRow) - 1], at: startX + i, y, style: style, clipWidth: 1)
            }
        }
    }
}

/// A horizontal bar showing a fraction of its width, with a label drawn over it (e.g. a rollout share).
public struct Gauge: Widget {
    /// Partial-cell blocks from one eighth to full.
    public static let eighths = ["▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"]

    public var ratio: Double
    public var label: String?
    public var filledStyle: Style
    public var emptyStyle: Style
    public var unicode: Bool

    public init(ratio: Double, label: String? = nil, filledStyle: Style = .plain, emptyStyle: Style = .plain, unicode: Bool = true) {
        self.ratio = ratio
        self.label = label
        self.filledStyle = filledStyle
        self.emptyStyle = emptyStyle
        self.unicode = unicode
    }

    public func render(in area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        let y = area.y + area.height / 2
        buffer.fill(area, with: Cell(" ", style: emptyStyle))
        HorizontalBar.draw(fraction: ratio, x: area.x, y: y, width: area.width, style: filledStyle, unicode: unicode, buffer: &buffer)
        if let label {
            let w = min(DisplayWidth.of(label), area.width)
            let x = area.x + (area.width - w) / 2
            buffer.set(string: DisplayWidth.truncate(label, toWidth: area.width), at: x, y, style: emptyStyle.bold, clipWidth: area.width)
        }
    }
}

/// Rows of labelled horizontal bars, one per bucket, scaled to the largest value: a histogram on its side.
public struct BarChart: Widget {
    /// One row of the chart.
    public struct Bar: Hashable, Sendable {
        public var label: String
        public var value: Double
        /// Shown right of the bar; defaults to nothing.
        public var valueText: String
        public var style: Style?

        public init(label: String, value: Double, valueText: String = "", style: Style? = nil) {
            self.label = label
            self.value = value
            self.valueText = valueText
            self.style = style
        }
    }

    public var bars: [Bar]
    public var block: Block?
    public var barStyle: Style
    public var labelStyle: Style
    public var valueStyle: Style
    /// The value that fills the whole bar; defaults to the largest value.
    public var maximum: Double?
    public var unicode: Bool

    public init(
        _ bars: [Bar], block: Block? = nil, barStyle: Style = .plain, labelStyle: Style = .plain, valueStyle: Style = .plain,
        maximum: Double? = nil, unicode: Bool = true
    ) {
        self.bars = bars
        self.block = block
        self.barStyle = barStyle
        self.labelStyle = labelStyle
        self.valueStyle = valueStyle
        self.maximum = maximum
        self.unicode = unicode
    }

    public func render(in area: Rect, buffer: inout Buffer) {
        var inner = area
        if let block {
            block.render(in: area, buffer: &buffer)
            inner = block.inner(area)
        }
        guard !inner.isEmpty else { return }
        let labelWidth = min(bars.map { DisplayWidth.of($0.label) }.max() ?? 0, inner.width / 3)
        let valueWidth = min(bars.map { DisplayWidth.of($0.valueText) }.max() ?? 0, inner.width / 3)
        let top = maximum ?? bars.map(\.value).max() ?? 0
        let barX = inner.x + labelWidth + (labelWidth > 0 ? 1 : 0)
        let barWidth = max(0, inner.right - barX - (valueWidth > 0 ? valueWidth + 1 : 0))
        for (row, bar) in bars.enumerated() where row < inner.height {
            let y = inner.y + row
            Line(DisplayWidth.truncate(bar.label, toWidth: labelWidth), style: labelStyle)
                .render(in: Rect(x: inner.x, y: y, width: labelWidth, height: 1), buffer: &buffer, defaultAlignment: .right)
            let fraction = top > 0 ? bar.value / top : 0
            HorizontalBar.draw(fraction: fraction, x: barX, y: y, width: barWidth, style: bar.style ?? barStyle, unicode: unicode, buffer: &buffer)
            if valueWidth > 0 {
                Line(DisplayWidth.truncate(bar.valueText, toWidth: valueWidth), style: valueStyle)
                    .render(in: Rect(x: inner.right - valueWidth, y: y, width: valueWidth, height: 1), buffer: &buffer, defaultAlignment: .right)
            }
        }
    }
}

/// Drawing of one horizontal bar with eighth-cell precision, shared by `Gauge` and `BarChart`.
public enum HorizontalBar {
    /// The number of eighths of a cell that `fraction` (clamped to 0...1) fills in `width` cells.
    public static func eighths(fraction: Double, width: Int) -> Int {
        let f = fraction.isNaN ? 0 : min(1, max(0, fraction))
        return Int((f * Double(width * 8)).rounded())
    }

    /// Draws the bar from `x` on row `y`: full blocks then one partial block (or `#` without Unicode).
    public static func draw(fraction: Double, x: Int, y: Int, width: Int, style: Style, unicode: Bool, buffer: inout Buffer) {
        guard width > 0 else { return }
        let total = eighths(fraction: fraction, width: width)
        let full = total / 8
        let rest = total % 8
        for i in 0..<full { buffer.set(string: unicode ? "█" : "#", at: x + i, y, style: style, clipWidth: 1) }
        if rest > 0 && full < width {
            buffer.set(string: unicode ? Gauge.eighths[rest - 1] : (rest >= 4 ? "#" : ""), at: x + full, y, style: style, clipWidth: 1)
        }
    }
}

/// A centred dialog box: blanks its area, draws a bordered block with a title and the text inside.
public struct Popup: Widget {
    public var title: Line?
    public var text: Text
    public var style: Style
    public var borderStyle: Style
    public var borderSet: BorderSet
    public var alignment: Alignment

    public init(title: Line? = nil, text: Text, style: Style = .plain, borderStyle: Style = .plain, borderSet: BorderSet = .plain, alignment: Alignment = .left) {
        self.title = title
        self.text = text
        self.style = style
        self.borderStyle = borderStyle
        self.borderSet = borderSet
        self.alignment = alignment
    }

    /// The area the popup takes inside `parent`: just big enough for the text and title (plus border and one
    /// column of padding each side), centred, never larger than `parent`.
    public func area(in parent: Rect) -> Rect {
        let contentWidth = max(text.width, (title?.width ?? 0) + 2)
        return parent.centered(width: contentWidth + 4, height: text.height + 2)
    }

    /// Renders the popup centred in `parent`, sized by `area(in:)`.
    public func render(in parent: Rect, buffer: inout Buffer) {
        let box = area(in: parent)
        guard !box.isEmpty else { return }
        Clear(style: style).render(in: box, buffer: &buffer)
        let block = Block(title: title, titleAlignment: .center, borderSet: borderSet, borderStyle: borderStyle, titleStyle: .plain, style: style)
        block.render(in: box, buffer: &buffer)
        let inner = block.inner(box).inset(horizontal: 1)
        Paragraph(text, style: style, alignment: alignment, wrap: .word).render(in: inner, buffer: &buffer)
    }
}
