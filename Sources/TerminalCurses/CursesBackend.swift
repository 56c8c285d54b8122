import CNcursesw
import Foundation
import TerminalUI

/// Why the curses backend could not start.
public enum CursesError: Error, CustomStringConvertible {
    /// Standard input or output is not a terminal.
    case notATerminal
    /// ncurses could not initialise the terminal described by `TERM`.
    case initialisationFailed(term: String?)

    public var description: String {
        switch self {
        case .notATerminal:
            return "standard input/output is not a terminal; run cutover in an interactive terminal (not piped or redirected)"
        case .initialisationFailed(let term):
            return "ncurses could not initialise the terminal (TERM=\(term ?? "unset")); set TERM to a known terminal type such as xterm-256color"
        }
    }
}

/// The ncursesw backend: draws `CellUpdate`s with wide-character curses calls and reads keys with `wget_wch`.
///
/// Creating it puts the terminal in curses mode; `restore()` (also run by `deinit`, on SIGINT/SIGTERM/SIGHUP,
/// and at exit) puts it back. Only one instance should exist at a time.
public final class CursesBackend: Backend {
    public let colorMode: ColorMode
    public let supportsUnicode: Bool
    private let window: UnsafeMutablePointer<WINDOW>
    private var pairs: [PairKey: Int32] = [:]
    private var nextPair: Int32 = 1
    private let maxPairs: Int32
    private var restored = false

    private struct PairKey: Hashable {
        var fg: Int32
        var bg: Int32
    }

    /// Starts curses on the process's terminal.
    ///
    /// - Parameter environment: read for `NO_COLOR` (forces monochrome) and `TERM` (for error messages).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else { throw CursesError.notATerminal }
        setlocale(LC_ALL, "")
        CursesBackend.installRestoreHandlers()
        guard cutover_newterm() != nil, let win = cutover_stdscr() else {
            throw CursesError.initialisationFailed(term: environment["TERM"])
        }
        window = win
        cbreak()
        noecho()
        nonl()
        intrflush(win, false)
        keypad(win, true)
        set_escdelay(25)
        cutover_mouse_start()
        curs_set(0)
        var colors = 0
        if has_colors() {
            start_color()
            use_default_colors()
            colors = Int(cutover_colors())
        }
        colorMode = ColorMode.detect(colors: colors, environment: environment)
        maxPairs = max(0, cutover_color_pairs())
        let codeset = cutover_codeset().map { String(cString: $0) } ?? ""
        supportsUnicode = codeset.uppercased().replacingOccurrences(of: "-", with: "") == "UTF8"
    }

    deinit { restore() }

    /// Leaves curses mode and shows the cursor; safe to call more than once.
    public func restore() {
        guard !restored else { return }
        restored = true
        curs_set(1)
        CursesBackend.endCursesIfActive()
    }

    public var size: Rect {
        var rows: Int32 = 0
        var cols: Int32 = 0
        cutover_getmaxyx(window, &rows, &cols)
        return Rect(x: 0, y: 0, width: Int(cols), height: Int(rows))
    }

    public func draw(_ updates: [CellUpdate]) {
        guard !restored else { return }  // drawing after restore() would switch curses mode back on
        for update in updates {
            let style = update.cell.style.degraded(to: colorMode)
            var attributes = cutover_a_normal()
            if style.isBold { attributes |= cutover_a_bold() }
            if style.isDim { attributes |= cutover_a_dim() }
            if style.isUnderlined { attributes |= cutover_a_underline() }
            if style.isReversed { attributes |= cutover_a_reverse() }
            var pair = colorPair(fg: style.fg, bg: style.bg)
            var cc = cchar_t()
            let scalars = Array(update.cell.symbol.unicodeScalars.prefix(Int(CCHARW_MAX) - 1))
            var wide = scalars.map { wchar_t(bitPattern: $0.value) } + [0]
            var status = setcchar(&cc, &wide, attributes, 0, &pair)
            if status != OK, let first = scalars.first {
                // curses accepts one spacing character plus combining marks; keep the base of other clusters.
                var single: [wchar_t] = [wchar_t(bitPattern: first.value), 0]
                status = setcchar(&cc, &single, attributes, 0, &pair)
            }
            guard status == OK else { continue }
            // Writing the bottom-right cell reports ERR (the cursor cannot advance) but the cell is drawn.
            _ = mvwadd_wch(window, Int32(update.y), Int32(update.x), &cc)
        }
    }

    public func flush() {
        guard !restored else { return }
        wrefresh(window)
    }

    public func clear() {
        guard !restored else { return }
        wclear(window)
    }

    public func hideCursor() {
        guard !restored else { return }
        curs_set(0)
    }

    public func showCursor() { curs_set(1) }

    /// Waits for a key; always nil after `restore()` (reading would redraw the curses screen).
    public func readKey(timeout: Duration?) -> Key? {
        guard !restored else { return nil }
        let milliseconds: Int32
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
            milliseconds = Int32(clamping: max(0, ms))
        } else {
            milliseconds = -1
        }
        wtimeout(window, milliseconds)
        var value: wint_t = 0
        switch wget_wch(window, &value) {
        case KEY_CODE_YES: return CursesBackend.key(forKeyCode: Int32(bitPattern: value))
        case OK: return CursesBackend.key(forCharacter: UInt32(value))
        default: return nil
        }
    }

    /// The key for a curses key code (`wget_wch` returned `KEY_CODE_YES`); nil for keys the app does not use.
    static func key(forKeyCode code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_ENTER: return .enter
        case KEY_BACKSPACE: return .backspace
        case KEY_DC: return .delete
        case KEY_BTAB: return .backTab
        case KEY_RESIZE: return .resize
        case cutover_key_mouse():
            var x: Int32 = 0, y: Int32 = 0
            switch cutover_read_mouse(&x, &y) {
            case 1: return .mouse(MouseEvent(.press, x: Int(x), y: Int(y)))
            case 4: return .mouse(MouseEvent(.wheelUp, x: Int(x), y: Int(y)))
            case 5: return .mouse(MouseEvent(.wheelDown, x: Int(x), y: Int(y)))
            default: return nil
            }
        default:
            for n in 1...12 where code == cutover_key_f(Int32(n)) { return .function(n) }
            return nil
        }
    }

    /// The key for a character read by `wget_wch` (`OK`): control characters become named keys or `.ctrl`.
    static func key(forCharacter value: UInt32) -> Key? {
        switch value {
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 1...26: return Unicode.Scalar(value + 96).map { .ctrl(Character($0)) }
        case 0..<32: return nil
        default: return Unicode.Scalar(value).map { .char(Character($0)) }
        }
    }

    /// The curses colour number for a (degraded) colour: -1 for the terminal default.
    private func colorNumber(_ color: Color) -> Int32 {
        switch color {
        case .default: return -1
        case .rgb: return colorNumber(color.degraded(to: .palette256))
        default: return Int32(color.paletteIndex ?? -1)
        }
    }

    /// The colour pair for fg/bg, allocated on first use; pair 0 (default colours) once pairs run out.
    private func colorPair(fg: Color, bg: Color) -> Int32 {
        guard colorMode != .monochrome else { return 0 }
        let key = PairKey(fg: colorNumber(fg), bg: colorNumber(bg))
        if key.fg == -1 && key.bg == -1 { return 0 }
        if let pair = pairs[key] { return pair }
        guard nextPair < maxPairs, init_extended_pair(nextPair, key.fg, key.bg) == OK else { return 0 }
        pairs[key] = nextPair
        nextPair += 1
        return nextPair - 1
    }

    /// Ends curses mode if it is on (used by `restore`, the signal handlers and the exit hook).
    static func endCursesIfActive() {
        if !isendwin() { endwin() }
    }

    /// Installs, once per process, SIGINT/SIGTERM/SIGHUP handlers that end curses and re-raise the signal
    /// with its default action, and an exit hook that ends curses, so no exit path leaves the terminal raw.
    private static let restoreHandlers: Void = {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { received in
                CursesBackend.endCursesIfActive()
                signal(received, SIG_DFL)
                raise(received)
            }
        }
        atexit { CursesBackend.endCursesIfActive() }
    }()

    private static func installRestoreHandlers() { _ = restoreHandlers }
}
