/// An in-memory backend for tests: keeps the screen as a `Buffer`, replays queued keys, and prints the
/// screen as text (optionally with a map of the styles) for snapshot files.
public final class TestBackend: Backend {
    public private(set) var screen: Buffer
    public var colorMode: ColorMode
    public var supportsUnicode: Bool
    /// The updates of every `draw` call, in order.
    public private(set) var drawnUpdates: [[CellUpdate]] = []
    public private(set) var flushCount = 0
    public private(set) var clearCount = 0
    public private(set) var cursorVisible = true
    private var pendingKeys: [Key] = []

    public init(width: Int, height: Int, colorMode: ColorMode = .truecolor, supportsUnicode: Bool = true) {
        screen = Buffer(width: width, height: height)
        self.colorMode = colorMode
        self.supportsUnicode = supportsUnicode
    }

    public var size: Rect { screen.area }

    public func draw(_ updates: [CellUpdate]) {
        drawnUpdates.append(updates)
        for u in updates {
            screen.set(cell: u.cell, x: u.x, y: u.y)
            if u.cell.width == 2 { screen.set(cell: Cell("", style: u.cell.style), x: u.x + 1, y: u.y) }
        }
    }

    public func flush() { flushCount += 1 }

    public func clear() {
        clearCount += 1
        screen = Buffer(area: screen.area)
    }

    /// Returns the next queued key, or nil when the queue is empty (the timeout is not waited for).
    public func readKey(timeout: Duration?) -> Key? {
        pendingKeys.isEmpty ? nil : pendingKeys.removeFirst()
    }

    public func hideCursor() { cursorVisible = false }
    public func showCursor() { cursorVisible = true }

    /// Queues keys for `readKey`.
    public func enqueue(_ keys: Key...) { pendingKeys.append(contentsOf: keys) }

    /// Changes the screen size (the content is lost, as in a real terminal) and queues `.resize`.
    public func resize(width: Int, height: Int) {
        screen = Buffer(width: width, height: height)
        pendingKeys.append(.resize)
    }

    /// The screen's rows as text, wide characters once (so each string shows what a terminal shows).
    public func lines() -> [String] { screen.textLines() }

    /// The screen as text for a snapshot file: the rows, and with `styles` a second section mapping each cell
    /// to a letter and a legend of the styles the letters stand for (`.` is the plain style).
    public func snapshot(styles: Bool = false) -> String {
        var out = lines().joined(separator: "\n") + "\n"
        guard styles else { return out }
        var letters: [Style: Character] = [.plain: "."]
        var legend: [(Character, Style)] = []
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        out += "--- styles ---\n"
        for y in screen.area.top..<screen.area.bottom {
            var row = ""
            for x in screen.area.left..<screen.area.right {
                guard let cell = screen[x, y] else { continue }
                if let letter = letters[cell.style] {
                    row.append(letter)
                } else {
                    let letter: Character = legend.count < alphabet.count ? alphabet[legend.count] : "?"
                    letters[cell.style] = letter
                    legend.append((letter, cell.style))
                    row.append(letter)
                }
            }
            out += row + "\n"
        }
        for (letter, style) in legend { out += "\(letter): \(TestBackend.describe(style))\n" }
        return out
    }

    /// A short readable description of a style, e.g. `fg=red bg=default bold reverse`.
    public static func describe(_ style: Style) -> String {
        var parts = ["fg=\(style.fg)", "bg=\(style.bg)"]
        if style.isBold { parts.append("bold") }
        if style.isDim { parts.append("dim") }
        if style.isUnderlined { parts.append("underline") }
        if style.isReversed { parts.append("reverse") }
        return parts.joined(separator: " ")
    }
}
