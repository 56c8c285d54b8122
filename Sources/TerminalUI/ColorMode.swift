/// How many colours a terminal can show, from 24-bit RGB down to none.
public enum ColorMode: Int, Hashable, Sendable, Comparable, CaseIterable {
    case monochrome = 0
    case ansi8 = 8
    case palette256 = 256
    case truecolor = 16_777_216

    public static func < (a: ColorMode, b: ColorMode) -> Bool { a.rawValue < b.rawValue }

    /// The mode for a terminal reporting `colors` colours, given the environment.
    ///
    /// `NO_COLOR` with any non-empty value forces monochrome (https://no-color.org). `COLORTERM=truecolor`
    /// or `24bit` raises a 256-colour terminal to truecolor only when `allowTruecolor` (curses cannot draw it).
    public static func detect(colors: Int, environment: [String: String], allowTruecolor: Bool = false) -> ColorMode {
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return .monochrome }
        if allowTruecolor, colors >= 256, let ct = environment["COLORTERM"]?.lowercased(), ct == "truecolor" || ct == "24bit" {
            return .truecolor
        }
        if colors >= 256 { return .palette256 }
        if colors >= 8 { return .ansi8 }
        return .monochrome
    }
}

extension Color {
    /// The xterm default RGB values of the 16 ANSI colours.
    static let ansiRGB: [(Int, Int, Int)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
    ]
    static let cubeLevels = [0, 95, 135, 175, 215, 255]

    /// The RGB value of a palette index in the xterm 256-colour palette.
    static func rgb(ofPaletteIndex index: Int) -> (Int, Int, Int) {
        if index < 16 { return ansiRGB[index] }
        if index < 232 {
            let i = index - 16
            return (cubeLevels[i / 36], cubeLevels[(i / 6) % 6], cubeLevels[i % 6])
        }
        let grey = 8 + (index - 232) * 10
        return (grey, grey, grey)
    }

    private static func distance(_ a: (Int, Int, Int), _ b: (Int, Int, Int)) -> Int {
        let dr = a.0 - b.0, dg = a.1 - b.1, db = a.2 - b.2
        return dr * dr * 3 + dg * dg * 4 + db * db * 2
    }

    /// The nearest xterm-256 palette index (16...255: the colour cube or the grey ramp) to an RGB value.
    public static func nearestPaletteIndex(r: UInt8, g: UInt8, b: UInt8) -> UInt8 {
        let target = (Int(r), Int(g), Int(b))
        func nearestLevel(_ v: Int) -> Int {
            var best = 0
            for (i, level) in cubeLevels.enumerated() where abs(level - v) < abs(cubeLevels[best] - v) { best = i }
            return best
        }
        let (ri, gi, bi) = (nearestLevel(target.0), nearestLevel(target.1), nearestLevel(target.2))
        let cube = 16 + ri * 36 + gi * 6 + bi
        let average = (target.0 + target.1 + target.2) / 3
        let greyIndex = 232 + min(23, max(0, (average - 8 + 5) / 10))
        return distance(rgb(ofPaletteIndex: greyIndex), target) < distance(rgb(ofPaletteIndex: cube), target) ? UInt8(greyIndex) : UInt8(cube)
    }

    /// The nearest of the eight basic ANSI colours (black...white) to an RGB value.
    public static func nearestANSI8(r: Int, g: Int, b: Int) -> Color {
        var best = 0
        var bestDistance = Int.max
        for i in 0..<8 {
            let d = distance(ansiRGB[i], (r, g, b))
            if d < bestDistance { bestDistance = d; best = i }
        }
        return ansi16[best]
    }

    /// The colour as the best one available in `mode`: RGB becomes its nearest 256-palette entry, anything
    /// beyond the basic eight becomes its nearest basic colour (bright variants drop to their base), and
    /// monochrome keeps only `.default`.
    public func degraded(to mode: ColorMode) -> Color {
        switch (self, mode) {
        case (.default, _), (_, .truecolor): return self
        case (_, .monochrome): return .default
        case let (.rgb(r, g, b), .palette256): return .palette(Color.nearestPaletteIndex(r: r, g: g, b: b))
        case (_, .palette256): return self
        case let (.rgb(r, g, b), .ansi8): return Color.nearestANSI8(r: Int(r), g: Int(g), b: Int(b))
        case (_, .ansi8):
            guard let index = paletteIndex else { return self }
            if index < 8 { return self }
            if index < 16 { return Color.ansi16[index - 8] }
            let (r, g, b) = Color.rgb(ofPaletteIndex: index)
            return Color.nearestANSI8(r: r, g: g, b: b)
        }
    }
}

extension Color {
    /// Whether the colour is a grey between black and white (bright black, the grey ramp, an RGB or cube grey):
    /// the colours eight-colour terminals cannot show.
    public var isMidGrey: Bool {
        let rgb: (Int, Int, Int)
        switch self {
        case .default: return false
        case .rgb(let r, let g, let b): rgb = (Int(r), Int(g), Int(b))
        default:
            guard let index = paletteIndex else { return false }
            if index == 8 { return true }
            if index < 16 { return false }
            rgb = Color.rgb(ofPaletteIndex: index)
        }
        let spread = max(rgb.0, rgb.1, rgb.2) - min(rgb.0, rgb.1, rgb.2)
        let level = (rgb.0 + rgb.1 + rgb.2) / 3
        return spread <= 24 && level >= 48 && level <= 215
    }
}

extension Style {
    /// The style as the best one available in `mode` (see `Color.degraded(to:)`).
    ///
    /// In monochrome, a style that relied on a background colour to stand out (a selection bar, a header)
    /// gets `reverse` instead, and bold/underline/reverse/dim are always kept, so highlights stay visible.
    /// When both colours degrade to the same basic colour, the foreground falls back to default so text
    /// stays readable.
    ///
    /// On eight colours a grey (bright black, the grey ramp, an RGB grey) has no basic colour of its own: the nearest
    /// one is black or white, which vanishes on a dark or a light background. A grey foreground becomes the
    /// terminal's own text colour, dimmed; a grey background becomes the terminal's own colours reversed. So
    /// separators, hints and bars stay visible on either background.
    public func degraded(to mode: ColorMode) -> Style {
        if mode == .ansi8, fg.isMidGrey || bg.isMidGrey {
            var out = Style(fg: fg.isMidGrey ? .default : fg.degraded(to: mode), bg: bg.isMidGrey ? .default : bg.degraded(to: mode),
                            modifiers: modifiers)
            if fg.isMidGrey && !bg.isMidGrey { out.modifiers.insert(.dim) }
            if bg.isMidGrey {
                out.fg = .default
                out.modifiers.insert(.reverse)
            }
            return out
        }
        var out = Style(fg: fg.degraded(to: mode), bg: bg.degraded(to: mode), modifiers: modifiers)
        if mode == .monochrome && bg != .default && !modifiers.contains(.reverse) {
            out.modifiers.insert(.reverse)
        }
        if mode != .monochrome && out.fg != .default && out.fg == out.bg && fg != bg {
            out.fg = .default
        }
        return out
    }
}
