/// One column of a `Table`: how wide it is and how its cells are aligned.
public struct Column: Hashable, Sendable {
    public var width: Constraint
    public var alignment: Alignment

    public init(_ width: Constraint, alignment: Alignment = .left) {
        self.width = width
        self.alignment = alignment
    }
}

/// One row of a `Table`: a line per column and a style for the whole row.
public struct Row: Hashable, Sendable {
    public var cells: [Line]
    public var style: Style

    public init(_ cells: [Line], style: Style = .plain) {
        self.cells = cells
        self.style = style
    }

    /// A row of plain strings.
    public init(strings: [String], style: Style = .plain) {
        self.init(strings.map { Line($0) }, style: style)
    }
}

/// A table with an optional header, sized columns, a highlighted selected row and scrolling that keeps the
/// selection visible. Cells wider than their column are truncated with `…`.
public struct Table: StatefulWidget {
    public var columns: [Column]
    public var header: Row?
    public var rows: [Row]
    public var block: Block?
    public var style: Style
    /// Layered over the selected row.
    public var highlightStyle: Style
    /// Drawn before the selected row; other rows get the same number of blank columns (no shift on selection).
    public var highlightSymbol: String
    /// Blank columns between table columns.
    public var columnSpacing: Int

    public init(
        columns: [Column], header: Row? = nil, rows: [Row], block: Block? = nil, style: Style = .plain,
        highlightStyle: Style = Style(modifiers: .reverse), highlightSymbol: String = "", columnSpacing: Int = 1
    ) {
        self.columns = columns
        self.header = header
        self.rows = rows
        self.block = block
        self.style = style
        self.highlightStyle = highlightStyle
        self.highlightSymbol = highlightSymbol
        self.columnSpacing = columnSpacing
    }

    /// The widths the columns get in `width` cells (after the highlight symbol and spacing).
    public func columnWidths(totalWidth width: Int) -> [Int] {
        let symbolWidth = DisplayWidth.of(highlightSymbol)
        return Constraint.solve(columns.map(\.width), total: max(0, width - symbolWidth), spacing: columnSpacing)
    }

    /// The number of data rows visible in `area` (after block and header).
    public func visibleRowCount(in area: Rect) -> Int {
        let inner = block?.inner(area) ?? area
        return max(0, inner.height - (header == nil ? 0 : 1))
    }

    public func render(in area: Rect, buffer: inout Buffer, state: inout ScrollState) {
        var inner = area
        if let block {
            block.render(in: area, buffer: &buffer)
            inner = block.inner(area)
        }
        guard !inner.isEmpty else { return }
        buffer.patchStyle(style, in: inner)
        let widths = columnWidths(totalWidth: inner.width)
        let symbolWidth = DisplayWidth.of(highlightSymbol)
        var y = inner.y
        if let header {
            drawRow(header, widths: widths, x: inner.x + symbolWidth, y: y, width: inner.width - symbolWidth, buffer: &buffer)
            y += 1
        }
        let visible = max(0, inner.bottom - y)
        state.scrollToSelection(rowCount: rows.count, visibleRows: visible)
        guard visible > 0 else { return }
        for (row, index) in (state.offset..<rows.count).enumerated() where row < visible {
            let rowY = y + row
            let data = rows[index]
            drawRow(data, widths: widths, x: inner.x + symbolWidth, y: rowY, width: inner.width - symbolWidth, buffer: &buffer)
            if state.selected == index {
                buffer.set(string: highlightSymbol, at: inner.x, rowY, style: style.patched(with: data.style), clipWidth: inner.width)
                buffer.patchStyle(highlightStyle, in: Rect(x: inner.x, y: rowY, width: inner.width, height: 1))
            }
        }
    }

    private func drawRow(_ row: Row, widths: [Int], x: Int, y: Int, width: Int, buffer: inout Buffer) {
        buffer.patchStyle(row.style, in: Rect(x: x, y: y, width: width, height: 1))
        var cx = x
        for (i, w) in widths.enumerated() {
            if i < row.cells.count, w > 0 {
                var line = row.cells[i]
                line.style = style.patched(with: row.style).patched(with: line.style)
                line.render(in: Rect(x: cx, y: y, width: w, height: 1), buffer: &buffer, defaultAlignment: columns[i].alignment)
            }
            cx += w + columnSpacing
        }
    }
}

/// One entry of a `List`.
public struct ListItem: Hashable, Sendable, ExpressibleByStringLiteral {
    public var line: Line
    public var style: Style

    public init(_ line: Line, style: Style = .plain) {
        self.line = line
        self.style = style
    }

    public init(stringLiteral value: String) { self.init(Line(value)) }
}

/// A vertical list of one-line items with a highlighted selection that scrolls into view.
public struct List: StatefulWidget {
    public var items: [ListItem]
    public var block: Block?
    public var style: Style
    public var highlightStyle: Style
    /// Drawn before the selected item; other items are indented by its width.
    public var highlightSymbol: String

    public init(_ items: [ListItem], block: Block? = nil, style: Style = .plain, highlightStyle: Style = Style(modifiers: .reverse), highlightSymbol: String = "") {
        self.items = items
        self.block = block
        self.style = style
        self.highlightStyle = highlightStyle
        self.highlightSymbol = highlightSymbol
    }

    public func render(in area: Rect, buffer: inout Buffer, state: inout ScrollState) {
        var inner = area
        if let block {
            block.render(in: area, buffer: &buffer)
            inner = block.inner(area)
        }
        guard !inner.isEmpty else { return }
        buffer.patchStyle(style, in: inner)
        state.scrollToSelection(rowCount: items.count, visibleRows: inner.height)
        let symbolWidth = DisplayWidth.of(highlightSymbol)
        for (row, index) in (state.offset..<items.count).enumerated() where row < inner.height {
            let y = inner.y + row
            let itemStyle = style.patched(with: items[index].style)
            let rowArea = Rect(x: inner.x, y: y, width: inner.width, height: 1)
            buffer.patchStyle(itemStyle, in: rowArea)
            var line = items[index].line
            line.style = itemStyle.patched(with: line.style)
            line.render(in: Rect(x: inner.x + symbolWidth, y: y, width: max(0, inner.width - symbolWidth), height: 1), buffer: &buffer)
            if state.selected == index {
                buffer.set(string: highlightSymbol, at: inner.x, y, style: itemStyle, clipWidth: inner.width)
                buffer.patchStyle(highlightStyle, in: rowArea)
            }
        }
    }
}
