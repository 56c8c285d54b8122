/// One terminal cell: the grapheme shown there and its style.
///
/// A wide grapheme (CJK, most emoji) occupies its own cell and the next one; that next cell is a
/// *continuation* with an empty symbol, which backends never draw.
public struct Cell: Hashable, Sendable {
    public var symbol: String
    public var style: Style

    public init(_ symbol: String = " ", style: Style = .plain) {
        self.symbol = symbol
        self.style = style
    }

    /// A blank cell in the plain style.
    public static let blank = Cell()

    /// True when this cell is the right half of a wide grapheme.
    public var isContinuation: Bool { symbol.isEmpty }

    /// The continuation cell that follows a wide grapheme.
    static func continuation(_ style: Style) -> Cell { Cell("", style: style) }

    /// The number of columns the symbol takes (0 for a continuation).
    public var width: Int {
        let bytes = symbol.utf8.count
        if bytes <= 1 { return bytes }  // continuation (empty) or ASCII
        guard let ch = symbol.first else { return 0 }
        return DisplayWidth.of(ch) ?? 1
    }
}

/// One changed cell to send to the terminal: position and new content.
public struct CellUpdate: Hashable, Sendable {
    public var x: Int
    public var y: Int
    public var cell: Cell

    public init(x: Int, y: Int, cell: Cell) {
        self.x = x
        self.y = y
        self.cell = cell
    }
}

/// A grid of cells covering `area`, which widgets write into and the terminal diffs between frames.
public struct Buffer: Hashable, Sendable {
    /// What replaces a control character (tab, newline, escape, ...) in text written with `set(string:)`.
    public static let controlReplacement = "?"

    public private(set) var area: Rect
    public private(set) var cells: [Cell]

    /// A buffer of blank cells (or copies of `fill`) covering `area`.
    public init(area: Rect, fill: Cell = .blank) {
        self.area = area
        self.cells = Array(repeating: fill, count: area.area)
    }

    /// A buffer at the origin with the given size.
    public init(width: Int, height: Int) {
        self.init(area: Rect(x: 0, y: 0, width: width, height: height))
    }

    private func index(x: Int, y: Int) -> Int? {
        guard area.contains(x: x, y: y) else { return nil }
        return (y - area.y) * area.width + (x - area.x)
    }

    /// The cell at an absolute position, or nil outside the buffer.
    public subscript(x: Int, y: Int) -> Cell? {
        guard let i = index(x: x, y: y) else { return nil }
        return cells[i]
    }

    /// Puts one cell at an absolute position, repairing any wide grapheme it cuts in half.
    ///
    /// Writing over either half of a wide grapheme blanks the other half (keeping its style) so the grid never
    /// holds half a character. Positions outside the buffer are ignored.
    public mutating func set(cell: Cell, x: Int, y: Int) {
        guard let i = index(x: x, y: y) else { return }
        let old = cells[i]
        if old.isContinuation, let left = index(x: x - 1, y: y), !cells[left].isContinuation {
            cells[left] = Cell(" ", style: cells[left].style)
        }
        if old.width == 2, let right = index(x: x + 1, y: y), cells[right].isContinuation {
            cells[right] = Cell(" ", style: cells[right].style)
        }
        cells[i] = cell
    }

    /// Changes only the style of the cells in `rect` (clipped to the buffer), leaving symbols untouched.
    public mutating func setStyle(_ style: Style, in rect: Rect) {
        let r = rect.intersection(area)
        for y in r.top..<r.bottom {
            for x in r.left..<r.right {
                if let i = index(x: x, y: y) { cells[i].style = style }
            }
        }
    }

    /// Layers `style` over the existing style of the cells in `rect` (see `Style.patched(with:)`).
    public mutating func patchStyle(_ style: Style, in rect: Rect) {
        let r = rect.intersection(area)
        for y in r.top..<r.bottom {
            for x in r.left..<r.right {
                if let i = index(x: x, y: y) { cells[i].style = cells[i].style.patched(with: style) }
            }
        }
    }

    /// Replaces every cell's style with `transform(style)` (e.g. to degrade colours for the terminal).
    public mutating func mapStyles(_ transform: (Style) -> Style) {
        for i in cells.indices { cells[i].style = transform(cells[i].style) }
    }

    /// Fills `rect` (clipped to the buffer) with copies of `cell`.
    public mutating func fill(_ rect: Rect, with cell: Cell = .blank) {
        let r = rect.intersection(area)
        for y in r.top..<r.bottom {
            for x in r.left..<r.right { set(cell: cell, x: x, y: y) }
        }
    }

    /// Writes text on one row starting at (x, y), one grapheme per cell, and returns the column after the last.
    ///
    /// Wide graphemes take two cells (the second a continuation); a wide grapheme that would not fit entirely
    /// is not written. Zero-width graphemes (a lone combining mark) attach to the previous cell written.
    /// Control characters become `Buffer.controlReplacement`. Writing stops at `clipWidth` cells from `x`
    /// (when given) and always at the buffer's right edge; rows outside the buffer write nothing.
    @discardableResult
    public mutating func set(string: some StringProtocol, at x: Int, _ y: Int, style: Style = .plain, clipWidth: Int? = nil) -> Int {
        let limit = min(area.right, clipWidth.map { x + max(0, $0) } ?? Int.max)
        guard y >= area.top, y < area.bottom else { return x }
        var column = x
        var lastWritten: Int?
        for ch in string {
            let width: Int
            var symbol = String(ch)
            if let w = DisplayWidth.of(ch) {
                width = w
            } else {
                width = 1
                symbol = Buffer.controlReplacement
            }
            if width == 0 {
                if let last = lastWritten, let i = index(x: last, y: y) { cells[i].symbol += symbol }
                continue
            }
            if column + width > limit { break }
            if column >= area.left {
                set(cell: Cell(symbol, style: style), x: column, y: y)
                if width == 2 { set(cell: .continuation(style), x: column + 1, y: y) }
                lastWritten = column
            }
            column += width
        }
        return column
    }

    /// Writes a styled line (its spans in order) and returns the column after the last cell written.
    @discardableResult
    public mutating func set(line: Line, at x: Int, _ y: Int, clipWidth: Int? = nil) -> Int {
        let limit = clipWidth.map { x + max(0, $0) }
        var column = x
        for span in line.spans {
            let remaining = limit.map { $0 - column }
            if let r = remaining, r <= 0 { break }
            column = set(string: span.content, at: column, y, style: line.style.patched(with: span.style), clipWidth: remaining)
        }
        return column
    }

    /// The cells that differ from `previous`, in row-major order, ready to send to a terminal.
    ///
    /// Continuation cells are never listed (drawing the wide grapheme covers them); a changed wide grapheme
    /// is listed once. When the two buffers cover different areas (after a resize) every cell is listed:
    /// a full redraw.
    public func diff(_ previous: Buffer) -> [CellUpdate] {
        var updates: [CellUpdate] = []
        let full = previous.area != area
        // A wide grapheme is always followed by its continuation cell (see `set(cell:x:y:)`), so skipping
        // continuation cells is all it takes to list each wide grapheme once.
        for (i, cell) in cells.enumerated() where !cell.isContinuation {
            if full || cell != previous.cells[i] {
                updates.append(CellUpdate(x: area.x + i % area.width, y: area.y + i / area.width, cell: cell))
            }
        }
        return updates
    }

    /// The rows as plain text: continuation cells skipped, so each string shows what a terminal shows.
    public func textLines() -> [String] {
        guard area.width > 0 else { return Array(repeating: "", count: area.height) }
        return (0..<area.height).map { row in
            cells[(row * area.width)..<((row + 1) * area.width)].map(\.symbol).joined()
        }
    }
}
