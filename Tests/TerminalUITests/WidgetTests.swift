import Foundation
import TestSupport
import Testing
@testable import TerminalUI

@Suite struct TableTests {
    func table(rows: Int) -> Table {
        Table(
            columns: [Column(.length(6)), Column(.fill(1), alignment: .right)],
            header: Row(strings: ["name", "n"]),
            rows: (0..<rows).map { Row(strings: ["row\($0)", String($0 * 10)]) })
    }

    @Test func scrollingKeepsSelectionVisible() {
        let t = table(rows: 20)
        var state = ScrollState(selected: 0)
        var buffer = Buffer(width: 12, height: 5)  // header + 4 rows
        t.render(in: buffer.area, buffer: &buffer, state: &state)
        #expect(state.offset == 0)
        state.selected = 7
        t.render(in: buffer.area, buffer: &buffer, state: &state)
        #expect(state.offset == 4)
        #expect(buffer.textLines()[4].hasPrefix("row7"))
        state.selected = 5
        t.render(in: buffer.area, buffer: &buffer, state: &state)
        #expect(state.offset == 4, "moving up inside the window does not scroll")
        state.selected = 2
        buffer = Buffer(width: 12, height: 5)
        t.render(in: buffer.area, buffer: &buffer, state: &state)
        #expect(state.offset == 2)
        #expect(buffer.textLines()[1].hasPrefix("row2"))
        #expect(buffer[0, 1]?.style.isReversed == true)
        #expect(buffer[0, 2]?.style.isReversed == false)
    }

    @Test func selectionAndOffsetAreClamped() {
        let t = table(rows: 3)
        var state = ScrollState(selected: 99, offset: 50)
        var buffer = Buffer(width: 12, height: 5)
        t.render(in: buffer.area, buffer: &buffer, state: &state)
        #expect(state.selected == 2)
        #expect(state.offset == 0)
        var empty = ScrollState(selected: nil, offset: 3)
        table(rows: 0).render(in: buffer.area, buffer: &buffer, state: &empty)
        #expect(empty.offset == 0)
    }

    @Test func cellsAreTruncatedAndAligned() {
        let t = Table(
            columns: [Column(.length(5)), Column(.length(4), alignment: .right)],
            rows: [Row(strings: ["/api/orders", "7"]), Row(strings: ["中文中文", "12345"])])
        var buffer = Buffer(width: 10, height: 2)
        var state = ScrollState()
        t.render(in: buffer.area, buffer: &buffer, state: &state)
        #expect(buffer.textLines() == ["/api…    7", "中文… 123…"])
    }

    @Test func percentAndMinColumns() {
        let t = Table(columns: [Column(.percentage(50)), Column(.min(3)), Column(.length(2))], rows: [])
        #expect(t.columnWidths(totalWidth: 21) == [9, 8, 2])
    }
}

@Suite struct SparklineTests {
    @Test func valuesMapToEightLevels() {
        let s = Sparkline([])
        #expect(s.symbol(for: 0) == "▁")
        #expect(s.symbol(for: 1) == "█")
        #expect(s.symbol(for: 0.5) == "▅")
        #expect(s.symbol(for: -3) == "▁")
        #expect(s.symbol(for: 7) == "█")
        #expect(s.symbol(for: .nan) == "▁")
        #expect((0...7).map { s.symbol(for: Double($0) / 7) } == Sparkline.unicodeBars)
    }

    @Test func newestValuesAreShownAtTheRight() {
        var buffer = Buffer(width: 4, height: 1)
        Sparkline([1, 0, nil, 0.5, 1]).render(in: buffer.area, buffer: &buffer)
        #expect(buffer.textLines() == ["▁ ▅█"])
        var wide = Buffer(width: 5, height: 1)
        Sparkline([0, 1]).render(in: wide.area, buffer: &wide)
        #expect(wide.textLines() == ["   ▁█"])
    }

    @Test func multiRowStacksInEighths() {
        var buffer = Buffer(width: 3, height: 2)
        Sparkline([0, 0.5, 1]).render(in: buffer.area, buffer: &buffer)
        #expect(buffer.textLines() == [" ▁█", "▁██"])
    }
}

@Suite struct TextWidgetTests {
    @Test func wordWrapBreaksAtSpaces() {
        let lines = Paragraph.wrap(Line("the quick brown fox"), width: 10).map(\.plainText)
        #expect(lines == ["the quick", "brown fox"])
        let long = Paragraph.wrap(Line("abcdefghij"), width: 4).map(\.plainText)
        #expect(long == ["abcd", "efgh", "ij"])
    }

    @Test func lineAlignment() {
        var buffer = Buffer(width: 7, height: 3)
        Line("ab").render(in: Rect(x: 0, y: 0, width: 7, height: 1), buffer: &buffer)
        Line("ab").render(in: Rect(x: 0, y: 1, width: 7, height: 1), buffer: &buffer, defaultAlignment: .center)
        Line("ab", alignment: .right).render(in: Rect(x: 0, y: 2, width: 7, height: 1), buffer: &buffer)
        #expect(buffer.textLines() == ["ab     ", "  ab   ", "     ab"])
    }

    @Test func spanStylesSurviveTruncation() {
        let line = Line([Span("ok ", style: Style(fg: .green)), Span("failing", style: Style(fg: .red))])
        let cut = line.truncated(toWidth: 6)
        #expect(cut.plainText == "ok fa…")
        #expect(cut.spans.map(\.style.fg) == [.green, .red, .red])
    }

    @Test func gaugeAndBarsUseEighths() {
        #expect(HorizontalBar.eighths(fraction: 0.5, width: 4) == 16)
        var buffer = Buffer(width: 4, height: 1)
        HorizontalBar.draw(fraction: 0.6, x: 0, y: 0, width: 4, style: .plain, unicode: true, buffer: &buffer)
        #expect(buffer.textLines() == ["██▍ "])
    }
}

@Suite struct SnapshotTests {
    /// A small cockpit-like screen using every widget, to pin down how they look together.
    func renderScreen(into terminal: Terminal, selected: Int) {
        terminal.draw { buffer in
            let rows = buffer.area.rows([.length(1), .fill(1), .length(5), .length(1)])
            Line([Span("cutover", style: Style(modifiers: .bold)), Span("  4 endpoints  "), Span("中文 ok")])
                .render(in: rows[0], buffer: &buffer)
            var state = ScrollState(selected: selected)
            let table = Table(
                columns: [Column(.fill(1)), Column(.length(5), alignment: .right), Column(.length(6))],
                header: Row(strings: ["endpoint", "new%", "trend"], style: Style(modifiers: .underline)),
                rows: [
                    Row([Line("/api/orders"), Line("100"), Line([Span("▁▃▅█")])]),
                    Row([Line("/api/users/{id}/profile"), Line("25"), Line("▁▁▂▂")]),
                    Row([Line("/api/payments"), Line("0"), Line("")]),
                    Row([Line("/health"), Line("50"), Line("▄▄▄▄")]),
                ],
                block: Block(title: " Endpoints ", borderSet: .rounded),
                highlightSymbol: "> ")
            buffer.render(table, in: rows[1], state: &state)
            let columns = rows[2].columns([.fill(1), .fill(1)], spacing: 1)
            buffer.render(
                BarChart(
                    [.init(label: "<10ms", value: 40, valueText: "40"), .init(label: "<50ms", value: 10, valueText: "10"),
                     .init(label: "≥50ms", value: 3, valueText: "3")],
                    block: Block(title: "legacy", borderSet: .ascii)),
                in: columns[0])
            buffer.render(Sparkline([0, 0.2, 0.4, nil, 0.8, 1], block: Block(title: "share")), in: columns[1])
            Line("q quit  ? help", style: Style(modifiers: .reverse)).render(in: rows[3], buffer: &buffer)
            buffer.render(Popup(title: "Apply?", text: Text("Set /health to 100%?\n[y] yes  [n] no"), borderSet: .double), in: buffer.area)
        }
    }

    @Test func cockpitScreenText() {
        let backend = TestBackend(width: 44, height: 14)
        let terminal = Terminal(backend: backend)
        renderScreen(into: terminal, selected: 1)
        assertSnapshot(backend.snapshot(), name: "cockpit")
    }

    @Test func tableWithStyles() {
        let backend = TestBackend(width: 24, height: 5)
        let terminal = Terminal(backend: backend)
        terminal.draw { buffer in
            var state = ScrollState(selected: 1)
            let table = Table(
                columns: [Column(.fill(1)), Column(.length(4), alignment: .right)],
                header: Row(strings: ["endpoint", "ok"], style: Style(fg: .yellow, modifiers: .bold)),
                rows: [
                    Row([Line("/a"), Line([Span("99", style: Style(fg: .green))])]),
                    Row([Line("/b"), Line([Span("12", style: Style(fg: .red))])]),
                ],
                block: Block(title: "T", borderStyle: Style(fg: .brightBlack)),
                highlightStyle: Style(bg: .blue, modifiers: .bold))
            buffer.render(table, in: buffer.area, state: &state)
        }
        assertSnapshot(backend.snapshot(styles: true), name: "table-styles")
    }
}

@Suite struct ListAndBlockTests {
    @Test func listScrollsAndMarksSelection() {
        let list = List((0..<10).map { ListItem(Line("item \($0)")) }, highlightSymbol: "* ")
        var state = ScrollState(selected: 6)
        var buffer = Buffer(width: 8, height: 3)
        list.render(in: buffer.area, buffer: &buffer, state: &state)
        #expect(state.offset == 4)
        #expect(buffer.textLines() == ["  item 4", "  item 5", "* item 6"])
        #expect(buffer[0, 2]?.style.isReversed == true)
        #expect(buffer[7, 1]?.style.isReversed == false)
    }

    @Test func blockAsciiFallbackAndTitle() {
        var buffer = Buffer(width: 8, height: 3)
        let block = Block(title: "long title", borderSet: BorderSet.choose(.rounded, unicode: false))
        block.render(in: buffer.area, buffer: &buffer)
        #expect(buffer.textLines() == ["+long …+", "|      |", "+------+"])
        #expect(block.inner(buffer.area) == Rect(x: 1, y: 1, width: 6, height: 1))
        #expect(BorderSet.choose(.rounded, unicode: true) == .rounded)
    }

    @Test func popupIsCentredAndClearsBehindIt() {
        var buffer = Buffer(area: Rect(x: 0, y: 0, width: 20, height: 7), fill: Cell("x"))
        let popup = Popup(title: "Q", text: Text("sure?"))
        #expect(popup.area(in: buffer.area) == Rect(x: 5, y: 2, width: 9, height: 3))
        buffer.render(popup, in: buffer.area)
        #expect(buffer.textLines()[1] == String(repeating: "x", count: 20))
        #expect(buffer.textLines()[2] == "xxxxx┌───Q───┐xxxxxx")
        #expect(buffer.textLines()[3] == "xxxxx│ sure? │xxxxxx")
    }

    @Test func gaugeShowsLabelOverBar() {
        var buffer = Buffer(width: 10, height: 1)
        Gauge(ratio: 0.5, label: "50%").render(in: buffer.area, buffer: &buffer)
        #expect(buffer.textLines() == ["███50%    "])
    }
}

@Suite struct SnapshotHelperTests {
    func tempTestFile() throws -> (URL, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-snap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (dir, dir.appendingPathComponent("FakeTests.swift").path)
    }

    @Test func missingSnapshotFailsWithRecordingHint() throws {
        let (dir, file) = try tempTestFile()
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = verifySnapshot("abc\n", name: "s", filePath: file, environment: [:])
        #expect(error?.description.contains("CUTOVER_RECORD_SNAPSHOTS=1") == true)
    }

    @Test func recordThenCompare() throws {
        let (dir, file) = try tempTestFile()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(verifySnapshot("one\ntwo\n", name: "s", filePath: file, environment: ["CUTOVER_RECORD_SNAPSHOTS": "1"]) == nil)
        let url = snapshotURL(name: "s", filePath: file)
        #expect(url.path.hasSuffix("__Snapshots__/FakeTests/s.txt"))
        #expect(FileManager.default.fileExists(atPath: url.path))
        #expect(verifySnapshot("one\ntwo\n", name: "s", filePath: file, environment: [:]) == nil)
        let mismatch = verifySnapshot("one\nTWO\n", name: "s", filePath: file, environment: [:])
        #expect(mismatch?.description.contains("differs at line 2") == true)
    }
}

@Suite struct ScrollStateTests {
    @Test func emptyTableKeepsSelectionAndResetsOffset() {
        var state = ScrollState(selected: 4, offset: 2)
        state.scrollToSelection(rowCount: 0, visibleRows: 5)
        #expect(state == ScrollState(selected: 4, offset: 0))
        state.scrollToSelection(rowCount: 3, visibleRows: 5)
        #expect(state == ScrollState(selected: 2, offset: 0))
    }

    @Test func selectionBelowWindowScrollsMinimally() {
        var state = ScrollState(selected: 10, offset: 0)
        state.scrollToSelection(rowCount: 50, visibleRows: 5)
        #expect(state.offset == 6)
        state.selected = 49
        state.scrollToSelection(rowCount: 50, visibleRows: 5)
        #expect(state.offset == 45)
        state.scrollToSelection(rowCount: 50, visibleRows: 100)
        #expect(state.offset == 0)
    }
}
