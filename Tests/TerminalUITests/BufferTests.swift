import Testing
@testable import TerminalUI

@Suite struct BufferTests {
    @Test func wideCharacterUsesContinuationCell() {
        var buffer = Buffer(width: 6, height: 1)
        let end = buffer.set(string: "a中b", at: 0, 0)
        #expect(end == 4)
        #expect(buffer[0, 0]?.symbol == "a")
        #expect(buffer[1, 0]?.symbol == "中")
        #expect(buffer[2, 0]?.isContinuation == true)
        #expect(buffer[3, 0]?.symbol == "b")
        #expect(buffer.textLines() == ["a中b  "])
    }

    @Test func combiningMarksAttachAndControlsAreReplaced() {
        var buffer = Buffer(width: 5, height: 1)
        buffer.set(string: "e\u{301}\tx", at: 0, 0)
        #expect(buffer[0, 0]?.symbol == "e\u{301}")
        #expect(buffer[1, 0]?.symbol == Buffer.controlReplacement)
        #expect(buffer[2, 0]?.symbol == "x")
        // A zero-width grapheme of its own (ZWSP) attaches to the previous cell instead of taking one.
        var b2 = Buffer(width: 3, height: 1)
        b2.set(string: "a\u{200B}b", at: 0, 0)
        #expect(b2.textLines() == ["a\u{200B}b "])
    }

    @Test func clippingStopsAtWidthAndEdge() {
        var buffer = Buffer(width: 10, height: 2)
        let end = buffer.set(string: "abcdefgh", at: 2, 0, clipWidth: 3)
        #expect(end == 5)
        #expect(buffer.textLines()[0] == "  abc     ")
        buffer.set(string: "0123456789abc", at: 5, 1)
        #expect(buffer.textLines()[1] == "     01234")
        // Out-of-range rows are ignored.
        buffer.set(string: "zzz", at: 0, 5)
        #expect(buffer.textLines().count == 2)
    }

    @Test func wideCharacterThatDoesNotFitIsDropped() {
        var buffer = Buffer(width: 3, height: 1)
        let end = buffer.set(string: "ab中", at: 0, 0)
        #expect(end == 2)
        #expect(buffer.textLines() == ["ab "])
        var clipped = Buffer(width: 10, height: 1)
        clipped.set(string: "中中", at: 0, 0, clipWidth: 3)
        #expect(clipped.textLines() == ["中        "])
    }

    @Test func overwritingHalfAWideCharacterBlanksTheOtherHalf() {
        var buffer = Buffer(width: 4, height: 1)
        buffer.set(string: "中中", at: 0, 0)
        buffer.set(string: "x", at: 1, 0)
        #expect(buffer.textLines() == [" x中"])
        buffer.set(string: "y", at: 2, 0)
        #expect(buffer.textLines() == [" xy "])
    }

    @Test func diffListsOnlyChangedCells() {
        var a = Buffer(width: 5, height: 2)
        a.set(string: "hello", at: 0, 0)
        var b = a
        b.set(string: "j", at: 0, 0)
        b.set(string: "Y", at: 4, 1, style: Style(fg: .red))
        let updates = b.diff(a)
        #expect(updates == [
            CellUpdate(x: 0, y: 0, cell: Cell("j")),
            CellUpdate(x: 4, y: 1, cell: Cell("Y", style: Style(fg: .red))),
        ])
        #expect(a.diff(a).isEmpty)
    }

    @Test func diffStyleChangeAndWideCharacters() {
        var a = Buffer(width: 4, height: 1)
        a.set(string: "ab", at: 0, 0)
        var b = Buffer(width: 4, height: 1)
        b.set(string: "中", at: 0, 0)
        let updates = b.diff(a)
        #expect(updates.map(\.x) == [0])
        #expect(updates.first?.cell.symbol == "中")
        // Going back from wide to narrow re-sends the freed cell.
        let back = a.diff(b)
        #expect(back.map(\.x) == [0, 1])
        var styled = a
        styled.setStyle(Style(modifiers: .bold), in: Rect(x: 1, y: 0, width: 1, height: 1))
        #expect(styled.diff(a).map(\.x) == [1])
    }

    @Test func diffAfterResizeIsFullRedraw() {
        let small = Buffer(width: 2, height: 2)
        let big = Buffer(width: 3, height: 2)
        #expect(big.diff(small).count == 6)
    }
}

@Suite struct LayoutTests {
    @Test func fixedPercentAndFill() {
        let r = Rect(x: 0, y: 0, width: 100, height: 10)
        let cols = r.columns([.length(10), .percentage(50), .fill(1)])
        #expect(cols.map(\.width) == [10, 50, 40])
        #expect(cols.map(\.x) == [0, 10, 60])
        let rows = r.rows([.length(1), .fill(1), .length(1)])
        #expect(rows.map(\.height) == [1, 8, 1])
        #expect(rows.map(\.y) == [0, 1, 9])
    }

    @Test func fillWeightsMinAndSpacing() {
        #expect(Constraint.solve([.fill(1), .fill(2)], total: 9) == [3, 6])
        #expect(Constraint.solve([.fill(1), .fill(1)], total: 9, spacing: 1) == [4, 4])
        #expect(Constraint.solve([.min(10), .fill(1)], total: 14) == [12, 2])
        #expect(Constraint.solve([.min(10), .length(5)], total: 12) == [10, 2])
    }

    @Test func overflowShrinksFromTheEnd() {
        #expect(Constraint.solve([.length(5), .length(5), .length(5)], total: 8) == [5, 3, 0])
        #expect(Constraint.solve([.length(5)], total: 0) == [0])
    }

    @Test func centeredAndInset() {
        let r = Rect(x: 0, y: 0, width: 80, height: 24)
        #expect(r.centered(width: 20, height: 4) == Rect(x: 30, y: 10, width: 20, height: 4))
        #expect(r.centered(width: 200, height: 4).width == 80)
        #expect(r.inset(horizontal: 1, vertical: 1) == Rect(x: 1, y: 1, width: 78, height: 22))
        #expect(Rect(x: 0, y: 0, width: 1, height: 1).inset(horizontal: 2).isEmpty)
    }
}

@Suite struct HostileTextTests {
    static let hostile = "/v2/evil\u{1B}]2;PWNED\u{07}\u{9B}31m\u{7F}\r\u{2028}end"

    @Test func controlCharactersNeverEnterTheCellBuffer() {
        var buffer = Buffer(width: 60, height: 1)
        buffer.set(string: Self.hostile, at: 0, 0)
        let scalars = buffer.cells.flatMap { $0.symbol.unicodeScalars }
        #expect(!scalars.contains(where: TerminalText.isControl), "\(buffer.textLines())")
        #expect(buffer.textLines().first?.contains("PWNED") == true)
    }

    @Test func printableTextShowsControlCharactersAsEscapes() {
        let text = TerminalText.printable(Self.hostile)
        #expect(!text.unicodeScalars.contains(where: TerminalText.isControl))
        #expect(text == "/v2/evil\\x1B]2;PWNED\\x07\\x9B31m\\x7F\\x0D\\u{2028}end")
        #expect(TerminalText.printable("a\tb\nc") == "a\tb\nc", "tabs and newlines stay")
    }
}
