import Testing
@testable import TerminalUI

@Suite struct TerminalTests {
    @Test func secondFrameSendsOnlyChanges() {
        let backend = TestBackend(width: 10, height: 3)
        let terminal = Terminal(backend: backend)
        let first = terminal.draw { $0.set(string: "hello", at: 0, 0) }
        #expect(first == 30, "first frame is a full redraw")
        #expect(backend.clearCount == 1)
        let second = terminal.draw { $0.set(string: "hellO", at: 0, 0) }
        #expect(second == 1)
        #expect(backend.drawnUpdates.last == [CellUpdate(x: 4, y: 0, cell: Cell("O"))])
        #expect(terminal.draw { $0.set(string: "hellO", at: 0, 0) } == 0)
        #expect(backend.lines()[0] == "hellO     ")
        #expect(backend.flushCount == 3)
    }

    @Test func resizeCausesFullRedraw() {
        let backend = TestBackend(width: 10, height: 2)
        let terminal = Terminal(backend: backend)
        terminal.draw { $0.set(string: "x", at: 0, 0) }
        backend.resize(width: 6, height: 2)
        #expect(backend.readKey(timeout: .zero) == .resize)
        let sent = terminal.draw { $0.set(string: "x", at: 0, 0) }
        #expect(sent == 12)
        #expect(backend.clearCount == 2)
        #expect(backend.lines() == ["x     ", "      "])
        terminal.invalidate()
        #expect(terminal.draw { $0.set(string: "x", at: 0, 0) } == 12)
    }

    @Test func stylesAreDegradedToTheBackendMode() {
        let backend = TestBackend(width: 2, height: 1, colorMode: .monochrome)
        let terminal = Terminal(backend: backend)
        terminal.draw { $0.set(string: "ab", at: 0, 0, style: Style(fg: .red, bg: .blue, modifiers: .bold)) }
        #expect(backend.screen[0, 0]?.style == Style(modifiers: [.bold, .reverse]))
    }

    @Test func keysAreReplayedInOrder() {
        let backend = TestBackend(width: 1, height: 1)
        backend.enqueue(.char("q"), .ctrl("c"), .function(5))
        #expect(backend.readKey(timeout: nil) == .char("q"))
        #expect(backend.readKey(timeout: nil) == .ctrl("c"))
        #expect(backend.readKey(timeout: nil) == .function(5))
        #expect(backend.readKey(timeout: .milliseconds(10)) == nil)
    }

    @Test func wideCharactersReachTheScreenIntact() {
        let backend = TestBackend(width: 6, height: 1)
        let terminal = Terminal(backend: backend)
        terminal.draw { $0.set(string: "ab中", at: 0, 0) }
        terminal.draw { $0.set(string: "a中b", at: 0, 0) }
        #expect(backend.lines() == ["a中b  "])
    }
}

@Suite struct ColorDegradationTests {
    @Test func rgbToPalette256() {
        #expect(Color.rgb(255, 0, 0).degraded(to: .palette256) == .indexed(196))
        #expect(Color.rgb(0, 0, 0).degraded(to: .palette256) == .indexed(16))
        #expect(Color.rgb(128, 128, 128).degraded(to: .palette256) == .indexed(244))
        #expect(Color.rgb(255, 135, 0).degraded(to: .palette256) == .indexed(208))
        #expect(Color.rgb(1, 2, 3).degraded(to: .truecolor) == .rgb(1, 2, 3))
    }

    @Test func toEightColours() {
        #expect(Color.rgb(250, 10, 10).degraded(to: .ansi8) == .red)
        #expect(Color.rgb(20, 30, 230).degraded(to: .ansi8) == .blue)
        #expect(Color.brightGreen.degraded(to: .ansi8) == .green)
        #expect(Color.indexed(196).degraded(to: .ansi8) == .red)
        #expect(Color.indexed(232).degraded(to: .ansi8) == .black)
        #expect(Color.indexed(255).degraded(to: .ansi8) == .white)
        #expect(Color.yellow.degraded(to: .ansi8) == .yellow)
        #expect(Color.default.degraded(to: .ansi8) == .default)
    }

    @Test func monochromeKeepsModifiersAndSelection() {
        let selection = Style(fg: .black, bg: .cyan)
        #expect(selection.degraded(to: .monochrome) == Style(modifiers: .reverse))
        #expect(Style(fg: .red, modifiers: [.bold, .underline]).degraded(to: .monochrome) == Style(modifiers: [.bold, .underline]))
        #expect(Style(fg: .red, bg: .blue, modifiers: .reverse).degraded(to: .monochrome) == Style(modifiers: .reverse))
    }

    @Test func distinctColoursStayDistinguishable() {
        let style = Style(fg: .rgb(255, 255, 255), bg: .rgb(230, 230, 230))
        let degraded = style.degraded(to: .ansi8)
        #expect(degraded.fg != degraded.bg)
    }

    @Test func detectionHonoursNoColor() {
        #expect(ColorMode.detect(colors: 256, environment: ["NO_COLOR": "1"]) == .monochrome)
        #expect(ColorMode.detect(colors: 256, environment: ["NO_COLOR": ""]) == .palette256)
        #expect(ColorMode.detect(colors: 8, environment: [:]) == .ansi8)
        #expect(ColorMode.detect(colors: 2, environment: [:]) == .monochrome)
        #expect(ColorMode.detect(colors: 256, environment: ["COLORTERM": "truecolor"]) == .palette256)
        #expect(ColorMode.detect(colors: 256, environment: ["COLORTERM": "truecolor"], allowTruecolor: true) == .truecolor)
    }

    @Test func colourNamesRoundTrip() {
        for color in Color.ansi16 + [.default, .indexed(208), .rgb(1, 171, 255)] {
            #expect(Color(parsing: color.description) == color)
        }
        #expect(Color(parsing: "Bright-Red") == .brightRed)
        #expect(Color(parsing: "grey") == .brightBlack)
        #expect(Color(parsing: "7") == .white)
        #expect(Color(parsing: "#12345") == nil)
        #expect(Color(parsing: "256") == nil)
        #expect(Color(parsing: "purple") == nil)
    }
}
