/// Something that draws itself into a rectangle of a buffer and does nothing else.
public protocol Widget {
    /// Writes the widget's cells into `buffer` inside `area` (and never outside it).
    func render(in area: Rect, buffer: inout Buffer)
}

/// A widget with scroll/selection state that rendering may adjust (e.g. to keep the selection visible).
public protocol StatefulWidget {
    associatedtype State
    /// Writes the widget's cells into `buffer` inside `area`, updating `state`.
    func render(in area: Rect, buffer: inout Buffer, state: inout State)
}

extension Buffer {
    /// Renders a widget into `area`.
    public mutating func render(_ widget: some Widget, in area: Rect) {
        widget.render(in: area.intersection(self.area), buffer: &self)
    }

    /// Renders a stateful widget into `area`, letting it update `state`.
    public mutating func render<W: StatefulWidget>(_ widget: W, in area: Rect, state: inout W.State) {
        widget.render(in: area.intersection(self.area), buffer: &self, state: &state)
    }
}

/// A widget that blanks its area (in a style), used under popups so the screen behind does not show through.
public struct Clear: Widget {
    public var style: Style

    public init(style: Style = .plain) { self.style = style }

    public func render(in area: Rect, buffer: inout Buffer) {
        buffer.fill(area, with: Cell(" ", style: style))
    }
}

/// Selection and scroll position of a `Table` or `List`.
public struct ScrollState: Hashable, Sendable {
    /// The selected row index, or nil for no selection.
    public var selected: Int?
    /// The first row shown.
    public var offset: Int

    public init(selected: Int? = nil, offset: Int = 0) {
        self.selected = selected
        self.offset = offset
    }

    /// Moves the offset the least needed so the selection is visible in `visibleRows`, and keeps the offset
    /// within `0...max(0, rowCount - visibleRows)` so no blank space is scrolled into view. A selection past
    /// the last row is moved to the last row; with no rows the selection is left as it is.
    public mutating func scrollToSelection(rowCount: Int, visibleRows: Int) {
        if let s = selected, rowCount > 0 {
            selected = Swift.min(Swift.max(0, s), rowCount - 1)
        }
        guard visibleRows > 0, rowCount > 0 else {
            offset = 0
            return
        }
        if let s = selected {
            if s < offset { offset = s }
            if s >= offset + visibleRows { offset = s - visibleRows + 1 }
        }
        offset = Swift.min(Swift.max(0, offset), Swift.max(0, rowCount - visibleRows))
    }
}
