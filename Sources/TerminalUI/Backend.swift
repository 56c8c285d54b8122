/// A key press (or terminal event) read from the terminal.
public enum Key: Hashable, Sendable {
    /// A printable character.
    case char(Character)
    case up, down, left, right
    case pageUp, pageDown, home, end
    case enter, escape, backspace, tab, backTab, delete
    /// The terminal changed size; redraw.
    case resize
    /// Control plus a letter, lowercase (`.ctrl("c")`).
    case ctrl(Character)
    /// A function key F1...F12 (n is 1-based).
    case function(Int)
    /// A mouse click or wheel turn at a cell.
    case mouse(MouseEvent)
}

/// What the mouse did, and at which cell (column `x`, row `y`, from the top left).
public struct MouseEvent: Hashable, Sendable {
    /// The kinds of mouse event the app uses.
    public enum Kind: Hashable, Sendable {
        /// The left button went down (or clicked).
        case press
        /// The wheel turned away from the user.
        case wheelUp
        /// The wheel turned toward the user.
        case wheelDown
    }

    /// What happened.
    public var kind: Kind
    /// The column.
    public var x: Int
    /// The row.
    public var y: Int

    /// Creates an event.
    public init(_ kind: Kind, x: Int, y: Int) {
        self.kind = kind
        self.x = x
        self.y = y
    }
}

/// The terminal a `Terminal` draws on: ncurses in the app, memory in tests.
public protocol Backend: AnyObject {
    /// The current size in cells (origin 0,0).
    var size: Rect { get }
    /// The colours the backend can show; styles are degraded to it before drawing.
    var colorMode: ColorMode { get }
    /// Whether box drawing and block characters can be shown (else widgets should use ASCII sets).
    var supportsUnicode: Bool { get }
    /// Writes the changed cells (not yet visible until `flush`).
    func draw(_ updates: [CellUpdate])
    /// Makes everything drawn so far visible.
    func flush()
    /// Blanks the whole screen.
    func clear()
    /// Waits up to `timeout` (nil: forever, zero: just poll) for a key; nil when none came.
    func readKey(timeout: Duration?) -> Key?
    func hideCursor()
    func showCursor()
}

/// Owns a backend and the last frame drawn, and sends each new frame as the difference from the last.
public final class Terminal {
    public let backend: any Backend
    /// The frame on screen now (after the last `draw`).
    public private(set) var previous: Buffer
    private var needsFullRedraw = true

    public init(backend: any Backend) {
        self.backend = backend
        self.previous = Buffer(area: .zero)
    }

    /// The current screen area.
    public var area: Rect { backend.size }

    /// Waits up to `timeout` (nil: forever) for a key from the backend; nil when none came.
    public func readKey(timeout: Duration?) -> Key? { backend.readKey(timeout: timeout) }

    /// Forces the next `draw` to clear the screen and send every cell (e.g. on Ctrl-L).
    public func invalidate() { needsFullRedraw = true }

    /// Renders a frame with `render` into a fresh buffer of the screen's size, sends only the cells that
    /// changed since the last frame (all of them after a resize or `invalidate()`), flushes, and returns the
    /// number of cells sent.
    @discardableResult
    public func draw(_ render: (inout Buffer) -> Void) -> Int {
        let area = backend.size
        var frame = Buffer(area: area)
        render(&frame)
        let mode = backend.colorMode
        if mode != .truecolor {
            frame.mapStyles { $0 == .plain ? $0 : $0.degraded(to: mode) }
        }
        let updates: [CellUpdate]
        if needsFullRedraw || previous.area != area {
            backend.clear()
            updates = frame.diff(Buffer(area: .zero))
            needsFullRedraw = false
        } else {
            updates = frame.diff(previous)
        }
        backend.draw(updates)
        backend.flush()
        previous = frame
        return updates.count
    }
}
