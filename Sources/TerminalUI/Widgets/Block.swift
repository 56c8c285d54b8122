/// The characters used to draw a border.
public struct BorderSet: Hashable, Sendable {
    public var horizontal: String
    public var vertical: String
    public var topLeft: String
    public var topRight: String
    public var bottomLeft: String
    public var bottomRight: String

    public init(horizontal: String, vertical: String, topLeft: String, topRight: String, bottomLeft: String, bottomRight: String) {
        self.horizontal = horizontal
        self.vertical = vertical
        self.topLeft = topLeft
        self.topRight = topRight
        self.bottomLeft = bottomLeft
        self.bottomRight = bottomRight
    }

    /// Light box drawing: ┌─┐│└┘.
    public static let plain = BorderSet(horizontal: "─", vertical: "│", topLeft: "┌", topRight: "┐", bottomLeft: "└", bottomRight: "┘")
    /// Rounded corners: ╭─╮│╰╯.
    public static let rounded = BorderSet(horizontal: "─", vertical: "│", topLeft: "╭", topRight: "╮", bottomLeft: "╰", bottomRight: "╯")
    /// Double lines: ╔═╗║╚╝.
    public static let double = BorderSet(horizontal: "═", vertical: "║", topLeft: "╔", topRight: "╗", bottomLeft: "╚", bottomRight: "╝")
    /// Heavy lines: ┏━┓┃┗┛.
    public static let thick = BorderSet(horizontal: "━", vertical: "┃", topLeft: "┏", topRight: "┓", bottomLeft: "┗", bottomRight: "┛")
    /// ASCII fallback for terminals without UTF-8: +-|.
    public static let ascii = BorderSet(horizontal: "-", vertical: "|", topLeft: "+", topRight: "+", bottomLeft: "+", bottomRight: "+")

    /// `preferred` when the terminal can show Unicode, `.ascii` otherwise.
    public static func choose(_ preferred: BorderSet = .plain, unicode: Bool) -> BorderSet {
        unicode ? preferred : .ascii
    }
}

/// A box around an area: optional border with a title, and a style filling the inside.
public struct Block: Widget {
    public var title: Line?
    public var titleAlignment: Alignment
    public var borders: Bool
    public var borderSet: BorderSet
    public var borderStyle: Style
    public var titleStyle: Style
    /// Style for the whole area (inside and border) before the border is drawn; `nil` leaves cells as they are.
    public var style: Style?

    public init(
        title: Line? = nil, titleAlignment: Alignment = .left, borders: Bool = true, borderSet: BorderSet = .plain,
        borderStyle: Style = .plain, titleStyle: Style = .plain, style: Style? = nil
    ) {
        self.title = title
        self.titleAlignment = titleAlignment
        self.borders = borders
        self.borderSet = borderSet
        self.borderStyle = borderStyle
        self.titleStyle = titleStyle
        self.style = style
    }

    /// The area inside the border (the whole area without borders; a title alone takes the first row).
    public func inner(_ area: Rect) -> Rect {
        if borders { return area.inset(horizontal: 1, vertical: 1) }
        return title == nil ? area : area.inset(top: 1)
    }

    public func render(in area: Rect, buffer: inout Buffer) {
        guard !area.isEmpty else { return }
        if let style { buffer.fill(area, with: Cell(" ", style: style)) }
        let base = style ?? .plain
        let border = base.patched(with: borderStyle)
        if borders {
            for x in area.left..<area.right {
                buffer.set(string: borderSet.horizontal, at: x, area.top, style: border, clipWidth: 1)
                if area.height > 1 {
                    buffer.set(string: borderSet.horizontal, at: x, area.bottom - 1, style: border, clipWidth: 1)
                }
            }
            for y in area.top..<area.bottom {
                buffer.set(string: borderSet.vertical, at: area.left, y, style: border, clipWidth: 1)
                if area.width > 1 {
                    buffer.set(string: borderSet.vertical, at: area.right - 1, y, style: border, clipWidth: 1)
                }
            }
            if area.width > 1 && area.height > 1 {
                buffer.set(string: borderSet.topLeft, at: area.left, area.top, style: border)
                buffer.set(string: borderSet.topRight, at: area.right - 1, area.top, style: border)
                buffer.set(string: borderSet.bottomLeft, at: area.left, area.bottom - 1, style: border)
                buffer.set(string: borderSet.bottomRight, at: area.right - 1, area.bottom - 1, style: border)
            }
        }
        if let title {
            let titleArea = borders ? area.inset(horizontal: 1) : area
            var line = title
            line.style = base.patched(with: titleStyle).patched(with: title.style)
            line.render(in: Rect(x: titleArea.x, y: area.y, width: titleArea.width, height: 1), buffer: &buffer, defaultAlignment: titleAlignment)
        }
    }
}
