import Foundation

/// A terminal colour: the terminal's default, one of the 16 ANSI colours, a 256-palette index or 24-bit RGB.
public enum Color: Hashable, Sendable {
    case `default`
    case black, red, green, yellow, blue, magenta, cyan, white
    case brightBlack, brightRed, brightGreen, brightYellow, brightBlue, brightMagenta, brightCyan, brightWhite
    case indexed(UInt8)
    case rgb(UInt8, UInt8, UInt8)

    /// The 16 named ANSI colours in palette order (0...15).
    public static let ansi16: [Color] = [
        .black, .red, .green, .yellow, .blue, .magenta, .cyan, .white,
        .brightBlack, .brightRed, .brightGreen, .brightYellow, .brightBlue, .brightMagenta, .brightCyan, .brightWhite,
    ]

    /// The palette index of a named ANSI colour (0...15), or of an indexed colour; nil for default and RGB.
    public var paletteIndex: Int? {
        switch self {
        case .default, .rgb: return nil
        case .indexed(let i): return Int(i)
        default: return Color.ansi16.firstIndex(of: self)
        }
    }

    /// The named colour or `.indexed` for a palette index, so `0...15` always comes back as a named colour.
    public static func palette(_ index: UInt8) -> Color {
        index < 16 ? ansi16[Int(index)] : .indexed(index)
    }
}

/// A set of text attributes that terminals render independently of colour.
public struct Modifiers: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let bold = Modifiers(rawValue: 1 << 0)
    public static let dim = Modifiers(rawValue: 1 << 1)
    public static let underline = Modifiers(rawValue: 1 << 2)
    public static let reverse = Modifiers(rawValue: 1 << 3)
}

/// The look of a cell: foreground and background colours plus modifiers.
public struct Style: Hashable, Sendable {
    public var fg: Color
    public var bg: Color
    public var modifiers: Modifiers

    public init(fg: Color = .default, bg: Color = .default, modifiers: Modifiers = []) {
        self.fg = fg
        self.bg = bg
        self.modifiers = modifiers
    }

    /// The plain style: default colours, no modifiers.
    public static let plain = Style()

    public var isBold: Bool { modifiers.contains(.bold) }
    public var isDim: Bool { modifiers.contains(.dim) }
    public var isUnderlined: Bool { modifiers.contains(.underline) }
    public var isReversed: Bool { modifiers.contains(.reverse) }

    /// This style with another layered on top: the other's non-default colours win and modifiers are unioned.
    public func patched(with other: Style) -> Style {
        Style(
            fg: other.fg == .default ? fg : other.fg,
            bg: other.bg == .default ? bg : other.bg,
            modifiers: modifiers.union(other.modifiers))
    }

    /// This style with a different foreground.
    public func fg(_ color: Color) -> Style { var s = self; s.fg = color; return s }
    /// This style with a different background.
    public func bg(_ color: Color) -> Style { var s = self; s.bg = color; return s }
    /// This style with extra modifiers.
    public func adding(_ extra: Modifiers) -> Style { var s = self; s.modifiers.formUnion(extra); return s }
    /// This style in bold.
    public var bold: Style { adding(.bold) }
    /// This style reversed.
    public var reversed: Style { adding(.reverse) }
    /// This style underlined.
    public var underlined: Style { adding(.underline) }
    /// This style dimmed.
    public var dimmed: Style { adding(.dim) }
}

extension Color: CustomStringConvertible {
    /// The colour as written in theme files: `default`, `red`, `bright-blue`, `208`, `#ff8800`.
    public var description: String {
        switch self {
        case .default: return "default"
        case .indexed(let i): return String(i)
        case let .rgb(r, g, b):
            func hex(_ v: UInt8) -> String { let s = String(v, radix: 16); return s.count == 1 ? "0" + s : s }
            return "#" + hex(r) + hex(g) + hex(b)
        default:
            let names = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]
            guard let index = paletteIndex else { return "default" }
            return index < 8 ? names[index] : "bright-" + names[index - 8]
        }
    }

    /// Parses a colour as written in theme files (the inverse of `description`); nil when not recognised.
    ///
    /// Accepted: `default`, the eight names, `bright-NAME` (also `brightNAME`, `bright_NAME`), `grey`/`gray`
    /// (bright black), a palette index `0`...`255`, and `#rrggbb`.
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "default" || t == "none" { self = .default; return }
        if t.hasPrefix("#") {
            let hex = t.dropFirst()
            guard hex.count == 6, let v = UInt32(hex, radix: 16) else { return nil }
            self = .rgb(UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF))
            return
        }
        if let i = Int(t) {
            guard (0...255).contains(i) else { return nil }
            self = .palette(UInt8(i))
            return
        }
        let names = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]
        if t == "grey" || t == "gray" { self = .brightBlack; return }
        var name = t
        var bright = false
        for prefix in ["bright-", "bright_", "bright"] where name.hasPrefix(prefix) {
            name = String(name.dropFirst(prefix.count))
            bright = true
            break
        }
        guard let i = names.firstIndex(of: name) else { return nil }
        self = Color.ansi16[i + (bright ? 8 : 0)]
    }
}
